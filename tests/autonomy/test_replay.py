"""Replay storage and n-step returns against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from autonomy.replay import (
    NStepAccumulator,
    PrioritizedReplayBuffer,
    ReplayBuffer,
    SumTree,
    n_step_return,
)


def test_n_step_return_is_the_discounted_sum():
    assert n_step_return([1.0, 2.0, 3.0], 0.5) == pytest.approx(1 + 0.5 * 2 + 0.25 * 3)
    assert n_step_return([], 0.9) == 0.0


def _obs(value):
    return np.full((1, 2), value, np.float32)


def test_ring_buffer_wraps_around_and_overwrites_the_oldest():
    buffer = ReplayBuffer(3, (2,), seed=0)
    for i in range(5):
        buffer.add(_obs(i), [i], [10.0 * i], _obs(i + 1), [0.9])
    assert len(buffer) == 3 and buffer.position == 2
    # slots 0, 1 were overwritten by transitions 3, 4; slot 2 still holds transition 2
    np.testing.assert_array_equal(buffer.action, [3, 4, 2])
    np.testing.assert_array_equal(buffer.obs[:, 0], [3, 4, 2])
    batch = buffer.sample(64)
    assert set(batch["action"]) <= {2, 3, 4}
    np.testing.assert_array_equal(batch["reward"], 10.0 * batch["action"])
    np.testing.assert_array_equal(batch["weights"], 1.0)


def test_batch_add_wraps_in_one_call_and_state_round_trips():
    buffer = ReplayBuffer(4, (2,))
    buffer.add(np.zeros((3, 2)), [0, 1, 2], [0, 0, 0], np.zeros((3, 2)), [1, 1, 1])
    slots = buffer.add(np.ones((3, 2)), [3, 4, 5], [0, 0, 0], np.ones((3, 2)), [1, 1, 1])
    np.testing.assert_array_equal(slots, [3, 0, 1])
    np.testing.assert_array_equal(buffer.action, [4, 5, 2, 3])
    copy = ReplayBuffer(4, (2,))
    copy.load_state_dict(buffer.state_dict())
    np.testing.assert_array_equal(copy.action, buffer.action)
    assert (copy.position, len(copy)) == (buffer.position, len(buffer))


def test_empty_buffer_cannot_be_sampled():
    with pytest.raises(ValueError, match="empty"):
        ReplayBuffer(4, (2,)).sample(2)


def test_sum_tree_prefix_search():
    tree = SumTree(4)
    tree.set(np.arange(4), np.array([1.0, 2.0, 3.0, 4.0]))
    assert tree.total == 10.0
    np.testing.assert_array_equal(
        tree.find(np.array([0.0, 0.99, 1.0, 2.99, 3.0, 5.99, 6.0, 9.99])), [0, 0, 1, 1, 2, 2, 3, 3]
    )


def test_prioritised_probabilities_and_weights_match_hand_computed_values():
    buffer = PrioritizedReplayBuffer(4, (2,), alpha=0.5, epsilon=0.0, seed=0)
    buffer.add(np.zeros((4, 2)), [0, 1, 2, 3], np.zeros(4), np.zeros((4, 2)), np.ones(4))
    np.testing.assert_allclose(buffer.probabilities(), [0.25] * 4)  # new ones get max priority
    buffer.update_priorities(np.arange(4), np.array([1.0, 4.0, 9.0, 16.0]))
    # p^alpha = [1, 2, 3, 4] -> P = [0.1, 0.2, 0.3, 0.4]
    np.testing.assert_allclose(buffer.probabilities(), [0.1, 0.2, 0.3, 0.4])
    counts = np.bincount(
        np.concatenate([buffer.sample(100)["action"] for _ in range(100)]), minlength=4
    )
    np.testing.assert_allclose(counts / counts.sum(), [0.1, 0.2, 0.3, 0.4], atol=0.02)
    buffer.beta = 1.0
    batch = buffer.sample(400)
    # w_i = (N P_i)^-1 / max_j (N P_j)^-1 = P_min / P_i
    np.testing.assert_allclose(batch["weights"], 0.1 / (0.1 * (batch["action"] + 1)), rtol=1e-5)
    buffer.add(np.zeros((1, 2)), [0], [0.0], np.zeros((1, 2)), [1.0])  # replaces slot 0
    assert buffer.probabilities()[0] == pytest.approx(4.0 / (4 + 2 + 3 + 4))  # max priority 16^0.5


def test_n_step_accumulator_bootstraps_on_truncation_not_on_termination():
    gamma = 0.5
    acc = NStepAccumulator(n=2, gamma=gamma, num_envs=1)
    obs = [np.array([float(i)]) for i in range(6)]
    assert acc.push([obs[0]], [0], [1.0], [obs[1]], [False], [False]) == []
    (first,) = acc.push([obs[1]], [1], [2.0], [obs[2]], [False], [False])
    assert first[0][0] == 0 and first[1] == 0
    assert first[2] == pytest.approx(1 + 0.5 * 2) and first[3][0] == 2 and first[4] == gamma**2
    # termination flushes the two pending starts without bootstrapping
    done = acc.push([obs[2]], [2], [4.0], [obs[3]], [True], [False])
    assert [(t[0][0], t[2], t[3][0], t[4]) for t in done] == [
        (1, 2 + 0.5 * 4, 3, 0.0),
        (2, 4.0, 3, 0.0),
    ]
    # truncation flushes with discount gamma^k for k rewards
    acc.push([obs[3]], [0], [1.0], [obs[4]], [False], [False])
    cut = acc.push([obs[4]], [0], [1.0], [obs[5]], [False], [True])
    assert [t[4] for t in cut] == [gamma**2, gamma]


def test_n_step_accumulator_keeps_parallel_envs_apart():
    acc = NStepAccumulator(n=3, gamma=1.0, num_envs=2)
    out = []
    for _ in range(3):
        out += acc.push(
            np.array([[0.0], [1.0]]),
            [0, 1],
            [1.0, 10.0],
            np.array([[0.0], [1.0]]),
            [False, False],
            [False, False],
        )
    assert sorted(t[2] for t in out) == [3.0, 30.0]
    with pytest.raises(ValueError, match="n_step"):
        NStepAccumulator(0, 0.9)
