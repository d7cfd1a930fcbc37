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
