"""Sessions: history (commit/undo/redo/delete/reset), caches, limits, eviction; stroke intake."""
from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

from ganpaint.paint.edit import Stroke, StrokeError, StrokeLimits, compose, stroke_edit
from server.sessions import Session, SessionError
from server.store import SessionStore, StoreFull
from server.settings import Settings
from server.strokes import parse_stroke

LIMITS = StrokeLimits()


def entry(model, x=0.5, y=0.5, concept="tree", **kw):
    return parse_stroke({"concept": concept, "points": [[x, y]], **kw}, model, LIMITS)


def new_session(model, clock=lambda: 0.0, **settings):
    z = model.z_for_seed(1)
    return Session("s1", "tiny", model, Settings(**settings), seed=1, z=z, h=model.features(z), clock=clock)


def test_history_commit_undo_redo_delete_reset(tiny):
    s = new_session(tiny)
    a, b = entry(tiny, 0.2, 0.2), entry(tiny, 0.8, 0.8, concept="grass")
    s0 = s.state
    s1 = s.commit(a)
    s2 = s.commit(b)
    assert [e.stroke.concept for e in s.state.strokes] == ["tree", "grass"]
    assert (s.undo_depth, s.redo_depth) == (2, 0)
    assert s.undo() is s1 and s.undo() is s0
    with pytest.raises(SessionError, match="nothing to undo"):
        s.undo()
    assert s.redo() is s1 and s.redo() is s2
    with pytest.raises(SessionError, match="nothing to redo"):
        s.redo()
    s3 = s.delete(0)  # deleting is itself a step in history
    assert [e.stroke.concept for e in s3.strokes] == ["grass"]
    assert s.undo() is s2
    s.redo()
    with pytest.raises(SessionError) as err:
        s.delete(5)
    assert err.value.status == 404
    s4 = s.reset()
    assert s4.strokes == () and s.reset() is s4  # resetting a clean image adds no step
    assert s.undo() is s3
    s.commit(a)  # a new edit drops the redo branch
    assert s.redo_depth == 0 and len(s.state.strokes) == 2


def test_composite_is_cached_and_bit_identical_to_compose(tiny):
    s = new_session(tiny)
    for i in range(4):
        s.commit(entry(tiny, 0.1 + 0.2 * i, 0.5, concept=["tree", "sky"][i % 2], strength=0.5 + 0.1 * i))
        s.composite(s.state)  # incremental from the parent's composite
    alpha, value = s.composite(s.state)
    ref = compose([e.stroke for e in s.state.strokes], tiny.table, tiny.channels, tiny.layer_size)
    assert torch.equal(alpha, ref[0]) and torch.equal(value, ref[1])
    assert s.composite(s.state)[0] is alpha  # cached


def test_reach_is_cached_built_from_the_parent_and_equal_to_all_strokes(tiny):
    from ganpaint.paint.footprint import reach_map

    s = new_session(tiny)
    assert s.reach(s.state) is None  # nothing painted: the picture is the unedited one
    for i in range(3):
        s.commit(entry(tiny, 0.15 + 0.3 * i, 0.3 + 0.2 * i, concept="tree"))
        s.reach(s.state)  # incremental from the parent's reach
    reach = s.reach(s.state)
    assert torch.equal(reach, reach_map([e.stroke for e in s.state.strokes], tiny.resolution))
    assert s.reach(s.state) is reach  # cached
    with torch.inference_mode():
        assert torch.equal(s.unedited(), tiny.render(s.h))  # no options: the plain picture, kept
    assert s.unedited() is s.unedited()


def test_a_growing_preview_extends_its_reach_and_a_new_one_starts_afresh(tiny):
    from ganpaint.paint.edit import Stroke
    from ganpaint.paint.footprint import reach_map

    s = new_session(tiny)
    pts = [(0.1 + 0.05 * i, 0.3 + 0.02 * i * i) for i in range(12)]
    for n in (1, 2, 5, 5, 9, 12):  # the page sends the stroke so far
        stroke = Stroke(concept="tree", points=tuple(pts[:n]), radius=0.04)
        got = s.preview_reach(stroke)
        assert torch.allclose(got, reach_map([stroke], tiny.resolution), atol=1e-6), n
    other = Stroke(concept="tree", points=((0.9, 0.9), (0.8, 0.85)), radius=0.04)  # not an extension
    assert torch.allclose(s.preview_reach(other), reach_map([other], tiny.resolution), atol=1e-6)
    wider = Stroke(concept="tree", points=tuple(pts), radius=0.08)  # the same points, another radius
    assert torch.allclose(s.preview_reach(wider), reach_map([wider], tiny.resolution), atol=1e-6)


