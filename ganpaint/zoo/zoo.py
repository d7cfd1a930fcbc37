"""The model registry: which models exist, where their weights live, and how to pull them.

    ganpaint models list
    ganpaint models info churchoutdoor
    ganpaint models pull churchoutdoor                        # official weights into the cache
    ganpaint models pull --url https://host/mine.pth --id mine   # register your own ProGAN checkpoint

    entries = zoo.registry()               # {id: ModelEntry}: models/<id>/model.json + user models
    zoo.available_models()                 # {id: (folder, weights path)} for models whose weights are here
    m = zoo.load_model("bedroom", download=True)   # a PaintModel

Every model is a folder with a `model.json` ({"id", "title", "resolution", "edit_layer", "weights",
"sha256_prefix", "concepts", "license", "sources": [URLs]}). Bundled ones live in the project's
`models/`; weights that are too large to ship are pulled into the cache, GANPAINT_HOME (default
~/.cache/ganpaint): official files go to `weights/`, user models to `models/<id>/` beside their own
model.json. Download URLs: GANPAINT_MODEL_URL (one full URL, for a single pull) overrides
GANPAINT_MIRROR (a base URL + the file name), which overrides the model's `sources`.
"""
from __future__ import annotations

import json
import logging
import os
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from ..gan.checkpoint import CheckpointError, file_sha256, load_generator
from ..paint.concepts import ConceptTable
from .download import DownloadError, download_first, hash_prefix_from_name
from ..paint.model import ModelError, PaintModel

__all__ = [
    "ZooError", "ModelEntry", "home", "default_models_dir", "registry", "get_entry", "source_urls",
    "pull", "pull_url", "available_models", "load_model", "concept_table",
]

log = logging.getLogger(__name__)

# fullmatch, not match + "$": "$" also matches before a trailing newline ("evil\n" would pass)
_ID = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_WEIGHT_SUFFIXES = (".pth", ".pt", ".bin", ".safetensors")


class ZooError(RuntimeError):
    """Anything a user asked of the registry that cannot be done; str() says why and what to do."""


def home(cache_dir: str | os.PathLike | None = None) -> Path:
    """The download cache: the argument, else $GANPAINT_HOME, else ~/.cache/ganpaint."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    return Path(os.environ.get("GANPAINT_HOME") or "~/.cache/ganpaint").expanduser()


def default_models_dir(models_dir: str | os.PathLike | None = None) -> Path:
    """Bundled models: the argument, else $GANPAINT_MODELS_DIR, else ./models, else the source tree's models/."""
    if models_dir is not None:
        return Path(models_dir)
    if os.environ.get("GANPAINT_MODELS_DIR"):
        return Path(os.environ["GANPAINT_MODELS_DIR"])
    if Path("models").is_dir():
        return Path("models")
    return Path(__file__).resolve().parent.parent / "models"  # editable install / source checkout


