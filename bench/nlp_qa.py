"""SQuAD benchmark for ``nlp.QuestionAnswerer``: article-level cross-validation on 24 real articles.

Data: ``../shared/data/squad`` (official SQuAD JSON layout, gzip): v1.1 (24 articles, 6,116
questions) and v2.0 (15 of those articles, 5,233 questions, 2,691 unanswerable). Articles are
sorted by title and dealt round-robin into ``--folds`` folds; fold K is evaluated after training
on the other folds, so no article (context) is in both. ``squad2_subset_train.json.gz`` is NOT used:
its three articles are also in the v1.1/v2.0 files, so training on it would leak test articles.
v2.0 covers only 15 of the 24 articles; ``--extra-v1-articles`` also trains every v2.0 fold on the
v1.1 questions of the other 9, which no v2.0 fold tests (all answerable; listed in each row).

Quality: SQuAD EM / F1 (official normalisation, max over gold answers; v2.0 with the no-answer
rule at a fixed threshold of 0, never tuned on the evaluated fold), plus the always-no-answer
baseline on v2.0. Speed: training wall-clock, and questions/s of the exported SavedModel (raw
strings in, tokenisation + windows + span decoding in graph) vs ``predict`` on the same questions.

One call = one (version, backbone, fold); rows merge into ``bench/results/nlp_qa.json``. Long
trainings can run in slices (``--work-dir DIR --max-minutes 14``; exit code 3 = run it again).

    python -m bench.nlp_qa --version v1.1 --backbone minilm --fold 0
    python -m bench.nlp_qa --summary
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
from sklearn.metrics import roc_auc_score

from bench.nlp_classification import StopAfterCheckpoint, TimeBudgetReached
from nlp.qa.squad import SquadData, read_squad
from nlp.qa.task import QuestionAnswerer
from nlp.qa.threshold import best_no_answer_threshold, f1_at_threshold

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "squad"
RESULTS_PATH = REPO_ROOT / "bench" / "results" / "nlp_qa.json"
FILES = {"v1.1": "v1.1_shared.json.gz", "v2.0": "v2.0_shared.json.gz"}
PAUSED = 3  # exit code: the training slice ended on its time budget; run the same command again

BACKBONES: dict[str, dict[str, Any]] = {
    "minilm": dict(
        preset="minilm", learning_rate=5e-5, warmup_fraction=0.1, dropout=0.1, batch_size=16
    ),
    "scratch": dict(
        vocabulary_size=8000,
        embed_dim=128,
        num_layers=3,
        num_heads=4,
        intermediate_dim=256,
        dropout=0.1,
        learning_rate=1e-3,
        warmup_fraction=0.1,
        batch_size=32,
    ),
}


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def resumable_fit(
    task: QuestionAnswerer,
    train: SquadData,
    epochs: int,
    work_dir: Path | None,
    max_minutes: float | None,
    checkpoint_every: int,
) -> dict[str, float] | None:
    """``task.fit`` in time-limited slices: None when paused, else wall-clock and CPU seconds in total."""
    spent = {"train_s": 0.0, "train_cpu_s": 0.0}
    callbacks = []
    progress = None
    if work_dir is not None:
        progress = work_dir / "progress.json"
        if progress.is_file():
            spent.update(json.loads(progress.read_text()))
        callbacks.append(
            StopAfterCheckpoint(
                60 * max_minutes if max_minutes else float("inf"), work_dir / "checkpoints"
            )
        )
    start, start_cpu = time.perf_counter(), time.process_time()
    try:
        task.fit(
            train,
            epochs=epochs,
            verbose=2,
            callbacks=callbacks,
            work_dir=work_dir,
            resume=work_dir is not None,
            checkpoint_every=checkpoint_every if work_dir else None,
        )
    except TimeBudgetReached as stop:
        spent["train_s"] += time.perf_counter() - start
        spent["train_cpu_s"] += time.process_time() - start_cpu
        progress.write_text(json.dumps(spent))
        print(
            f"time budget reached after checkpoint {stop}; {spent['train_s']:.0f} s spent; run again to continue"
        )
        return None
    spent["train_s"] += time.perf_counter() - start
    spent["train_cpu_s"] += time.process_time() - start_cpu
    if progress is not None:
        progress.unlink(missing_ok=True)
    return spent


def fold_split(data: SquadData, fold: int, folds: int) -> tuple[SquadData, SquadData, list[str]]:
    """(train, test, test titles): sorted titles dealt round-robin; fold K is the test part."""
    titles = data.titles
    if not 0 <= fold < folds or folds > len(titles):
        raise ValueError(f"fold must be in [0, {folds - 1}] with at most {len(titles)} folds")
    test_titles = titles[fold::folds]
    train_titles = [t for t in titles if t not in test_titles]
    return data.subset(train_titles), data.subset(test_titles), test_titles


def extra_answerable(data_dir: Path, evaluated: SquadData) -> SquadData:
    """The v1.1 questions of the articles absent from ``evaluated`` (v2.0): no fold ever tests them.

    v2.0 covers 15 of the 24 articles; the other 9 (3,521 answerable questions) add span-extraction
    examples to every v2.0 fold without putting any test article, paragraph or question in training.
    """
    if evaluated.version != "v2.0":
        raise ValueError(
            "--extra-v1-articles only applies to --version v2.0 (v1.1 already uses every article)"
        )
    v1 = read_squad(data_dir / FILES["v1.1"])
    outside = [t for t in v1.titles if t not in set(evaluated.titles)]
    return v1.subset(outside)


def throughput(
    task: QuestionAnswerer, questions: list[str], contexts: list[str], batch: int = 32
) -> dict[str, float]:
    """Questions/s of the exported signature vs ``predict`` (same questions, same batch size)."""
    with tempfile.TemporaryDirectory() as tmp:
        served = tf.saved_model.load(str(task.export(Path(tmp) / "qa"))).signatures[
            "serving_default"
        ]
        served(question=tf.constant(questions[:batch]), context=tf.constant(contexts[:batch]))
        task.predict(questions[:batch], contexts[:batch], batch_size=batch)
        start = time.perf_counter()
        agree = 0
        served_answers = []
        for i in range(0, len(questions), batch):
            out = served(
                question=tf.constant(questions[i : i + batch]),
                context=tf.constant(contexts[i : i + batch]),
            )
            served_answers += [a.decode("utf-8") for a in out["answer"].numpy()]
        export_rate = len(questions) / (time.perf_counter() - start)
        start = time.perf_counter()
        python = task.predict(questions, contexts, batch_size=batch)
        python_rate = len(questions) / (time.perf_counter() - start)
        agree = sum(a == r["answer"] for a, r in zip(served_answers, python, strict=True))
    return {
        "export_questions_per_s": round(export_rate, 2),
        "predict_questions_per_s": round(python_rate, 2),
        "export_over_predict": round(export_rate / python_rate, 2),
        "export_agrees_with_predict": round(agree / len(questions), 4),
    }


def evidence_path(path: Path) -> Path:
    """Side file of per-question no-answer evidence (v2.0 rows), one compact JSON object by row key."""
    return path.with_name(path.stem + "_no_answer_evidence.json")


def merge_result(
    path: Path,
    header: dict[str, Any],
    row: dict[str, Any],
    evidence: dict[str, list[float]] | None = None,
) -> None:
    """Write ``row`` (and its no-answer evidence) into the results, replacing a row with the same key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:  # folds may finish at the same time
        fcntl.flock(lock, fcntl.LOCK_EX)
        previous = json.loads(path.read_text()) if path.is_file() else {}
        rows = [r for r in previous.get("results", []) if r.get("key") != row["key"]] + [row]
        rows.sort(key=lambda r: r["key"])
        side = evidence_path(path)
        evidence_by_key = json.loads(side.read_text()) if side.is_file() else {}
        if evidence is not None:
            evidence_by_key[row["key"]] = evidence
            side.write_text(json.dumps(evidence_by_key, separators=(",", ":")) + "\n")
        payload = {**header, "machine": platform.platform(), "results": rows}
        for kept in ("probes", "superseded"):  # hand-kept sections of earlier runs
            if kept in previous:
                payload[kept] = previous[kept]
        payload["summary"] = summarise(rows, evidence_by_key)
        path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    path.with_suffix(".lock").unlink(missing_ok=True)


