"""The answer for /api paths no route takes: 405 with `Allow` when the path exists with other methods,
else 404. Included after every other router and before the frontend mount, which would otherwise
answer every /api miss itself (405 "GET, HEAD" for PUT /api/sessions, 404 for GET …/render).
"""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.routing import Match, Route

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _routes(routes) -> list[Route]:
    """Every plain route, also those inside included routers (which this app includes without prefixes)."""
    out = []
    for route in routes:
        inner = getattr(route, "original_router", None)  # FastAPI wraps each included router
        if inner is not None:
            out += _routes(inner.routes)
        elif isinstance(route, Route) and route.endpoint is not unmatched and route.methods:
            out.append(route)
    return out


@router.api_route("/api/{rest:path}", methods=METHODS)
async def unmatched(request: Request, rest: str) -> JSONResponse:
    allowed: set[str] = set()
    for route in _routes(request.app.router.routes):
        if route.matches(request.scope)[0] == Match.PARTIAL:  # the path matches, the method does not
            allowed |= route.methods
    if allowed:
        order = sorted(allowed, key=lambda m: METHODS.index(m) if m in METHODS else len(METHODS))
        return JSONResponse({"detail": f"{request.method} is not allowed here; use {', '.join(order)}"}, 405,
                            headers={"Allow": ", ".join(order)})
    return JSONResponse({"detail": f"no API route at /api/{rest[:80]}"}, 404)
