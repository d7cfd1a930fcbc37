"""Commands: every change to a session, as data. REST routes and the websocket parse what arrives into
one of these and hand it to `Session.apply`, so each command is implemented once.

    command = parse_message({"type": "delete", "index": 0}, model, settings.stroke_limits())  # → DeleteStroke(0)
    state = await session.apply(command)          # SessionError (→ 404/409/422) when it cannot be done

parse_message raises BadMessage (a malformed websocket message) or StrokeError (a bad stroke), each
with a reason fit to show the user.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ganpaint.paint.edit import StrokeLimits
from ganpaint.paint.model import MAX_SEED, PaintModel

from .strokes import Entry, parse_stroke, parse_strokes

__all__ = ["AddStroke", "Undo", "Redo", "Reset", "DeleteStroke", "SetSeed", "SetOptions", "Command",
           "BadMessage", "parse_message", "has_mask", "MESSAGE_TYPES"]


@dataclass(frozen=True)
class AddStroke:
    entry: Entry
    final: bool = True  # False: a preview of a stroke in progress, shown only to the socket that sent it


@dataclass(frozen=True)
class Undo:
    pass


@dataclass(frozen=True)
class Redo:
    pass


@dataclass(frozen=True)
class Reset:
    pass


@dataclass(frozen=True)
class DeleteStroke:
    index: int


@dataclass(frozen=True)
class SetSeed:
    seed: int


@dataclass(frozen=True)
class SetOptions:
    """Change the given options, keep the others (None = unchanged). Options are not history: undo keeps them."""

    remove_artifacts: bool | None = None


Command = AddStroke | Undo | Redo | Reset | DeleteStroke | SetSeed | SetOptions

MESSAGE_TYPES = ("stroke", "undo", "redo", "reset", "delete", "seed", "options")


class BadMessage(ValueError):
    """A websocket message that is not a command; the text says why."""


def _int_field(msg: dict, name: str, lo: int, hi: int) -> int:
    if name not in msg:
        raise BadMessage(f"missing field {name!r}")
    v = msg[name]
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise BadMessage(f"{name!r} must be an integer between {lo} and {hi}")
    return v


def _bool_field(msg: dict, name: str, default: bool | None) -> bool | None:
    v = msg.get(name, default)
    if v is not None and not isinstance(v, bool):
        raise BadMessage(f"{name!r} must be true or false")
    return v


def has_mask(msg: Any) -> bool:
    """Whether parsing this message decodes an image (slow: do it off the event loop)."""
    stroke = msg.get("stroke") if isinstance(msg, dict) else None
    return isinstance(stroke, dict) and stroke.get("mask") is not None


def parse_message(msg: Any, model: PaintModel, limits: StrokeLimits, mask_budget: int | None = None) -> Command:
    """A decoded websocket JSON message → the command it asks for. A stroke's mask may hold at most
    `mask_budget` pixels (MaskBudgetExceeded, decided from its header before decoding it)."""
    if not isinstance(msg, dict):
        raise BadMessage("a message must be a JSON object with a 'type'")
    kind = msg.get("type")
    if kind == "stroke":
        if "stroke" not in msg:
            raise BadMessage("missing field 'stroke'")
        final = _bool_field(msg, "final", True)
        if final is None:
            raise BadMessage("'final' must be true or false")
        if mask_budget is None:
            return AddStroke(parse_stroke(msg["stroke"], model, limits), final)
        return AddStroke(parse_strokes([msg["stroke"]], model, limits, mask_budget)[0], final)
    if kind == "undo":
        return Undo()
    if kind == "redo":
        return Redo()
    if kind == "reset":
        return Reset()
    if kind == "delete":
        return DeleteStroke(_int_field(msg, "index", 0, 10**9))
    if kind == "seed":
        return SetSeed(_int_field(msg, "seed", 0, MAX_SEED))
    if kind == "options":
        return SetOptions(remove_artifacts=_bool_field(msg, "remove_artifacts", None))
    if isinstance(kind, str):
        raise BadMessage(f"unknown message type {kind[:40]!r}; use {', '.join(MESSAGE_TYPES[:-1])} or {MESSAGE_TYPES[-1]}")
    raise BadMessage("a message needs a 'type' string")