def threshold_from_other_folds(
    items: list[dict[str, Any]], evidence: dict[str, dict[str, list[float]]]
) -> dict[str, Any] | None:
    """F1 of each fold at the no-answer threshold that is best on the *other* folds' questions.

    No fold's own labels choose its threshold, so this is an honest estimate of a tuned threshold
    (the thresholds come from models that did see this fold's articles in training, never its labels
    in tuning). None unless every row of the group has evidence and there are at least two folds.
    """
    if len(items) < 2 or any(r["key"] not in evidence for r in items):
        return None
    per_fold, total_f1 = {}, 0.0
    for row in items:
        others = [evidence[r["key"]] for r in items if r is not row]
        pooled = {k: [x for e in others for x in e[k]] for k in ("margin", "span_f1", "empty_f1")}
        threshold, _ = best_no_answer_threshold(
            pooled["margin"], pooled["span_f1"], pooled["empty_f1"]
        )
        own = evidence[row["key"]]
        f1 = f1_at_threshold(own["margin"], own["span_f1"], own["empty_f1"], threshold)
        per_fold[row["fold"]] = {"threshold": round(threshold, 4), "f1": round(f1, 2)}
        total_f1 += f1 * row["test_questions"]
    return {
        "f1": round(total_f1 / sum(r["test_questions"] for r in items), 2),
        "per_fold": per_fold,
    }


