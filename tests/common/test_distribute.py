"""``common.distribute.loopback_cluster_envs``: one TF_CONFIG cluster for local worker processes."""

from __future__ import annotations

import json

import pytest

from common.distribute import loopback_cluster_envs, run_loopback_cluster


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


def test_run_loopback_cluster_runs_every_worker_and_reports_a_failed_one(tmp_path):

    def write_task(index: int) -> str:
        out = str(tmp_path / f"w{index}.json")
        return f"import json, os; open({out!r}, 'w').write(os.environ['TF_CONFIG'])"

    run_loopback_cluster(write_task, 2, tmp_path, timeout=60)
    tasks = [json.loads((tmp_path / f"w{i}.json").read_text())["task"] for i in range(2)]
    assert [t["index"] for t in tasks] == [0, 1]
    with pytest.raises(RuntimeError, match=r"worker 1 failed \(exit 3\)[\s\S]*boom"):
        run_loopback_cluster(
            lambda i: "pass" if i == 0 else "import sys; sys.stderr.write('boom'); sys.exit(3)",
            2,
            tmp_path,
            timeout=60,
        )
