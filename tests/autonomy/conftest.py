"""Autonomy fixtures: one DQN agent trained briefly on the corridor env, shared per session."""

from __future__ import annotations

import pytest

from tests.autonomy.corridor import CORRIDOR_CONFIG


@pytest.fixture(scope="session")
def corridor_agent():
    """A DQN agent trained for 1,500 steps on the corridor (a few seconds)."""
    from autonomy import DQNAgent

    agent = DQNAgent(**CORRIDOR_CONFIG)
    agent.learn(1500, log_every=0)
    return agent
