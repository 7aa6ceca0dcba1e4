"""Information strip under recorded episode frames: step, action, reward, return, speed, crash
and (for agents with Q-values) a small bar chart of them, drawn with Pillow."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

STRIP_HEIGHT = 40  # pixels added below the frame: two text lines at highway-env's 600x150
MIN_WIDTH = 360  # narrower renders are padded so the strip's text still fits
_BACKGROUND = (24, 24, 24)
_TEXT = (235, 235, 235)
_CRASH = (255, 80, 80)
_BAR = (130, 130, 130)
_CHOSEN = (80, 200, 120)


@dataclass(frozen=True)
class StepInfo:
    """What the strip shows for one frame; ``action`` is None on the reset frame."""

    step: int
    action: int | None = None
    action_name: str | None = None
    reward: float | None = None
    total: float = 0.0
    speed: float | None = None
    crashed: bool = False
    q_values: Sequence[float] | None = None


def action_labels(env: Any) -> list[str] | None:
    """Action names from the env (highway-env ``action_type.actions``, ALE-style
    ``get_action_meanings()``), or None when it names none."""
    unwrapped = getattr(env, "unwrapped", env)
    names = getattr(getattr(unwrapped, "action_type", None), "actions", None)
    if isinstance(names, Mapping):
        return [str(names[i]) for i in sorted(names)]
    meanings = getattr(unwrapped, "get_action_meanings", None)
    if callable(meanings):
        return [str(name) for name in meanings()]
    return None


def action_label(action: int, labels: Sequence[str] | None) -> str:
    """``labels[action]`` where the env names its actions, else the action id."""
    if labels is not None and 0 <= int(action) < len(labels):
        return str(labels[int(action)])
    return str(int(action))


def q_value_function(policy: Any) -> Callable[[np.ndarray], np.ndarray] | None:
    """``q_values`` of the agent behind ``policy`` (the agent itself or its bound ``act``)."""
    for owner in (policy, getattr(policy, "__self__", None)):
        q_values = getattr(owner, "q_values", None)
        if callable(q_values):
            return q_values
    return None


def _font(size: int) -> Any:
    """Pillow's built-in scalable font at ``size`` px (the bitmap one on Pillow < 10.1)."""
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:
        return ImageFont.load_default()


def _number(value: float, signed: bool = False) -> str:
    """Two decimals (with a sign if asked) for the strip."""
    return f"{value:+.2f}" if signed else f"{value:.2f}"


def strip_lines(info: StepInfo) -> tuple[str, str]:
    """The strip's two text lines: step / action / reward, then return / speed."""
    first = f"step {info.step}"
    if info.action is not None or info.action_name:  # continuous actions: a name only
        first += f"   action {info.action_name or info.action}"
    if info.reward is not None:
        first += f"   reward {_number(info.reward, signed=True)}"
    second = f"return {_number(info.total)}"
    if info.speed is not None and np.isfinite(info.speed):
        second += f"   speed {info.speed:.1f} m/s"
    return first, second


def _draw_q_values(draw: Any, box: tuple[int, int, int, int], info: StepInfo) -> None:
    """Bars of ``info.q_values`` in ``box`` (lowest value shortest), the taken action in green."""
    values = np.asarray(info.q_values, np.float64).reshape(-1)
    if values.size == 0 or not np.all(np.isfinite(values)):
        return
    left, top, right, bottom = box
    gap = 2
    width = max(3, (right - left - gap * (values.size - 1)) // values.size)
    low, high = float(values.min()), float(values.max())
    spread = high - low
    for index, value in enumerate(values):
        share = 1.0 if spread <= 0 else 0.15 + 0.85 * (value - low) / spread
        x0 = left + index * (width + gap)
        y0 = bottom - max(1, round(share * (bottom - top)))
        colour = _CHOSEN if index == info.action else _BAR
        draw.rectangle((x0, y0, x0 + width - 1, bottom), fill=colour)


def annotate_frame(frame: np.ndarray, info: StepInfo) -> np.ndarray:
    """``frame`` (H, W, 3) on top of a ``STRIP_HEIGHT`` strip describing ``info``.

    The result is ``(H + STRIP_HEIGHT, max(W, MIN_WIDTH), 3)`` uint8 for every step, so a GIF's
    frames keep one size.
    """
    from PIL import Image, ImageDraw

    frame = np.asarray(frame, np.uint8)
    if frame.ndim == 2:
        frame = np.repeat(frame[..., None], 3, axis=-1)
    frame = frame[..., :3]
    height, width = frame.shape[:2]
    canvas = Image.new("RGB", (max(width, MIN_WIDTH), height + STRIP_HEIGHT), _BACKGROUND)
    canvas.paste(Image.fromarray(frame), (0, 0))
    draw = ImageDraw.Draw(canvas)
    chart = 0 if info.q_values is None else min(120, 14 * len(info.q_values))
    right = canvas.width - 6
    text_right = right - chart - 22 if chart else right
    first, second = strip_lines(info)
    shown = second + ("   CRASHED" if info.crashed else "")
    for size in (13, 11, 9):  # narrow renders get a smaller font rather than overlapping text
        font = _font(size)
        if max(draw.textlength(line, font=font) for line in (first, shown)) <= text_right - 6:
            break
    draw.text((6, height + 4), first, fill=_TEXT, font=font)
    draw.text((6, height + 21), second, fill=_TEXT, font=font)
    if info.crashed:
        x = 6 + draw.textlength(second + "   ", font=font)
        draw.text((x, height + 21), "CRASHED", fill=_CRASH, font=font)
    if chart:
        draw.text((right - chart - 16, height + 4), "Q", fill=_TEXT, font=font)
        _draw_q_values(draw, (right - chart, height + 5, right, height + STRIP_HEIGHT - 5), info)
    return np.asarray(canvas)
