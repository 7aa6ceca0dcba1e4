"""The highway pipeline end to end on a tiny budget: table, GIF, export, served actions."""

from __future__ import annotations

from PIL import Image

from autonomy.pipelines import demo, highway


def test_highway_pipeline_trains_evaluates_records_and_exports(tmp_path):
    result = highway(
        models_dir=tmp_path / "models", reports_dir=tmp_path / "reports", steps=60, episodes=1
    )
    assert [row["policy"] for row in result["table"]] == ["DQN", "random", "IDLE"]
    assert all(0.0 <= row["crash_rate"] <= 1.0 for row in result["table"])
    assert result["train_steps"] == 60 and result["export_agrees"] == 1.0
    with Image.open(result["gif"]) as gif:
        assert gif.n_frames >= 2
    assert (tmp_path / "models" / "highway_dqn.keras").is_file()
    assert len(result["request"]["observation"][0]) == 25
    assert callable(demo)
