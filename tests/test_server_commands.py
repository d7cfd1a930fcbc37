"""Session.apply and subscribe: every command changes the picture once and every subscriber hears it;
parse_message turns websocket JSON into those commands."""
from __future__ import annotations

import asyncio

import numpy as np
import pytest
import torch

from ganpaint.paint.edit import StrokeError, StrokeLimits
from ganpaint.photo.photo import Geometry, Photo
from server.commands import (AddStroke, BadMessage, DeleteStroke, Redo, Reset, SetOptions, SetSeed, Undo,
                             parse_message)
from server.sessions import Changed, Closed, Progress, Session, SessionError
from server.settings import Settings
from server.sources import PhotoSource, SeedSource
from server.strokes import parse_stroke

LIMITS = StrokeLimits()


def run(coro):
    return asyncio.run(coro)


def new_session(model, seed=1, **kw):
    z = model.z_for_seed(seed)
    return Session("s1", "tiny", model, Settings(), seed=seed, z=z, h=model.features(z), **kw)


def tree(model, x=0.5):
    return parse_stroke({"concept": "tree", "points": [[x, 0.5]]}, model, LIMITS)


def test_apply_runs_each_command_and_tells_every_subscriber(tiny):
    s = new_session(tiny)
    heard_a, heard_b = [], []
    s.subscribe(heard_a.append)
    s.subscribe(heard_b.append)
    blank = s.state
    painted = run(s.apply(AddStroke(tree(tiny))))
    assert painted is s.state and len(painted.strokes) == 1 and s.undo_depth == 1
    assert run(s.apply(Undo())) is blank
    assert run(s.apply(Redo())) is painted
    run(s.apply(AddStroke(tree(tiny, 0.2))))
    deleted = run(s.apply(DeleteStroke(0)))
    assert [e.stroke.points for e in deleted.strokes] == [((0.2, 0.5),)]
    cleared = run(s.apply(Reset()))
    assert cleared.strokes == () and s.undo_depth == 4  # add, add, delete, reset: each a step; undo/redo are not
    assert heard_a == heard_b == [Changed(st) for st in (painted, blank, painted, s.history[-3], deleted, cleared)]


def test_refused_commands_and_previews_change_nothing_and_tell_no_one(tiny):
    s = new_session(tiny)
    heard = []
    s.subscribe(heard.append)
    with pytest.raises(SessionError, match="nothing to undo"):
        run(s.apply(Undo()))
    with pytest.raises(SessionError) as err:
        run(s.apply(DeleteStroke(3)))
    assert err.value.status == 404
    before = s.state
    assert run(s.apply(AddStroke(tree(tiny), final=False))) is before  # a preview is the sender's own
    assert s.state is before and s.undo_depth == 0 and heard == []


def test_seed_replaces_the_picture_and_restarts_history(tiny):
    s = new_session(tiny)
    run(s.apply(AddStroke(tree(tiny))))
    run(s.apply(SetSeed(42)))
    assert s.source == SeedSource(42) and s.seed == 42 and s.state.strokes == () and s.undo_depth == 0
    assert torch.equal(s.h, tiny.features(tiny.z_for_seed(42)))
    assert s.describe()["source"] == {"kind": "seed", "seed": 42}


def test_options_are_stored_reported_and_undo_neutral(tiny):
    s = new_session(tiny)
    heard = []
    s.subscribe(heard.append)
    assert s.describe()["options"] == {"remove_artifacts": False}
    run(s.apply(AddStroke(tree(tiny))))
    run(s.apply(SetOptions(remove_artifacts=True)))
    assert s.options.remove_artifacts and s.describe()["options"] == {"remove_artifacts": True}
    assert s.undo_depth == 1 and len(heard) == 2  # reported to subscribers, but no history step
    run(s.apply(Undo()))
    assert s.options.remove_artifacts  # undo moves strokes, not options
    run(s.apply(SetOptions()))  # nothing given: nothing changes
    assert s.options.remove_artifacts
    run(s.apply(SetOptions(remove_artifacts=False)))
    assert not s.options.remove_artifacts


def test_unsubscribe_a_failing_listener_and_close(tiny):
    s = new_session(tiny)
    heard = []

    def broken(event):
        raise RuntimeError("a socket that went away")

    s.subscribe(broken)
    stop = s.subscribe(heard.append)
    run(s.apply(AddStroke(tree(tiny))))
    assert len(heard) == 1  # the broken listener did not keep the news from the next one
    stop()
    stop()  # twice is harmless
    run(s.apply(Undo()))
    assert len(heard) == 1 and s.subscribers == 1
    again = []
    s.subscribe(again.append)
    s.close("gone for good")
    assert again == [Closed("gone for good")] and s.subscribers == 0 and s.closed
    with pytest.raises(SessionError) as err:
        run(s.apply(Redo()))
    assert err.value.status == 404


