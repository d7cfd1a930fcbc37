"""How dissection turns unit rankings into brushes: causal ranking by insertion/ablation (ACE), trial
regions, calibration of each brush's ranking, unit count and scale on held-out samples, and learned
per-unit draw values. `ganpaint.dissect` runs these as its stages (`cfg` below is its DissectConfig,
not imported here so that the two modules do not import each other).

    shares = _insert_shares(G, "layer5", segmenter, h, mask, units, levels, k)   # concept share per trial
    best = pick_trial(trials)                                                      # most successful, then simplest
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .regions import REGION_SHAPES, SUCCESS_SHARE, allowed_cells, cell_fractions, pick_region, present_cells
from ..segmenters.segmenter import Segmenter

def segment_at(segmenter: Segmenter, images: torch.Tensor, size: int) -> torch.Tensor:
    """Labels (N, size, size): segment at the image's own size, then majority-pool (or repeat) to `size`."""
    labels = segmenter.segment(images).cpu()
    if labels.shape[-1] == size:
        return labels
    if labels.shape[-1] < size:
        return F.interpolate(labels[:, None].float(), size=(size, size), mode="nearest")[:, 0].long()
    return cell_fractions(labels, len(segmenter.labels), size).argmax(1)


def _draw_runs(cfg: DissectConfig) -> list[tuple[str, int, int, float, int]]:
    """(name suffix, samples, steps, level, restart) of each draw ranking run; the first ranking's first
    run is stored under the concept's own name, the others under `<concept>@<level>x`, and restarts
    after the first get `#<restart>` appended."""
    runs = []
    for i, (n, steps, level) in enumerate(cfg.draw_rankings):
        n = min(cfg.ace_images if n is None else n, cfg.samples)
        for r in range(cfg.ace_restarts):
            suffix = ("" if i == 0 else f"@{level:g}x") + (f"#{r}" if r else "")
            runs.append((suffix, n, cfg.ace_steps if steps is None else steps, float(level), r))
    return runs


def _calibrate(G, layer: str, nxt: str, segmenter, z_all: torch.Tensor, all_labels: torch.Tensor, first: int,
               q99: torch.Tensor, rankings: dict[str, tuple[list[int], int]], k: int, names: list[str], g: int,
               cfg: DissectConfig) -> dict:
    """The draw brush's ranking, unit count and value scale, by insertion success on the samples from
    `first` on (calib_images of them, more while the concept has had fewer than calib_min_regions regions).
    `rankings`: name → (ranked units, α-kept count).

    Coordinate search per ranking: the scales at the α-kept count, then the counts at the chosen scale,
    then the scales at the chosen count; the best trial of all rankings wins. Each (ranking, count, scale)
    is scored by the share of trial regions where the segmenter then sees the concept on more than
    SUCCESS_SHARE of the region, and by the mean share."""
    h, mask, n_regions, scanned = _calib_regions(G, layer, z_all, all_labels, first, k, names, g, cfg)
    first_name, (first_order, first_kept) = next(iter(rankings.items()))
    if not n_regions:
        return {"ranking": first_name, "units": first_kept, "scale": 1.0, "trials": {}, "images": 0,
                "samples": [first, first + scanned]}
    trials: dict[str, dict] = {}

    def score(ranking: str, n: int, scale: float) -> None:
        name = f"{n}x{scale}" if ranking == first_name else f"{ranking[len(first_name):]}:{n}x{scale}"
        if name in trials:
            return
        units = rankings[ranking][0][:n]
        sh = _insert_shares(G, nxt, segmenter, h, mask, units, q99[units] * scale, k, all_labels.shape[-1])
        trials[name] = {"ranking": ranking, "units": n, "scale": scale, **_success(sh)}

    for ranking, (order, kept) in rankings.items():
        mine = lambda: [t for t in trials.values() if t["ranking"] == ranking]  # noqa: E731
        counts = sorted({min(c, cfg.top, len(order)) for c in (*cfg.unit_counts, kept) if c > 0})
        for s in cfg.value_scales:
            score(ranking, kept, s)
        best = pick_trial(mine())
        for n in counts:
            score(ranking, n, best["scale"])
        best = pick_trial(mine())
        for s in cfg.value_scales:
            score(ranking, best["units"], s)
        best = pick_trial(mine())
        if cfg.value_scales and best["scale"] == max(cfg.value_scales):
            for s in cfg.extra_scales:  # the best is at the edge of the grid: go on while it improves
                score(ranking, best["units"], s)
                new = pick_trial(mine())
                if new is best:
                    break
                best = new
    best = pick_trial(trials.values())
    return {"ranking": best["ranking"], "units": best["units"], "scale": best["scale"], "success": best["success"],
            "share": best["share"], "trials": trials, "images": n_regions, "samples": [first, first + scanned]}


