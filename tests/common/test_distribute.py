"""``common.distribute.loopback_cluster_envs``: one TF_CONFIG cluster for local worker processes."""

from __future__ import annotations

import json

from common.distribute import loopback_cluster_envs


def test_loopback_envs_describe_one_cluster_with_one_index_per_worker(tmp_path):
    envs = loopback_cluster_envs(3, tmp_path)
    configs = [json.loads(env["TF_CONFIG"]) for env in envs]
    addresses = configs[0]["cluster"]["worker"]
    assert len(addresses) == len(set(addresses)) == 3
    assert all(a.startswith("127.0.0.1:") for a in addresses)
    assert all(c["cluster"] == configs[0]["cluster"] for c in configs)
    assert [c["task"] for c in configs] == [{"type": "worker", "index": i} for i in range(3)]
    assert all(env["PYTHONPATH"] == str(tmp_path) for env in envs)
    assert all(env["TF_CPP_MIN_LOG_LEVEL"] == "3" for env in envs)
