"""The procedural world and training on it (offline tools): the world that renders scenes with exact
labels (world, re-exported here) and its render pools (world_pool); GAN training (train, progressive,
distributed, class_match), the photo encoder's training (encoder_train), the loop every trainer runs
(training), and the model card of an export (card).

    from ganpaint.world import render_scene, CLASSES       # as before the package existed
"""
from .world import CLASS_INDEX, CLASSES, HELDOUT_SEED_BASE, PALETTE, colorize, grid, render_batch, render_scene

__all__ = ["CLASSES", "CLASS_INDEX", "HELDOUT_SEED_BASE", "PALETTE", "render_scene", "render_batch", "colorize",
           "grid"]