def photo_session(tiny):
    square = np.zeros((16, 16, 3), np.uint8)
    original = np.zeros((30, 40, 3), np.uint8)
    photo = Photo(original, square, Geometry(40, 30, 5.0, 0.0, 30.0, 16, "crop"))
    h = torch.zeros(1, tiny.channels, tiny.layer_size, tiny.layer_size)
    s = Session("p1", "tiny", tiny, Settings(), z=None, h=h, source=PhotoSource(40, 30, "crop", name="a.png"),
                photo=photo)
    return s, photo, square


def test_photo_adoption_and_progress_reach_subscribers(tiny):
    s, photo, _ = photo_session(tiny)
    heard = []
    s.subscribe(heard.append)
    assert not s.editable and s.seed is None
    with pytest.raises(SessionError, match="still being adapted") as err:
        run(s.apply(AddStroke(tree(tiny))))
    assert err.value.status == 409
    with pytest.raises(SessionError, match="still being adapted"):
        run(s.apply(AddStroke(tree(tiny), final=False)))
    s.attach_job("j1", {"type": "progress", "job": "j1", "stage": "queued"})
    assert s.describe()["source"] == {"kind": "photo", "status": "adapting", "job": "j1", "width": 40, "height": 30,
                                      "fit": "crop", "name": "a.png"}
    late = []
    s.subscribe(late.append)  # joins mid-job: hears where it stands at once
    assert late == [Progress({"type": "progress", "job": "j1", "stage": "queued"})]
    s.report_progress({"type": "progress", "job": "j1", "stage": "fine"}, ended=False)
    h = tiny.features(tiny.z_for_seed(5))
    s.adopt_photo(h, tiny.generator)
    assert s.editable and s.photo is photo and torch.equal(s.h, h) and s.source.status == "ready"
    assert heard == [Progress({"type": "progress", "job": "j1", "stage": "fine"}), Changed(s.state)]
    s.report_progress({"type": "progress", "job": "j1", "stage": "done"}, ended=True)
    assert s.progress is None  # a socket opening after the job ended hears no stale progress
    run(s.apply(AddStroke(tree(tiny))))
    assert s.undo_depth == 1


def test_a_failed_adaptation_is_reported_in_the_state(tiny):
    s, _, _ = photo_session(tiny)
    heard = []
    s.subscribe(heard.append)
    s.photo_failed("failed", "the job failed: out of memory")
    assert s.photo.original is s.photo.square and s.photo.nbytes == 16 * 16 * 3  # the full photo is freed now
    src = s.describe()["source"]
    assert src["status"] == "failed" and src["error"] == "the job failed: out of memory"
    assert heard == [Changed(s.state)]
    with pytest.raises(SessionError, match="adaptation failed"):
        run(s.apply(AddStroke(tree(tiny))))
    run(s.apply(SetSeed(3)))  # a new picture replaces the photo
    assert s.photo is None and s.editable and s.source == SeedSource(3)
    with pytest.raises(SessionError, match="another picture"):
        s.adopt_photo(s.h, tiny.generator)


@pytest.mark.parametrize("msg, command", [
    ({"type": "undo"}, Undo()), ({"type": "redo"}, Redo()), ({"type": "reset"}, Reset()),
    ({"type": "delete", "index": 2}, DeleteStroke(2)), ({"type": "seed", "seed": 9}, SetSeed(9)),
    ({"type": "options", "remove_artifacts": True}, SetOptions(remove_artifacts=True)),
    ({"type": "options"}, SetOptions()),
])
def test_parse_message(tiny, msg, command):
    assert parse_message(msg, tiny, LIMITS) == command


def test_parse_message_strokes_and_errors(tiny):
    c = parse_message({"type": "stroke", "stroke": {"concept": "sky", "points": [[0.1, 0.1]]}, "final": False},
                      tiny, LIMITS)
    assert isinstance(c, AddStroke) and not c.final and c.entry.stroke.concept == "sky"
    assert parse_message({"type": "stroke", "stroke": {"concept": "sky", "points": [[0.1, 0.1]]}}, tiny, LIMITS).final
    for msg, words in [([1], "JSON object"), ({"type": 3}, "'type' string"), ({"type": "paint"}, "unknown message"),
                       ({"type": "stroke"}, "missing field 'stroke'"), ({"type": "delete", "index": -1}, "between"),
                       ({"type": "seed", "seed": True}, "integer"), ({"type": "options", "remove_artifacts": 1},
                                                                     "true or false"),
                       ({"type": "stroke", "stroke": {}, "final": "yes"}, "true or false")]:
        with pytest.raises(BadMessage, match=words):
            parse_message(msg, tiny, LIMITS)
    with pytest.raises(StrokeError, match="unknown concept"):
        parse_message({"type": "stroke", "stroke": {"concept": "unicorn", "points": [[0.5, 0.5]]}}, tiny, LIMITS)
