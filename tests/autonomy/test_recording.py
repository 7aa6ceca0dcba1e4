"""Episode recordings: the information strip under each frame (step, action, reward, return,
speed, crash, Q-values), stable frame sizes and the bare ``annotate=False`` renders."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from autonomy.annotate import (
    MIN_WIDTH,
    STRIP_HEIGHT,
    StepInfo,
    action_label,
    action_labels,
    annotate_frame,
    strip_lines,
)
from autonomy.env import make_env, register_env
from autonomy.evaluation import record_episode
from tests.autonomy.corridor import CORRIDOR, CORRIDOR_CONFIG, Corridor

NAMED_CORRIDOR = "NamedCorridor-v0"
RIGHT = 1  # the corridor's "move right" action: 7 steps reach the goal of the 8-cell corridor
BARE = (16, 16 * 8)  # the corridor's render (H, W)
ANNOTATED = (BARE[0] + STRIP_HEIGHT, max(BARE[1], MIN_WIDTH))


class NamedCorridor(Corridor):
    """The corridor with highway-env style action names and driving info (speed, crash)."""

    action_type = SimpleNamespace(actions={0: "LEFT", 1: "RIGHT", 2: "STAY", 3: "WAIT"})

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        return obs, reward, terminated, truncated, {"speed": 3.5, "crashed": terminated}


register_env(
    NAMED_CORRIDOR, lambda render_mode=None, **config: NamedCorridor(render_mode=render_mode)
)


def _right(observation: np.ndarray) -> int:
    """Always step right."""
    return RIGHT


def _gif_frames(path) -> list[np.ndarray]:
    """Every frame of a GIF as an RGB array."""
    from PIL import Image, ImageSequence

    with Image.open(path) as gif:
        return [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(gif)]


def _red(pixels: np.ndarray) -> bool:
    """Whether ``pixels`` hold the strip's CRASHED red."""
    return bool(np.any((pixels[..., 0] > 200) & (pixels[..., 1] < 130) & (pixels[..., 2] < 130)))


def _green(pixels: np.ndarray) -> np.ndarray:
    """Mask of the highlighted (taken action's) Q bar colour."""
    return (pixels[..., 1] > 160) & (pixels[..., 0] < 140) & (pixels[..., 2] < 170)


def test_gif_has_one_annotated_frame_per_step_all_the_same_size(tmp_path):
    summary = record_episode(_right, tmp_path / "run.gif", CORRIDOR)
    frames = _gif_frames(tmp_path / "run.gif")
    assert summary["frames"] == len(frames) == 8  # the reset frame and 7 steps
    assert {frame.shape for frame in frames} == {(*ANNOTATED, 3)}
    assert summary["frame_size"] == [ANNOTATED[1], ANNOTATED[0]] and summary["annotated"]
    assert summary["return"] == pytest.approx(0.88) and summary["crashed"] is False
    strips = [frame[BARE[0] :] for frame in frames]
    for before, after in zip(strips[:-1], strips[1:], strict=True):  # step, return change
        assert not np.array_equal(before, after)
    assert all(strip.std() > 5 for strip in strips)  # text drawn, not a blank band
    # the render itself sits unchanged above the strip
    assert np.array_equal(frames[0][: BARE[0], : BARE[1]], Corridor().render())


def test_annotate_false_writes_the_bare_renders(tmp_path):
    summary = record_episode(_right, tmp_path / "bare.gif", CORRIDOR, annotate=False)
    frames = _gif_frames(tmp_path / "bare.gif")
    assert len(frames) == summary["frames"] == 8
    assert {frame.shape for frame in frames} == {(*BARE, 3)}
    assert summary["frame_size"] == [BARE[1], BARE[0]] and not summary["annotated"]


def test_actions_are_named_where_the_env_names_them(tmp_path):
    named = record_episode(_right, tmp_path / "named.gif", NAMED_CORRIDOR)
    plain = record_episode(_right, tmp_path / "plain.gif", CORRIDOR)
    assert named["actions"] == ["RIGHT"] * 7 and plain["actions"] == ["1"] * 7
    assert action_labels(make_env(CORRIDOR)) is None
    assert action_labels(make_env(NAMED_CORRIDOR)) == ["LEFT", "RIGHT", "STAY", "WAIT"]
    assert action_label(2, ["LEFT", "RIGHT", "STAY"]) == "STAY"
    assert action_label(5, ["LEFT"]) == action_label(5, None) == "5"  # no name: the id
    for named_frame, plain_frame in zip(
        _gif_frames(tmp_path / "named.gif")[1:],
        _gif_frames(tmp_path / "plain.gif")[1:],
        strict=True,
    ):
        assert np.array_equal(named_frame[: BARE[0]], plain_frame[: BARE[0]])
        assert not np.array_equal(named_frame[BARE[0] :], plain_frame[BARE[0] :])


