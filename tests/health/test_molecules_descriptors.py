"""health.molecules with ``molecule_features="rdkit_2d"``: RDKit 2D descriptors are
deterministic and finite, their scaling is fitted on the training molecules only and saved with
the task, the export (seven inputs) equals Python, the server and client featurise SMILES for
it, and the default (``basic``) model keeps its six-input contract."""

from __future__ import annotations

import json
import zipfile

import httpx
import numpy as np
import pytest
import tensorflow as tf

from common.export import non_core_ops
from common.task import TASK_FILE
from health import MoleculePropertyPredictor
from health.molecules import GRAPH_INPUTS, featurize, featurize_valid, make_molecules
from health.molecules.graphs import (
    RDKIT_2D_CLIP,
    RDKIT_2D_FEATURES,
    RDKIT_2D_INPUT,
    RDKIT_2D_NAMES,
    batch_graphs,
    molecule_graph,
)

TINY = {"hidden": 16, "ffn_hidden": 16, "depth": 2, "batch_size": 16, "learning_rate": 3e-3}
#: A large polycyclic molecule: its Ipc descriptor is far above the clip.
BIG = "c1ccc2cc3cc4cc5cc6ccccc6cc5cc4cc3cc2c1" * 2


@pytest.fixture(scope="module")
def trained():
    train = make_molecules(80, seed=0)
    val = make_molecules(30, seed=1)
    task = MoleculePropertyPredictor(tasks=train.tasks, molecule_features="rdkit_2d", **TINY)
    task.fit(train, validation_data=val, epochs=3, verbose=0)
    return task, train, val


def test_rdkit_2d_features_deterministic_finite_and_clipped():
    smiles = ["CCO", "c1ccccc1O", "CC(=O)Oc1ccccc1C(=O)O", "[Na+].[Cl-]", BIG]
    first = featurize(smiles, rdkit_2d=True)
    second = featurize(list(smiles), rdkit_2d=True)
    assert list(first) == [*GRAPH_INPUTS, RDKIT_2D_INPUT]
    values = first[RDKIT_2D_INPUT]
    assert values.shape == (5, RDKIT_2D_FEATURES) and values.dtype == np.float32
    assert len(RDKIT_2D_NAMES) == RDKIT_2D_FEATURES > 150
    np.testing.assert_array_equal(values, second[RDKIT_2D_INPUT])
    assert np.isfinite(values).all() and np.abs(values).max() <= RDKIT_2D_CLIP
    assert values[4, RDKIT_2D_NAMES.index("Ipc")] == RDKIT_2D_CLIP
    np.testing.assert_allclose(values[0, RDKIT_2D_NAMES.index("MolWt")], 46.07, atol=0.01)
    # the default contract is unchanged: six inputs, no descriptors computed
    assert list(featurize(smiles)) == list(GRAPH_INPUTS)
    assert molecule_graph("CCO").rdkit_2d is None
    with pytest.raises(ValueError, match="every graph of a batch"):
        batch_graphs([molecule_graph("CCO"), molecule_graph("CC", rdkit_2d=True)])


def test_scaling_fitted_on_training_molecules_only_and_saved(trained, tmp_path):
    task, train, val = trained
    raw = np.stack([g.rdkit_2d for g in featurize_valid(train.smiles, rdkit_2d=True).graphs])
    state = task.get_state()["rdkit_2d"]
    low, high = np.percentile(raw.astype(np.float64), (0.5, 99.5), axis=0)
    np.testing.assert_allclose(state["low"], low)
    np.testing.assert_allclose(state["high"], high)
    np.testing.assert_allclose(state["mean"], np.clip(raw, low, high).mean(0), rtol=1e-6)
    assert state["names"] == list(RDKIT_2D_NAMES) and min(state["std"]) > 0
    # the model scales with the same numbers (validation / evaluation data changes nothing)
    task.evaluate(val)
    scaler = task.model.get_layer("rdkit_2d_scaler")
    np.testing.assert_allclose(scaler.mean.numpy(), state["mean"], rtol=1e-6)
    np.testing.assert_allclose(scaler.high.numpy(), state["high"], rtol=1e-6)
    assert task.get_state()["rdkit_2d"] == state

    loaded = MoleculePropertyPredictor.load(task.save(tmp_path / "m.keras"))
    assert loaded.config.molecule_features == "rdkit_2d"
    assert loaded.get_state()["rdkit_2d"] == state
    np.testing.assert_allclose(
        loaded.predict_proba(val.smiles[:8]), task.predict_proba(val.smiles[:8]), atol=1e-6
    )


def test_export_with_descriptors_equals_python(trained, tmp_path):
    task, _, val = trained
    version = task.export(tmp_path / "mols")
    assert non_core_ops(version) == []
    fn = tf.saved_model.load(str(version)).signatures["serving_default"]
    assert set(fn.structured_input_signature[1]) == {*GRAPH_INPUTS, RDKIT_2D_INPUT}
    smiles = [*val.smiles[:6], BIG]
    graphs = featurize(smiles, rdkit_2d=True)
    served = fn(**{k: tf.constant(v) for k, v in graphs.items()})["probabilities"].numpy()
    np.testing.assert_allclose(served, task.predict_proba(smiles), atol=1e-5)
    assert np.isfinite(served).all()