def summarise(
    rows: list[dict[str, Any]], evidence: dict[str, dict[str, list[float]]] | None = None
) -> list[dict[str, Any]]:
    """Mean EM/F1 over the folds present, per (version, backbone, recipe); question-weighted."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for (
        row
    ) in rows:  # rows of a named recipe (e.g. trained elsewhere: nlp_qa_gpu) form their own group
        groups.setdefault((row["version"], row["backbone"], row.get("recipe", "")), []).append(row)
    summary = []
    for (version, backbone, recipe), items in sorted(groups.items()):
        total = sum(r["test_questions"] for r in items)

        def weighted(key: str, items: list[dict[str, Any]] = items, total: int = total) -> float:
            return round(sum(r[key] * r["test_questions"] for r in items) / total, 2)

        entry = {
            "version": version,
            "backbone": backbone,
            **({"recipe": recipe} if recipe else {}),
            "folds": sorted(r["fold"] for r in items),
            "questions": total,
            "exact_match": weighted("exact_match"),
            "f1": weighted("f1"),
            "train_s_mean": round(statistics.mean(r["train_s"] for r in items), 1),
        }
        for speed in (
            "export_questions_per_s",
            "predict_questions_per_s",
        ):  # absent where not measured
            if all(speed in r for r in items):
                entry[f"{speed}_mean"] = round(statistics.mean(r[speed] for r in items), 2)
        recipes = {
            (r["epochs"], r.get("extra_train_questions", 0), r["options"].get("learning_rate"))
            for r in items
        }
        if len(recipes) > 1:  # folds trained differently: the mean is not one recipe's CV score
            entry["recipes_differ"] = [
                dict(zip(("epochs", "extra_train_questions", "learning_rate"), k, strict=True))
                for k in sorted(recipes, key=str)
            ]
        if version == "v2.0":
            entry["always_no_answer_f1"] = weighted("always_no_answer_f1")
            entry["f1_over_no_answer_baseline"] = round(
                entry["f1"] - entry["always_no_answer_f1"], 2
            )
            transferred = threshold_from_other_folds(items, evidence or {})
            if transferred is not None:
                entry["f1_threshold_from_other_folds"] = transferred["f1"]
                entry["f1_threshold_from_other_folds_over_no_answer_baseline"] = round(
                    transferred["f1"] - entry["always_no_answer_f1"], 2
                )
                entry["thresholds_from_other_folds"] = transferred["per_fold"]
        summary.append(entry)
    return summary


def print_table(path: Path) -> None:
    payload = json.loads(path.read_text())
    columns = [
        "version",
        "backbone",
        "recipe",
        "folds",
        "questions",
        "exact_match",
        "f1",
        "always_no_answer_f1",
        "train_s_mean",
        "export_questions_per_s_mean",
        "predict_questions_per_s_mean",
    ]
    print(" | ".join(columns))
    for entry in payload.get("summary", []):
        print(" | ".join(str(entry.get(c, "")) for c in columns))


def separation(evidence: dict[str, Any]) -> dict[str, float]:
    """How well the margin ranks unanswerable above answerable questions (ROC AUC), and the span F1
    the model would score on the answerable ones if it always answered: the two halves of v2.0 F1."""
    empty = np.asarray(evidence["empty_f1"]) > 0  # answering nothing is right: unanswerable
    span = np.asarray(evidence["span_f1"])
    return {
        "no_answer_margin_auc": round(float(roc_auc_score(empty, evidence["margin"])), 4),
        "answerable_span_f1": round(100.0 * float(span[~empty].mean()), 2),
    }


def saved_model_path(args: argparse.Namespace) -> Path:
    """Where ``--save-model`` keeps this fold's trained model."""
    return args.save_model / f"{args.version}-{args.backbone}-fold{args.fold}.keras"


