"""The model zoo (runtime): which models exist, where they live on disk and how they are pulled
(zoo, re-exported here), and verified downloads (download).

    from ganpaint import zoo
    model = zoo.load_model("scenes")
"""
from .zoo import (
    ModelEntry, ZooError, available_models, concept_table, default_models_dir, get_entry, home, load_model, pull,
    pull_url, registry, source_urls,
)

__all__ = [
    "ZooError", "ModelEntry", "home", "default_models_dir", "registry", "get_entry", "source_urls",
    "pull", "pull_url", "available_models", "load_model", "concept_table",
]
