"""common.atomic: staged writes land whole or not at all, and stale staging is cleaned."""

from __future__ import annotations

import os
import time

import pytest

from common.atomic import STAGING_PREFIX, remove_stale_staging, staged


def test_staged_file_replaces_target_only_on_success(tmp_path):
    target = tmp_path / "model.keras"
    target.write_text("old")
    with pytest.raises(RuntimeError), staged(target) as staging:
        staging.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]
    with staged(target) as staging:
        staging.write_text("new")
    assert target.read_text() == "new"


def test_staged_folder_never_overwrites_when_asked(tmp_path):
    target = tmp_path / "1"
    with staged(target, replace=False, make_dir=True) as staging:
        (staging / "saved_model.pb").write_text("a")
    assert (target / "saved_model.pb").read_text() == "a"
    with pytest.raises(FileExistsError), staged(target, replace=False, make_dir=True) as staging:
        (staging / "saved_model.pb").write_text("b")
    assert (target / "saved_model.pb").read_text() == "a"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1"]


def test_staged_folder_replaces_a_full_folder(tmp_path):
    target = tmp_path / "ckpt"
    target.mkdir()
    (target / "old.txt").write_text("x")
    with staged(target, make_dir=True) as staging:
        (staging / "new.txt").write_text("y")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


def test_remove_stale_staging_keeps_young_leftovers(tmp_path):
    old = tmp_path / f"{STAGING_PREFIX}1-dead"
    old.mkdir()
    young = tmp_path / f"{STAGING_PREFIX}2-alive"
    young.mkdir()
    keep = tmp_path / "1"
    keep.mkdir()
    past = time.time() - 7200
    os.utime(old, (past, past))
    assert remove_stale_staging(tmp_path, older_than_s=3600) == [old]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([young.name, "1"])
