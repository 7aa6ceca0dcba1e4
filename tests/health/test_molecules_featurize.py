"""health.molecules featurisation, splits and data: deterministic graphs, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from health.molecules import (
    GRAPH_INPUTS,
    InvalidSmilesError,
    featurize,
    featurize_valid,
    make_molecules,
    molecule_graph,
    murcko_scaffold,
    random_split,
    read_molecule_csv,
    scaffold_split,
)
from health.molecules.graphs import ATOM_FEATURES, BOND_FEATURES, ELEMENTS


def test_ethanol_graph_by_hand():
    graph = molecule_graph("CCO")
    assert graph.atoms.shape == (3, ATOM_FEATURES) and graph.bonds.shape == (4, BOND_FEATURES)
    # two bonds, each as a pair of reverse directed edges 2k, 2k + 1
    np.testing.assert_array_equal(graph.edges, [[0, 1], [1, 0], [1, 2], [2, 1]])
    np.testing.assert_array_equal(graph.edges[0::2], graph.edges[1::2, ::-1])
    elements = graph.atoms[:, : len(ELEMENTS) + 1].argmax(1)
    assert [ELEMENTS[i] for i in elements] == ["C", "C", "O"]
    assert np.all(graph.bonds[:, 0] == 1.0)  # single bonds
    assert graph.smiles == "CCO"


def test_featurize_is_deterministic_and_padded():
    smiles = ["c1ccccc1O", "CCO", "[Na+].[Cl-]", "C"]
    first, second = featurize(smiles), featurize(list(smiles))
    assert list(first) == list(GRAPH_INPUTS)
    for name in GRAPH_INPUTS:
        np.testing.assert_array_equal(first[name], second[name])
    assert first["atom_features"].shape == (4, 7, ATOM_FEATURES)
    assert first["edge_index"].dtype == np.int32
    np.testing.assert_array_equal(first["atom_mask"].sum(1), [7, 3, 2, 1])
    np.testing.assert_array_equal(first["bond_mask"].sum(1), [14, 4, 0, 0])
    assert first["atom_features"][1, 3:].sum() == 0 and first["bond_features"][1, 4:].sum() == 0
    # one molecule alone gives the same rows as inside the batch
    alone = featurize("CCO")
    np.testing.assert_array_equal(alone["atom_features"][0], first["atom_features"][1, :3])


@pytest.mark.parametrize(
    ("smiles", "message"),
    [
        ("C1CC", "cannot parse"),
        ("", "empty SMILES"),
        ("   ", "empty SMILES"),
        (None, "must be a string"),
        ("C" * 200, "200 heavy atoms, more than max_atoms=150"),
    ],
)
def test_bad_smiles_are_clear_errors(smiles, message):
    with pytest.raises(InvalidSmilesError, match=message):
        featurize(smiles if smiles is not None else [smiles])
    assert issubclass(InvalidSmilesError, ValueError)


def test_featurize_names_the_bad_position_and_valid_reports_skips():
    with pytest.raises(InvalidSmilesError, match="SMILES #1: RDKit cannot parse"):
        featurize(["CCO", "not a smiles", "CC"])
    with pytest.raises(ValueError, match="at least one SMILES"):
        featurize([])
    result = featurize_valid(["CCO", "xyz", "", "CC"])
    assert [g.smiles for g in result.graphs] == ["CCO", "CC"]
    np.testing.assert_array_equal(result.kept, [0, 3])
    assert [(i, s) for i, s, _ in result.invalid] == [(1, "xyz"), (2, "")]


def test_serving_mirrors_the_graph_input_names():
    from serving import molecules as served

    assert served.GRAPH_INPUTS == GRAPH_INPUTS
    assert served.expects_graphs(reversed(GRAPH_INPUTS)) and not served.expects_graphs(["image"])
    body = served.smiles_request({"instances": ["CCO", "C"]}, GRAPH_INPUTS)
    assert len(body["instances"]) == 2 and set(body["instances"][0]) == set(GRAPH_INPUTS)
    body = served.smiles_request({"inputs": {"smiles": ["CCO"]}}, GRAPH_INPUTS)
    np.testing.assert_array_equal(body["inputs"]["edge_index"], featurize("CCO")["edge_index"])
    untouched = {"inputs": {"image": [[0.0]]}}
    assert served.smiles_request(untouched, ["image"]) is untouched


def test_scaffold_split_keeps_scaffolds_apart_and_is_seeded():
    molecules = make_molecules(150, seed=3)
    parts = scaffold_split(molecules.smiles, (0.8, 0.1, 0.1), seed=0)
    assert sorted(np.concatenate(parts).tolist()) == list(range(150))
    scaffolds = [{murcko_scaffold(molecules.smiles[i]) for i in part} for part in parts]
    assert not (scaffolds[0] & scaffolds[1]) and not (scaffolds[0] & scaffolds[2])
    assert not (scaffolds[1] & scaffolds[2])
    again = scaffold_split(molecules.smiles, (0.8, 0.1, 0.1), seed=0)
    other = scaffold_split(molecules.smiles, (0.8, 0.1, 0.1), seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(parts, other, strict=True))
    assert murcko_scaffold("c1ccccc1CCO") == "c1ccccc1" and murcko_scaffold("CCO") == ""
    with pytest.raises(ValueError, match="summing to 1"):
        scaffold_split(molecules.smiles, (0.8, 0.1))


def test_random_split_sizes():
    train, val, test = random_split(100, (0.8, 0.1, 0.1), seed=0)
    assert (len(train), len(val), len(test)) == (80, 10, 10)
    assert len(set(np.concatenate([train, val, test]).tolist())) == 100


def test_builtin_labels_come_from_structure():
    molecules = make_molecules(60, seed=0, missing_fraction=0.2)
    assert len(set(molecules.smiles)) == 60 and molecules.tasks == ["carboxylic_acid", "aromatic"]
    missing = np.isnan(molecules.labels)
    assert 0.05 < missing.mean() < 0.4
    complete = make_molecules(60, seed=0)
    acid = complete.labels[:, 0] == 1
    assert all(
        "C(=O)O" in s or "OC(=O)" in s or "O=C(O)" in s for s in np.array(complete.smiles)[acid]
    )
    assert all("c" in s for s, a in zip(complete.smiles, complete.labels[:, 1], strict=True) if a)
    regression = make_molecules(30, seed=0, kind="regression")
    assert regression.tasks == ["rings", "heteroatoms"]
    benzene_rows = [i for i, s in enumerate(regression.smiles) if s == "c1ccccc1"]
    assert all(regression.labels[i, 0] == 1 for i in benzene_rows)


def test_molecule_csv_reading_and_errors(tmp_path):
    path = tmp_path / "mols.csv"
    path.write_text("name,smiles,p_np,tox\na,CCO,1,\nb,c1ccccc1,0,1\nc,C1CC,1,0\n")
    molecules = read_molecule_csv(path, ["p_np", "tox"])
    assert molecules.smiles == ["CCO", "c1ccccc1", "C1CC"]
    assert np.isnan(molecules.labels[0, 1]) and molecules.labels[1].tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match=r"no column\(s\) \['logp'\]; its columns are"):
        read_molecule_csv(path, ["logp"])
    with pytest.raises(ValueError, match="no column"):
        read_molecule_csv(path, ["p_np"], smiles_column="SMILES")
    (tmp_path / "bad.csv").write_text("smiles,p_np\nCCO,yes\n")
    with pytest.raises(ValueError, match="row 2: label column 'p_np' holds 'yes'"):
        read_molecule_csv(tmp_path / "bad.csv", ["p_np"])
    with pytest.raises(ValueError, match="no such molecule CSV"):
        read_molecule_csv(tmp_path / "missing.csv", ["p_np"])
