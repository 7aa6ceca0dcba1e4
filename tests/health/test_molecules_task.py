"""health.MoleculePropertyPredictor: learns structural labels, skips and counts invalid SMILES,
round-trips through save / load, and its export (in a fresh process, and through the embedded
server and the client given SMILES) agrees with Python."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from common.export import non_core_ops
from health import MoleculePropertyPredictor
from health.molecules import featurize, make_molecules
from tests.conftest import run_fresh_tensorflow

SMALL = {"hidden": 32, "ffn_hidden": 32, "depth": 3, "learning_rate": 3e-3, "batch_size": 16}


@pytest.fixture(scope="module")
def trained():
    """Two tasks (carboxylic acid? aromatic?) with 10 % of the labels missing."""
    train = make_molecules(160, seed=0, missing_fraction=0.1)
    test = make_molecules(60, seed=1)
    task = MoleculePropertyPredictor(tasks=train.tasks, **SMALL)
    history = task.fit(train, validation_data=test, epochs=20, verbose=0)
    return task, test, history


def test_learns_structural_labels_with_missing_values(trained):
    task, test, history = trained
    assert np.isfinite(history.history["loss"]).all()
    assert history.history["loss"][-1] < history.history["loss"][0]
    report = task.evaluate(test)
    assert report["num_evaluated"] == 60 and report["num_invalid"] == 0
    assert report["per_task"]["aromatic"]["roc_auc"] > 0.95
    assert report["per_task"]["carboxylic_acid"]["roc_auc"] > 0.85
    acid, ester = task.predict(["CCCC(=O)O", "CCCC(=O)OC"])
    assert acid["probabilities"]["carboxylic_acid"] > ester["probabilities"]["carboxylic_acid"]
    assert set(acid) == {"smiles", "probabilities", "labels"}


def test_atom_order_does_not_matter(trained):
    task, _, _ = trained
    # the same molecule written two ways (different atom order), and padded inside a batch
    p = task.predict_proba(["OC(=O)c1ccccc1", "c1ccc(cc1)C(O)=O", "CCCCCCCCCCCCCC"])
    np.testing.assert_allclose(p[0], p[1], atol=1e-5)
    np.testing.assert_allclose(task.predict_proba("OC(=O)c1ccccc1")[0], p[0], atol=1e-5)


def test_invalid_smiles_are_counted_not_dropped_silently(trained):
    task, test, _ = trained
    smiles = ["C1CC", *test.smiles[:20], ""]
    labels = np.vstack([[1.0, 0.0], test.labels[:20], [0.0, 0.0]])
    report = task.evaluate((smiles, labels))
    assert report["num_molecules"] == 22 and report["num_evaluated"] == 20
    assert report["num_invalid"] == 2
    assert [r["index"] for r in report["invalid"]] == [0, 21]
    assert "empty SMILES" in report["invalid"][1]["reason"]
    with pytest.raises(ValueError, match="input #1: RDKit cannot parse the SMILES 'C1CC'"):
        task.predict(["CCO", "C1CC"])
    with pytest.raises(ValueError, match="empty SMILES"):
        task.predict("")
    with pytest.raises(ValueError, match="more than max_atoms=150"):
        task.predict("C" * 151)
    with pytest.raises(ValueError, match="none of the 2 SMILES could be parsed"):
        task.evaluate((["xx", "yy"], [[0, 1], [1, 0]]))


def test_bad_data_and_config_are_clear_errors(tmp_path):
    task = MoleculePropertyPredictor(tasks=["p_np"], **SMALL)
    (tmp_path / "m.csv").write_text("smiles,label\nCCO,1\n")
    with pytest.raises(ValueError, match=r"no column\(s\) \['p_np'\]"):
        task.evaluate(tmp_path / "m.csv")
    with pytest.raises(ValueError, match=r"need labels of shape \(2, 1\)"):
        task.evaluate((["CCO", "CC"], [[1, 0], [0, 1]]))
    with pytest.raises(ValueError, match="0, 1 or NaN"):
        task.evaluate((["CCO"], [2.0]))
    for options, message in (
        ({"tasks": []}, "at least one"),
        ({"task_type": "ranking"}, "task_type must be one of"),
        ({"readout": "max"}, "readout must be one of"),
        ({"depth": 0}, "depth must be at least 1"),
    ):
        with pytest.raises(ValueError, match=message):
            MoleculePropertyPredictor(**options)


def test_regression_learns_and_reports_errors():
    train = make_molecules(160, seed=0, kind="regression")
    test = make_molecules(60, seed=1, kind="regression")
    task = MoleculePropertyPredictor(tasks=train.tasks, task_type="regression", **SMALL)
    task.fit(train, epochs=12, verbose=0)
    report = task.evaluate(test)
    assert set(report) >= {"rmse", "mae", "num_invalid"}
    # better than predicting the training mean
    baseline = np.sqrt(np.mean((test.labels - train.labels.mean(0)) ** 2, 0))
    rmse = np.array([report["per_task"][t]["rmse"] for t in train.tasks])
    assert (rmse < 0.7 * baseline).all(), (rmse, baseline)
    assert set(task.predict("c1ccccc1")["values"]) == {"rings", "heteroatoms"}


@pytest.mark.slow
def test_save_load_export_parity_in_fresh_process(trained, tmp_path):
    task, test, _ = trained
    loaded = MoleculePropertyPredictor.load(task.save(tmp_path / "mol.keras"))
    smiles = test.smiles[:6]
    expected = task.predict_proba(smiles)
    np.testing.assert_allclose(loaded.predict_proba(smiles), expected, atol=1e-6)
    version = loaded.export(tmp_path / "molecules")
    assert non_core_ops(version) == []
    np.savez(tmp_path / "graphs.npz", **featurize(smiles))
    run_fresh_tensorflow(f"""
        import numpy as np
        fn = tf.saved_model.load({str(version)!r}).signatures["serving_default"]
        graphs = dict(np.load({str(tmp_path / "graphs.npz")!r}))
        out = fn(**{{k: tf.constant(v) for k, v in graphs.items()}})
        np.save({str(tmp_path / "probs.npy")!r}, out["probabilities"].numpy())
    """)
    np.testing.assert_allclose(np.load(tmp_path / "probs.npy"), expected, atol=1e-5)


def test_server_and_client_accept_smiles(trained, tmp_path):
    from serving import Client, GrpcClient, ModelServer

    task, test, _ = trained
    task.export(tmp_path / "models" / "mols")
    smiles = test.smiles[:3]
    expected = task.predict_proba(smiles)
    with ModelServer(tmp_path / "models", rest_port=0, grpc_port=0, poll_interval=0) as server:
        url = f"{server.rest_url}/v1/models/mols:predict"
        columnar = httpx.post(url, json={"inputs": {"smiles": smiles}}).json()
        np.testing.assert_allclose(columnar["outputs"], expected, atol=1e-5)
        rows = httpx.post(url, json={"instances": smiles}).json()
        np.testing.assert_allclose(rows["predictions"], expected, atol=1e-5)
        bad = httpx.post(url, json={"instances": ["CCO", "C1CC"]})
        assert bad.status_code == 400 and "SMILES #1" in bad.json()["error"]
        assert httpx.post(url, json={"inputs": {"smiles": []}}).status_code == 400
        with Client(server.rest_url) as client:
            out = client.predict("mols", smiles)["probabilities"]
            np.testing.assert_allclose(out, expected, atol=1e-5)
            graphs = client.predict("mols", featurize(smiles))["probabilities"]
            np.testing.assert_allclose(graphs, expected, atol=1e-5)
            with pytest.raises(ValueError, match="cannot parse"):
                client.predict("mols", {"smiles": ["C1CC"]})
        with GrpcClient(server.grpc_target) as grpc_client:
            out = grpc_client.predict("mols", {"smiles": smiles})["probabilities"]
            np.testing.assert_allclose(out, expected, atol=1e-5)


def test_attribution_picture(trained, tmp_path):
    from health.molecules import atom_attributions, draw_attributions

    task, _, _ = trained
    result = draw_attributions(task, "OC(=O)c1ccccc1", tmp_path / "acid.png", "carboxylic_acid")
    assert (tmp_path / "acid.png").read_bytes()[:4] == b"\x89PNG"
    assert result["attributions"].shape == (9,) and np.isfinite(result["attributions"]).all()
    assert result["prediction"] == pytest.approx(task.predict_proba("OC(=O)c1ccccc1")[0, 0])
    assert atom_attributions(task, "CCO", 1)["task"] == "aromatic"
    with pytest.raises(ValueError, match="unknown task 'logp'"):
        atom_attributions(task, "CCO", "logp")
    with pytest.raises(ValueError, match="PNG"):
        draw_attributions(task, "CCO", tmp_path / "x.jpg")