@dataclass
class ModelEntry:
    id: str
    folder: Path
    info: dict
    origin: str  # "bundled" (the project's models/) or "user" (registered with pull --url)

    @property
    def title(self) -> str:
        return self.info.get("title") or self.id

    @property
    def resolution(self) -> int | None:
        """From model.json, else from the exported generator's config.json beside it (None if unknown)."""
        if self.info.get("resolution"):
            return int(self.info["resolution"])
        try:
            return int(json.loads((self.folder / "config.json").read_text())["resolution"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    @property
    def weights_name(self) -> str:
        return self.info.get("weights", "generator.safetensors")

    @property
    def sha256_prefix(self) -> str | None:
        return self.info.get("sha256_prefix") or None

    @property
    def concepts_path(self) -> Path:
        return self.folder / self.info.get("concepts", "concepts.json")

    @property
    def has_table(self) -> bool:
        return self.concepts_path.is_file()

    def cached_weights_path(self, cache_dir: str | os.PathLike | None = None) -> Path:
        """Where `pull` puts this model's weights."""
        if self.origin == "user":
            return self.folder / self.weights_name
        return home(cache_dir) / "weights" / self.weights_name

    def weights_path(self, cache_dir: str | os.PathLike | None = None) -> Path | None:
        """The weights file if it is here (beside model.json first, then the cache), else None."""
        for p in (self.folder / self.weights_name, self.cached_weights_path(cache_dir)):
            if p.is_file():
                return p
        return None


def _read_entry(meta: Path, origin: str) -> ModelEntry | None:
    try:
        info = json.loads(meta.read_text())
        if not isinstance(info, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as e:
        # One broken card must not hide the other models (nor stop a server from starting).
        log.warning("skipping %s: %s", meta, e)
        return None
    return ModelEntry(str(info.get("id") or meta.parent.name), meta.parent, info, origin)


def registry(models_dir: str | os.PathLike | None = None,
             cache_dir: str | os.PathLike | None = None) -> dict[str, ModelEntry]:
    """All known models, bundled ones first; a user model never shadows a bundled id."""
    out: dict[str, ModelEntry] = {}
    for origin, root in (("bundled", default_models_dir(models_dir)), ("user", home(cache_dir) / "models")):
        if not root.is_dir():
            continue
        for meta in sorted(root.glob("*/model.json")):
            entry = _read_entry(meta, origin)
            if entry is not None and entry.id not in out:
                out[entry.id] = entry
    return out


def get_entry(model_id: str, models_dir=None, cache_dir=None) -> ModelEntry:
    entries = registry(models_dir, cache_dir)
    if model_id not in entries:
        known = ", ".join(entries) or "none"
        raise ZooError(f"unknown model {model_id!r}; known models: {known}")
    return entries[model_id]


def source_urls(entry: ModelEntry) -> list[str]:
    """Where to fetch the weights from, honouring GANPAINT_MODEL_URL and GANPAINT_MIRROR."""
    if os.environ.get("GANPAINT_MODEL_URL"):
        return [os.environ["GANPAINT_MODEL_URL"]]
    if os.environ.get("GANPAINT_MIRROR"):
        return [os.environ["GANPAINT_MIRROR"].rstrip("/") + "/" + entry.weights_name]
    return list(entry.info.get("sources", []))


def pull(model_id: str, *, models_dir=None, cache_dir=None, force: bool = False,
         progress: bool = True) -> Path:
    """Download a registered model's weights into the cache (verified); return their path."""
    entry = get_entry(model_id, models_dir, cache_dir)
    have = entry.weights_path(cache_dir)
    if have is not None and not force:
        return have
    urls = source_urls(entry)
    if not urls:
        raise ZooError(f"model {model_id!r} lists no download sources (its weights ship with the project)")
    dst = entry.cached_weights_path(cache_dir)
    try:
        download_first(urls, dst, sha256_prefix=entry.sha256_prefix, progress=progress)
    except DownloadError as e:
        raise ZooError(
            f"could not pull {model_id!r}: {e}\n"
            f"If you are offline or the mirrors are gone: put {entry.weights_name} at {dst} by hand, "
            "or set GANPAINT_MIRROR=<base URL> or GANPAINT_MODEL_URL=<full URL>."
        ) from None
    return dst


def _file_name_from_url(url: str) -> str:
    name = Path(urllib.parse.unquote(urllib.parse.urlparse(url).path)).name
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", name).lstrip(".")
    if not name.endswith(_WEIGHT_SUFFIXES):
        name = (name or "generator") + ".pth"
    return name


def _write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def pull_url(url: str, model_id: str, *, title: str | None = None, edit_layer: str = "layer4",
             sha256_prefix: str | None = None, models_dir=None, cache_dir=None, force: bool = False,
             progress: bool = True) -> ModelEntry:
    """Register a user's ProGAN checkpoint: download, verify it loads, write its model.json."""
    if not isinstance(model_id, str) or not _ID.fullmatch(model_id):
        raise ZooError(f"model id {model_id!r} must be lowercase letters, digits, '_', '-' or '.' (at most 64)")
    existing = registry(models_dir, cache_dir).get(model_id)
    if existing is not None and (existing.origin == "bundled" or not force):
        hint = "" if existing.origin == "bundled" else " (use --force to replace it)"
        raise ZooError(f"a model named {model_id!r} already exists{hint}")
    name = _file_name_from_url(url)
    sha256_prefix = sha256_prefix or hash_prefix_from_name(name)
    folder = home(cache_dir) / "models" / model_id
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    # Keep the suffix: the loader picks safetensors vs torch by it.
    incoming = folder / f".incoming-{name}"
    try:
        try:
            download_first([url], incoming, sha256_prefix=sha256_prefix, progress=progress)
        except DownloadError as e:
            raise ZooError(f"could not pull {url}: {e}") from None
        try:
            G = load_generator(incoming)
        except CheckpointError as e:
            raise ZooError(f"{url} is not a usable ProGAN generator: {e}") from None
        if edit_layer not in G.layer_names[:-1]:
            raise ZooError(f"edit layer {edit_layer!r} is not one of {', '.join(G.layer_names[:-1])}")
        digest = file_sha256(incoming)
        for old in folder.iterdir():  # --force: drop the previous version's files
            if old != incoming and old.is_file():
                old.unlink()
        os.replace(incoming, folder / name)
        info = {
            "id": model_id, "title": title or model_id, "resolution": G.config.resolution,
            "edit_layer": edit_layer, "weights": name, "sha256_prefix": digest[:8],
            "concepts": "concepts.json", "license": "unknown (registered by the user)", "sources": [url],
        }
        _write_json_atomic(folder / "model.json", info)
    finally:
        incoming.unlink(missing_ok=True)
        if created and not (folder / "model.json").exists():
            for leftover in folder.iterdir():
                leftover.unlink()
            folder.rmdir()
    return ModelEntry(model_id, folder, info, "user")


def available_models(models_dir=None, cache_dir=None) -> dict[str, tuple[Path, Path]]:
    """{id: (folder, weights path)} of every registered model whose weights are on this machine.

    The server calls this at start-up: `PaintModel.load(folder, weights=weights)` for each."""
    out = {}
    for model_id, entry in registry(models_dir, cache_dir).items():
        weights = entry.weights_path(cache_dir)
        if weights is not None:
            out[model_id] = (entry.folder, weights)
    return out


def load_model(model_id: str, *, models_dir=None, cache_dir=None, device="cpu", download: bool = False,
               progress: bool = False) -> PaintModel:
    """A registered model as a PaintModel, pulling its weights first when `download` is set."""
    entry = get_entry(model_id, models_dir, cache_dir)
    weights = entry.weights_path(cache_dir)
    if weights is None:
        if not download:
            raise ZooError(f"weights of {model_id!r} are not here; run `ganpaint models pull {model_id}`")
        weights = pull(model_id, models_dir=models_dir, cache_dir=cache_dir, progress=progress)
    try:
        return PaintModel.load(entry.folder, weights=weights, device=device)
    except (CheckpointError, ModelError) as e:
        raise ZooError(f"model {model_id!r} ({weights}) cannot be loaded: {e}") from None


def concept_table(entry: ModelEntry) -> ConceptTable | None:
    """The model's concept table without loading its weights, or None when it has none."""
    return ConceptTable.load(entry.concepts_path) if entry.has_table else None
