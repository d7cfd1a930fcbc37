"""The dissection explorer's analyses of one model, computed once and cached (see analysis_store).

    report = unit_report(model)                  # cached, else computed (progress_fn reports)
    report = unit_report(model, compute=False)   # None when not computed yet
    ranking = artifact_ranking(model)            # needs a discriminator (ganpaint.dissect.realism) or a segmenter
    omissions = omission_report(model)

The CLI verbs (`ganpaint units|artifacts|omissions`) and the server call these same functions, so
what one computes the other serves. Results land in the cache dir; shipped models may carry
theirs beside model.json (`units.json`, `artifacts.json`, `omissions.json`).
"""
from __future__ import annotations

from typing import Callable

from .analysis_store import AnalysisStore
from .artifact_units import ArtifactConfig, rank_artifact_units, realism_for
from .omissions import model_omissions
from .units import InspectConfig, inspect_units

__all__ = ["unit_report", "artifact_ranking", "omission_report", "artifact_units_of", "ExplorerError",
           "UNITS", "ARTIFACTS", "OMISSIONS"]

UNITS, ARTIFACTS, OMISSIONS = "units.json", "artifacts.json", "omissions.json"
Progress = Callable[[str, int, int], None] | None


class ExplorerError(ValueError):
    """An analysis this model cannot have (the message says why)."""


def unit_report(model, *, compute: bool = True, config: InspectConfig | None = None, progress_fn: Progress = None,
                cache_dir=None) -> dict | None:
    store = AnalysisStore.for_model(model, cache_dir)
    data = store.load(UNITS)
    if data is None and compute:
        data = inspect_units(model, model.segmenter, config=config, checkpoint=store.path("units.ckpt.pt"),
                             progress_fn=progress_fn)
        store.save(UNITS, data)
    if data is not None:  # the artifact flag follows the ranking whenever there is one
        flagged = set(artifact_units_of(model, cache_dir=cache_dir))
        for u in data["units"]:
            u["artifact"] = u["unit"] in flagged
    return data


def artifact_ranking(model, *, compute: bool = True, config: ArtifactConfig | None = None, reference=None,
                     progress_fn: Progress = None, cache_dir=None) -> dict | None:
    store = AnalysisStore.for_model(model, cache_dir)
    data = store.load(ARTIFACTS)
    if data is not None or not compute:
        return data
    score_fn = realism_for(model)
    if score_fn is None and model.segmenter is None:
        raise ExplorerError(f"model {model.id!r} has neither a discriminator nor a segmenter to judge artifacts with")
    state = (store.load("artifacts.state.json") or {}).get("state")
    data = rank_artifact_units(model, score_fn, segmenter=model.segmenter, reference=reference, config=config,
                               state=state, save_fn=lambda s: store.save("artifacts.state.json", {"state": s}),
                               progress_fn=progress_fn)
    store.save(ARTIFACTS, data)
    model._artifact_units = list(data["artifacts"])
    return data


def artifact_units_of(model, *, cache_dir=None) -> list[int]:
    """The flagged artifact units of a model: [] until its ranking has been computed."""
    cached = getattr(model, "_artifact_units", None)
    if cached is not None:
        return cached
    data = AnalysisStore.for_model(model, cache_dir).load(ARTIFACTS)
    units = list(data["artifacts"]) if data else []
    if data is not None:
        try:
            model._artifact_units = units
        except AttributeError:
            pass
    return units


def omission_report(model, *, compute: bool = True, samples: int = 500, folder=None, progress_fn: Progress = None,
                    cache_dir=None) -> dict | None:
    store = AnalysisStore.for_model(model, cache_dir)
    name = OMISSIONS if folder is None else None
    data = store.load(name) if name else None
    if data is not None or not compute:
        return data
    if model.segmenter is None:
        raise ExplorerError(f"model {model.id!r} has no segmenter to read class shares with")
    data = model_omissions(model, model.segmenter, samples=samples, folder=folder, progress_fn=progress_fn)
    if name:
        store.save(name, data)
    return data