def _trial_regions(ok: torch.Tensor, concept: str, rng: np.random.Generator, *, min_images: int | None = None,
                   min_regions: int = 0) -> tuple[list[tuple[int, torch.Tensor]], int]:
    """[(image, (g, g) region)] of insertion trials on the allowed cells `ok` (N, g, g), one per image that has
    room; with `min_images`, scanning stops once that many images and `min_regions` regions are reached.
    Returns the regions and the number of images scanned."""
    regions, scanned = [], 0
    for i in range(len(ok)):
        if min_images is not None and i >= min_images and len(regions) >= min_regions:
            break
        r = pick_region(ok[i], REGION_SHAPES.get(concept, (2, 2)), rng)
        scanned = i + 1
        if r is not None:
            regions.append((i, r))
    return regions, scanned


def _calib_regions(G, layer: str, z_all: torch.Tensor, all_labels: torch.Tensor, first: int, k: int,
                   names: list[str], g: int, cfg: DissectConfig) -> tuple[torch.Tensor, torch.Tensor, int, int]:
    """The calibration's trial regions for concept k on the samples from `first` on: their images' edit-layer
    activations (N, C, g, g), masks (N, 1, g, g), the region count and the number of images scanned."""
    device = next(G.parameters()).device
    labels = all_labels[first:].long()
    ok = allowed_cells(cell_fractions(labels, len(names), g), names[k], names)
    regions, scanned = _trial_regions(ok, names[k], np.random.default_rng(1000 + k), min_images=cfg.calib_images,
                                      min_regions=cfg.calib_min_regions)
    if not regions:
        return torch.zeros(0), torch.zeros(0), 0, scanned
    idx = torch.tensor([first + i for i, _ in regions])
    mask = torch.stack([r for _, r in regions]).float()[:, None].to(device)
    with torch.inference_mode():
        h = G.features(z_all[idx].to(device), upto=layer)
    return h, mask, len(regions), scanned


def _insert_shares(G, nxt: str, segmenter, h: torch.Tensor, mask: torch.Tensor, units: list[int],
                   values: torch.Tensor, k: int, size: int, batch: int = 16) -> torch.Tensor:
    """Per trial: the share of its region the segmenter labels k after `units` are set to `values` there."""
    device = h.device
    sel = torch.tensor(units, dtype=torch.long)
    level = torch.zeros(h.shape[1], device=device)
    level[sel.to(device)] = values.to(device, torch.float32)
    level = level.view(1, -1, 1, 1)
    shares = []
    with torch.inference_mode():
        for b in range(0, len(h), batch):
            hb, mb = h[b : b + batch], mask[b : b + batch]
            a = torch.zeros_like(hb)
            a[:, sel] = mb.expand(-1, len(units), -1, -1)
            img = G.render_from(hb * (1 - a) + level * a, start=nxt)
            lab = segment_at(segmenter, img, size)
            m = F.interpolate(mb, size=lab.shape[-2:], mode="nearest")[:, 0].cpu()
            shares.append(((lab == k).float() * m).sum((1, 2)) / m.sum((1, 2)).clamp_min(1))
    return torch.cat(shares)


def _success(shares: torch.Tensor) -> dict:
    return {"success": round(float((shares > SUCCESS_SHARE).float().mean()), 4), "share": round(float(shares.mean()), 4)}


