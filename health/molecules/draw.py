"""Per-atom attributions of a molecule prediction, drawn on the molecule with RDKit.

An atom's attribution is gradient x input on its feature row: how much the predicted value
for one task moves, to first order, with that atom's features. Positive (green in the picture)
atoms push the prediction up, negative (pink) ones down. It is a cheap, local explanation
(like Grad-CAM for images), not a causal one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from common.atomic import staged
from health.molecules.graphs import batch_graphs, parse_smiles


def atom_attributions(task: Any, smiles: str, target: str | int | None = None) -> dict[str, Any]:
    """``{"smiles", "task", "prediction", "attributions"}``: one value per heavy atom, in the
    SMILES' atom order, for task ``target`` (a name or index; default the first task)."""
    tasks = list(task.tasks)
    if target is None:
        index = 0
    elif isinstance(target, str):
        if target not in tasks:
            raise ValueError(f"unknown task {target!r}; the model predicts {tasks}")
        index = tasks.index(target)
    else:
        index = int(target)
        if not 0 <= index < len(tasks):
            raise ValueError(f"task index {index} out of range for {len(tasks)} task(s)")
    graph = task.molecule_graph(smiles)
    inputs = {k: tf.constant(v) for k, v in batch_graphs([graph]).items()}
    with tf.GradientTape() as tape:
        tape.watch(inputs["atom_features"])
        output = task.model(inputs, training=False)[0, index]
    gradient = tape.gradient(output, inputs["atom_features"])
    per_atom = tf.reduce_sum(gradient * inputs["atom_features"], -1)[0].numpy()
    prediction = float(task.graph_outputs([graph])[0, index])
    return {
        "smiles": smiles,
        "task": tasks[index],
        "prediction": prediction,
        "attributions": per_atom[: graph.num_atoms].astype(np.float64),
    }


def draw_attributions(
    task: Any,
    smiles: str,
    path: str | os.PathLike,
    target: str | int | None = None,
    size: int = 400,
) -> dict[str, Any]:
    """Write a PNG of the molecule with its atoms shaded by attribution (RDKit similarity
    map); returns ``atom_attributions`` plus the ``path``."""
    from rdkit.Chem.Draw import SimilarityMaps, rdMolDraw2D

    result = atom_attributions(task, smiles, target)
    mol = parse_smiles(smiles, task.config.max_atoms)
    weights = result["attributions"]
    scale = float(np.abs(weights).max()) or 1.0
    drawer = rdMolDraw2D.MolDraw2DCairo(size, size)
    SimilarityMaps.GetSimilarityMapFromWeights(
        mol, [float(w) / scale for w in weights], draw2d=drawer, colorMap="PiYG"
    )
    drawer.FinishDrawing()
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"attribution pictures are PNG files, got {path.name!r}")
    with staged(path) as staging:
        staging.write_bytes(drawer.GetDrawingText())
    return {**result, "path": str(path)}