def run_fold(
    args: argparse.Namespace,
) -> tuple[dict[str, Any], dict[str, list[float]] | None] | None:
    data = read_squad(args.data / FILES[args.version])
    train, test, test_titles = fold_split(data, args.fold, args.folds)
    if args.train_limit:
        step = max(1, len(train) // args.train_limit)  # spread over every training article
        train = SquadData(train.examples[::step][: args.train_limit], train.version)
    extra = extra_answerable(args.data, data) if args.extra_v1_articles else SquadData([], "v1.1")
    train = SquadData(train.examples + extra.examples, train.version)
    options = dict(BACKBONES[args.backbone])
    options.update(
        sequence_length=args.sequence_length,
        doc_stride=args.doc_stride,
        allow_no_answer=args.version == "v2.0",
        seed=args.seed,
    )
    if args.learning_rate:
        options["learning_rate"] = args.learning_rate
    task = QuestionAnswerer(**options)
    load_before = load_average()
    work_dir = (
        args.work_dir / f"{args.version}-{args.backbone}-fold{args.fold}" if args.work_dir else None
    )
    spent = resumable_fit(
        task, train, args.epochs, work_dir, args.max_minutes, args.checkpoint_every
    )
    if spent is None:
        return None
    if args.save_model:  # keep the trained fold for later probes (e.g. other no-answer rules)
        task.save(saved_model_path(args))
    started = time.perf_counter()
    report = task.evaluate(test, batch_size=32)
    evaluate_s = time.perf_counter() - started
    speed_items = test.examples[: args.speed_questions]
    speed = throughput(task, [e.question for e in speed_items], [e.context for e in speed_items])
    row = {
        "key": f"{args.version} {args.backbone} fold{args.fold}",
        "version": args.version,
        "backbone": args.backbone,
        "fold": args.fold,
        "folds": args.folds,
        "test_articles": test_titles,
        "train_questions": len(train),
        "test_questions": len(test),
        "extra_train_articles": extra.titles,
        "extra_train_questions": len(extra),
        "exact_match": round(report["exact_match"], 2),
        "f1": round(report["f1"], 2),
        "epochs": args.epochs,
        "train_s": round(spent["train_s"], 1),
        "train_cpu_s": round(spent["train_cpu_s"], 1),
        "evaluate_s": round(evaluate_s, 1),
        **speed,
        "speed_questions": len(speed_items),
        "options": options,
        "load_average_start_end": [load_before, load_average()],
        "reader": data.report(),
    }
    evidence = None
    if args.version == "v2.0":
        fields, evidence = no_answer_fields(task, test, report)
        row.update(fields)
    return row, evidence


def no_answer_fields(
    task: QuestionAnswerer, test: SquadData, report: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """A v2.0 row's no-answer fields (baseline, per-kind scores, own-fold best threshold, AUC) and
    the per-question evidence that lets the summary score thresholds chosen on other folds."""
    unanswerable = sum(e.is_impossible for e in test.examples)
    found = task.no_answer_evidence(test, batch_size=32)
    threshold, f1 = best_no_answer_threshold(found["margin"], found["span_f1"], found["empty_f1"])
    fields = {
        "always_no_answer_f1": round(100.0 * unanswerable / len(test), 2),
        "has_answer": report.get("has_answer"),
        "no_answer": report.get("no_answer"),
        "no_answer_rate": round(report["no_answer_rate"], 4),
        # What the official v2.0 script calls best_f1: tuned on this fold's own labels, an upper bound.
        "best_threshold_on_this_fold": {"threshold": round(threshold, 4), "f1": round(f1, 2)},
        **separation(found),
    }
    return fields, {k: [round(float(x), 4) for x in v] for k, v in found.items()}


def results_header() -> dict[str, Any]:
    """What every results file says about the data, the recipe and the targets."""
    return {
        "benchmark": "nlp_qa",
        "dataset": "SQuAD dev articles in ../shared/data/squad (24 articles v1.1, 15 of them v2.0), "
        "article-level cross-validation",
        "note": "2-core CPU shared with other jobs; timings are noisy (load average recorded per row). "
        "squad2_subset_train.json.gz is not used (its articles are test articles here). "
        "v2.0 rows with extra_train_questions > 0 also train on the v1.1 questions of the 9 "
        "articles that are not in v2.0 (never a test article of any fold). "
        "Recipe per row: train_questions, epochs and options (MiniLM: lr 1e-4, warmup 10%). v2.0 is "
        "scored at the fixed no-answer threshold 0 and, in the summary, at the threshold that is "
        "best on the other folds' questions (never the evaluated fold's).",
        "targets": {"v1.1_minilm_f1": 60.0, "v2.0_f1_over_always_no_answer": 10.0},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--version", choices=sorted(FILES), default="v1.1")
    parser.add_argument("--backbone", choices=sorted(BACKBONES), default="minilm")
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--sequence-length", type=int, default=256)
    parser.add_argument("--doc-stride", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=None)
    parser.add_argument(
        "--train-limit",
        type=int,
        default=None,
        help="N training questions spread over the training articles (default all)",
    )
    parser.add_argument(
        "--extra-v1-articles",
        action="store_true",
        help="v2.0: also train on the v1.1 questions of the 9 articles that no v2.0 fold tests",
    )
    parser.add_argument(
        "--speed-questions", type=int, default=128, help="test questions timed for throughput"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--work-dir", type=Path, default=None, help="checkpoints for sliced (resumable) training"
    )
    parser.add_argument(
        "--max-minutes", type=float, default=None, help="stop and checkpoint after this long"
    )
    parser.add_argument(
        "--checkpoint-every", type=int, default=100, help="steps between slice checkpoints"
    )
    parser.add_argument(
        "--save-model",
        type=Path,
        default=None,
        help="also save each trained fold's model under this folder",
    )
    parser.add_argument("--output", type=Path, default=RESULTS_PATH)
    parser.add_argument(
        "--summary", action="store_true", help="only print the table of the results JSON"
    )
    args = parser.parse_args(argv)
    if args.summary:
        print_table(args.output)
        return 0
    if args.save_model and saved_model_path(args).exists():  # checked before hours of training
        parser.error(
            f"--save-model: {saved_model_path(args)} already exists; move it or pick another folder"
        )
    header = results_header()
    result = run_fold(args)
    if result is None:
        return PAUSED
    row, evidence = result
    merge_result(args.output, header, row, evidence)
    print(
        " | ".join(
            f"{k}={v}" for k, v in row.items() if k not in ("options", "reader", "test_articles")
        )
    )
    print_table(args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
