import math

import pytest
import torch

from ganpaint.gan.networks import Discriminator, Generator, GeneratorConfig, official_widths


@pytest.mark.parametrize("resolution", [8, 16, 64, 256])
def test_official_layout_names_and_shapes(resolution):
    cfg = GeneratorConfig(resolution, official_widths(resolution))
    G = Generator(cfg)
    n = 2 * (int(math.log2(resolution)) - 1)
    assert G.layer_names == [f"layer{i}" for i in range(1, n + 1)] + [f"output_{resolution}x{resolution}"]
    sd = G.state_dict()
    assert set(sd) == {f"layer{i}.{p}" for i in range(1, n + 1) for p in ("conv.weight", "wscale.b")} | {
        f"output_{resolution}x{resolution}.conv.weight", f"output_{resolution}x{resolution}.wscale.b"}
    assert sd["layer1.conv.weight"].shape == (512, 512, 4, 4)
    assert sd[f"output_{resolution}x{resolution}.conv.weight"].shape == (3, cfg.widths[-1], 1, 1)
    if resolution == 256:
        # the official 256 px model: 14 layers, ≈18.3 M parameters, layer7 512→256
        assert n == 14
        assert sd["layer7.conv.weight"].shape == (256, 512, 3, 3)
        assert abs(sum(v.numel() for v in sd.values()) / 1e6 - 18.3) < 0.2


def test_forward_shapes_and_named_layers():
    torch.manual_seed(0)
    G = Generator(GeneratorConfig(32, (64, 32, 16, 8))).eval()
    z = torch.randn(3, 512)
    with torch.no_grad():
        img = G(z)
        assert img.shape == (3, 3, 32, 32)
        assert torch.equal(G(z[:, :, None, None]), img)
        h4 = G.features(z, upto="layer4")
        assert h4.shape == (3, 32, 8, 8)
        assert torch.allclose(G.render_from(h4, start="layer5"), img, atol=1e-6)
        h2 = G.features(z, upto="layer2")
        assert h2.shape == (3, 64, 4, 4)
        assert torch.allclose(G.render_from(h2, start="layer3"), img, atol=1e-6)
    with pytest.raises(KeyError, match="layer99"):
        G.features(z, upto="layer99")
    with pytest.raises(ValueError, match="z must be"):
        G(torch.randn(2, 512, 2, 2))


def test_block_math_matches_the_definition():
    """PixelNorm → conv (no bias) → x·scale + b with the He constant → LeakyReLU(0.2)."""
    torch.manual_seed(1)
    G = Generator(GeneratorConfig(8, (16, 8)))
    x = torch.randn(2, 16, 4, 4)
    block = G.layer2
    with torch.no_grad():
        block.wscale.b.normal_()
        normed = x / torch.sqrt((x**2).mean(dim=1, keepdim=True) + 1e-8)
        conv = torch.nn.functional.conv2d(normed, block.conv.weight, padding=1)
        expected = torch.nn.functional.leaky_relu(conv * math.sqrt(2 / (16 * 9)) + block.wscale.b.view(1, -1, 1, 1), 0.2)
        assert torch.allclose(block(x), expected, atol=1e-5)
    assert G.layer1.wscale.scale == pytest.approx(math.sqrt(2) / 4 / math.sqrt(512))
    out = getattr(G, "output_8x8")
    assert out.wscale.scale == pytest.approx(1 / math.sqrt(8))


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="power of two"):
        GeneratorConfig(48, (8, 8, 8))
    with pytest.raises(ValueError, match="needs 4 widths"):
        GeneratorConfig(32, (8, 8, 8))


def test_discriminator_scores_every_growth_stage():
    D = Discriminator(32, (32, 16, 16, 8))
    for r in (8, 16, 32):
        out = D(torch.randn(4, 3, r, r), alpha=0.5)
        assert out.shape == (4, 1)
