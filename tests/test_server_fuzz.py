"""Fuzz every REST route from the OpenAPI document (schemathesis): no input may cause a 5xx."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ganpaint.paint.model import PaintModel
from server.app import create_app
from server.settings import Settings

tiny = PaintModel.random(resolution=16, widths=(32, 32, 16), seed=0)
app = create_app(Settings(models=["tiny"], max_sessions=64), models={"tiny": tiny})
# one real session, so the session routes are fuzzed past their 404 (random ids reach only that)
real = app.state.sessions.create("tiny", tiny, seed=1, z=tiny.z_for_seed(1), h=tiny.features(tiny.z_for_seed(1)))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module", autouse=True)
def _stop_renderer():
    yield
    app.state.renderer.stop()
    assert app.state.renderer.stats["images"] > 0  # the fuzzer got past validation into rendering


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_input_causes_a_server_error(case):
    if "session_id" in (case.path_parameters or {}) and not (case.method == "DELETE" and case.path.endswith("}")):
        case.path_parameters["session_id"] = real.id
    case.call_and_validate(checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                                   response_schema_conformance])
