"""dlsuite defaults TensorFlow to its Eigen CPU kernels (oneDNN heap corruption, issue 30)."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = "import os, common, tensorflow as tf\nprint(os.environ.get('TF_ENABLE_ONEDNN_OPTS'))\n"


def _probe(env_value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    if env_value is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = env_value
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True
    )
    return out.stdout.split()[-1]


def test_importing_dlsuite_before_tensorflow_selects_eigen_kernels():
    assert _probe(None) == "0"


def test_a_users_choice_is_kept():
    assert _probe("1") == "1"
