"""server.jobs: the bounded pool and queue, cancel, failures; over HTTP: 503 + Retry-After, cancel, progress on the socket."""
from __future__ import annotations

import asyncio
import io
import json
import threading
import time

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from ganpaint.world.world import render_scene
from server.jobs import JobAborted, JobQueueFull, JobRunner

FAST = {"adapt_h_steps": 4, "adapt_coarse_steps": 3, "adapt_fine_steps": 4, "adapt_init_candidates": 4}
ENDLESS = {"adapt_h_steps": 10**7, "adapt_coarse_steps": 0, "adapt_fine_steps": 0, "adapt_init_candidates": 2}


# ---------------------------------------------------------------------------------------------- the runner alone
def _spin(counter: dict):
    """Work that takes steps until aborted, like ganpaint.photo.adapt: one abort check per step."""

    def work(job):
        while True:
            if job.aborted():
                raise JobAborted(job.abort_reason)
            counter["steps"] = counter.get("steps", 0) + 1
            job.report("spin", min(0.99, counter["steps"] / 1000))
            time.sleep(0.002)

    return work


async def _until(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.005)


def test_queue_is_bounded_and_reports_positions():
    async def main():
        runner = JobRunner(workers=1, max_queued=2, default_duration_s=40)
        runner.start()
        first = runner.submit(_spin({}))
        second, third = runner.submit(_spin({})), runner.submit(_spin({}))
        assert [first.state, second.state, third.state] == ["running", "queued", "queued"]
        assert [runner.position(j) for j in (first, second, third)] == [0, 1, 2]
        with pytest.raises(JobQueueFull) as full:
            runner.submit(_spin({}))
        assert full.value.retry_after >= 1
        # a cancelled queued job never runs and frees its place at once
        await runner.cancel(second.id)
        assert second.state == "cancelled" and runner.position(third) == 1
        await runner.cancel(first.id)
        assert first.state == "cancelled"
        await _until(lambda: third.state == "running")
        await runner.stop()
        assert third.state == "cancelled" and "shutting down" in third.error

    asyncio.run(main())


def test_eta_from_the_progress_rate_then_from_recent_durations():
    async def main():
        now = [100.0]
        runner = JobRunner(workers=1, max_queued=2, clock=lambda: now[0])
        runner.start()
        gate = threading.Event()

        def slow(job):
            job.report("h4", 0.25)
            gate.wait(5)

        a, b = runner.submit(slow), runner.submit(lambda job: None)
        await _until(lambda: a.progress == 0.25)
        assert runner.eta(b) is None  # queued, and no job has finished yet: unknown, not made up
        now[0] += 3.0
        assert runner.eta(a) == 9.0 and runner.describe(a)["eta_s"] == 9.0  # a quarter took 3 s
        gate.set()
        await _until(lambda: b.state == "done")
        assert runner.eta(a) is None and runner.eta(b) is None  # ended
        gate.clear()
        c = runner.submit(slow)  # recent durations 3 s and 0 s: a job that has run no time yet gets their mean
        assert runner.eta(c) == 1.5
        gate.set()
        await runner.stop()

    asyncio.run(main())


def test_cancel_stops_running_work_within_one_step():
    async def main():
        runner = JobRunner(workers=1)
        runner.start()
        counter = {}
        job = runner.submit(_spin(counter))
        await _until(lambda: counter.get("steps", 0) > 5)
        await runner.cancel(job.id)
        assert job.state == "cancelled" and job.error == "cancelled"
        at_cancel = counter["steps"]
        await asyncio.sleep(0.05)
        assert counter["steps"] == at_cancel
        await runner.stop()

    asyncio.run(main())


