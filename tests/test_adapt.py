import pytest
import torch

from ganpaint.photo.adapt import (
    Adaptation, AdaptationAborted, OffsetLayer, adapt, fine_layer_for, generator_view, optimize_h,
)
from ganpaint.paint.edit import Stroke, compose
from ganpaint.paint.model import PaintModel
from ganpaint.gan.networks import GeneratorConfig, official_widths
from ganpaint.world.world import render_batch

torch.set_num_threads(1)

STEPS = dict(h_steps=25, coarse_steps=20, fine_steps=25)


def _model() -> PaintModel:
    # 64 px so that coarse (layer6, 16 px) and fine (layer8, 32 px) are different layers, as at 128/256 px
    return PaintModel.random(resolution=64, widths=(32, 32, 16, 16, 8), seed=3)


def _world(seed: int, size: int) -> torch.Tensor:
    imgs, _ = render_batch([1_000_000_000 + seed], size)  # held-out renders
    return torch.from_numpy(imgs).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def test_fine_layer_follows_the_recipe():
    assert fine_layer_for(GeneratorConfig(256, official_widths(256))) == "layer12"
    assert fine_layer_for(GeneratorConfig(128, (128, 128, 64, 32, 16, 8))) == "layer10"
    assert fine_layer_for(GeneratorConfig(64, (32, 32, 16, 16, 8))) == "layer8"
    assert fine_layer_for(GeneratorConfig(32, (32, 32, 16, 8))) == "layer8"  # too small: the last layer


