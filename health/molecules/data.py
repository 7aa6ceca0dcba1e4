"""Molecule data: labelled SMILES from CSV files, and a tiny built-in set generated in code.

Labels are a float array ``[molecules, tasks]`` with NaN where a label is missing (MoleculeNet
sets such as Tox21 leave many blank); the losses and metrics skip NaN labels.

The built-in set (``make_molecules``) strings random fragments into small organic molecules
and labels them from their structure with RDKit (a carboxylic acid present? an aromatic ring?
how many rings?), so a tiny model can show it learned something in seconds, offline.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rdkit import Chem


@dataclass(frozen=True)
class MoleculeSet:
    """SMILES with labels ``[N, len(tasks)]`` (float, NaN = missing)."""

    smiles: list[str]
    labels: np.ndarray
    tasks: list[str]

    def __len__(self) -> int:
        return len(self.smiles)

    def subset(self, indices: Sequence[int] | np.ndarray) -> MoleculeSet:
        """The molecules at ``indices``, in that order."""
        rows = np.asarray(indices, np.int64)
        return MoleculeSet([self.smiles[i] for i in rows], self.labels[rows], list(self.tasks))


def _label(value: str, column: str, row: int) -> float:
    text = value.strip()
    if text == "" or text.lower() in ("nan", "na", "none"):
        return float("nan")
    try:
        return float(text)
    except ValueError:
        raise ValueError(
            f"row {row}: label column {column!r} holds {text!r}, not a number"
        ) from None


def read_molecule_csv(
    path: str | os.PathLike, tasks: Sequence[str], smiles_column: str = "smiles"
) -> MoleculeSet:
    """A CSV with a SMILES column and one numeric column per task (blank = missing label)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no such molecule CSV: {path}")
    if not tasks:
        raise ValueError("name at least one label column (tasks=[...])")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = list(reader.fieldnames or [])
        missing = [c for c in (smiles_column, *tasks) if c not in columns]
        if missing:
            raise ValueError(f"{path.name} has no column(s) {missing}; its columns are {columns}")
        smiles, labels = [], []
        for row_number, row in enumerate(reader, start=2):
            smiles.append((row[smiles_column] or "").strip())
            labels.append([_label(row[t] or "", t, row_number) for t in tasks])
    if not smiles:
        raise ValueError(f"{path} holds no molecules")
    return MoleculeSet(smiles, np.array(labels, np.float32).reshape(-1, len(tasks)), list(tasks))


# ------------------------------------------------------------------ built-in set
#: Pieces with two open ends, strung into a chain.
_MIDDLE = ("C", "CC", "CCC", "O", "N", "C(C)", "C(=O)", "C(F)", "C(Cl)", "c1ccc(cc1)",
           "c1ccc(nc1)", "C1CCC(CC1)", "C1CCN(CC1)", "c1ccc2cc(ccc2c1)")  # fmt: skip
#: Chain ends: the first piece of the SMILES and the last.
_STARTS = ("C", "CC", "N", "O", "F", "Cl", "OC(=O)", "COC(=O)", "NC(=O)", "c1ccccc1")
_ENDS = ("C", "CC", "N", "O", "Cl", "C(=O)O", "C(=O)OC", "C(=O)N", "C#N", "c1ccccc1")
_ACID = Chem.MolFromSmarts("[CX3](=O)[OX2H1]")
BUILTIN_TASKS = {
    "classification": ["carboxylic_acid", "aromatic"],
    "regression": ["rings", "heteroatoms"],
}


def structure_labels(mol: Chem.Mol, kind: str) -> list[float]:
    """The built-in set's labels of one molecule, computed from its structure."""
    if kind == "classification":
        aromatic = any(atom.GetIsAromatic() for atom in mol.GetAtoms())
        return [float(mol.HasSubstructMatch(_ACID)), float(aromatic)]
    hetero = sum(atom.GetSymbol() not in ("C", "H") for atom in mol.GetAtoms())
    return [float(mol.GetRingInfo().NumRings()), float(hetero)]


def make_molecules(
    count: int = 200,
    seed: int = 0,
    kind: str = "classification",
    missing_fraction: float = 0.0,
) -> MoleculeSet:
    """``count`` distinct small molecules with labels computed from their structure.

    ``kind`` "classification": tasks ``carboxylic_acid`` and ``aromatic`` (0 / 1);
    "regression": ``rings`` (ring count) and ``heteroatoms`` (non-carbon heavy atoms).
    ``missing_fraction`` blanks that share of labels (NaN), as multi-task sets have.
    """
    if kind not in BUILTIN_TASKS:
        raise ValueError(f"kind must be one of {sorted(BUILTIN_TASKS)}, got {kind!r}")
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    rng = np.random.default_rng(seed)
    seen: dict[str, list[float]] = {}
    for _ in range(count * 50):
        if len(seen) == count:
            break
        pieces = [_STARTS[rng.integers(len(_STARTS))]]
        pieces += [_MIDDLE[rng.integers(len(_MIDDLE))] for _ in range(rng.integers(0, 4))]
        pieces.append(_ENDS[rng.integers(len(_ENDS))])
        mol = Chem.MolFromSmiles("".join(pieces))
        if mol is None:
            continue
        smiles = Chem.MolToSmiles(mol)
        if smiles not in seen:
            seen[smiles] = structure_labels(mol, kind)
    if len(seen) < count:
        raise ValueError(f"could only make {len(seen)} distinct molecules, asked for {count}")
    labels = np.array(list(seen.values()), np.float32)
    if missing_fraction > 0:
        labels[rng.random(labels.shape) < missing_fraction] = np.nan
    return MoleculeSet(list(seen), labels, list(BUILTIN_TASKS[kind]))
