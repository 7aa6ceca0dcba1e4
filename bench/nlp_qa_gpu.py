"""SQuAD v2.0 cross-validation with the training on an accelerator machine that has no TensorFlow.

The lent GPU machines hold JAX but not TensorFlow, and a 4-fold MiniLM run takes hours on 2 CPU
cores. The work is split so that only the training leaves this machine:

1. ``prepare`` (here, TensorFlow): dlsuite's own featurizer turns every question into windows with
   span labels, exactly as ``QuestionAnswerer.fit`` would; the folds are the article folds of
   ``bench.nlp_qa``; the initial weights are those of ``QuestionAnswerer.build_model``. Only the
   embedding rows of tokens that occur in the data travel (other rows are never looked up).
2. ``bench/nlp_qa_gpu_train.py`` (there, Keras on JAX): the same model and the same compile
   recipe (``nlp.qa.model``) trained with ``keras.Model.fit``; returns the test windows' logits.
3. ``finish`` (here, TensorFlow): ``QuestionAnswerer.evaluate`` and ``no_answer_evidence`` run
   unchanged on the test questions, with the model call replaced by a lookup of those logits,
   so the decoding, scoring and no-answer rule are dlsuite's own. Rows merge into
   ``bench/results/nlp_qa_gpu.json`` with the summary of ``bench.nlp_qa`` (``bench._squad_cv``).

    python -m bench.nlp_qa_gpu prepare --pack .gpu/pack
    python bench/nlp_qa_gpu_train.py --pack .gpu/pack --out OUT --fold 0 --epochs 6   # on the GPU
    python -m bench.nlp_qa_gpu finish --pack .gpu/pack --logits OUT
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from bench._harness import REPO_ROOT, RESULTS_DIR
from bench._squad_cv import (
    BACKBONES,
    DEFAULT_DATA,
    FILES,
    extra_answerable,
    fold_split,
    merge_result,
    no_answer_fields,
)
from bench.nlp_qa_augment import unanswerable_variants
from nlp.qa.features import span_labels
from nlp.qa.squad import QAExample, SquadData, read_squad
from nlp.qa.task import QuestionAnswerer, training_span

RESULTS_PATH = RESULTS_DIR / "nlp_qa_gpu.json"
#: A staged run (prepare / GPU training / finish), never with defaults (see bench/__main__.py).
RUN_BY_MAKE_BENCH = False
TOKEN_EMBEDDING = "token_embedding/embeddings"


def task_options(learning_rate: float, seed: int = 0) -> dict[str, Any]:
    """The MiniLM options of ``bench.nlp_qa`` for v2.0 (256-token windows, stride 128)."""
    options = dict(BACKBONES["minilm"])
    options.update(
        sequence_length=256,
        doc_stride=128,
        allow_no_answer=True,
        seed=seed,
        learning_rate=learning_rate,
    )
    return options


def featurize(
    task: QuestionAnswerer, examples: list[QAExample], batch: int = 256
) -> dict[str, np.ndarray]:
    """Windows of every example with the span labels ``QuestionAnswerer.fit`` would train on."""
    length = task.config.sequence_length
    parts: dict[str, list[np.ndarray]] = {
        k: [] for k in ("token_ids", "padding_mask", "segment_ids", "start", "end", "example")
    }
    for i in range(0, len(examples), batch):
        chunk = examples[i : i + batch]
        spans = [training_span(e) for e in chunk]
        features = task.featurizer(
            tf.constant([e.question for e in chunk]), tf.constant([e.context for e in chunk])
        )
        start, end = span_labels(
            features, tf.constant([s[0] for s in spans]), tf.constant([s[1] for s in spans])
        )
        for name in ("token_ids", "padding_mask", "segment_ids"):
            value = features.inputs[name].numpy()
            if value.shape[1] != length:
                raise ValueError(f"featurizer returned {value.shape[1]} columns, expected {length}")
            parts[name].append(value)
        parts["start"].append(start.numpy())
        parts["end"].append(end.numpy())
        parts["example"].append(features.example_index.numpy() + i)
    return {k: np.concatenate(v) for k, v in parts.items()}


# Example sources in a pack (``windows.npz`` ``source``, per example): the v2.0 questions the
# folds test, the extra v1.1 articles' questions, and rule-made unanswerable variants
# (bench.nlp_qa_augment) of each, first and second variant per question apart so that a recipe
# can take one or both.
SOURCES = ("v2.0", "extra", "aug", "aug_second", "extra_aug", "extra_aug_second")


def augmented(data: SquadData, per_question: int, seed: int) -> tuple[list[QAExample], list[int]]:
    """Rule-made unanswerable variants of ``data`` and their rank (0: its question's first)."""
    made = unanswerable_variants(data, per_question=per_question, seed=seed).examples
    seen: dict[str, int] = {}
    ranks = []
    for example in made:
        source_id = example.id.split("-", 2)[2]
        ranks.append(seen.get(source_id, 0))
        seen[source_id] = ranks[-1] + 1
    return made, ranks


def prepare(args: argparse.Namespace) -> None:
    """Write the pack the GPU trainer reads: windows, folds, initial weights, backbone config."""
    pack: Path = args.pack
    if pack.exists():
        raise SystemExit(f"{pack} already exists; remove it or pick another folder")
    data = read_squad(args.data / FILES["v2.0"])
    extra = extra_answerable(args.data, data)
    examples = data.examples + extra.examples
    sources = [0] * len(data.examples) + [1] * len(extra.examples)
    if args.augment:
        for part, first in ((data, 2), (extra, 4)):
            made, ranks = augmented(part, args.augment, seed=0)
            examples += made
            sources += [first + min(r, 1) for r in ranks]
    source = np.array(sources)
    task = QuestionAnswerer(**task_options(args.learning_rate))
    model = task.build_model()
    windows = featurize(task, examples)
    usable = np.array([training_span(e)[2] for e in examples])
    window_source = source[windows["example"]]
    folds: dict[str, Any] = {}
    for fold in range(args.folds):
        _, _, test_titles = fold_split(data, fold, args.folds)
        test_set = set(test_titles)
        in_test_article = np.array([e.title in test_set for e in examples])[windows["example"]]
        train = ~in_test_article & usable[windows["example"]]
        folds[f"test{fold}"] = np.flatnonzero(in_test_article & (window_source == 0))
        folds[f"train{fold}"] = np.flatnonzero(train & (window_source == 0))
        folds[f"extra{fold}"] = np.flatnonzero(train & (window_source == 1))
        if args.augment:
            for code, name in enumerate(SOURCES[2:], start=2):
                folds[f"{name}{fold}"] = np.flatnonzero(train & (window_source == code))
    windows["source"] = source
    used = np.unique(windows["token_ids"])
    weights, names = {}, []
    for i, variable in enumerate(model.weights):
        value = np.asarray(variable.numpy(), dtype=np.float32)
        names.append([variable.path, list(value.shape)])
        if variable.path.endswith(TOKEN_EMBEDDING):
            value = value[
                used
            ]  # only rows the data looks up travel; the trainer zero-fills the rest
        weights[f"w{i}"] = value
    pack.mkdir(parents=True)
    arrays: dict[str, Any] = {k: v.astype(np.int32) for k, v in windows.items()}
    np.savez_compressed(pack / "windows.npz", **arrays, **folds)
    flat = np.concatenate([w.ravel() for w in weights.values()]).astype("<f4")
    # Byte planes compress where raw float32 does not (the sign/exponent byte to ~40 %): the pack
    # must fit the 64 MiB a device call carries, and the trainer gets the exact float32 values back.
    planes = np.ascontiguousarray(flat.view(np.uint8).reshape(-1, 4).T)
    np.savez_compressed(
        pack / "weights.npz",
        used_tokens=used.astype(np.int32),
        byte_planes=planes,
        shapes=np.array(json.dumps([list(w.shape) for w in weights.values()])),
    )
    backbone = next(layer for layer in model.layers if layer.name.endswith("backbone"))
    meta = {
        "backbone_config": backbone.get_config(),
        "backbone_class": type(backbone).__name__,
        "weights": names,
        "token_embedding": TOKEN_EMBEDDING,
        "folds": args.folds,
        "options": task.config.to_dict(),
        "examples": len(examples),
        "extra_examples": int((source == 1).sum()),
        "windows": int(len(windows["token_ids"])),
        "used_tokens": int(len(used)),
        "augment_per_question": args.augment,
        "sources": SOURCES,
        "source_counts": {name: int((source == code).sum()) for code, name in enumerate(SOURCES)},
    }
    (pack / "meta.json").write_text(json.dumps(meta, indent=1))
    sizes = {p.name: round(p.stat().st_size / 2**20, 1) for p in pack.iterdir()}
    print(
        f"{len(examples)} questions {meta['source_counts']} -> {meta['windows']} windows, "
        f"{len(used)} tokens used; MiB: {sizes}"
    )


class LogitsLookup(QuestionAnswerer):
    """``QuestionAnswerer`` whose model call returns logits computed elsewhere for the same windows.

    Windows are matched by their token ids (question and context tokens): identical windows have
    identical logits, and a window the trainer never saw is an error, never a silent guess.
    """

    def __init__(self, logits: dict[bytes, tuple[np.ndarray, np.ndarray]], **options: Any) -> None:
        super().__init__(**options)
        self.logits = logits

    @staticmethod
    def window_key(token_ids: np.ndarray, length: int) -> bytes:
        return np.asarray(token_ids[:length], dtype=np.int32).tobytes()

    def _span_logits(self, inputs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        token_ids, mask = inputs["token_ids"].numpy(), inputs["padding_mask"].numpy()
        width = token_ids.shape[1]
        starts, ends = [], []
        for row, length in zip(token_ids, mask.sum(axis=1), strict=True):
            found = self.logits.get(self.window_key(row, int(length)))
            if found is None:
                raise ValueError(
                    "a test window has no logits from the trainer (pack and logits disagree)"
                )
            starts.append(found[0][:width])
            ends.append(found[1][:width])
        return {
            "start_logits": tf.constant(np.stack(starts)),
            "end_logits": tf.constant(np.stack(ends)),
        }


def fold_row(
    pack: Path, result: Path, data: SquadData, meta: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """One results row (and its no-answer evidence) from one trained fold's logits."""
    try:
        out = np.load(result)
        info = json.loads(str(out["info"]))
    except (OSError, ValueError, KeyError) as error:  # not an .npz the trainer wrote
        raise ValueError(
            f"{result.name} is not a result of bench/nlp_qa_gpu_train.py: {error}"
        ) from error
    windows = np.load(pack / "windows.npz")
    fold = info["fold"]
    test_windows = windows[f"test{fold}"]
    if not np.array_equal(out["windows"], test_windows):
        raise ValueError(f"{result.name}: its windows are not fold {fold}'s test windows of {pack}")
    lengths = windows["padding_mask"][test_windows].sum(axis=1)
    logits = {}
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    for j, (w, length) in enumerate(zip(test_windows, lengths, strict=True)):
        start = np.full(meta["options"]["sequence_length"], -1e4, np.float32)
        end = start.copy()
        start[:length] = out["start"][offsets[j] : offsets[j + 1]]
        end[:length] = out["end"][offsets[j] : offsets[j + 1]]
        logits[LogitsLookup.window_key(windows["token_ids"][w], int(length))] = (start, end)
    _, test, test_titles = fold_split(data, fold, meta["folds"])
    task = LogitsLookup(logits, **meta["options"])
    tf.config.run_functions_eagerly(True)  # the lookup is Python: run the answer graph eagerly
    try:
        report = task.evaluate(test, batch_size=32)
        fields, evidence = no_answer_fields(task, test, report)
    finally:
        tf.config.run_functions_eagerly(False)
    recipe = info["recipe"]
    row = {
        "key": f"v2.0 minilm {recipe} fold{fold}",
        "version": "v2.0",
        "backbone": "minilm",
        "recipe": recipe,
        "fold": fold,
        "folds": meta["folds"],
        "test_articles": test_titles,
        "train_questions": info["train_questions"],
        "test_questions": len(test),
        "extra_train_questions": info["extra_train_questions"],
        "made_unanswerable_train_questions": info.get("made_unanswerable_train_questions", 0),
        "exact_match": round(report["exact_match"], 2),
        "f1": round(report["f1"], 2),
        "epochs": info["epochs"],
        "train_s": round(info["train_s"], 1),
        "train_windows": info["train_windows"],
        "history": info["history"],
        "trained_on": info["device"],
        "options": {**meta["options"], "learning_rate": info["learning_rate"]},
        "reader": data.report(),
        **fields,
    }
    return row, evidence


def results_header() -> dict[str, Any]:
    return {
        "benchmark": "nlp_qa_gpu",
        "dataset": "SQuAD v2.0 dev articles in ../shared/data/squad (15 articles, 5,233 "
        "questions), article-level 4-fold cross-validation (the folds of bench.nlp_qa)",
        "note": "Windows, labels and initial weights made here by dlsuite (TensorFlow); training "
        "with keras.Model.fit and the compile recipe of nlp.qa.model on a lent GPU under the JAX "
        "backend (every batch padded to 256 tokens, Keras shuffling instead of length buckets); "
        "evaluation here by QuestionAnswerer.evaluate with the model call replaced by those "
        "windows' logits. Recipe per row: recipe, epochs, options.learning_rate, "
        "extra_train_questions (v1.1 questions of the 9 articles no v2.0 fold tests). F1 at the "
        "fixed no-answer threshold 0; the summary adds the threshold that is best on the other "
        "folds' questions. train_s: one fold's fit while other folds shared the GPU (the 4 folds "
        "of a recipe at once; aug1: fold 1 beside 11 other processes, folds 0, 2 and 3 together), "
        "so not comparable across rows. made_unanswerable_train_questions: rule-made unanswerable "
        "variants of training questions (bench.nlp_qa_augment).",
        "targets": {"v2.0_f1_over_always_no_answer": 10.0},
    }


def recipe_chosen_on_other_folds(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Nested estimate of "train several recipes, keep the best": each fold is scored with the
    recipe whose F1 (threshold 0) is best on the *other* folds, so no fold's labels pick its own
    recipe. Only recipes with every fold count; None with fewer than two of them."""
    by_recipe: dict[str, dict[int, dict[str, Any]]] = {}
    for row in rows:
        by_recipe.setdefault(row["recipe"], {})[row["fold"]] = row
    folds = max((len(r) for r in by_recipe.values()), default=0)
    complete = {name: r for name, r in by_recipe.items() if len(r) == folds and folds >= 2}
    if len(complete) < 2:
        return None
    per_fold, f1_total, baseline_total, questions = {}, 0.0, 0.0, 0
    for fold in sorted(next(iter(complete.values()))):

        def other_folds_f1(name: str, fold: int = fold) -> float:
            others = [r for f, r in complete[name].items() if f != fold]
            return sum(r["f1"] * r["test_questions"] for r in others) / sum(
                r["test_questions"] for r in others
            )

        chosen = max(sorted(complete), key=other_folds_f1)
        row = complete[chosen][fold]
        per_fold[fold] = {"recipe": chosen, "f1": row["f1"]}
        f1_total += row["f1"] * row["test_questions"]
        baseline_total += row["always_no_answer_f1"] * row["test_questions"]
        questions += row["test_questions"]
    f1 = f1_total / questions
    return {
        "recipes": sorted(complete),
        "f1": round(f1, 2),
        "f1_over_no_answer_baseline": round(f1 - baseline_total / questions, 2),
        "per_fold": per_fold,
    }


def finish(args: argparse.Namespace) -> None:
    meta = json.loads((args.pack / "meta.json").read_text())
    data = read_squad(args.data / FILES["v2.0"])
    results = sorted(args.logits.glob("*.npz"))
    if not results:
        raise SystemExit(f"no trainer results (*.npz) in {args.logits}")
    for result in results:
        row, evidence = fold_row(args.pack, result, data, meta)
        merge_result(args.output, results_header(), row, evidence)
        print(
            f"{row['key']}: F1 {row['f1']} (always-no-answer {row['always_no_answer_f1']}), "
            f"own-fold best {row['best_threshold_on_this_fold']['f1']}, AUC "
            f"{row['no_answer_margin_auc']}, span F1 {row['answerable_span_f1']}, train "
            f"{row['train_s']} s"
        )
    payload = json.loads(args.output.read_text())
    payload["recipe_chosen_on_other_folds"] = recipe_chosen_on_other_folds(payload["results"])
    args.output.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    for entry in payload["summary"]:
        print(json.dumps({k: v for k, v in entry.items() if k != "thresholds_from_other_folds"}))
    print("recipe chosen on other folds:", json.dumps(payload["recipe_chosen_on_other_folds"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("step", choices=("prepare", "finish"))
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--pack", type=Path, default=REPO_ROOT / ".gpu" / "pack")
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument(
        "--augment",
        type=int,
        choices=(0, 1, 2),
        default=0,
        help="prepare: also pack up to N rule-made unanswerable variants per answerable question",
    )
    parser.add_argument(
        "--learning-rate",
        type=float,
        default=1e-4,
        help="recorded default; the trainer sets its own",
    )
    parser.add_argument(
        "--logits", type=Path, default=None, help="finish: folder of the trainer's .npz results"
    )
    parser.add_argument("--output", type=Path, default=RESULTS_PATH)
    args = parser.parse_args(argv)
    if args.step == "prepare":
        prepare(args)
    else:
        if args.logits is None:
            parser.error("finish needs --logits FOLDER")
        finish(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
