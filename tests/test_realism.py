from pathlib import Path

import pytest
import torch

from ganpaint.gan.artifacts import ArtifactError, save_artifact
from ganpaint.paint.model import PaintModel
from ganpaint.dissect.realism import (Discriminator, finetune_discriminator, load_discriminator, realism_scores,
                              save_discriminator, separation, world_reals)

torch.set_num_threads(1)
SHIPPED = Path(__file__).resolve().parents[1] / "models" / "scenes"


def tiny_d(seed=0) -> Discriminator:
    torch.manual_seed(seed)
    return Discriminator(16, (32, 32, 16)).eval()


def test_separation_is_the_chance_a_real_outscores_a_fake():
    assert separation(torch.tensor([3.0, 4.0]), torch.tensor([1.0, 2.0])) == 1.0
    assert separation(torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])) == 0.0
    assert separation(torch.tensor([1.0, 1.0]), torch.tensor([1.0, 1.0])) == 0.5
    assert separation(torch.tensor([1.0, 3.0]), torch.tensor([2.0])) == 0.5


def test_an_image_scores_the_same_alone_or_among_others():
    D = tiny_d()
    x = torch.rand(8, 3, 16, 16) * 2 - 1
    together = realism_scores(D, x)
    alone = torch.cat([realism_scores(D, x[i : i + 1]) for i in range(8)])
    assert torch.allclose(together, alone, atol=1e-5)
    D.group = 4  # the training discriminator mixes its batch mates into every score
    assert not torch.allclose(realism_scores(D, x), torch.cat([realism_scores(D, x[i : i + 1]) for i in range(8)]), atol=1e-3)


def test_images_of_another_size_are_resized_to_the_discriminators():
    D = tiny_d()
    assert realism_scores(D, torch.zeros(3, 3, 40, 40)).shape == (3,)


def test_save_and_load_round_trip(tmp_path):
    assert load_discriminator(tmp_path) is None
    D = tiny_d()
    ident = save_discriminator(D, tmp_path / "discriminator.safetensors", provenance={"note": "test"})
    E = load_discriminator(tmp_path)
    assert E.id == ident and E.provenance == {"note": "test"} and E.resolution == 16 and E.group == 1
    x = torch.rand(4, 3, 16, 16) * 2 - 1
    assert torch.allclose(realism_scores(D, x), realism_scores(E, x), atol=2e-2)  # stored in float16


def test_a_file_of_another_kind_is_refused(tmp_path):
    save_artifact(tmp_path / "discriminator.safetensors", {"w": torch.zeros(2)}, kind="judge-segmenter")
    with pytest.raises(ArtifactError, match="not a 'discriminator'"):
        load_discriminator(tmp_path)
    save_artifact(tmp_path / "discriminator.safetensors", {"w": torch.zeros(2)}, kind="discriminator",
                  config={"resolution": 16, "widths": [32, 32, 16]})
    with pytest.raises(ArtifactError, match="does not fit"):
        load_discriminator(tmp_path)


def test_finetuning_learns_to_tell_world_renders_from_a_random_generator():
    G = PaintModel.random(resolution=16, widths=(32, 32, 16), seed=0).generator
    D = tiny_d()
    reals = world_reals(range(100, 164), 16)
    heldout = world_reals(range(500, 532), 16).float() / 127.5 - 1
    with torch.no_grad():
        fakes = G(torch.randn(32, 512, generator=torch.Generator().manual_seed(1)))
    run = finetune_discriminator(D, G, reals, steps=60, batch=16, lr=2e-3)
    assert run["steps"] == 60 and run["images"] == 960
    assert separation(realism_scores(D, heldout), realism_scores(D, fakes)) > 0.9
    assert not any(p.requires_grad for p in G.parameters())


@pytest.mark.slow
def test_the_shipped_discriminator_tells_held_out_renders_from_generated_images():
    D = load_discriminator(SHIPPED)
    assert D is not None and D.id.startswith("discriminator-") and D.resolution == 128
    real = world_reals(range(1_000_300_000, 1_000_300_064), 128).float() / 127.5 - 1
    model = PaintModel.load(SHIPPED)
    with torch.no_grad():
        fake = model.generator(torch.randn(64, 512, generator=torch.Generator().manual_seed(5)))
    assert separation(realism_scores(D, real), realism_scores(D, fake)) > 0.7
