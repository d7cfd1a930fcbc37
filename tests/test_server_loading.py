"""The server loads shipped models and models pulled into the cache, and skips ones without weights."""
import json

import torch
from safetensors.torch import save_file

from ganpaint.gan.networks import Generator, GeneratorConfig
from server.app import load_models
from server.settings import Settings


def _write_model(folder, model_id, seed):
    folder.mkdir(parents=True)
    torch.manual_seed(seed)
    G = Generator(GeneratorConfig(16, (16, 16, 8)))
    save_file({k: v.contiguous() for k, v in G.state_dict().items()}, str(folder / "generator.safetensors"))
    (folder / "model.json").write_text(json.dumps({"id": model_id, "edit_layer": "layer4", "weights": "generator.safetensors"}))


def test_loads_models_with_weights_and_skips_the_rest(tmp_path, caplog):
    models_dir = tmp_path / "models"
    _write_model(models_dir / "mine", "mine", 0)
    (models_dir / "noweights").mkdir()
    (models_dir / "noweights" / "model.json").write_text(json.dumps({"id": "noweights", "weights": "missing.pth"}))
    settings = Settings(models_dir=models_dir, home=tmp_path / "home", models=["mine", "noweights"])
    loaded = load_models(settings, "cpu")
    assert list(loaded) == ["mine"]
    assert "noweights" in caplog.text and "ganpaint models pull noweights" in caplog.text
    # a model without a concept table still paints with custom unit brushes
    assert loaded["mine"].table.brushes == [] and loaded["mine"].channels == 16
    every = load_models(Settings(models_dir=models_dir, home=tmp_path / "home", models=["all"]), "cpu")
    assert list(every) == ["mine"]
