"""The training-loop skeleton: stop conditions, timing, checkpoints, progress (a toy trainer, a fake clock)."""
import pytest

from ganpaint.world.training import train_loop


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class Toy:
    """Each step takes `step_s` seconds of the fake clock; saves are recorded with the step they saw."""

    def __init__(self, clock: Clock, step: int = 0, step_s: float = 1.0) -> None:
        self.clock, self.step, self.wall_s, self.step_s, self.saves = clock, step, 0.0, step_s, []

    def iteration(self) -> dict:
        self.clock.t += self.step_s
        self.step += 1
        return {"loss": 1.0 / self.step}

    def save(self) -> None:
        self.saves.append(self.step)


def test_max_steps_counts_all_sessions_and_saves_at_the_end():
    clock = Clock()
    t = Toy(clock, step=3)
    seen = []
    assert train_loop(t, max_steps=5, progress_fn=seen.append, clock=clock, checkpoint_every_s=1e9) == "steps"
    assert t.step == 5 and seen == [{"loss": 1 / 4}, {"loss": 1 / 5}] and t.saves == [5]
    assert t.wall_s == pytest.approx(2.0)  # only the steps' own time counts


def test_time_limit_stops_the_session_but_never_before_its_first_step():
    clock = Clock()
    t = Toy(clock, step_s=2.0)
    assert train_loop(t, time_limit_s=5, clock=clock) == "time"
    assert t.step == 3  # 0 → 2 → 4 s: still under the limit; after the third step 6 s ≥ 5 s
    t2 = Toy(clock)
    assert train_loop(t2, time_limit_s=0, clock=clock) == "time" and t2.step == 1


def test_done_and_abort_stop_before_the_next_step():
    clock = Clock()
    t = Toy(clock)
    assert train_loop(t, done=lambda: t.step >= 4, max_steps=10, clock=clock) == "done" and t.step == 4
    calls = []
    t2 = Toy(clock)
    assert train_loop(t2, abort_fn=lambda: calls.append(1) or len(calls) > 2, clock=clock) == "aborted"
    assert t2.step == 2 and t2.saves == [2]
    t3 = Toy(clock)
    assert train_loop(t3, abort_fn=lambda: True, clock=clock) == "aborted" and t3.step == 0 and t3.saves == [0]


def test_checkpoints_follow_the_clock():
    clock = Clock()
    t = Toy(clock, step_s=1.0)
    train_loop(t, max_steps=10, checkpoint_every_s=3, clock=clock)
    assert t.saves == [3, 6, 9, 10]  # every 3 s of the clock, then at the end


def test_after_step_sees_the_seconds_and_adds_to_what_progress_gets():
    clock = Clock()
    t = Toy(clock, step_s=0.5)
    extra, seen = [], []

    def after(stats, seconds):
        extra.append(seconds)
        stats["step"] = t.step

    train_loop(t, max_steps=2, after_step=after, progress_fn=seen.append, clock=clock)
    assert extra == [0.5, 0.5] and [s["step"] for s in seen] == [1, 2]


def test_the_three_trainers_run_on_the_skeleton(tmp_path):
    """GAN, encoder and segmenter trainers stop for the same reasons and say which."""
    from ganpaint.world.encoder_train import EncoderTrainConfig, EncoderTrainer
    from ganpaint.paint.model import PaintModel
    from ganpaint.dissect.segmenter_train import SegmenterTrainer, SegTrainConfig
    from ganpaint.world.train import TrainConfig, Trainer

    gan = Trainer(TrainConfig(resolution=16, widths=(16, 16, 8), z_dim=32, batch=4, pool_size=16, pool_refresh=2),
                  tmp_path / "gan")
    assert gan.train(max_steps=2, sample_every_images=None) == "steps" and gan.step == 2
    assert gan.train(max_images=gan.images, sample_every_images=None) == "done" and gan.step == 2
    G = PaintModel.random(resolution=16, widths=(16, 16, 8), seed=0).generator
    enc = EncoderTrainer(G, EncoderTrainConfig(batch=4, pool_size=8, pool_refresh=1), tmp_path / "enc")
    assert enc.train(max_steps=1) == "steps" and enc.train(abort_fn=lambda: True) == "aborted" and enc.step == 1
    seg = SegmenterTrainer(SegTrainConfig(train_scenes=8, size=16, crop=8, steps=2, batch=2, full_batch=2,
                                          widths=(4, 8)), tmp_path / "seg")
    assert seg.train(abort_fn=lambda: True) == "aborted" and seg.step == 0
    assert seg.train() == "done" and seg.step == 2 and (tmp_path / "seg" / "checkpoint.pt").exists()
