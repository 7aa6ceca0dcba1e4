"""``health.MoleculePropertyPredictor``: SMILES in, molecular properties out, with a D-MPNN.

One model predicts one or more properties (``tasks``) of a molecule: ``classification``
(sigmoid per task: blood-brain-barrier penetration, toxicity assays) reported as ROC-AUC and
PR-AUC, or ``regression`` (solubility, lipophilicity) reported as RMSE and MAE, with targets
standardised for training. Labels may be missing (NaN) per task; losses and metrics skip them.

SMILES that RDKit cannot parse (or empty ones, or molecules over ``max_atoms``) are skipped by
``fit`` and ``evaluate`` and reported: ``evaluate`` returns ``num_invalid`` and the list beside
the metrics, and ``invalid_smiles`` holds what the last ``fit`` skipped. ``predict`` raises a
``ValueError`` naming the bad input instead.

Export: TF Serving cannot run RDKit, so the SavedModel takes the padded graph tensors of
``health.molecules.featurize`` (see ``health.molecules.graphs``) and returns
``probabilities`` (classification) or ``values`` (regression), ``[batch, tasks]``.

``molecule_features="rdkit_2d"`` adds chemprop-style whole-molecule features: every RDKit 2D
descriptor (~200), clipped at the 0.5 / 99.5 percentiles and standardised with statistics
fitted on the training molecules only (kept in the task state and as model weights), joined
to the readout. Such a model's export takes a seventh input, ``rdkit_2d_features`` (raw
descriptors: ``featurize(smiles, rdkit_2d=True)``); the server and clients add it for SMILES.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterator, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from sklearn.metrics import average_precision_score, roc_auc_score

from common.config_checks import check_at_least, check_choice, check_interval
from common.optimizers import make_optimizer
from common.task import Task, TaskConfig, TrainingHistory
from health.molecules.data import MoleculeSet, read_molecule_csv
from health.molecules.graphs import (
    ATOM_FEATURES,
    BOND_FEATURES,
    MOLECULE_FEATURES,
    RDKIT_2D_FEATURES,
    RDKIT_2D_INPUT,
    RDKIT_2D_NAMES,
    InvalidSmilesError,
    MoleculeGraph,
    batch_graphs,
    featurize,
    featurize_valid,
    molecule_graph,
)
from health.molecules.metrics import MaskedAUC
from health.molecules.model import (
    READOUTS,
    MaskedBinaryCrossentropy,
    MaskedMeanSquaredError,
    build_ensemble,
    build_mpnn,
    descriptor_scalers,
)

log = logging.getLogger(__name__)
TASK_TYPES = ("classification", "regression")
#: ``basic``: the 16 fixed-scale descriptors only; ``rdkit_2d``: also every RDKit 2D one.
MOLECULE_FEATURE_SETS = ("basic", "rdkit_2d")
#: Training-set percentiles the RDKit 2D descriptors are clipped at before standardising.
RDKIT_2D_PERCENTILES = (0.5, 99.5)


@dataclasses.dataclass
class MoleculePropertyPredictorConfig(TaskConfig):
    """Options of ``MoleculePropertyPredictor``: label columns, the D-MPNN's size, training."""

    tasks: list[str] = dataclasses.field(default_factory=lambda: ["label"])
    task_type: str = "classification"
    smiles_column: str = "smiles"
    hidden: int = 128
    depth: int = 3
    readout: str = "attention"
    ffn_hidden: int = 128
    dropout: float = 0.1
    max_atoms: int = 150
    threshold: float = 0.5
    learning_rate: float = 1e-3
    weight_decay: float = 1e-5
    batch_size: int = 32
    seed: int = 0
    molecule_features: str = "basic"
    ensemble_size: int = 1

    def validate(self) -> None:
        if isinstance(self.tasks, str):
            self.tasks = [self.tasks]
        self.tasks = [str(t) for t in self.tasks]
        if not self.tasks or len(set(self.tasks)) != len(self.tasks):
            raise ValueError(f"tasks must be distinct label names (at least one), got {self.tasks}")
        check_choice("task_type", self.task_type, TASK_TYPES)
        check_choice("readout", self.readout, READOUTS)
        check_choice("molecule_features", self.molecule_features, MOLECULE_FEATURE_SETS)
        check_at_least(
            self, 1, "hidden", "depth", "ffn_hidden", "max_atoms", "batch_size", "ensemble_size"
        )
        check_interval("dropout", self.dropout, 0.0, 1.0, "[)")
        check_interval("threshold", self.threshold, 0.0, 1.0, "()")


