"""The frontend's JavaScript unit tests (tests/js/*.test.mjs, Node's built-in runner) and static checks
of frontend/ (no CDN, no build step, every module explains its use).

    .venv/bin/pytest tests/test_frontend_js.py      # or directly: node --test tests/js/
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FRONTEND = ROOT / "frontend"


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI"):
            pytest.fail("node (>= 20) is required in CI to run the frontend's unit tests")
        pytest.skip("node is not installed")
    return node


def test_js_unit_tests_pass():
    files = sorted(str(p) for p in (ROOT / "tests" / "js").glob("*.test.mjs"))
    assert files, "no JS unit tests found"
    r = subprocess.run([_node(), "--test", *files], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"node --test failed:\n{r.stdout[-6000:]}\n{r.stderr[-2000:]}"
    assert re.search(r"^# fail 0$", r.stdout, re.M), r.stdout[-2000:]


def test_frontend_is_self_contained():
    # Everything the page needs is served by the app: no CDN, no absolute http(s) URLs in code.
    texts = {p: p.read_text() for p in FRONTEND.rglob("*") if p.suffix in {".html", ".css", ".js"}}
    assert any(p.name == "index.html" for p in texts)
    for path, text in texts.items():
        assert not re.search(r"""(src|href)\s*=\s*["']https?://""", text), f"{path} loads from another origin"
        assert not re.search(r"""(import|from)\s*\(?\s*["']https?://""", text), f"{path} imports from another origin"


def test_every_module_opens_with_a_usage_comment():
    for path in sorted((FRONTEND / "js").glob("*.js")):
        first = path.read_text().lstrip().splitlines()[0]
        assert first.startswith("//"), f"{path.name} should open with a comment on how it is used"


def test_modules_parse():
    node = _node()
    for path in sorted((FRONTEND / "js").glob("*.js")):
        r = subprocess.run([node, "--check", str(path)], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, f"{path.name}: {r.stderr}"
