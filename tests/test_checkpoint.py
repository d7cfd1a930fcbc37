import pytest
import torch
from safetensors.torch import save_file

from ganpaint.gan.checkpoint import CheckpointError, load_generator
from ganpaint.gan.networks import Generator, GeneratorConfig


@pytest.fixture
def G():
    torch.manual_seed(0)
    g = Generator(GeneratorConfig(16, (32, 16, 8))).eval()
    with torch.no_grad():
        for p in g.parameters():
            p.normal_()  # non-zero biases, so a mislabelled key would change the output
    return g


def _old_layout(state):
    out = {}
    for k, v in state.items():
        if k.startswith("layer"):
            i = int(k.split(".")[0][5:])
            out[k.replace(f"layer{i}.", f"features.{i - 1}.", 1)] = v
        else:
            out["output." + k.split(".", 1)[1]] = v
    return out


def test_three_layouts_and_two_file_formats_give_identical_outputs(G, tmp_path):
    z = torch.randn(2, 512)
    ref = G(z)
    sd = G.state_dict()
    torch.save(sd, tmp_path / "plain.pth")
    torch.save({"state_dict": sd}, tmp_path / "wrapped.pth")
    torch.save(_old_layout(sd), tmp_path / "old.pth")
    save_file({k: v.contiguous() for k, v in sd.items()}, str(tmp_path / "g.safetensors"))
    for name in ("plain.pth", "wrapped.pth", "old.pth", "g.safetensors"):
        loaded = load_generator(tmp_path / name)
        assert loaded.config.resolution == 16 and loaded.config.widths == (32, 16, 8)
        assert torch.equal(loaded(z), ref), name
    assert torch.equal(load_generator(_old_layout(sd))(z), ref)
    assert torch.equal(load_generator({"state_dict": sd})(z), ref)


def test_wrong_files_are_refused_with_a_reason(G, tmp_path):
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="could not be read"):
        load_generator(tmp_path / "junk.pth")
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_generator(tmp_path / "missing.pth")
    torch.save({"fc.weight": torch.zeros(3, 3)}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="not a ProGAN generator"):
        load_generator(tmp_path / "other.pth")
    sd = G.state_dict()
    bad = dict(sd)
    bad["layer3.conv.weight"] = torch.zeros(16, 7, 3, 3)
    with pytest.raises(CheckpointError, match="shape"):
        load_generator(bad)
    missing = {k: v for k, v in sd.items() if k != "layer2.wscale.b"}
    with pytest.raises(CheckpointError, match="missing layer2.wscale.b"):
        load_generator(missing)
    torch.save([1, 2, 3], tmp_path / "list.pth")
    with pytest.raises(CheckpointError, match="not a state dict"):
        load_generator(tmp_path / "list.pth")


def test_pickled_code_is_never_executed(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"x": Evil()}, tmp_path / "evil.pth")
    with pytest.raises(CheckpointError, match="weights-only"):
        load_generator(tmp_path / "evil.pth")