class MoleculePropertyPredictor(Task):
    """Molecular property prediction following the dlsuite task contract (docs/design.md)."""

    config_class = MoleculePropertyPredictorConfig
    config: MoleculePropertyPredictorConfig

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._mean = np.zeros(len(self.tasks), np.float32)
        self._std = np.ones(len(self.tasks), np.float32)
        #: RDKit 2D descriptor statistics of the training molecules (``rdkit_2d`` only).
        self._rdkit_2d: dict[str, Any] | None = None
        #: Each ensemble member's training history (``ensemble_size`` > 1).
        self.member_histories: list[dict[str, list[float]]] = []
        #: ``(position, smiles, reason)`` of each SMILES the last ``fit`` skipped.
        self.invalid_smiles: list[tuple[int, str, str]] = []

    @property  # type: ignore[misc]
    def monitor(self) -> str:  # type: ignore[override]
        """Early stopping watches validation ROC-AUC (classification) or loss (regression)."""
        return "val_auc" if self.classification else "val_loss"

    @property
    def tasks(self) -> list[str]:
        return self.config.tasks

    @property
    def classification(self) -> bool:
        return self.config.task_type == "classification"

    @property
    def uses_rdkit_2d(self) -> bool:
        return self.config.molecule_features == "rdkit_2d"

    def molecule_graph(self, smiles: object) -> MoleculeGraph:
        """One SMILES -> the graph this model takes (``InvalidSmilesError`` if it fails)."""
        return molecule_graph(smiles, self.config.max_atoms, self.uses_rdkit_2d)

    # ------------------------------------------------------------------ state
    def get_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "target_mean": self._mean.tolist(),
            "target_std": self._std.tolist(),
        }
        if self._rdkit_2d is not None:
            state["rdkit_2d"] = self._rdkit_2d
        return state

    def set_state(self, state: Any) -> None:
        k = len(self.tasks)
        self._mean = np.asarray(state.get("target_mean", [0.0] * k), np.float32)
        self._std = np.asarray(state.get("target_std", [1.0] * k), np.float32)
        self._rdkit_2d = state.get("rdkit_2d")
        if self._rdkit_2d is not None and tuple(self._rdkit_2d["names"]) != RDKIT_2D_NAMES:
            raise ValueError(
                "this model was trained on another RDKit's 2D descriptor list "
                f"({len(self._rdkit_2d['names'])} descriptors, this RDKit has "
                f"{RDKIT_2D_FEATURES}); featurise with the RDKit it was trained with"
            )
        self.invalid_smiles = []
        self.member_histories = []

    def fit_rdkit_2d(self, graphs: Sequence[MoleculeGraph]) -> dict[str, Any]:
        """Fit the RDKit 2D descriptor statistics on (training) graphs: per descriptor, clip
        bounds at the RDKIT_2D_PERCENTILES and the mean / std of the clipped values; kept in
        the state and set in the model."""
        raw = np.stack([g.rdkit_2d for g in graphs]).astype(np.float64)  # type: ignore[misc]
        low, high = np.percentile(raw, RDKIT_2D_PERCENTILES, axis=0)
        clipped = np.clip(raw, low, high)
        std = clipped.std(0)
        self._rdkit_2d = {
            "names": list(RDKIT_2D_NAMES),
            "low": low.tolist(),
            "high": high.tolist(),
            "mean": clipped.mean(0).tolist(),
            "std": np.where(std > 1e-6, std, 1.0).tolist(),
        }
        if self._model is not None:
            self._set_scaler(self._model)
        return self._rdkit_2d

    def _set_scaler(self, model: keras.Model) -> None:
        if self._rdkit_2d is not None:
            for scaler in descriptor_scalers(model):
                scaler.set_statistics(self._rdkit_2d)

    # ------------------------------------------------------------------ model
    def build_model(self) -> keras.Model:
        c = self.config
        features = RDKIT_2D_FEATURES if self.uses_rdkit_2d else 0

        def member(k: int, name: str) -> keras.Model:
            keras.utils.set_random_seed(c.seed + k)
            return build_mpnn(
                len(c.tasks),
                hidden=c.hidden,
                depth=c.depth,
                readout=c.readout,
                ffn_hidden=c.ffn_hidden,
                dropout=c.dropout,
                activation="sigmoid" if self.classification else None,
                rdkit_2d_features=features,
                name=name,
            )

        if c.ensemble_size == 1:
            model = member(0, "mpnn")
        else:
            members = [member(k, f"member_{k}") for k in range(c.ensemble_size)]
            model = build_ensemble(members, features)
        self._set_scaler(model)
        return model

    def fit(  # type: ignore[override]
        self, data: Any, validation_data: Any = None, epochs: int = 10, **options: Any
    ) -> TrainingHistory:
        """``Task.fit``; with ``ensemble_size`` N > 1, N members (seeds ``seed``, ``seed + 1``,
        ...: own initialisation and batch order) are trained one after another, each exactly
        as a single model with its own early stopping, then joined into one model that
        averages their outputs. ``member_histories`` keeps each member's history; the last
        one is returned. Checkpointed training (``work_dir`` / ``resume``) needs N = 1."""
        n = self.config.ensemble_size
        if n == 1:
            return super().fit(data, validation_data, epochs, **options)
        if options.get("work_dir") is not None or options.get("resume"):
            raise ValueError(
                "work_dir / resume checkpoints are not supported with ensemble_size > 1 "
                "(members train one after another in memory); train with ensemble_size=1"
            )
        members, histories = [], []
        for k in range(n):
            member = type(self)(
                **{**self.config.to_dict(), "ensemble_size": 1, "seed": self.config.seed + k}
            )
            history = member.fit(data, validation_data, epochs, **options)
            members.append(member)
            histories.append(member.history)
        self.set_state(members[0].get_state())  # the same training molecules: the same state
        self.invalid_smiles, self.member_histories = members[0].invalid_smiles, histories
        model = self.build_model()
        for k, member in enumerate(members):
            model.get_layer(f"member_{k}").set_weights(member.model.get_weights())
        self._model, self._strategy = model, None
        self.history = {
            f"member_{k}_{key}": values
            for k, member_history in enumerate(self.member_histories)
            for key, values in member_history.items()
        }
        return history

    def compile_model(self, model: keras.Model, total_steps: int) -> None:
        c = self.config
        optimizer = make_optimizer(
            c.learning_rate, c.weight_decay, total_steps=total_steps, warmup_steps=0
        )
        if self.classification:
            model.compile(
                optimizer=optimizer,
                loss=MaskedBinaryCrossentropy(),
                metrics=[MaskedAUC(num_labels=len(c.tasks), name="auc")],
            )
        else:
            model.compile(optimizer=optimizer, loss=MaskedMeanSquaredError())

    # ------------------------------------------------------------------ data
    def molecule_set(self, data: Any) -> MoleculeSet:
        """A MoleculeSet, a CSV path (the config's SMILES and task columns) or a
        ``(smiles, labels)`` pair -> a checked MoleculeSet."""
        if isinstance(data, (str, os.PathLike)):
            return read_molecule_csv(data, self.tasks, self.config.smiles_column)
        if isinstance(data, MoleculeSet):
            smiles, labels = data.smiles, data.labels
        elif isinstance(data, (tuple, list)) and len(data) == 2:
            smiles, labels = list(data[0]), data[1]
        else:
            raise ValueError(
                "molecule data must be a CSV path, a MoleculeSet or (smiles, labels), "
                f"got {type(data).__name__}"
            )
        labels = np.asarray(labels, np.float32)
        if labels.ndim == 1:
            labels = labels[:, None]
        if labels.ndim != 2 or labels.shape != (len(smiles), len(self.tasks)):
            raise ValueError(
                f"need labels of shape ({len(smiles)}, {len(self.tasks)}) for {len(smiles)} "
                f"SMILES and tasks {self.tasks}, got {labels.shape}"
            )
        if not len(smiles):
            raise ValueError("the molecule data is empty")
        if self.classification:
            known = labels[~np.isnan(labels)]
            if not np.isin(known, (0.0, 1.0)).all():
                raise ValueError("classification labels must be 0, 1 or NaN (missing)")
        return MoleculeSet(list(smiles), labels, list(self.tasks))

    def featurized(self, data: Any) -> tuple[list[MoleculeGraph], np.ndarray, list[Any]]:
        """Graphs of the molecules that parse, their labels and the invalid ones (reported)."""
        molecules = self.molecule_set(data)
        result = featurize_valid(molecules.smiles, self.config.max_atoms, self.uses_rdkit_2d)
        if result.invalid:
            log.warning(
                "skipping %d of %d SMILES that do not parse (first: %s)",
                len(result.invalid),
                len(molecules),
                result.invalid[0][2],
            )
        if not result.graphs:
            raise ValueError(f"none of the {len(molecules)} SMILES could be parsed")
        return result.graphs, molecules.labels[result.kept], result.invalid

    def make_dataset(self, data: Any, batch_size: int, training: bool) -> tf.data.Dataset:
        if isinstance(data, tf.data.Dataset):
            return data
        graphs, labels, invalid = self.featurized(data)
        if training:
            self.invalid_smiles = invalid
            if self.uses_rdkit_2d:
                self.fit_rdkit_2d(graphs)
            if not self.classification:
                self._mean = np.nan_to_num(np.nanmean(labels, 0)).astype(np.float32)
                std = np.nan_to_num(np.nanstd(labels, 0), nan=1.0)
                self._std = np.where(std > 1e-6, std, 1.0).astype(np.float32)
        if not self.classification:
            labels = (labels - self._mean) / self._std
        rng = np.random.default_rng(self.config.seed)
        count = -(-len(graphs) // batch_size)

        def batches() -> Iterator[tuple[dict[str, np.ndarray], np.ndarray]]:
            for rows in _size_batches(graphs, batch_size, rng if training else None):
                yield batch_graphs([graphs[i] for i in rows]), labels[rows]

        specs = self._graph_specs()
        signature = (
            {spec.name: spec for spec in specs},
            tf.TensorSpec((None, len(self.tasks)), tf.float32),
        )
        dataset = tf.data.Dataset.from_generator(batches, output_signature=signature)
        return dataset.apply(tf.data.experimental.assert_cardinality(count)).prefetch(2)

    # ------------------------------------------------------------------ inference
    def graph_outputs(self, graphs: Sequence[MoleculeGraph], batch_size: int = 64) -> np.ndarray:
        """``[N, tasks]`` probabilities (classification) or values (regression), input order."""
        out = np.zeros((len(graphs), len(self.tasks)), np.float32)
        for rows in _size_batches(graphs, batch_size, None):
            batch = batch_graphs([graphs[i] for i in rows])
            out[rows] = np.asarray(self.model(batch, training=False))
        return out if self.classification else out * self._std + self._mean

    def is_single_input(self, inputs: Any) -> bool:
        """One SMILES is a string; a list of strings is a batch."""
        return isinstance(inputs, str)

    def _graphs(self, items: Sequence[Any]) -> list[MoleculeGraph]:
        graphs = []
        for i, item in enumerate(items):
            try:
                graphs.append(self.molecule_graph(item))
            except InvalidSmilesError as error:
                where = f"input #{i}: " if len(items) > 1 else ""
                raise InvalidSmilesError(f"{where}{error}") from None
        return graphs

    def predict_proba(self, inputs: Any, batch_size: int = 64) -> np.ndarray:
        """``[N, tasks]`` probabilities (or values, for regression) for SMILES."""
        items = [inputs] if self.is_single_input(inputs) else list(inputs)
        if not items:
            raise ValueError("predict needs at least one SMILES")
        return self.graph_outputs(self._graphs(items), batch_size)

    def predict_batch(  # type: ignore[override]
        self, items: list[Any], batch_size: int = 64
    ) -> list[dict[str, Any]]:
        """SMILES -> per molecule its canonical ``smiles`` and, per task, ``probabilities`` and
        ``labels`` (at the threshold) or ``values``."""
        graphs = self._graphs(items)
        results = []
        for graph, row in zip(graphs, self.graph_outputs(graphs, batch_size), strict=True):
            result: dict[str, Any] = {"smiles": graph.smiles}
            named = {t: float(v) for t, v in zip(self.tasks, row, strict=True)}
            if self.classification:
                result["probabilities"] = named
                result["labels"] = {t: p >= self.config.threshold for t, p in named.items()}
            else:
                result["values"] = named
            results.append(result)
        return results

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, data: Any, batch_size: int = 64) -> dict[str, Any]:  # type: ignore[override]
        """Per task ROC-AUC and PR-AUC (classification) or RMSE and MAE (regression), their
        means, and how many SMILES were skipped as invalid (``num_invalid``, ``invalid``)."""
        graphs, labels, invalid = self.featurized(data)
        outputs = self.graph_outputs(graphs, batch_size)
        per_task = {t: _task_report(labels[:, k], outputs[:, k], self.classification)
                    for k, t in enumerate(self.tasks)}  # fmt: skip
        report: dict[str, Any] = {
            "num_molecules": len(graphs) + len(invalid),
            "num_evaluated": len(graphs),
            "num_invalid": len(invalid),
            "invalid": [{"index": i, "smiles": s, "reason": r} for i, s, r in invalid],
            "per_task": per_task,
        }
        keys = ("roc_auc", "pr_auc") if self.classification else ("rmse", "mae")
        for key in keys:
            values = [r[key] for r in per_task.values() if np.isfinite(r[key])]
            report[key] = float(np.mean(values)) if values else float("nan")
        return report

    # ------------------------------------------------------------------ export
    def serving_endpoints(self) -> dict[str, Any]:
        mean, std = tf.constant(self._mean), tf.constant(self._std)
        specs = self._graph_specs()

        def run(inputs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
            out = self.model(inputs, training=False)
            if self.classification:
                return {"probabilities": out}
            return {"values": out * std + mean}

        def serve(
            atom_features: tf.Tensor,
            bond_features: tf.Tensor,
            edge_index: tf.Tensor,
            atom_mask: tf.Tensor,
            bond_mask: tf.Tensor,
            molecule_features: tf.Tensor,
        ) -> dict[str, tf.Tensor]:
            return run(
                {
                    "atom_features": atom_features,
                    "bond_features": bond_features,
                    "edge_index": edge_index,
                    "atom_mask": atom_mask,
                    "bond_mask": bond_mask,
                    "molecule_features": molecule_features,
                }
            )

        def serve_with_rdkit_2d(
            atom_features: tf.Tensor,
            bond_features: tf.Tensor,
            edge_index: tf.Tensor,
            atom_mask: tf.Tensor,
            bond_mask: tf.Tensor,
            molecule_features: tf.Tensor,
            rdkit_2d_features: tf.Tensor,
        ) -> dict[str, tf.Tensor]:
            return run(
                {
                    "atom_features": atom_features,
                    "bond_features": bond_features,
                    "edge_index": edge_index,
                    "atom_mask": atom_mask,
                    "bond_mask": bond_mask,
                    "molecule_features": molecule_features,
                    RDKIT_2D_INPUT: rdkit_2d_features,
                }
            )

        fn = serve_with_rdkit_2d if self.uses_rdkit_2d else serve
        return {"serving_default": (fn, specs)}

    def warmup_inputs(self) -> dict[str, Any]:
        return featurize(["CC(=O)Oc1ccccc1C(=O)O"], rdkit_2d=self.uses_rdkit_2d)  # aspirin

    def _graph_specs(self) -> list[tf.TensorSpec]:
        """The exported signature's inputs: the six graph tensors, and the raw RDKit 2D
        descriptors when the model uses them."""
        specs = _graph_specs()
        if self.uses_rdkit_2d:
            specs.append(tf.TensorSpec([None, RDKIT_2D_FEATURES], tf.float32, name=RDKIT_2D_INPUT))
        return specs


def _graph_specs() -> list[tf.TensorSpec]:
    """The six graph inputs of every molecule model (any batch size, atom and edge count)."""
    return [
        tf.TensorSpec([None, None, ATOM_FEATURES], tf.float32, name="atom_features"),
        tf.TensorSpec([None, None, BOND_FEATURES], tf.float32, name="bond_features"),
        tf.TensorSpec([None, None, 2], tf.int32, name="edge_index"),
        tf.TensorSpec([None, None], tf.float32, name="atom_mask"),
        tf.TensorSpec([None, None], tf.float32, name="bond_mask"),
        tf.TensorSpec([None, MOLECULE_FEATURES], tf.float32, name="molecule_features"),
    ]


def _size_batches(
    graphs: Sequence[MoleculeGraph], batch_size: int, rng: np.random.Generator | None
) -> Iterator[np.ndarray]:
    """Row indices in batches of similar-sized molecules (little padding). With ``rng``
    (training): shuffled, sorted by size within windows of 8 batches, batches shuffled."""
    sizes = np.array([g.num_atoms for g in graphs])
    if rng is None:
        order = np.argsort(sizes, kind="stable")
        return iter([order[i : i + batch_size] for i in range(0, len(order), batch_size)])
    order = rng.permutation(len(graphs))
    window = batch_size * 8
    for start in range(0, len(order), window):
        chunk = order[start : start + window]
        order[start : start + window] = chunk[np.argsort(sizes[chunk], kind="stable")]
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    return iter([batches[i] for i in rng.permutation(len(batches))])


def _task_report(y: np.ndarray, p: np.ndarray, classification: bool) -> dict[str, Any]:
    """One task's metrics over its present (non-NaN) labels."""
    present = ~np.isnan(y)
    y, p = y[present], p[present]
    if not classification:
        error = p - y
        nan = float("nan")
        return {
            "num_labels": int(len(y)),
            "rmse": float(np.sqrt(np.mean(error**2))) if len(y) else nan,
            "mae": float(np.mean(np.abs(error))) if len(y) else nan,
        }
    both = len(np.unique(y)) == 2
    return {
        "num_labels": int(len(y)),
        "positives": int(y.sum()),
        "roc_auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "pr_auc": float(average_precision_score(y, p)) if both else float("nan"),
    }
