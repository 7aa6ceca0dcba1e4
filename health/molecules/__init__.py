"""Drug discovery: molecular property prediction from SMILES with a message-passing network.

``MoleculePropertyPredictor`` (D-MPNN, classification / regression, multi-task with missing
labels), ``featurize`` (SMILES -> the padded graph tensors the exported model takes),
``random_split`` / ``scaffold_split``, ``read_molecule_csv`` and the built-in
``make_molecules`` set, ``atom_attributions`` / ``draw_attributions`` (per-atom pictures).

Names are imported lazily: ``import health.molecules`` does not import TensorFlow.
"""

from common.lazy import lazy_exports

#: Public name -> module that defines it (imported on first access).
_EXPORTS = {
    "MoleculePropertyPredictor": "health.molecules.task",
    "MoleculePropertyPredictorConfig": "health.molecules.task",
    "featurize": "health.molecules.graphs",
    "featurize_valid": "health.molecules.graphs",
    "molecule_graph": "health.molecules.graphs",
    "InvalidSmilesError": "health.molecules.graphs",
    "GRAPH_INPUTS": "health.molecules.graphs",
    "random_split": "health.molecules.splits",
    "scaffold_split": "health.molecules.splits",
    "murcko_scaffold": "health.molecules.splits",
    "MoleculeSet": "health.molecules.data",
    "read_molecule_csv": "health.molecules.data",
    "make_molecules": "health.molecules.data",
    "atom_attributions": "health.molecules.draw",
    "draw_attributions": "health.molecules.draw",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