def _learn_values(G, layer: str, nxt: str, segmenter, z_all: torch.Tensor, all_labels: torch.Tensor, n_train: int,
                  first: int, q99: torch.Tensor, units: list[int], trial: dict, k: int, names: list[str], g: int,
                  cfg: DissectConfig) -> dict:
    """Per-unit draw values for a calibrated brush (`trial`: its calibration result): from q99 × scale, Adam
    on their logs maximizes the segmenter's probability of concept k inside insertion regions of the first
    `n_train` samples (the ranking samples); then they are scored on the calibration's regions and kept only
    when they beat the calibrated trial there (success, then mean share, each beyond pick_trial's tolerance)."""
    device = next(G.parameters()).device
    scale = trial["scale"]
    start = (q99[units] * scale).float()
    labels = all_labels[:n_train].long()
    ok = allowed_cells(cell_fractions(labels, len(names), g), names[k], names)
    regions, _ = _trial_regions(ok, names[k], np.random.default_rng((k, 7)))  # not the ranking's regions
    h_cal, m_cal, n_cal, _ = _calib_regions(G, layer, z_all, all_labels, first, k, names, g, cfg)
    out = {"units": len(units), "scale": scale, "steps": cfg.level_steps, "train_regions": len(regions),
           "calib_regions": n_cal, "kept": False}
    if not regions or not n_cal:
        return out
    idx = torch.tensor([i for i, _ in regions])
    mask = torch.stack([r for _, r in regions]).float()[:, None].to(device)
    with torch.inference_mode():
        h_all = G.features(z_all[idx].to(device), upto=layer)
    h_all = h_all.clone()
    sel = torch.tensor(units, dtype=torch.long, device=device)
    log_v = torch.log(start.clamp_min(1e-6)).to(device).requires_grad_(True)
    opt = torch.optim.Adam([log_v], lr=cfg.level_lr)
    history = []
    for step in range(cfg.level_steps):
        b = torch.arange(step * cfg.ace_batch, (step + 1) * cfg.ace_batch) % len(h_all)
        h, m = h_all[b], mask[b]
        a = torch.zeros_like(h)
        a[:, sel] = m.expand(-1, len(units), -1, -1)
        level = torch.zeros(h.shape[1], device=device).index_put((sel,), torch.exp(log_v)).view(1, -1, 1, 1)
        img = G.render_from(h * (1 - a) + level * a, start=nxt)
        p = segmenter.logits(img).softmax(1)[:, k]
        m_up = F.interpolate(m, size=p.shape[-2:], mode="nearest")[:, 0]
        inserted = (p * m_up).sum() / m_up.sum().clamp_min(1)
        opt.zero_grad()
        (-inserted).backward()
        opt.step()
        history.append(round(float(inserted.detach()), 4))
    values = torch.exp(log_v.detach()).cpu()
    size = all_labels.shape[-1]
    base = {"success": trial["success"], "share": trial["share"]}  # the same units and levels on the same regions
    new = _success(_insert_shares(G, nxt, segmenter, h_cal, m_cal, units, values, k, size))
    tol = 0.01
    kept = new["success"] > base["success"] + tol or (
        new["success"] >= base["success"] - tol and new["share"] > base["share"] + tol)
    n = len(history)
    return {**out, "kept": kept, "values": [round(float(v), 4) for v in values],
            "before": base, "after": new, "inserted_share": {"first": history[: max(1, n // 10)],
                                                             "last": history[-max(1, n // 10):]}}


def _mean_rankings(ace: dict, concept: str, draw_runs: list, tie: torch.Tensor) -> dict[str, dict]:
    """Per draw level optimized more than once: a ranking by the α averaged over its runs (ties broken by
    the mean summed gradient, then `tie`), stored as `<concept><level suffix>~mean`."""
    groups: dict[str, list[str]] = {}
    for sfx, *_ in draw_runs:
        groups.setdefault(sfx.split("#")[0], []).append(concept + sfx)
    out = {}
    for base, names in groups.items():
        if len(names) < 2 or not all(n in ace and ace[n]["images"] for n in names):
            continue
        a = torch.stack([ace[n]["alpha"].float() for n in names]).mean(0)
        grad = torch.tensor([ace[n]["gradient"] for n in names], dtype=torch.float64).mean(0)
        order = sorted(range(len(a)), key=lambda u: (-round(float(a[u]), 3), -float(grad[u]), -float(tie[u])))
        out[concept + base + "~mean"] = {"alpha": a, "order": order, "images": sum(ace[n]["images"] for n in names),
                                         "gradient": [round(float(v), 5) for v in grad],
                                         "objective": {"mean_of": names}}
    return out


def _kept(entry: dict, cfg: DissectConfig) -> list[int]:
    """A causal ranking's brush: the units whose coefficient reached `keep_alpha`, at least min_units, at most top."""
    n = int((entry["alpha"] >= cfg.keep_alpha).sum())
    return entry["order"][: min(cfg.top, max(cfg.min_units, n))]


def pick_trial(trials, tolerance: float = 0.01) -> dict:
    """The calibration trial to use: the best success rate (within `tolerance`), then the best mean share
    (within `tolerance`), then the gentlest edit: the smallest scale, then the fewest units."""
    trials = list(trials)
    top = max(t["success"] for t in trials)
    near = [t for t in trials if t["success"] >= top - tolerance]
    top_share = max(t["share"] for t in near)
    near = [t for t in near if t["share"] >= top_share - tolerance]
    return min(near, key=lambda t: (t["scale"], t["units"]))


def _ace_alpha(G, layer: str, nxt: str, segmenter, z: torch.Tensor, labels: torch.Tensor, level: torch.Tensor,
               k: int, names: list[str], g: int, cfg: DissectConfig, tie: torch.Tensor,
               terms: tuple[str, ...] = ("insert", "ablate"), steps: int | None = None, restart: int = 0) -> dict:
    """Optimize per-unit α for concept k on these samples; return α, the ranked order and the objective.

    `terms` chooses the objective: inserting the units at `level` (per unit) where the concept is absent
    (context allowing), ablating them where it is present, or both."""
    device = next(G.parameters()).device
    C = level.numel()
    frac = cell_fractions(labels, len(names), g)  # (N, K, g, g)
    concept = names[k]
    ok = allowed_cells(frac, concept, names)
    present = present_cells(frac, concept, names)
    rng = np.random.default_rng(k if restart == 0 else (k, restart))  # a restart draws other trial regions
    ins = torch.zeros(len(z), g, g)
    for i in range(len(z)):
        r = pick_region(ok[i], REGION_SHAPES.get(concept, (2, 2)), rng)
        if r is not None and "insert" in terms:
            ins[i] = r.float()
    abl = present.float() * (1 - ins) if "ablate" in terms else torch.zeros(len(z), g, g)
    use = ((ins.sum((1, 2)) > 0) | (abl.sum((1, 2)) > 0)).nonzero().flatten()
    alpha = torch.full((C,), 0.1, device=device, requires_grad=True)
    opt = torch.optim.Adam([alpha], lr=cfg.ace_lr)
    q = level.to(device).view(1, C, 1, 1)
    history = []
    gsum = torch.zeros(C)
    if len(use) == 0:
        a = torch.zeros(C)
        return {"alpha": a, "order": tie.argsort(descending=True).tolist(), "images": 0, "objective": []}
    with torch.inference_mode():
        h_all = G.features(z[use].to(device), upto=layer)
    h_all = h_all.clone()
    ins_u, abl_u = ins[use].to(device), abl[use].to(device)
    for step in range(cfg.ace_steps if steps is None else steps):
        b = torch.arange(step * cfg.ace_batch, (step + 1) * cfg.ace_batch) % len(use)
        h, mi, ma = h_all[b], ins_u[b][:, None], abl_u[b][:, None]
        a = alpha.view(1, C, 1, 1)
        x = h * (1 - a * mi) + a * mi * q
        x = x * (1 - a * ma)
        img = G.render_from(x, start=nxt)
        p = segmenter.logits(img).softmax(1)[:, k]  # (B, H, W)
        size = p.shape[-2:]
        mi_up = F.interpolate(mi, size=size, mode="nearest")[:, 0]
        ma_up = F.interpolate(ma, size=size, mode="nearest")[:, 0]
        ins_score = (p * mi_up).sum() / mi_up.sum().clamp_min(1)
        abl_score = (p * ma_up).sum() / ma_up.sum().clamp_min(1)
        effect = -ins_score + abl_score
        opt.zero_grad()
        effect.backward()
        gsum -= alpha.grad.detach().cpu()  # linear estimate of each unit's causal effect, summed over batches
        alpha.grad += cfg.ace_sparsity
        opt.step()
        with torch.no_grad():
            alpha.clamp_(0, 1)
        history.append([round(float(ins_score.detach()), 4), round(float(abl_score.detach()), 4)])
    a = alpha.detach().cpu()
    # ties (α pinned at 0 or 1) are broken by the summed gradient (the units' linear causal effect)
    order = sorted(range(C), key=lambda u: (-round(float(a[u]), 3), -float(gsum[u]), -float(tie[u])))
    return {"alpha": a, "order": order, "images": len(use), "gradient": [round(float(v), 5) for v in gsum],
            "objective": {"first": history[0], "last": history[-1], "terms": "[inserted share, ablated share]"}}
