"""DQN agents that learn to drive in highway-env (Double / dueling / n-step / prioritised DQN),
and SAC (+ HER) agents for continuous control (parking, a MuJoCo robot arm).

Names are imported lazily so that environment worker processes (which import ``autonomy.env``)
do not pay for importing TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AgentCallback": "autonomy.callbacks",
    "Checkpoint": "autonomy.callbacks",
    "ProgressBar": "autonomy.callbacks",
    "StopAfter": "autonomy.callbacks",
    "TensorBoard": "autonomy.callbacks",
    "DQNAgent": "autonomy.dqn",
    "DQNConfig": "autonomy.config",
    "SACAgent": "autonomy.sac",
    "SACConfig": "autonomy.sac_config",
    "CONTROL_ENVS": "autonomy.control_env",
    "make_control_env": "autonomy.control_env",
    "DuelingHead": "autonomy.q_network",
    "build_q_network": "autonomy.q_network",
    "IdleAgent": "autonomy.baselines",
    "LookaheadPlanner": "autonomy.baselines",
    "RandomAgent": "autonomy.baselines",
    "HIGHWAY_ENVS": "autonomy.env",
    "known_envs": "autonomy.env",
    "make_env": "autonomy.env",
    "make_vector_env": "autonomy.env",
    "register_env": "autonomy.env",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'autonomy' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


def __dir__() -> list[str]:
    """The public names (lazily imported, so absent from the module dict) and the module's own."""
    return sorted({*__all__, *globals()})
