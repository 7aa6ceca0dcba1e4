"""SMILES in, for models that take molecular graphs (``health.MoleculePropertyPredictor``).

TF Serving cannot run RDKit, so a molecule model's SavedModel takes padded graph tensors,
the six inputs named in ``GRAPH_INPUTS`` (plus ``rdkit_2d_features`` for a model trained with
RDKit 2D descriptors); a signature with exactly those inputs is the marker.
For such a model the embedded server's REST API and both clients also accept SMILES and
featurise them with ``health.molecules.featurize`` (RDKit) before calling the graph:

    POST /v1/models/bbbp:predict  {"inputs": {"smiles": ["CCO", "c1ccccc1O"]}}
    POST /v1/models/bbbp:predict  {"instances": ["CCO", "c1ccccc1O"]}
    Client(url).predict("bbbp", ["CCO", "c1ccccc1O"])   # or {"smiles": [...]}

Against stock TF Serving, use the clients (they featurise on the caller's side) or send the
graph tensors yourself. A SMILES that does not parse is an ``InvalidArgument`` (HTTP 400).

The featuriser is looked up when such a request arrives, so ``serving`` itself imports no
domain package (and needs RDKit only for molecule models).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from serving.errors import InvalidArgument

#: The inputs of a molecular-graph signature, in order (health.molecules.graphs exports them).
GRAPH_INPUTS = (
    "atom_features",
    "bond_features",
    "edge_index",
    "atom_mask",
    "bond_mask",
    "molecule_features",
)
#: The optional seventh input: raw RDKit 2D descriptors (``molecule_features="rdkit_2d"``).
RDKIT_2D_INPUT = "rdkit_2d_features"
SMILES_INPUT = "smiles"


def expects_graphs(input_names: Iterable[str]) -> bool:
    """True when a signature's inputs are exactly the molecular-graph tensors (with or without
    ``rdkit_2d_features``)."""
    names = set(input_names)
    return names in (set(GRAPH_INPUTS), {*GRAPH_INPUTS, RDKIT_2D_INPUT})


def featurize_smiles(
    smiles: Any, input_names: Iterable[str] = GRAPH_INPUTS
) -> dict[str, np.ndarray]:
    """A list of SMILES -> the graph tensors the signature with ``input_names`` takes
    (``InvalidArgument`` naming a bad SMILES)."""
    if isinstance(smiles, str):
        smiles = [smiles]
    if not isinstance(smiles, (list, tuple)) or not smiles:
        raise InvalidArgument("'smiles' must be a non-empty list of SMILES strings")
    if not all(isinstance(s, str) for s in smiles):
        raise InvalidArgument("every 'smiles' value must be a string")
    try:
        from health.molecules.graphs import featurize
    except ImportError as exc:  # RDKit or the health package is not installed here
        raise InvalidArgument(f"this server cannot featurise SMILES ({exc}); send graphs") from None
    try:
        return featurize(list(smiles), rdkit_2d=RDKIT_2D_INPUT in set(input_names))
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from None


def _smiles_of(value: Any) -> list[str] | None:
    """The SMILES a request value carries, or None when it carries none."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping) and set(value) == {SMILES_INPUT}:
        return _smiles_of(value[SMILES_INPUT]) or []
    if isinstance(value, (list, tuple)) and value:
        if all(isinstance(v, str) for v in value):
            return list(value)
        if all(isinstance(v, Mapping) and set(v) == {SMILES_INPUT} for v in value):
            return [v[SMILES_INPUT] for v in value]
    return None


def smiles_request(doc: Any, input_names: Iterable[str]) -> Any:
    """A REST predict body carrying SMILES -> the same body carrying graph tensors (same
    row / columnar format); any other body is returned unchanged."""
    input_names = set(input_names)
    if not isinstance(doc, dict) or not expects_graphs(input_names):
        return doc
    key = "inputs" if "inputs" in doc else "instances"
    smiles = _smiles_of(doc.get(key))
    if smiles is None:
        return doc
    arrays = featurize_smiles(smiles, input_names)
    rest = {k: v for k, v in doc.items() if k not in ("inputs", "instances")}
    if key == "inputs":
        return {**rest, "inputs": {k: v.tolist() for k, v in arrays.items()}}
    rows = [{k: v[i].tolist() for k, v in arrays.items()} for i in range(len(smiles))]
    return {**rest, "instances": rows}


def client_inputs(inputs: Any, input_names: Iterable[str]) -> Any:
    """Client side: SMILES (a string, a list, or ``{"smiles": [...]}``) for a graph model ->
    graph tensors; anything else unchanged."""
    input_names = set(input_names)
    if not expects_graphs(input_names):
        return inputs
    smiles = _smiles_of(inputs)
    return inputs if smiles is None else featurize_smiles(smiles, input_names)
