"""DQN agents that learn to drive in highway-env."""