def test_a_job_gets_its_threads_and_leaves_other_threads_single_threaded():
    """Render threads run torch on one thread each; a photo job is the one OpenMP team (threads.py)."""
    def probe():
        out = []
        t = threading.Thread(target=lambda: out.append(torch.get_num_threads()))
        t.start()
        t.join()
        return out[0]

    async def main(threads):
        runner = JobRunner(workers=1, threads=threads)
        runner.start()
        done = []
        runner.submit(lambda job: (torch.get_num_threads(), probe()), on_done=lambda j, result: done.append(result))
        await _until(lambda: done)
        await runner.stop()
        return done[0]

    setter = threading.Thread(target=torch.set_num_threads, args=(2,))  # new threads would start with 2
    setter.start()
    setter.join()
    assert asyncio.run(main(None)) == (1, 1)
    assert asyncio.run(main(3)) == (3, 1)  # the job has 3; a thread started afterwards still gets 1
    assert probe() == 1


def test_failures_are_reported_and_the_next_job_runs():
    async def main():
        runner = JobRunner(workers=1, max_queued=3)
        runner.start()
        seen = []

        def boom(job):
            raise ValueError("no such layer")

        bad = runner.submit(boom, listener=lambda j: seen.append((j.id, j.state)))
        adopted = []
        good = runner.submit(lambda job: 42, on_done=lambda j, result: adopted.append(result))

        def refuse(job, result):
            raise JobAborted("the session moved on")

        late = runner.submit(lambda job: 1, on_done=refuse)
        gone = runner.submit(_spin({}), stop_if=lambda: "the session was deleted")
        await _until(lambda: all(j.ended for j in (bad, good, late, gone)))
        assert bad.state == "failed" and "no such layer" in bad.error and (bad.id, "failed") in seen
        assert good.state == "done" and good.progress == 1.0 and adopted == [42]
        assert late.state == "cancelled" and late.error == "the session moved on"
        assert gone.state == "cancelled" and gone.error == "the session was deleted"
        await runner.stop()

    asyncio.run(main())


def test_progress_reaches_the_listener_throttled():
    async def main():
        runner = JobRunner(workers=1, report_every_s=0.05)
        runner.start()
        heard = []

        def work(job):
            for i in range(200):
                job.report("fit", i / 200, {"l1": 1 - i / 200})
                time.sleep(0.001)

        job = runner.submit(work, listener=lambda j: heard.append((j.state, j.stage, j.progress)))
        await _until(lambda: job.ended)
        await asyncio.sleep(0.05)
        progress = [p for s, st, p in heard if st == "fit"]
        assert 1 <= len(progress) < 50 and progress == sorted(progress)
        assert heard[-1] == ("done", "done", 1.0) and job.metrics["l1"] < 0.01
        await runner.stop()

    asyncio.run(main())


# ---------------------------------------------------------------------------------------------- over HTTP
def _png() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(render_scene(5, 32)[0]).save(buf, "PNG")
    return buf.getvalue()


def _upload(c):
    return c.post("/api/photos", files={"file": ("scene.png", _png(), "image/png")})


def _wait(c, job, timeout=20.0, states=("done", "failed", "cancelled")):
    deadline = time.monotonic() + timeout
    while (j := c.get(f"/api/jobs/{job}").json())["state"] not in states:
        assert time.monotonic() < deadline, j
        time.sleep(0.02)
    return j


def test_full_queue_answers_503_with_retry_after_and_cancel_frees_it(make_app):
    app = make_app(**ENDLESS, job_workers=1, job_queue=1)
    with TestClient(app) as c:
        a, b = _upload(c).json(), _upload(c).json()
        assert a["position"] == 0 and b["position"] == 1
        full = _upload(c)
        assert full.status_code == 503 and int(full.headers["retry-after"]) >= 1
        assert "busy" in full.json()["detail"]
        assert len(app.state.sessions) == 2  # the refused upload left nothing behind
        jb = c.get(f"/api/jobs/{b['job']}").json()
        assert jb["state"] == "queued" and jb["position"] == 1

        _wait(c, a["job"], states=("running",))
        ja = c.get(f"/api/jobs/{a['job']}").json()
        assert ja["state"] == "running" and ja["position"] == 0 and 0 <= ja["progress"] < 1
        r = c.delete(f"/api/jobs/{a['job']}")
        assert r.status_code == 200 and r.json()["state"] == "cancelled"
        stopped = c.get(f"/api/jobs/{a['job']}").json()
        time.sleep(0.1)
        assert c.get(f"/api/jobs/{a['job']}").json()["progress"] == stopped["progress"]  # nothing runs any more
        again = c.delete(f"/api/jobs/{a['job']}")  # like a finished job: it has already ended
        assert again.status_code == 409 and "cancelled" in again.json()["detail"]

        _wait(c, b["job"], states=("running",))
        assert _upload(c).status_code == 202  # a place in the queue is free again
        c.delete(f"/api/sessions/{b['session']}")
        assert _wait(c, b["job"], timeout=5)["state"] == "cancelled"
        assert c.get("/api/health").json()["status"] == "ok"


