"""SMILES -> molecular graph tensors (RDKit): atom features, bond features, edge index, masks.

This is the model's input contract, in Python and in the SavedModel (TF Serving cannot run
RDKit, so the export takes these tensors and ``featurize`` builds them):

- ``atom_features`` float32 ``[batch, atoms, ATOM_FEATURES]``: one-hot element, degree, formal
  charge, chirality, hydrogen count, hybridisation, aromaticity, ring membership, mass / 100.
- ``bond_features`` float32 ``[batch, edges, BOND_FEATURES]``: one-hot bond type, conjugated,
  in ring, stereo. Each bond appears twice, as two directed edges ``2k`` (a -> b) and
  ``2k + 1`` (b -> a), so the reverse of edge ``e`` is ``e ^ 1`` (what D-MPNN messages need).
- ``edge_index`` int32 ``[batch, edges, 2]``: (source atom, target atom) of each directed edge,
  indices within the molecule; padding edges point at atom 0 and are masked.
- ``atom_mask`` / ``bond_mask`` float32 ``[batch, atoms]`` / ``[batch, edges]``: 1 for real
  atoms / edges, 0 for padding.
- ``molecule_features`` float32 ``[batch, MOLECULE_FEATURES]``: whole-molecule RDKit
  descriptors (weight, logP, polar surface area, H-bond donors / acceptors, ...; ``DESCRIPTORS``)
  divided by fixed typical scales, a small fixed-scale version of chemprop's ``rdkit_2d``.
- ``rdkit_2d_features`` float32 ``[batch, RDKIT_2D_FEATURES]``, only for models configured with
  ``molecule_features="rdkit_2d"`` (``featurize(..., rdkit_2d=True)``): every RDKit 2D
  descriptor of ``rdkit.Chem.Descriptors`` (``RDKIT_2D_NAMES``), raw: non-finite values become 0
  and magnitudes clip at 1e6. The model itself scales them with statistics fitted on its
  training molecules (``health.molecules.model.DescriptorScaler``), so callers send raw values.

Atoms are heavy atoms in the order RDKit parses the SMILES (hydrogens are a feature), so the
same SMILES always gives the same arrays; the model is invariant to atom order anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from rdkit import Chem, RDLogger
from rdkit.Chem import Descriptors, rdMolDescriptors

# Input names of the exported signature, in this order: serving/molecules.py owns them (the
# server and clients recognise a molecule model by them without importing RDKit).
from serving.molecules import GRAPH_INPUTS as GRAPH_INPUTS
from serving.molecules import RDKIT_2D_INPUT as RDKIT_2D_INPUT

# Parse failures are reported by us, one clear sentence each, not on RDKit's stderr.
RDLogger.DisableLog("rdApp.*")  # type: ignore[attr-defined]

#: Molecules with more heavy atoms than this are refused (a typo or a polymer, not a drug).
DEFAULT_MAX_ATOMS = 150

ELEMENTS = tuple(
    "C N O S F Si P Cl Br Mg Na Ca Fe As Al I B V K Tl Yb Sb Sn Ag Pd Co Se Ti Zn H Li Ge Cu Au "
    "Ni Cd In Mn Zr Cr Pt Hg Pb".split()
)
DEGREES = (0, 1, 2, 3, 4, 5)
CHARGES = (-2, -1, 0, 1, 2)
CHIRALITY = (
    Chem.ChiralType.CHI_UNSPECIFIED,
    Chem.ChiralType.CHI_TETRAHEDRAL_CW,
    Chem.ChiralType.CHI_TETRAHEDRAL_CCW,
)
HYDROGENS = (0, 1, 2, 3, 4)
HYBRIDISATION = (
    Chem.HybridizationType.SP,
    Chem.HybridizationType.SP2,
    Chem.HybridizationType.SP3,
    Chem.HybridizationType.SP3D,
    Chem.HybridizationType.SP3D2,
)
BOND_TYPES = (
    Chem.BondType.SINGLE,
    Chem.BondType.DOUBLE,
    Chem.BondType.TRIPLE,
    Chem.BondType.AROMATIC,
)
STEREO = (
    Chem.BondStereo.STEREONONE,
    Chem.BondStereo.STEREOANY,
    Chem.BondStereo.STEREOZ,
    Chem.BondStereo.STEREOE,
    Chem.BondStereo.STEREOCIS,
    Chem.BondStereo.STEREOTRANS,
)
# Each one-hot group has one extra "other" slot.
ATOM_FEATURES = (
    sum(len(g) + 1 for g in (ELEMENTS, DEGREES, CHARGES, CHIRALITY, HYDROGENS, HYBRIDISATION)) + 3
)
BOND_FEATURES = len(BOND_TYPES) + 1 + 2 + len(STEREO) + 1
#: (name, function of the molecule, typical scale it is divided by).
DESCRIPTORS: tuple[tuple[str, Any, float], ...] = (
    ("molecular_weight", rdMolDescriptors.CalcExactMolWt, 500.0),
    ("logp", lambda mol: rdMolDescriptors.CalcCrippenDescriptors(mol)[0], 5.0),
    ("molar_refractivity", lambda mol: rdMolDescriptors.CalcCrippenDescriptors(mol)[1], 100.0),
    ("polar_surface_area", rdMolDescriptors.CalcTPSA, 100.0),
    ("labute_surface_area", rdMolDescriptors.CalcLabuteASA, 200.0),
    ("h_bond_donors", rdMolDescriptors.CalcNumHBD, 5.0),
    ("h_bond_acceptors", rdMolDescriptors.CalcNumHBA, 10.0),
    ("rotatable_bonds", rdMolDescriptors.CalcNumRotatableBonds, 10.0),
    ("rings", rdMolDescriptors.CalcNumRings, 5.0),
    ("aromatic_rings", rdMolDescriptors.CalcNumAromaticRings, 5.0),
    ("fraction_sp3", rdMolDescriptors.CalcFractionCSP3, 1.0),
    ("heavy_atoms", lambda mol: mol.GetNumHeavyAtoms(), 50.0),
    ("heteroatoms", rdMolDescriptors.CalcNumHeteroatoms, 10.0),
    ("formal_charge", Chem.GetFormalCharge, 1.0),
    ("charged_atoms", lambda mol: sum(a.GetFormalCharge() != 0 for a in mol.GetAtoms()), 2.0),
    ("fragments", lambda mol: len(Chem.GetMolFrags(mol)), 2.0),
)
MOLECULE_FEATURES = len(DESCRIPTORS)
#: The RDKit 2D descriptors of ``rdkit_2d_features``, in order (this RDKit's full list; a
#: model stores the names it was trained with and refuses an RDKit whose list differs).
RDKIT_2D: tuple[tuple[str, Any], ...] = tuple(Descriptors._descList)
RDKIT_2D_NAMES: tuple[str, ...] = tuple(name for name, _ in RDKIT_2D)
RDKIT_2D_FEATURES = len(RDKIT_2D)
#: Raw descriptor magnitudes clip here (a few, e.g. Ipc, reach 1e20 and would overflow).
RDKIT_2D_CLIP = 1e6


class InvalidSmilesError(ValueError):
    """A SMILES string RDKit cannot parse, an empty one, or a molecule over ``max_atoms``."""


@dataclass(frozen=True)
class MoleculeGraph:
    """One molecule: ``atoms`` [N, ATOM_FEATURES], ``bonds`` [E, BOND_FEATURES], ``edges``
    [E, 2] (E = 2 x bonds, reverse pairs adjacent), ``descriptors`` [MOLECULE_FEATURES], the
    canonical SMILES and, when asked for, the raw ``rdkit_2d`` descriptors
    [RDKIT_2D_FEATURES]."""

    atoms: np.ndarray
    bonds: np.ndarray
    edges: np.ndarray
    descriptors: np.ndarray
    smiles: str
    rdkit_2d: np.ndarray | None = None

    @property
    def num_atoms(self) -> int:
        return int(self.atoms.shape[0])


def _one_hot(value: object, choices: Sequence[object]) -> list[float]:
    row = [0.0] * (len(choices) + 1)
    row[choices.index(value) if value in choices else len(choices)] = 1.0
    return row


def atom_features(atom: Chem.Atom) -> list[float]:
    """The ATOM_FEATURES values of one RDKit atom (chemprop's choice of features)."""
    return [
        *_one_hot(atom.GetSymbol(), ELEMENTS),
        *_one_hot(atom.GetTotalDegree(), DEGREES),
        *_one_hot(atom.GetFormalCharge(), CHARGES),
        *_one_hot(atom.GetChiralTag(), CHIRALITY),
        *_one_hot(atom.GetTotalNumHs(), HYDROGENS),
        *_one_hot(atom.GetHybridization(), HYBRIDISATION),
        float(atom.GetIsAromatic()),
        float(atom.IsInRing()),
        atom.GetMass() / 100.0,
    ]


def bond_features(bond: Chem.Bond) -> list[float]:
    """The BOND_FEATURES values of one RDKit bond."""
    return [
        *_one_hot(bond.GetBondType(), BOND_TYPES),
        float(bond.GetIsConjugated()),
        float(bond.IsInRing()),
        *_one_hot(bond.GetStereo(), STEREO),
    ]


def molecule_features(mol: Chem.Mol) -> np.ndarray:
    """The scaled DESCRIPTORS of a molecule (non-finite values become 0, extremes clip at 10)."""
    values = np.array([fn(mol) / scale for _, fn, scale in DESCRIPTORS], np.float64)
    return np.clip(np.nan_to_num(values, nan=0.0, posinf=10.0, neginf=-10.0), -10, 10).astype(
        np.float32
    )


def rdkit_2d_features(mol: Chem.Mol) -> np.ndarray:
    """Every RDKit 2D descriptor of a molecule (``RDKIT_2D_NAMES``), raw: a descriptor that
    fails or is not finite becomes 0, magnitudes clip at ``RDKIT_2D_CLIP``."""
    values = np.zeros(RDKIT_2D_FEATURES, np.float64)
    for i, (_, fn) in enumerate(RDKIT_2D):
        try:
            values[i] = float(fn(mol))
        except Exception:  # noqa: BLE001 - RDKit raises assorted errors on odd molecules
            values[i] = 0.0
    values = np.nan_to_num(values, nan=0.0, posinf=RDKIT_2D_CLIP, neginf=-RDKIT_2D_CLIP)
    return np.clip(values, -RDKIT_2D_CLIP, RDKIT_2D_CLIP).astype(np.float32)


def parse_smiles(smiles: object, max_atoms: int = DEFAULT_MAX_ATOMS) -> Chem.Mol:
    """An RDKit molecule, or ``InvalidSmilesError`` saying why not."""
    if not isinstance(smiles, str):
        raise InvalidSmilesError(f"a SMILES must be a string, got {type(smiles).__name__}")
    if not smiles.strip():
        raise InvalidSmilesError("empty SMILES string")
    mol = Chem.MolFromSmiles(smiles.strip())
    if mol is None:
        raise InvalidSmilesError(f"RDKit cannot parse the SMILES {smiles[:80]!r}")
    if mol.GetNumAtoms() == 0:
        raise InvalidSmilesError(f"the SMILES {smiles[:80]!r} has no atoms")
    if mol.GetNumAtoms() > max_atoms:
        raise InvalidSmilesError(
            f"the molecule {smiles[:40]!r}... has {mol.GetNumAtoms()} heavy atoms, more than "
            f"max_atoms={max_atoms}"
        )
    return mol


def molecule_graph(
    smiles: object, max_atoms: int = DEFAULT_MAX_ATOMS, rdkit_2d: bool = False
) -> MoleculeGraph:
    """One SMILES -> its ``MoleculeGraph`` (``InvalidSmilesError`` if it does not parse); with
    ``rdkit_2d``, also its raw RDKit 2D descriptors."""
    mol = parse_smiles(smiles, max_atoms)
    atoms = np.array([atom_features(a) for a in mol.GetAtoms()], np.float32)
    bonds, edges = [], []
    for bond in mol.GetBonds():
        a, b = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        features = bond_features(bond)
        bonds += [features, features]
        edges += [(a, b), (b, a)]
    return MoleculeGraph(
        atoms=atoms,
        bonds=np.array(bonds, np.float32).reshape(-1, BOND_FEATURES),
        edges=np.array(edges, np.int32).reshape(-1, 2),
        descriptors=molecule_features(mol),
        smiles=Chem.MolToSmiles(mol),
        rdkit_2d=rdkit_2d_features(mol) if rdkit_2d else None,
    )


def batch_graphs(graphs: Sequence[MoleculeGraph]) -> dict[str, np.ndarray]:
    """Pad graphs to the batch's largest molecule -> the six GRAPH_INPUTS arrays, and
    ``rdkit_2d_features`` when the graphs carry RDKit 2D descriptors."""
    if not graphs:
        raise ValueError("no molecules to batch")
    n = max(1, max(g.num_atoms for g in graphs))
    e = max(2, max(len(g.edges) for g in graphs))
    out = {
        "atom_features": np.zeros((len(graphs), n, ATOM_FEATURES), np.float32),
        "bond_features": np.zeros((len(graphs), e, BOND_FEATURES), np.float32),
        "edge_index": np.zeros((len(graphs), e, 2), np.int32),
        "atom_mask": np.zeros((len(graphs), n), np.float32),
        "bond_mask": np.zeros((len(graphs), e), np.float32),
        "molecule_features": np.stack([g.descriptors for g in graphs]),
    }
    with_2d = [g.rdkit_2d is not None for g in graphs]
    if any(with_2d):
        if not all(with_2d):
            raise ValueError("either every graph of a batch carries RDKit 2D descriptors or none")
        out[RDKIT_2D_INPUT] = np.stack([g.rdkit_2d for g in graphs])  # type: ignore[misc]
    for i, g in enumerate(graphs):
        out["atom_features"][i, : g.num_atoms] = g.atoms
        out["atom_mask"][i, : g.num_atoms] = 1.0
        out["bond_features"][i, : len(g.edges)] = g.bonds
        out["edge_index"][i, : len(g.edges)] = g.edges
        out["bond_mask"][i, : len(g.edges)] = 1.0
    return out


def featurize(
    smiles: str | Sequence[str], max_atoms: int = DEFAULT_MAX_ATOMS, rdkit_2d: bool = False
) -> dict[str, np.ndarray]:
    """SMILES (one string or a list) -> the padded graph tensors the exported model takes.

    ``rdkit_2d=True`` adds ``rdkit_2d_features`` (raw RDKit 2D descriptors), the seventh input
    of a model configured with ``molecule_features="rdkit_2d"``.

    Every SMILES must parse: the first that does not raises ``InvalidSmilesError`` naming its
    position. Use ``featurize_valid`` to skip bad ones and get them reported instead.
    """
    items = [smiles] if isinstance(smiles, str) else list(smiles)
    if not items:
        raise ValueError("featurize needs at least one SMILES")
    graphs = []
    for i, item in enumerate(items):
        try:
            graphs.append(molecule_graph(item, max_atoms, rdkit_2d))
        except InvalidSmilesError as error:
            where = f"SMILES #{i}: " if len(items) > 1 else ""
            raise InvalidSmilesError(f"{where}{error}") from None
    return batch_graphs(graphs)


@dataclass(frozen=True)
class Featurized:
    """What ``featurize_valid`` returns: the graphs that parsed, their positions in the input,
    and ``(position, smiles, reason)`` for each that did not."""

    graphs: list[MoleculeGraph]
    kept: np.ndarray
    invalid: list[tuple[int, str, str]]


def featurize_valid(
    smiles: Sequence[object], max_atoms: int = DEFAULT_MAX_ATOMS, rdkit_2d: bool = False
) -> Featurized:
    """Featurise each SMILES, skipping (and listing) the ones that do not parse."""
    graphs, kept, invalid = [], [], []
    for i, item in enumerate(smiles):
        try:
            graphs.append(molecule_graph(item, max_atoms, rdkit_2d))
            kept.append(i)
        except InvalidSmilesError as error:
            invalid.append((i, str(item), str(error)))
    return Featurized(graphs, np.array(kept, np.int64), invalid)
