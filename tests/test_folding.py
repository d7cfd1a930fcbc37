import copy

import pytest
import torch

from ganpaint.photo.adapt import OffsetLayer, generator_view
from ganpaint.gan.folding import FoldedBlock, FoldedGenerator, fold
from ganpaint.paint.model import PaintModel
from ganpaint.gan.networks import Generator, GeneratorConfig
from ganpaint.gan.renderer import RegionRenderer


def _random_generator(**kw) -> Generator:
    torch.manual_seed(0)
    G = Generator(GeneratorConfig(**kw))
    for p in G.parameters():
        p.data.normal_(0, 1)  # biases too, so that folding them is tested
    return G.eval().requires_grad_(False)


def test_fold_is_the_same_function_as_the_plain_network():
    """Folded WScale and upsampling as phase kernels: the same images, up to float rounding, at every
    layer and for inputs of any shape (a region window is not square)."""
    G = _random_generator(resolution=32, widths=(24, 16, 12, 8))
    R = fold(G)
    z = torch.randn(3, G.config.z_dim)
    with torch.no_grad():
        ref, fast = G(z), R(z)
        assert fast.shape == ref.shape == (3, 3, 32, 32) and not torch.equal(fast, ref)  # another route …
        torch.testing.assert_close(fast, ref, atol=1e-4, rtol=1e-4)  # … to the same function
        x = torch.randn(2, 16, 3, 5)
        assert R.layer5(x).shape == (2, 12, 6, 10)
        torch.testing.assert_close(R.layer5(x), G.layer5(x), atol=1e-5, rtol=1e-5)
        h = G.features(z, "layer4")
        torch.testing.assert_close(R.render_from(h, "layer5"), G.render_from(h, "layer5"), atol=1e-4, rtol=1e-4)
    assert isinstance(R.layer5, FoldedBlock) and not list(R.parameters())  # inference only
    assert R.layer_names == G.layer_names and R.config is G.config


def test_the_plain_network_is_untouched_and_trains():
    G = _random_generator(resolution=16, widths=(16, 8, 8))
    before = copy.deepcopy(G.state_dict())
    fold(G)
    assert all(torch.equal(before[k], v) for k, v in G.state_dict().items())
    assert all(type(m).__name__ != "FoldedBlock" for m in G.modules())
    G.requires_grad_(True)
    G(torch.randn(2, G.config.z_dim)).square().mean().backward()
    assert G.layer3.conv.weight.grad is not None and G.layer3.wscale.b.grad is not None


def test_a_folded_generator_is_a_snapshot():
    G = _random_generator(resolution=16, widths=(16, 8, 8))
    z = torch.randn(2, G.config.z_dim)
    R = fold(G)
    with torch.no_grad():
        before = R(z)
        G.layer3.wscale.b.add_(1.0)
        assert torch.equal(R(z), before)  # fold again after changing G …
        torch.testing.assert_close(fold(G)(z), G(z), atol=1e-4, rtol=1e-4)  # … to follow it


def test_cpu_batches_render_high_resolution_layers_in_chunks_with_the_same_result():
    G = _random_generator(resolution=128, widths=(16, 16, 8, 8, 8, 4))
    R, whole = fold(G), fold(G, chunk=None)
    assert R._split_layer("layer5", None) == "layer9"  # the first 64 px layer
    assert R._split_layer("layer5", "layer9") is None
    h = G.features(torch.randn(5, G.config.z_dim), "layer4")
    with torch.no_grad():
        split, full = R.render_from(h, "layer5"), whole.render_from(h, "layer5")
        assert split.shape == full.shape == (5, 3, 128, 128)
        torch.testing.assert_close(split, full, atol=1e-5, rtol=1e-5)
    small = fold(_random_generator(resolution=32, widths=(16, 16, 8, 8)))
    assert small._split_layer("layer5", None) is None


def test_a_photo_view_shares_the_models_folded_blocks():
    G = _random_generator(resolution=16, widths=(16, 8, 8))
    base = fold(G)
    coarse = copy.deepcopy(G.layer5)
    coarse.wscale.b.data += 0.5
    offset = torch.randn(1, 8, 16, 16)
    view = generator_view(G, {"layer5": coarse, "layer6": OffsetLayer(G.layer6, offset)})
    R = fold(view, share=base)
    assert R.layer3 is base.layer3 and R.layer4 is base.layer4 and R.output_16x16 is base.output_16x16
    assert R.layer5 is not base.layer5 and R.layer6.layer is base.layer6 and isinstance(R.layer6, OffsetLayer)
    assert isinstance(view.layer6.layer, type(G.layer6))  # the view itself stays plain
    h = G.features(torch.randn(2, G.config.z_dim), "layer4")
    with torch.no_grad():
        torch.testing.assert_close(R.render_from(h, "layer5"), view.render_from(h, "layer5"), atol=1e-4, rtol=1e-4)


def test_region_frames_of_a_folded_generator_match_its_full_frames():
    m = PaintModel.random(resolution=32, widths=(16, 16, 8, 8), seed=1).folded()
    h = m.features(torch.randn(1, 512))
    r = RegionRenderer(m.render_generator, start=m.next_layer)
    m.render(h, region=r)
    for cells in [(0, 1, 0, 1), (3, 5, 6, 8), (7, 8, 2, 3)]:
        alpha = torch.zeros(1, m.channels, 8, 8)
        alpha[:, :, cells[0]:cells[1], cells[2]:cells[3]] = 1
        value = torch.full_like(alpha, 3.0)
        region = m.render(h, alpha, value, region=r)
        assert r.last_box is not None and r.last_box != (0, 32, 0, 32)  # a window, not the whole image
        torch.testing.assert_close(region, m.render(h, alpha, value), atol=1e-5, rtol=1e-5)


def test_model_renders_through_the_generator_it_was_given():
    m = PaintModel.random(resolution=16, widths=(16, 8, 8), seed=0)
    f = m.folded()
    assert m.fast is None and m.render_generator is m.generator
    assert isinstance(f.render_generator, FoldedGenerator) and f.generator is m.generator
    z = torch.randn(2, 512)
    h = m.features(z)
    assert not torch.equal(f.render(f.features(z)), m.render(h))
    torch.testing.assert_close(f.render(f.features(z)), m.render(h), atol=1e-4, rtol=1e-4)
    assert f.prepare_generator(m.generator).layer3 is f.render_generator.layer3
    assert m.prepare_generator(m.generator) is m.generator


def test_fold_leaves_what_it_cannot_fold():
    net = torch.nn.Linear(2, 2)
    assert fold(net) is net
    R = fold(_random_generator(resolution=16, widths=(16, 8, 8)))
    assert fold(R) is R
    with pytest.raises(KeyError):
        R.render_from(torch.zeros(1, 16, 8, 8), "layer99")
