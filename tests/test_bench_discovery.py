"""``python -m bench`` (``make bench``) runs every benchmark that runs with its defaults."""

from __future__ import annotations

import importlib.util
from pathlib import Path

# bench/ is not an installed package (it lives beside the code it measures): load it by path.
_SPEC = importlib.util.spec_from_file_location(
    "bench_main", Path(__file__).resolve().parents[1] / "bench" / "__main__.py"
)
assert _SPEC is not None and _SPEC.loader is not None
bench_main = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench_main)


def test_discover_skips_private_and_manual_modules(tmp_path, monkeypatch):
    (tmp_path / "plain.py").write_text("def main(argv=None):\n    return 0\n")
    (tmp_path / "_helpers.py").write_text("def main(argv=None):\n    return 0\n")
    (tmp_path / "library.py").write_text("VALUE = 1\n")
    (tmp_path / "staged.py").write_text(
        '"""Staged."""\nRUN_BY_MAKE_BENCH = False\n\n\ndef main(argv=None):\n    return 0\n'
    )
    monkeypatch.setattr(bench_main, "BENCH_DIR", tmp_path)
    assert bench_main.discover() == ["plain"]


def test_the_staged_gpu_benches_are_not_run_with_defaults():
    names = bench_main.discover()
    assert "nlp_qa_gpu" not in names and "nlp_qa_gpu_train" not in names
    assert {"nlp_qa", "speech_asr", "vision_classification"} <= set(names)


def test_unknown_benchmark_names_are_refused(capsys):
    assert bench_main.main(["no_such_bench"]) == 2
    assert "unknown benchmark(s) no_such_bench" in capsys.readouterr().err
