import pytest
import torch

from ganpaint.photo.adapt import adapt
from ganpaint.world.encoder_train import EncoderTrainConfig, EncoderTrainer
from ganpaint.photo.invert import Encoder, EncoderConfig, EncoderError, FeatureNet, find_encoder, load_encoder
from ganpaint.paint.model import PaintModel

torch.set_num_threads(1)

TINY = EncoderTrainConfig(batch=6, pool_size=12, pool_refresh=1, encoder={"base": 8, "top": 32})


def _model(seed: int = 0) -> PaintModel:
    return PaintModel.random(resolution=16, widths=(32, 32, 16), seed=seed)


@pytest.mark.parametrize("resolution,channels", [(16, 32), (32, 64), (128, 128)])
def test_encoder_shapes_any_resolution(resolution, channels):
    E = Encoder(EncoderConfig(resolution=resolution, out_channels=channels))
    h = E(torch.rand(2, 3, resolution, resolution) * 2 - 1)
    assert h.shape == (2, channels, 8, 8)
    assert torch.isfinite(h).all() and h.std() > 0
    with pytest.raises(ValueError):
        EncoderConfig(resolution=48)


def test_shipped_size_budget():
    E = Encoder(EncoderConfig(resolution=128, out_channels=128))
    assert sum(p.numel() for p in E.parameters()) * 2 < 3_000_000  # stored as float16


def test_training_improves_and_resumes_exactly(tmp_path):
    m = _model()
    G = m.generator
    z = torch.randn(8, 512, generator=torch.Generator().manual_seed(9))
    h_true = G.features(z, "layer4")
    x = G.render_from(h_true, "layer5")

    def h_error(E: Encoder) -> float:
        with torch.no_grad():
            return ((E.eval()(x) - h_true).pow(2).mean() / h_true.pow(2).mean()).item()

    straight = EncoderTrainer(G, TINY, run_dir=tmp_path / "a")
    untrained = h_error(straight.E)
    straight.train(max_steps=40)
    assert h_error(straight.E) < 0.8 * untrained

    # 20 steps, a fresh trainer from the checkpoint, 20 more: the same weights as 40 in one go
    first = EncoderTrainer(G, TINY, run_dir=tmp_path / "b")
    first.train(max_steps=20)
    resumed = EncoderTrainer(G, run_dir=tmp_path / "b")  # config comes from the checkpoint
    assert resumed.step == 20 and resumed.config == TINY
    resumed.train(max_steps=40)
    for (k, a), b in zip(straight.E.state_dict().items(), resumed.E.state_dict().values()):
        assert torch.equal(a, b), k

    # export → load: float16 on disk, metadata kept, checked against the generator
    path = tmp_path / "model" / "encoder.safetensors"
    info = straight.export(path, eval_count=4)
    assert info["heldout"]["heldout_renders"] == 4 and info["steps"] == 40
    E = load_encoder(path, G)
    assert E.meta["generator_sha256"] == straight.g_sha
    assert abs(h_error(E) - h_error(straight.E)) < 1e-2
    assert find_encoder(path.parent, G) is not None and find_encoder(tmp_path, G) is None
    with pytest.raises(EncoderError):
        load_encoder(path, PaintModel.random(resolution=32, widths=(32, 32, 16, 8)).generator)
    bogus = tmp_path / "bogus.safetensors"
    bogus.write_bytes(b"not a safetensors file")
    with pytest.raises(EncoderError):
        load_encoder(bogus)
    with pytest.raises(EncoderError):
        load_encoder(tmp_path / "missing.safetensors")


def test_a_trained_encoder_starts_adaptation_closer(tmp_path):
    m = _model()
    trainer = EncoderTrainer(m.generator, TINY, run_dir=tmp_path)
    trainer.train(max_steps=60)
    x = m.generator(torch.randn(1, 512, generator=torch.Generator().manual_seed(77)))
    steps = dict(h_steps=0, coarse_steps=0, fine_steps=0)
    with_encoder = adapt(m.generator, x, encoder=trainer.E.eval(), **steps).metrics["stages"]["encoder"]["l1"]
    untrained = Encoder(trainer.E.config).eval()
    without = adapt(m.generator, x, encoder=untrained, **steps).metrics["stages"]["encoder"]["l1"]
    assert with_encoder < without


def test_changed_generator_keeps_weights_but_restarts(tmp_path):
    trainer = EncoderTrainer(_model(0).generator, TINY, run_dir=tmp_path)
    trainer.train(max_steps=3)
    other = EncoderTrainer(_model(1).generator, run_dir=tmp_path)
    assert other.step == 0
    for a, b in zip(trainer.E.state_dict().values(), other.E.state_dict().values()):
        assert torch.equal(a, b)


def test_feature_net_is_fixed_and_deterministic():
    a, b = FeatureNet(), FeatureNet()
    x = torch.rand(1, 3, 16, 16)
    assert all(torch.equal(p, q) for p, q in zip(a(x), b(x)))
    assert not any(p.requires_grad for p in a.parameters())


def test_invert_command(tmp_path, capsys):
    import json

    from PIL import Image
    from safetensors.torch import load_file, save_file

    from ganpaint.photo.adapt import Adaptation
    from ganpaint.cli import main
    from ganpaint.world.world import render_scene

    m = _model()
    folder = tmp_path / "tiny"
    folder.mkdir()
    save_file({k: v.contiguous() for k, v in m.generator.state_dict().items()}, str(folder / "generator.safetensors"))
    (folder / "model.json").write_text(json.dumps({"id": "tiny", "edit_layer": "layer4"}))
    photo = tmp_path / "photo.jpg"
    Image.fromarray(render_scene(1_000_000_009, 40)[0]).save(photo)
    out, state = tmp_path / "recon.png", tmp_path / "state.safetensors"
    main(["invert", str(photo), "--model", str(folder), "--out", str(out), "--state", str(state), "--threads", "1",
          "--h-steps", "3", "--coarse-steps", "2", "--fine-steps", "2"])
    with Image.open(out) as im:
        assert im.size == (16, 16)
    text = capsys.readouterr().out
    assert "fine" in text and "PSNR" in text
    again = Adaptation.from_state(m.generator, load_file(str(state)))
    assert again.h.shape == (1, 32, 8, 8)

    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(SystemExit) as e:
        main(["invert", str(bad), "--model", str(folder), "--out", str(out), "--threads", "1"])
    assert e.value.code == 2 and "not an image" in capsys.readouterr().err
    # the command sets torch's global thread count: later tests must keep running on one thread
    assert torch.get_num_threads() == 1


def test_a_resized_generator_starts_a_fresh_encoder(tmp_path):
    trainer = EncoderTrainer(_model(0).generator, TINY, run_dir=tmp_path)
    trainer.train(max_steps=2)
    bigger = PaintModel.random(resolution=32, widths=(32, 32, 16, 8)).generator
    other = EncoderTrainer(bigger, run_dir=tmp_path)
    assert other.step == 0 and other.E.config.resolution == 32
    before = [p.clone() for p in other.E.parameters()]
    other.train(max_steps=1)  # the optimizer drives the encoder in use
    assert any(not torch.equal(a, b) for a, b in zip(before, other.E.parameters()))
