"""ADE20K SegFormer as a ganpaint Segmenter (optional extra: `pip install ganpaint[segformer]`).

    seg = SegformerSegmenter.from_pretrained("nvidia/segformer-b0-finetuned-ade-512-512")  # from the hub
    seg = SegformerSegmenter.from_pretrained("/data/segformer-b0-ade")   # a folder from save_pretrained
    labels = seg.segment(images)            # (N, 3, H, W) in [-1, 1] → (N, H, W) long; seg.labels[i] = "tree", …
    table = dissect(model, seg, ...)        # a concept table for a model that has none

The 150 ADE20K classes (wall, building, sky, floor, tree, …, door, grass, window…) cover the LSUN
scenes of the official models. Images are preprocessed in torch exactly as the model's
`preprocessor_config.json` says (resize, rescale to [0, 1], mean/std), so no PIL round trip and no
torchvision; logits are resized back to the input size before the argmax. Hub names are fetched
only when the machine can reach the hub (pass `local_files_only=True` to forbid it).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
import torch.nn.functional as F

from .segmenter import SegmenterError

__all__ = ["SegformerSegmenter"]

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def _preprocessor_config(name_or_path: str, local_files_only: bool | None) -> dict:
    """The model's preprocessing settings, from its folder or the hub; {} when there are none."""
    folder = Path(name_or_path)
    if folder.is_dir():
        f = folder / "preprocessor_config.json"
        return json.loads(f.read_text()) if f.is_file() else {}
    try:
        from huggingface_hub import hf_hub_download

        return json.loads(Path(hf_hub_download(name_or_path, "preprocessor_config.json",
                                               local_files_only=bool(local_files_only))).read_text())
    except Exception:  # no such file, or offline: the ImageNet defaults below are SegFormer's own
        return {}


class SegformerSegmenter:
    """A `transformers` SegformerForSemanticSegmentation behind the Segmenter protocol."""

    def __init__(self, model, *, id: str = "segformer", size: tuple[int, int] | None = (512, 512),
                 mean=_IMAGENET_MEAN, std=_IMAGENET_STD, batch: int = 8) -> None:
        self.model = model.eval().requires_grad_(False)
        self.id = id
        id2label = model.config.id2label
        self.labels = [str(id2label[i]) for i in range(model.config.num_labels)]
        self.size = tuple(size) if size else None  # None: segment at the input's own size
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        self.batch = batch

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, *, device="cpu", local_files_only: bool | None = None,
                        batch: int = 8) -> "SegformerSegmenter":
        try:
            from transformers import SegformerForSemanticSegmentation
        except ImportError:
            raise SegmenterError("the SegFormer segmenter needs `transformers`: pip install 'ganpaint[segformer]'") from None
        name = str(name_or_path)
        kwargs = {} if local_files_only is None else {"local_files_only": local_files_only}
        try:
            model = SegformerForSemanticSegmentation.from_pretrained(name, **kwargs)
        except (OSError, ValueError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise SegmenterError(f"cannot load SegFormer {name!r}: {first[:300]}") from None
        pre = _preprocessor_config(name, local_files_only)
        size = pre.get("size") or {"height": 512, "width": 512}
        size = (size["height"], size["width"]) if pre.get("do_resize", True) and "height" in size else None
        mean = pre.get("image_mean", _IMAGENET_MEAN) if pre.get("do_normalize", True) else (0.0, 0.0, 0.0)
        std = pre.get("image_std", _IMAGENET_STD) if pre.get("do_normalize", True) else (1.0, 1.0, 1.0)
        # the id names the exact weights, so a concept table records which parser made it
        digest = hashlib.sha256(json.dumps(model.config.to_dict(), sort_keys=True, default=str).encode())
        for _, v in sorted(model.state_dict().items()):
            digest.update(v.detach().cpu().contiguous().numpy().tobytes())
        seg_id = f"segformer:{Path(name).name if Path(name).is_dir() else name}-{digest.hexdigest()[:8]}"
        return cls(model.to(device), id=seg_id, size=size, mean=mean, std=std, batch=batch)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def to(self, device) -> "SegformerSegmenter":
        self.model.to(device)
        return self

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """Differentiable class logits (N, K, H, W) at the input's size (for causal unit ranking)."""
        assert images.dim() == 4 and images.shape[1] == 3, f"expected (N, 3, H, W), got {tuple(images.shape)}"
        x = (images.to(self.device, torch.float32) + 1) / 2  # [-1, 1] → the [0, 1] the processor rescales to
        if self.size and tuple(x.shape[-2:]) != self.size:
            shrink = x.shape[-2] > self.size[0] or x.shape[-1] > self.size[1]
            x = F.interpolate(x, size=self.size, mode="bilinear", align_corners=False, antialias=shrink)
        x = (x - self.mean.to(x.device)) / self.std.to(x.device)
        logits = self.model(pixel_values=x).logits  # (N, K, h/4, w/4)
        return F.interpolate(logits, size=tuple(images.shape[-2:]), mode="bilinear", align_corners=False)

    @torch.inference_mode()
    def segment(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [-1, 1] → (N, H, W) long label indices into `labels`."""
        out = [self.logits(images[i : i + self.batch]).argmax(1) for i in range(0, len(images), self.batch)]
        return torch.cat(out).to(images.device)
