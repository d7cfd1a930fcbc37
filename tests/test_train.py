import torch

from ganpaint.gan.checkpoint import load_generator
from ganpaint.world.train import TrainConfig, Trainer

TINY = dict(resolution=16, widths=(16, 16, 8), z_dim=32, batch=4, pool_size=16, pool_refresh=2,
            stable_images=8, fade_images=8, r1_every=2, min_pool_resolution=16)


def test_phase_schedule_grows_with_fade_in():
    cfg = TrainConfig(resolution=32, widths=(8, 8, 8, 8), stable_images=10, fade_images=10)
    assert cfg.phase(0) == (8, 1.0)
    assert cfg.phase(10) == (16, 0.0)
    assert cfg.phase(15) == (16, 0.5)
    assert cfg.phase(25) == (16, 1.0)
    assert cfg.phase(35) == (32, 0.5)
    assert cfg.phase(10**6) == (32, 1.0)


def test_resume_is_bit_exact(tmp_path):
    torch.set_num_threads(1)
    a = Trainer(TrainConfig(**TINY), tmp_path / "a")
    a.train(max_steps=8, sample_every_images=None)  # passes through 8 px, the 16 px fade, and 16 px
    b = Trainer(TrainConfig(**TINY), tmp_path / "b")
    b.train(max_steps=4, sample_every_images=None)
    b = Trainer(None, tmp_path / "b")  # a new process would do exactly this
    assert b.step == 4
    b.train(max_steps=8, sample_every_images=None)
    for name in ("G", "D", "G_ema"):
        sa, sb = getattr(a, name).state_dict(), getattr(b, name).state_dict()
        for k in sa:
            assert torch.equal(sa[k], sb[k]), f"{name}.{k}"
    assert a.opt_g.state_dict()["state"][0]["exp_avg"].equal(b.opt_g.state_dict()["state"][0]["exp_avg"])


def test_training_changes_weights_and_exports_a_loadable_generator(tmp_path):
    torch.set_num_threads(1)
    t = Trainer(TrainConfig(**TINY), tmp_path / "run")
    before = {k: v.clone() for k, v in t.G.state_dict().items()}
    t.train(max_steps=12, sample_every_images=None)
    assert any(not torch.equal(before[k], v) for k, v in t.G.state_dict().items())
    info = t.export(tmp_path / "model")
    G = load_generator(tmp_path / "model" / "generator.safetensors")
    assert info["resolution"] == G.config.resolution == 16
    img = G(torch.randn(2, 32))
    assert img.shape == (2, 3, 16, 16) and torch.isfinite(img).all()
    assert (tmp_path / "run" / "checkpoint.pt").exists()


def test_compact_checkpoint_resumes_nearly_exactly(tmp_path):
    torch.set_num_threads(1)
    a = Trainer(TrainConfig(**TINY), tmp_path / "a")
    a.train(max_steps=6, sample_every_images=None)
    compact = a.save_compact(tmp_path / "train_state.pt")
    assert compact.stat().st_size < (tmp_path / "a" / "checkpoint.pt").stat().st_size
    b = Trainer(None, tmp_path / "b", init_from=compact)
    assert (b.step, b.images) == (a.step, a.images)
    for k, v in a.G_ema.state_dict().items():
        assert torch.equal(v, b.G_ema.state_dict()[k])
    a.train(max_steps=8, sample_every_images=None)
    b.train(max_steps=8, sample_every_images=None)
    for k, v in a.G.state_dict().items():
        assert torch.allclose(v, b.G.state_dict()[k], atol=1e-2), k


def test_growth_cap_holds_resolution_and_lifting_it_fades_in(tmp_path):
    torch.set_num_threads(1)
    cfg = TrainConfig(**TINY)  # 8 px stable 0-8, 16 px fade 8-16 (so 8 is the only stable level below 16)
    assert cfg.growth_start(16) == 8
    t = Trainer(cfg, tmp_path / "run")
    t.max_resolution = 8
    t.train(max_steps=5, sample_every_images=None)  # 20 images, all at 8 px
    assert t.current_phase() == (8, 1.0) and t.held_images == 20 - 7
    t2 = Trainer(None, tmp_path / "run")  # resumed without a cap: the 16 px fade starts from 0
    assert t2.held_images == t.held_images
    assert t2.current_phase() == (8, 1.0)  # right at the end of the 8 px stable phase
    t2.train(max_steps=6, sample_every_images=None)  # one more batch of 4
    r, alpha = t2.current_phase()
    assert r == 16 and 0 < alpha <= 0.5  # fading in, not jumping to 16 px