def test_a_finished_job_cannot_be_cancelled(make_app):
    with TestClient(make_app(**FAST)) as c:
        out = _upload(c).json()
        assert _wait(c, out["job"])["state"] == "done"
        r = c.delete(f"/api/jobs/{out['job']}")
        assert r.status_code == 409 and "done" in r.json()["detail"]


def test_progress_and_the_new_state_reach_the_websocket(make_app):
    app = make_app(adapt_h_steps=60, adapt_coarse_steps=30, adapt_fine_steps=60, adapt_init_candidates=4)
    with TestClient(app) as c:
        out = _upload(c).json()
        with c.websocket_connect(f"/api/sessions/{out['session']}/ws?format=png") as ws:
            progress, frames, states = [], [], []
            deadline = time.monotonic() + 30
            first = json.loads(ws.receive_text())
            if first["type"] == "progress":
                progress.append(first)
            else:
                states.append(first)
            while not (states and states[-1]["source"]["status"] == "ready" and len(frames) >= 2):
                assert time.monotonic() < deadline, (progress[-3:], states)
                msg = ws.receive()
                if msg.get("bytes") is not None:
                    frames.append(np.asarray(Image.open(io.BytesIO(msg["bytes"])).convert("RGB")))
                    continue
                m = json.loads(msg["text"])
                if m["type"] == "progress":
                    progress.append(m)
                elif m["type"] == "state":
                    states.append(m)
                    if m["source"]["status"] == "adapting":  # strokes wait for the adapted generator
                        ws.send_json({"type": "stroke", "stroke": {"concept": "tree", "points": [[0.5, 0.5]]},
                                      "final": False})
                elif m["type"] == "error":
                    assert "adapted" in m["detail"]
            assert states[0]["source"]["status"] == "adapting"
            assert all(p["job"] == out["job"] for p in progress)
            # a socket that opens mid-job hears where the job stands at once, then every later stage in order
            assert first["type"] == "progress" and first["job"] == out["job"]
            seen = [st for i, st in enumerate(p["stage"] for p in progress) if i == 0 or progress[i - 1]["stage"] != st]
            pipeline = ["queued", "starting", "encoder", "h4", "coarse", "fine", "done"]  # schemas.JobStatus.stage
            assert seen == pipeline[pipeline.index(seen[0]):] and "fine" in seen
            fractions = [p["progress"] for p in progress]
            assert fractions == sorted(fractions) and progress[-1]["state"] == "done" and fractions[-1] == 1.0
            shown = app.state.sessions.get(out["session"]).photo.display(32)  # its square at display size
            assert np.array_equal(frames[0], shown)  # while adapting: the photo itself
            assert np.array_equal(frames[-1], shown)  # adapted, nothing painted: still exactly the photo
            ws.send_json({"type": "stroke", "stroke": {"concept": "tree", "points": [[0.5, 0.5]]}, "final": True})
            while True:
                msg = ws.receive()
                if msg.get("bytes") is not None:
                    break
            assert not np.array_equal(np.asarray(Image.open(io.BytesIO(msg["bytes"])).convert("RGB")), frames[-1])
