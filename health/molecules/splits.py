"""Train / validation / test splits of molecule sets: random, and Bemis-Murcko scaffold.

A scaffold split keeps every molecule sharing a Bemis-Murcko scaffold (the ring systems and
the linkers between them) in one part, so the test part holds chemotypes the model never saw:
MoleculeNet's and chemprop's convention for BBBP and friends, and much harder than random.

``scaffold_split`` follows chemprop's "balanced" scaffold split: scaffold groups larger than
half a validation / test part go to training first (so one big family cannot fill the test
part), the rest are shuffled with ``seed`` and dealt out in turn. Different seeds give
different, equally valid splits; the bench averages over three.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
from rdkit import Chem
from rdkit.Chem.Scaffolds import MurckoScaffold

Split = tuple[np.ndarray, np.ndarray, np.ndarray]


def _check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(
            f"fractions must be three non-negative numbers summing to 1, got {fractions}"
        )
    return float(fractions[0]), float(fractions[1]), float(fractions[2])


def murcko_scaffold(smiles: str) -> str:
    """The Bemis-Murcko scaffold SMILES of a molecule ("" for acyclic molecules); a SMILES
    that does not parse is its own group (``"invalid:<smiles>"``)."""
    mol = Chem.MolFromSmiles(smiles) if smiles else None
    if mol is None:
        return f"invalid:{smiles}"
    return MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=False)


def random_split(count: int, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0) -> Split:
    """Shuffled indices cut into train / validation / test by ``fractions``."""
    train_f, val_f, _ = _check_fractions(fractions)
    order = np.random.default_rng(seed).permutation(count)
    n_train, n_val = int(round(train_f * count)), int(round(val_f * count))
    return order[:n_train], order[n_train : n_train + n_val], order[n_train + n_val :]


def scaffold_split(
    smiles: Sequence[str], fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0
) -> Split:
    """Indices of train / validation / test with no Bemis-Murcko scaffold in two parts."""
    train_f, val_f, test_f = _check_fractions(fractions)
    groups: dict[str, list[int]] = defaultdict(list)
    for index, item in enumerate(smiles):
        groups[murcko_scaffold(item)].append(index)
    n = len(smiles)
    sizes = (train_f * n, val_f * n, test_f * n)
    sets = list(groups.values())
    big = [s for s in sets if len(s) > sizes[1] / 2 or len(s) > sizes[2] / 2]
    small = [s for s in sets if not (len(s) > sizes[1] / 2 or len(s) > sizes[2] / 2)]
    rng = np.random.default_rng(seed)
    rng.shuffle(big)  # type: ignore[arg-type]
    rng.shuffle(small)  # type: ignore[arg-type]
    parts: tuple[list[int], list[int], list[int]] = ([], [], [])
    for group in big + small:
        if len(parts[0]) + len(group) <= sizes[0]:
            parts[0].extend(group)
        elif len(parts[1]) + len(group) <= sizes[1]:
            parts[1].extend(group)
        else:
            parts[2].extend(group)
    return tuple(np.array(sorted(p), np.int64) for p in parts)  # type: ignore[return-value]