def test_render_workers_feed_the_pool_with_fresh_world_scenes(tmp_path):
    from ganpaint.world.world_pool import WorldFeed, WorldPool, _render_images
    from ganpaint.world.world import render_batch

    feed = WorldFeed(workers=1, resolution=16, first_seed=500, chunk=2)
    try:
        pool = WorldPool(4, 16, refresh=1, feed=feed)
        pool.fill(0)  # seeds 0..3, rendered by the worker
        assert torch.equal(pool.data[2], torch.from_numpy(_render_images([2], 16)[0]))
        before = pool.data.clone()
        import time

        deadline = time.monotonic() + 60
        while torch.equal(pool.data, before) and time.monotonic() < deadline:
            pool.advance()
            time.sleep(0.05)
        changed = [i for i in range(4) if not torch.equal(pool.data[i], before[i])]
        assert changed and changed[0] == 0  # fed scenes replace slots in ring order
        imgs, _ = render_batch([500], 16)
        assert torch.equal(pool.data[0], torch.from_numpy(imgs[0]).permute(2, 0, 1))  # seeds in order
    finally:
        feed.close()


def test_training_with_render_workers_runs_and_closes_them(tmp_path):
    torch.set_num_threads(1)
    t = Trainer(TrainConfig(**TINY), tmp_path / "run", render_workers=1)
    t.train(max_steps=6, sample_every_images=None)
    assert t.step == 6 and t.feed is None and t.pool is None
    assert torch.isfinite(t.G(torch.randn(2, 32), 16)).all()


def test_a_new_run_can_start_from_an_exported_model_folder(tmp_path):
    """Without the training state (it is kept out of git), training goes on from what a model folder ships:
    the exported generator as G and its EMA, the shipped discriminator, the images seen; fresh optimizers."""
    import json

    import pytest

    from ganpaint.dissect.realism import Discriminator, save_discriminator

    torch.set_num_threads(1)
    a = Trainer(TrainConfig(**TINY), tmp_path / "a")
    a.train(max_steps=10, sample_every_images=None)  # past the 16 px fade: exportable at full size
    folder = tmp_path / "model"
    a.export(folder)
    shipped = Discriminator(a.config.resolution, a.config.widths)
    shipped.load_state_dict(a.D.state_dict())
    save_discriminator(shipped, folder / "discriminator.safetensors")
    b = Trainer(None, tmp_path / "b", init_from=folder)
    assert (b.step, b.images) == (a.step, a.images) and b.config == a.config
    assert b.current_phase() == (16, 1.0)
    exported = load_generator(folder / "generator.safetensors").state_dict()
    for k, v in exported.items():
        assert torch.equal(b.G.g.state_dict()[k], v) and torch.equal(b.G_ema.g.state_dict()[k], v)
    for k, v in a.D.state_dict().items():  # the artifact stores float16
        assert torch.allclose(b.D.state_dict()[k], v, atol=1e-2, rtol=1e-2), k
    b.train(max_steps=b.step + 2, sample_every_images=None)
    assert b.step == a.step + 2 and (tmp_path / "b" / "checkpoint.pt").exists()
    assert Trainer(None, tmp_path / "b", init_from=folder).step == b.step  # then its own checkpoint wins
    # a folder without a discriminator, or a generator exported before the recipe's resolution, is refused
    (folder / "discriminator.safetensors").unlink()
    with pytest.raises(ValueError, match="no discriminator"):
        Trainer(None, tmp_path / "c", init_from=folder)
    info = json.loads((folder / "config.json").read_text())
    del info["training"]["recipe"]
    (folder / "config.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match="no training recipe"):
        Trainer(None, tmp_path / "d", init_from=folder)