def test_limits_strokes_history_and_points(tiny):
    s = new_session(tiny, max_strokes=3, max_history=2)
    for i in range(3):
        s.commit(entry(tiny, 0.1 * i, 0.1))
    with pytest.raises(SessionError, match="at most 3 strokes") as err:
        s.commit(entry(tiny))
    assert err.value.status == 422
    assert s.undo_depth == 2  # only max_history undo steps are kept
    s = new_session(tiny, max_session_points=10)
    pts = [[i / 10, 0.5] for i in range(6)]
    s.commit(parse_stroke({"concept": "tree", "points": pts}, tiny, LIMITS))
    s.delete(0)
    s.commit(parse_stroke({"concept": "sky", "points": pts}, tiny, LIMITS))
    # 12 points in history > 10: the oldest undo steps (those holding the tree stroke) are forgotten
    assert s.undo_depth == 1 and s.undo().strokes == ()
    s.redo()
    with pytest.raises(SessionError, match="stroke points"):
        s.commit(parse_stroke({"concept": "sky", "points": pts}, tiny, LIMITS))


def test_store_cap_evicts_oldest_idle_and_ttl(tiny):
    now = [0.0]
    store = SessionStore(Settings(max_sessions=2, session_ttl_s=10), clock=lambda: now[0])
    z = tiny.z_for_seed(0)
    h = tiny.features(z)
    a = store.create("tiny", tiny, seed=0, z=z, h=h)
    now[0] = 1
    b = store.create("tiny", tiny, seed=0, z=z, h=h)
    now[0] = 2
    assert store.get(a.id) is a  # touching a makes b the oldest idle one
    c = store.create("tiny", tiny, seed=0, z=z, h=h)
    assert store.get(b.id) is None and store.get(a.id) is a and len(store) == 2
    assert len(a.id) == 32 and a.id != c.id
    a.connections = c.connections = 1  # sessions with open sockets are never evicted
    with pytest.raises(StoreFull):
        store.create("tiny", tiny, seed=0, z=z, h=h)
    c.connections = 0
    now[0] = 100
    assert store.get(a.id) is a  # connected: kept past its TTL
    assert store.get(c.id) is None  # idle past the TTL
    assert store.delete(a.id) and store.get(a.id) is None and not store.delete(a.id)


def test_memory_per_session_is_bounded(tiny):
    s = new_session(tiny, max_session_points=2000)
    base = s.memory_bytes()
    pts = [[i / 1000, 0.5] for i in range(1000)]
    s.commit(parse_stroke({"concept": "tree", "points": pts}, tiny, LIMITS))
    s.commit(parse_stroke({"concept": "tree", "points": pts}, tiny, LIMITS))
    s.composite(s.state)
    assert 1000 * 72 * 2 <= s.memory_bytes() - base < 1000 * 72 * 2 + 64_000


def _mask_url(arr: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def test_mask_strokes_are_compacted_without_changing_the_edit(tiny):
    rng = np.random.default_rng(0)
    big = np.where(rng.random((301, 257)) < 0.3, 0, 255).astype(np.uint8)
    d = {"concept": "tree", "mask": _mask_url(big)}
    full = Stroke.from_dict(d)
    e = parse_stroke(d, tiny, LIMITS)
    assert e.stroke.mask.shape == (tiny.layer_size * 4,) * 2 and len(e.public()["mask"]) < 2000
    for a, b in zip(stroke_edit(full, tiny.table, tiny.channels, tiny.layer_size),
                    stroke_edit(e.stroke, tiny.table, tiny.channels, tiny.layer_size)):
        assert torch.equal(a, b)
    again = parse_stroke(e.public(), tiny, LIMITS)  # what GET state shows can be sent back
    assert np.array_equal(again.stroke.mask, e.stroke.mask)


def test_parse_stroke_checks_the_model(tiny):
    with pytest.raises(StrokeError, match="unknown concept 'unicorn'"):
        entry(tiny, concept="unicorn")
    with pytest.raises(StrokeError, match="unit 999 does not exist"):
        parse_stroke({"units": [1, 999], "points": [[0.5, 0.5]]}, tiny, LIMITS)
    with pytest.raises(StrokeError, match="too many points"):
        parse_stroke({"concept": "tree", "points": [[0.5, 0.5]] * 5}, tiny, StrokeLimits(max_points=4))
