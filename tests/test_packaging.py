"""The package metadata builds without setuptools warnings (`make run` installs it)."""
from __future__ import annotations

import warnings
from pathlib import Path

from setuptools.config.pyprojecttoml import apply_configuration
from setuptools.dist import Distribution

ROOT = Path(__file__).resolve().parent.parent


def test_pyproject_applies_without_deprecation_warnings():
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        dist = apply_configuration(Distribution(), ROOT / "pyproject.toml")
    assert [str(w.message)[:120] for w in seen] == []
    assert dist.get_name() == "ganpaint"


def test_an_install_carries_every_package_of_the_core_and_the_server(monkeypatch):
    monkeypatch.chdir(ROOT)  # package discovery is relative to the project
    dist = apply_configuration(Distribution(), ROOT / "pyproject.toml")
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for top in ("ganpaint", "server")
               for p in (ROOT / top).rglob("__init__.py")}
    assert on_disk >= {"ganpaint.gan", "ganpaint.paint", "ganpaint.photo", "ganpaint.world", "ganpaint.dissect"}
    assert set(dist.packages) == on_disk
