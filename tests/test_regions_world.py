"""The context rules against the world itself: WORLD_BANDS are recounted from the world's label maps, and the
world's own concept cells satisfy the rules (no segmenter involved)."""
import numpy as np
import pytest
import torch

from ganpaint.dissect.regions import BUILDING, WORLD_BANDS, band_rows, cell_fractions, context_cells
from ganpaint.world import CLASSES, render_scene

SEEDS = range(10_000_000, 10_000_240)


@pytest.fixture(scope="module")
def world_fractions():
    labels = torch.stack([torch.from_numpy(render_scene(s, 64)[1].astype(np.int64)) for s in SEEDS])
    return cell_fractions(labels, len(CLASSES), 8)


@pytest.mark.parametrize("concept", sorted(WORLD_BANDS))
def test_band_is_where_the_world_commonly_puts_the_concept(world_fractions, concept):
    k = CLASSES.index(concept)
    per_row = (world_fractions[:, k] >= 0.3).float().mean((0, 2))  # (8,) how often a cell of that row shows it
    common = per_row >= per_row.max() / 4
    band = band_rows(concept, 8)
    # the band holds every common row; a row outside it may sit at the edge of the quarter-of-peak cut
    assert bool((common <= band).all()), (concept, per_row.tolist())
    assert float(per_row[~band].sum()) <= 0.5 * float(per_row[band].sum()) / band.sum().item()


def _without(frac, concept, fill):
    """The world's fractions with `concept` painted over by `fill`: the scene the brush is drawn on."""
    out = frac.clone()
    k, f = CLASSES.index(concept), CLASSES.index(fill)
    out[:, f] += out[:, k]
    out[:, k] = 0
    return out


# a fifth of the world's tree cells stand in front of a wall, where the rules do not paint trees
@pytest.mark.parametrize("concept,fill,least", [("tree", "grass", 0.75), ("door", "brick", 0.9), ("dome", "sky", 0.9),
                                                ("brick", "sky", 0.9)])
def test_the_worlds_own_concept_cells_are_in_context(world_fractions, concept, fill, least):
    """Where the world drew the concept, the scene without it (the concept's pixels given to what usually lies
    behind it) must allow it: the rules describe the world, they do not forbid what it does."""
    k = CLASSES.index(concept)
    cells = world_fractions[:, k] >= 0.5
    if concept == "brick":  # a wall replaced by sky is not a building any more
        frac = _without(world_fractions, concept, fill)
        for b in BUILDING:
            if b != concept:
                frac = _without(frac, b, fill)
    else:
        frac = _without(world_fractions, concept, fill)
    ok = context_cells(frac, concept, CLASSES)
    assert cells.sum() > 50
    assert float(ok[cells].float().mean()) >= least, float(ok[cells].float().mean())


def test_other_label_sets_keep_the_generic_rules():
    """The bands and ground rules are facts of the procedural world: a model read by another segmenter (a
    real GANPaint checkpoint's scene parser) may paint a tree in any row with no building."""
    labels = ["sky", "tree", "brick", "grass"]  # not the world's classes
    lab = torch.zeros(1, 8, 8, dtype=torch.long)
    lab[0, 6:] = labels.index("grass")
    frac = cell_fractions(lab, len(labels), 8)
    generic = context_cells(frac, "tree", labels)[0]
    assert generic[7].all() and not generic[:3].any()
    world = context_cells(cell_fractions(torch.where(lab == 3, CLASSES.index("grass"), CLASSES.index("sky")),
                                         len(CLASSES), 8), "tree", CLASSES)[0]
    assert not world[6:].any() and world[3:6].all()  # in the band, standing on the grass


def _horizon_px(label: np.ndarray) -> int:
    """The world's horizon in a label map: its topmost row of ground pixels (the ground lies below one level line)."""
    ground = np.isin(label, [CLASSES.index("grass"), CLASSES.index("road")]).any(1)
    return int(ground.argmax()) if ground.any() else label.shape[0]


def test_grass_and_road_go_below_the_horizon_not_over_what_rises_above_it():
    """A tree crown or wall above the horizon is no place for grass: the world never has ground there, and
    the generator keeps the tree (a grass square at wall height would float). Every cell the rules allow for
    grass lies mostly below the scene's horizon, and the world's own grass cells stay allowed."""
    size, g = 64, 8
    labels = np.stack([render_scene(s, size)[1].astype(np.int64) for s in SEEDS[:120]])
    frac = cell_fractions(torch.from_numpy(labels), len(CLASSES), g)
    cell = size // g
    checked = 0
    for concept in ("grass", "road"):
        ok = context_cells(frac, concept, CLASSES)
        for n in range(len(labels)):
            horizon = _horizon_px(labels[n])
            for r in ok[n].any(1).nonzero().flatten().tolist():
                assert (r + 1) * cell - horizon >= cell / 2, (concept, n, r, horizon)
                checked += 1
    assert checked > 100
    own = frac[:, CLASSES.index("grass")] >= 0.5
    allowed = context_cells(frac, "grass", CLASSES)
    assert float(allowed[own & band_rows("grass", g).view(1, g, 1)].float().mean()) >= 0.9


def test_a_crown_above_the_horizon_is_not_grass_context():
    lab = torch.full((1, 64, 64), CLASSES.index("sky"))
    lab[0, 44:] = CLASSES.index("grass")  # horizon at 44 px: row 5 (40–48) is half ground
    lab[0, 30:50, 20:44] = CLASSES.index("tree")  # a crown in front of it, rows 3–6
    ok = context_cells(cell_fractions(lab, len(CLASSES), 8), "grass", CLASSES)[0]
    assert not ok[:5].any()
    assert ok[5:].all()