def test_strip_text_and_crash_mark():
    info = StepInfo(3, 1, "RIGHT", -0.02, 0.96, speed=24.84, crashed=True)
    assert strip_lines(info) == (
        "step 3   action RIGHT   reward -0.02",
        "return 0.96   speed 24.8 m/s",
    )
    assert strip_lines(StepInfo(0)) == ("step 0", "return 0.00")  # the reset frame
    assert strip_lines(StepInfo(2, 4, None, 1.0, 2.0)) == (
        "step 2   action 4   reward +1.00",
        "return 2.00",
    )
    frame = np.full((150, 600, 3), 90, np.uint8)  # highway-env's default render size
    crashed, safe = annotate_frame(frame, info), annotate_frame(frame, StepInfo(3, 1, "RIGHT"))
    assert crashed.shape == safe.shape == (150 + STRIP_HEIGHT, 600, 3)
    assert _red(crashed[150:]) and not _red(safe[150:]) and not _red(crashed[:150])


def test_crash_marks_the_last_frame_of_a_recording(tmp_path):
    summary = record_episode(_right, tmp_path / "crash.gif", NAMED_CORRIDOR)
    frames = _gif_frames(tmp_path / "crash.gif")
    assert summary["crashed"] is True
    assert _red(frames[-1][BARE[0] :]) and not any(_red(f[BARE[0] :]) for f in frames[:-1])


def test_q_value_bars_highlight_the_taken_action():
    frame = np.zeros((150, 600, 3), np.uint8)
    q_values = [0.1, 0.5, 0.2, 0.9, -0.3]
    strips = [
        annotate_frame(frame, StepInfo(1, action, "X", 0.0, 0.0, q_values=q_values))[150:]
        for action in (3, 0)
    ]
    columns = [np.flatnonzero(_green(strip).any(axis=0)) for strip in strips]
    assert columns[0].size and columns[1].size
    assert columns[0].min() > columns[1].max()  # bar 3 lies right of bar 0
    heights = [int(_green(strip).any(axis=1).sum()) for strip in strips]
    assert heights[0] > heights[1]  # the highest Q-value has the tallest bar
    assert not _green(annotate_frame(frame, StepInfo(1, 3, "X"))).any()  # no Q: no chart


def test_dqn_recording_draws_its_q_values_unless_told_not_to(tmp_path):
    from autonomy import DQNAgent

    agent = DQNAgent(**CORRIDOR_CONFIG)
    with_q = record_episode(agent.act, tmp_path / "q.gif", CORRIDOR, max_steps=3)
    without = record_episode(agent.act, tmp_path / "n.gif", CORRIDOR, max_steps=3, q_values=False)
    assert with_q["frames"] == without["frames"] == 4
    q_frames, plain_frames = _gif_frames(tmp_path / "q.gif"), _gif_frames(tmp_path / "n.gif")
    assert not _green(q_frames[0]).any()  # the reset frame: no decision yet
    assert all(_green(frame[BARE[0] :]).any() for frame in q_frames[1:])
    assert not any(_green(frame).any() for frame in plain_frames)
    with pytest.raises(ValueError, match="q_values=True needs a policy with a q_values method"):
        record_episode(_right, tmp_path / "x.gif", CORRIDOR, q_values=True)


def test_highway_recording_names_meta_actions_at_the_default_render_size(tmp_path):
    summary = record_episode(
        lambda observation: 1, tmp_path / "h.gif", "highway-fast-v0", max_steps=2
    )
    frames = _gif_frames(tmp_path / "h.gif")
    assert summary["actions"] == ["IDLE", "IDLE"] and len(frames) == summary["frames"] == 3
    assert {frame.shape for frame in frames} == {(150 + STRIP_HEIGHT, 600, 3)}
    assert frames[1][:150].std() > 5  # a drawn road above the strip


def test_baseline_record_passes_annotate_on(tmp_path):
    from autonomy.baselines import IdleAgent

    summary = IdleAgent("highway-fast-v0").record(tmp_path / "i.gif", max_steps=1, annotate=False)
    assert summary["frame_size"] == [600, 150] and summary["actions"] == ["IDLE"]
    assert {frame.shape for frame in _gif_frames(tmp_path / "i.gif")} == {(150, 600, 3)}
