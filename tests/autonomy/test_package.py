"""The ``autonomy`` package: public names listed by ``dir`` and imported lazily."""

from __future__ import annotations

import subprocess
import sys

import autonomy


def test_dir_lists_every_public_name_and_each_resolves():
    names = dir(autonomy)
    assert set(autonomy.__all__) <= set(names)
    assert {"DQNAgent", "DQNConfig", "ProgressBar", "build_q_network", "DuelingHead"} <= set(names)
    for name in autonomy.__all__:
        assert getattr(autonomy, name) is not None
    assert autonomy.DQNConfig is autonomy.DQNAgent.config_class
    assert autonomy.build_q_network((8,), 4, [16]).output_shape == (None, 4)


def test_dir_and_env_imports_do_not_import_tensorflow():
    # env worker processes import autonomy.env: they must not pay for TensorFlow
    code = (
        "import sys, autonomy, autonomy.env; names = dir(autonomy); "
        "assert 'DQNAgent' in names and 'make_env' in names; "
        "print('tensorflow' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "False"
