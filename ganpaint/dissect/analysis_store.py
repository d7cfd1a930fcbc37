"""Where a model's analyses (unit inspector, artifact ranking, omissions) are kept, and how.

    store = AnalysisStore.for_model(model)                 # model folder first, then the cache
    data = store.load("units.json")                       # None when absent or made for other weights
    store.save("units.json", data)                         # into the cache dir (the model folder may be read-only)

A result carries the generator hash it was computed from; a file for other weights is ignored, so
retraining a model never serves a stale inspector. Shipped models may commit their small results
beside model.json; everything computed at run time goes to $GANPAINT_HOME/analysis/<id>-<sha8>/.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..gan.checkpoint import state_dict_sha256
from ..zoo.zoo import home

__all__ = ["AnalysisStore", "generator_sha"]


def generator_sha(model) -> str:
    """The edit model's generator hash, computed once per model object."""
    sha = getattr(model, "_analysis_sha", None)
    if sha is None:
        sha = model.info.get("generator_sha256") if isinstance(getattr(model, "info", None), dict) else None
        sha = sha or state_dict_sha256(model.generator)
        try:
            model._analysis_sha = sha
        except AttributeError:
            pass
    return sha


@dataclass
class AnalysisStore:
    sha: str
    cache: Path
    shipped: Path | None = None  # the model's own folder (read only here)

    @classmethod
    def for_model(cls, model, cache_dir: str | os.PathLike | None = None) -> "AnalysisStore":
        sha = generator_sha(model)
        folder = getattr(model, "folder", None)
        return cls(sha, home(cache_dir) / "analysis" / f"{model.id}-{sha[:8]}", Path(folder) if folder else None)

    def path(self, name: str) -> Path:
        return self.cache / name

    def _candidates(self, name: str) -> list[Path]:
        return ([self.shipped / name] if self.shipped else []) + [self.cache / name]

    def find(self, name: str) -> Path | None:
        """A file that exists for these weights (binary files are trusted by their folder's name)."""
        for p in self._candidates(name):
            if p.is_file():
                return p
        return None

    def load(self, name: str) -> dict | None:
        for p in self._candidates(name):
            if not p.is_file():
                continue
            try:
                data = json.loads(p.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(data, dict) and data.get("generator_sha256") == self.sha:
                return data
        return None

    def save(self, name: str, data: dict) -> Path:
        data = {**data, "generator_sha256": self.sha}
        self.cache.mkdir(parents=True, exist_ok=True)
        return write_atomic(self.cache / name, (json.dumps(data, indent=1) + "\n").encode())

    def save_bytes(self, name: str, payload: bytes) -> Path:
        self.cache.mkdir(parents=True, exist_ok=True)
        return write_atomic(self.cache / name, payload)


def write_atomic(path: Path, payload: bytes) -> Path:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(payload)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path