def test_each_stage_lowers_the_reconstruction_error():
    m = _model()
    x = _world(1, 64)
    seen = []
    r = adapt(m.generator, x, progress_fn=lambda s, f, e: seen.append((s, f, e)), **STEPS)
    st = r.metrics["stages"]
    assert list(st) == ["encoder", "h4", "coarse", "fine"]
    l1 = [st[k]["l1"] for k in st]
    assert all(a > b for a, b in zip(l1, l1[1:])), l1
    assert st["fine"]["psnr"] > st["encoder"]["psnr"] + 3
    # progress: every step reported, fractions rise to 1, stages in order
    fractions = [f for _, f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert [s for s, _, _ in seen].count("coarse") == STEPS["coarse_steps"]
    # the view reproduces the recorded error, and PaintModel.render takes it
    y = m.render(r.h, generator=r.generator)
    assert abs((y - x).abs().mean().item() - st["fine"]["l1"]) < 1e-4


def test_shared_generator_is_never_modified():
    m = _model()
    G = m.generator
    before = {k: v.clone() for k, v in G.state_dict().items()}
    modules_before = dict(G.named_children())
    r1 = adapt(G, _world(2, 64), **STEPS)
    r2 = adapt(G, _world(3, 64), **STEPS)
    after = G.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert dict(G.named_children()) == modules_before  # same module objects, no wrappers swapped in
    assert not any(mod._forward_hooks or mod._forward_pre_hooks for mod in G.modules())
    assert not any(p.requires_grad for p in G.parameters())
    # the two photos got their own layer6 copies and offsets; the other layers are shared, not copied
    c1, c2 = r1.generator._modules["layer6"], r2.generator._modules["layer6"]
    assert c1 is not G.layer6 and c2 is not G.layer6 and not torch.equal(c1.conv.weight, c2.conv.weight)
    assert r1.generator.layer5 is G.layer5 and r1.generator.layer7 is G.layer7
    f1 = r1.generator._modules["layer8"]
    assert isinstance(f1, OffsetLayer) and f1.layer is G.layer8 and f1.offset.abs().sum() > 0
    # rendering the shared model still gives its own image
    z = m.z_for_seed(1)
    with torch.no_grad():
        torch.testing.assert_close(G(z), G.render_from(m.features(z), "layer5"))
    h = m.features(z)
    assert not torch.equal(m.render(h), m.render(h, generator=r1.generator))


def test_abort_stops_within_one_step():
    m = _model()
    x = _world(4, 64)
    for stop_after in (0, 3, STEPS["h_steps"] + 5, STEPS["h_steps"] + STEPS["coarse_steps"] + 2):
        calls, steps = [0], []

        def abort() -> bool:
            calls[0] += 1
            return calls[0] > stop_after + 1  # the first call comes before encoding

        with pytest.raises(AdaptationAborted):
            adapt(m.generator, x, abort_fn=abort, progress_fn=lambda s, f, e: steps.append(s), **STEPS)
        optimizer_steps = len([s for s in steps if s != "encoder"])
        assert optimizer_steps == stop_after  # not one step more


def test_state_round_trip_and_editing_an_adapted_photo():
    m = _model()
    x = _world(5, 64)
    r = adapt(m.generator, x, **STEPS)
    state = r.state_dict()
    assert set(state) == {"h", "coarse.conv.weight", "coarse.wscale.b", "offset"}
    again = Adaptation.from_state(m.generator, {k: v.clone() for k, v in state.items()})
    torch.testing.assert_close(m.render(again.h, generator=again.generator), m.render(r.h, generator=r.generator))
    # an edit on the adapted photo changes the image where painted
    brush = m.table.brushes[0]
    stroke = Stroke.from_dict({"concept": brush, "mode": "draw", "points": [[0.5, 0.5]], "radius": 0.2})
    alpha, value = compose([stroke], m.table, channels=m.channels, size=m.layer_size)
    plain = m.render(r.h, generator=r.generator)
    edited = m.render(r.h, alpha[None], value[None], generator=r.generator)
    diff = (edited - plain).abs().sum(dim=1)[0]
    assert diff[24:40, 24:40].mean() > diff[:8, :8].mean()


def test_generator_view_is_isolated():
    m = _model()
    G = m.generator
    view = generator_view(G, {"layer6": torch.nn.Identity()})
    view.register_forward_hook(lambda *a: None)
    assert not G._forward_hooks and isinstance(G.layer6, type(G.layer5))
    with pytest.raises(KeyError):
        generator_view(G, {"layer99": torch.nn.Identity()})


def test_h_stays_near_its_start_with_a_strong_penalty():
    m = _model()
    x = _world(6, 64)
    h0 = m.features(m.z_for_seed(3))
    loose = optimize_h(m.generator, x, h0, steps=15, penalty=0.0)
    tight = optimize_h(m.generator, x, h0, steps=15, penalty=100.0)
    assert (tight - h0).norm() < (loose - h0).norm()


def test_the_fine_offset_fades_only_where_an_edit_acts():
    m = _model()
    r = adapt(m.generator, _world(4, 64), **STEPS)
    fine = r.generator._modules[r.fine_layer]
    assert isinstance(fine, OffsetLayer) and fine.reference is not None
    plain = Adaptation.from_state(m.generator, r.state_dict(), fine_layer=r.fine_layer, fade=False).generator
    bare = generator_view(r.generator, {r.fine_layer: fine.layer})  # the same view without any offset
    # the photo itself: the offset applies in full, exactly as fitted
    assert torch.equal(m.render(r.h, generator=r.generator), m.render(r.h, generator=plain))
    # an edit in the top-left cells: there the image moves towards the offset-free view; far away it stays
    stroke = Stroke.from_dict({"concept": "tree", "points": [[0.1, 0.1]], "radius": 0.08})
    alpha, value = compose([stroke], m.table, m.channels, m.layer_size)
    faded, kept, free = (m.render(r.h, alpha, value, generator=g) for g in (r.generator, plain, bare))
    near, far = (slice(0, 12), slice(0, 12)), (slice(44, 64), slice(44, 64))
    assert torch.equal(faded[..., far[0], far[1]], kept[..., far[0], far[1]])
    d_kept = (kept - free)[..., near[0], near[1]].abs().mean()
    d_faded = (faded - free)[..., near[0], near[1]].abs().mean()
    assert d_faded < 0.5 * d_kept  # the offset fitted to what was there no longer pulls the edit back
