"""Hook a named layer of a network: record its output, replace it, or stop the forward there.

    with Trace(G, "layer4", edit_output=lambda x: apply_edit(x, alpha, value)):
        img = G(z)                                  # full forward with the edit applied at layer4
    with Trace(G, "layer4", stop=True) as t:
        run_until_stopped(G, z)                     # returns early; t.output is the layer's output

Uses `register_forward_hook` only; never monkey-patches `forward`.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

__all__ = ["Trace", "StopForward", "run_until_stopped"]


class StopForward(Exception):
    """Raised by a stopping Trace to cut a forward pass short."""


class Trace:
    def __init__(self, net: nn.Module, layer: str, *, edit_output: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 retain_output: bool = True, stop: bool = False) -> None:
        modules = dict(net.named_modules())
        if layer not in modules:
            raise KeyError(f"no layer {layer!r} in {type(net).__name__}")
        self.output: torch.Tensor | None = None
        self._edit, self._retain, self._stop = edit_output, retain_output, stop
        self._handle = modules[layer].register_forward_hook(self._hook)

    def _hook(self, module: nn.Module, inputs, output: torch.Tensor):
        if self._edit is not None:
            output = self._edit(output)
        if self._retain:
            self.output = output
        if self._stop:
            raise StopForward
        return output

    def close(self) -> None:
        self._handle.remove()

    def __enter__(self) -> "Trace":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.close()
        return exc_type is StopForward  # swallow the early stop


def run_until_stopped(net: nn.Module, *args, **kwargs):
    """Call net(*args); a StopForward from a stopping Trace ends it early (returns None then)."""
    try:
        return net(*args, **kwargs)
    except StopForward:
        return None
