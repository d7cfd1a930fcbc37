import math

import pytest
import torch

from ganpaint.networks import Discriminator, Generator, GeneratorConfig, official_widths


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


def test_cpu_batches_render_high_resolution_layers_in_chunks_with_the_same_result():
    from ganpaint import model as model_mod
    from ganpaint.model import PaintModel

    m = PaintModel.random(resolution=128, widths=(16, 16, 8, 8, 8, 4), seed=0)
    assert m._cpu_split_layer(m.generator) == "layer9"  # the first 64 px layer
    with torch.no_grad():
        h = m.features(torch.randn(5, m.generator.config.z_dim))
        split = m.render(h)
        whole = m.generator.render_from(h, start=m.next_layer)
        assert split.shape == whole.shape == (5, 3, 128, 128)
        assert torch.allclose(split, whole, atol=1e-4)
        part = m.generator.render_from(h, start="layer5", stop="layer9")
        assert part.shape[-1] == 32 and torch.allclose(m.generator.render_from(part, start="layer9"), whole, atol=1e-4)
    small = PaintModel.random(resolution=32, widths=(16, 16, 8, 8), seed=0)
    assert small._cpu_split_layer(small.generator) is None and model_mod.CPU_CHUNK == 2


def _reference(fn):
    from ganpaint import networks

    networks.FAST_CPU_INFERENCE = False
    try:
        return fn()
    finally:
        networks.FAST_CPU_INFERENCE = True


def test_fast_cpu_inference_is_the_same_function_as_the_reference_blocks():
    """Folded WScale and upsampling as phase kernels: the same images, up to float rounding, at every
    layer and for inputs of any shape (a region window is not square)."""
    torch.manual_seed(0)
    G = Generator(GeneratorConfig(resolution=32, widths=(24, 16, 12, 8)))
    for p in G.parameters():
        p.data.normal_(0, 1)  # biases too, so that folding them is tested
    z = torch.randn(3, G.config.z_dim)
    with torch.no_grad():
        fast = G(z)
        ref = _reference(lambda: G(z))
        assert fast.shape == ref.shape == (3, 3, 32, 32) and not torch.equal(fast, ref)  # another route …
        torch.testing.assert_close(fast, ref, atol=1e-4, rtol=1e-4)  # … to the same function
        x = torch.randn(2, 16, 3, 5)
        torch.testing.assert_close(G.layer5(x), _reference(lambda: G.layer5(x)), atol=1e-5, rtol=1e-5)
        assert G.layer5(x).shape == (2, 12, 6, 10)
    # with gradients (training, photo adaptation) the reference route runs and gradients reach the conv
    G(z).square().mean().backward()
    assert G.layer5.conv.weight.grad is not None and G.layer5.wscale.b.grad is not None


def test_folded_weights_follow_parameter_updates():
    G = Generator(GeneratorConfig(resolution=16, widths=(16, 8, 8)))
    z = torch.randn(2, G.config.z_dim)
    with torch.no_grad():
        before = G(z)
        opt = torch.optim.SGD(G.parameters(), lr=0.5)
    G(z).mean().backward()
    opt.step()  # in-place updates
    with torch.no_grad():
        after = G(z)
        assert not torch.allclose(before, after)
        torch.testing.assert_close(after, _reference(lambda: G(z)), atol=1e-4, rtol=1e-4)
        G.load_state_dict(Generator(GeneratorConfig(resolution=16, widths=(16, 8, 8))).state_dict())
        torch.testing.assert_close(G(z), _reference(lambda: G(z)), atol=1e-4, rtol=1e-4)


def test_fast_route_works_for_a_generator_made_in_inference_mode():
    """Parameters created under inference_mode have no version counter: folded weights are made per call."""
    with torch.inference_mode():
        G = Generator(GeneratorConfig(resolution=16, widths=(16, 8, 8)))
        z = torch.randn(2, G.config.z_dim)
        assert G.layer3.conv.weight.is_inference()
        torch.testing.assert_close(G(z), _reference(lambda: G(z)), atol=1e-4, rtol=1e-4)