def test_server_and_client_featurise_smiles_with_descriptors(trained, tmp_path):
    from serving import Client, ModelServer

    task, _, val = trained
    task.export(tmp_path / "models" / "mols")
    smiles = val.smiles[:3]
    expected = task.predict_proba(smiles)
    with ModelServer(tmp_path / "models", rest_port=0, grpc_port=0, poll_interval=0) as server:
        url = f"{server.rest_url}/v1/models/mols:predict"
        rows = httpx.post(url, json={"instances": smiles}).json()
        np.testing.assert_allclose(rows["predictions"], expected, atol=1e-5)
        bad = httpx.post(url, json={"inputs": {"smiles": ["CCO", ""]}})
        assert bad.status_code == 400 and "empty SMILES" in bad.json()["error"]
        with Client(server.rest_url) as client:
            out = client.predict("mols", {"smiles": smiles})["probabilities"]
            np.testing.assert_allclose(out, expected, atol=1e-5)


def test_serving_recognises_both_molecule_signatures():
    from serving import molecules as served

    assert served.expects_graphs(GRAPH_INPUTS)
    assert served.expects_graphs([*GRAPH_INPUTS, RDKIT_2D_INPUT])
    assert not served.expects_graphs([*GRAPH_INPUTS, "image"])
    six = served.smiles_request({"inputs": {"smiles": ["CCO"]}}, GRAPH_INPUTS)
    seven = served.smiles_request({"instances": ["CCO"]}, [*GRAPH_INPUTS, RDKIT_2D_INPUT])
    assert set(six["inputs"]) == set(GRAPH_INPUTS)
    assert set(seven["instances"][0]) == {*GRAPH_INPUTS, RDKIT_2D_INPUT}


def test_basic_config_keeps_six_inputs_and_old_files_load(tmp_path):
    train = make_molecules(40, seed=2)
    task = MoleculePropertyPredictor(tasks=train.tasks, **TINY)
    assert task.config.molecule_features == "basic"
    task.fit(train, epochs=1, verbose=0)
    assert "rdkit_2d" not in task.get_state()
    assert set(task.model.input) == set(GRAPH_INPUTS)
    fn = tf.saved_model.load(str(task.export(tmp_path / "m"))).signatures["serving_default"]
    assert set(fn.structured_input_signature[1]) == set(GRAPH_INPUTS)
    # a task file written before the option existed (no molecule_features in its config)
    path = task.save(tmp_path / "old.keras")
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    payload = json.loads(entries[TASK_FILE])
    del payload["config"]["molecule_features"]
    entries[TASK_FILE] = json.dumps(payload).encode()
    with zipfile.ZipFile(tmp_path / "older.keras", "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    old = MoleculePropertyPredictor.load(tmp_path / "older.keras")
    assert old.config.molecule_features == "basic"
    np.testing.assert_allclose(
        old.predict_proba(train.smiles[:4]), task.predict_proba(train.smiles[:4]), atol=1e-6
    )


def test_bad_descriptor_options_are_clear_errors(trained):
    task, _, _ = trained
    with pytest.raises(ValueError, match="molecule_features must be one of"):
        MoleculePropertyPredictor(molecule_features="rdkit_3d")
    state = task.get_state()
    other = MoleculePropertyPredictor(tasks=task.tasks, molecule_features="rdkit_2d", **TINY)
    stale = {**state, "rdkit_2d": {**state["rdkit_2d"], "names": ["MolWt"]}}
    with pytest.raises(ValueError, match="another RDKit's 2D descriptor list"):
        other.set_state(stale)
    with pytest.raises(ValueError, match="input #1: empty SMILES"):
        task.predict(["CCO", ""])


def test_ensemble_averages_independent_members_in_one_export(tmp_path):
    train = make_molecules(60, seed=3)
    options = {**TINY, "tasks": train.tasks, "molecule_features": "rdkit_2d"}
    task = MoleculePropertyPredictor(**options, ensemble_size=2)
    task.fit(train, epochs=2, verbose=0)
    assert len(task.member_histories) == 2 and "member_1_loss" in task.history
    smiles = train.smiles[:5]
    members = [
        task.model.get_layer(f"member_{k}")(featurize(smiles, rdkit_2d=True)) for k in (0, 1)
    ]
    assert not np.allclose(members[0], members[1])  # independently initialised and trained
    np.testing.assert_allclose(task.predict_proba(smiles), np.mean(members, 0), atol=1e-6)
    # member 0 is exactly the single model with the same seed
    single = MoleculePropertyPredictor(**options)
    single.fit(train, epochs=2, verbose=0)
    np.testing.assert_allclose(members[0], single.predict_proba(smiles), atol=1e-5)
    loaded = MoleculePropertyPredictor.load(task.save(tmp_path / "e.keras"))
    np.testing.assert_allclose(loaded.predict_proba(smiles), task.predict_proba(smiles), atol=1e-6)
    fn = tf.saved_model.load(str(loaded.export(tmp_path / "e"))).signatures["serving_default"]
    graphs = {k: tf.constant(v) for k, v in featurize(smiles, rdkit_2d=True).items()}
    served = fn(**graphs)["probabilities"].numpy()
    np.testing.assert_allclose(served, task.predict_proba(smiles), atol=1e-5)
    with pytest.raises(ValueError, match="ensemble_size must be at least 1"):
        MoleculePropertyPredictor(ensemble_size=0)
    with pytest.raises(ValueError, match="not supported with ensemble_size > 1"):
        task.fit(train, epochs=1, work_dir=tmp_path / "w", verbose=0)
