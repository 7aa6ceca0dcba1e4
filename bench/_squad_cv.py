"""SQuAD article-level cross-validation shared by ``bench.nlp_qa`` and ``bench.nlp_qa_gpu``.

The data files, the backbone recipes, the fold split, the results file with its summary
(question-weighted means per recipe, and the v2.0 no-answer threshold chosen on the other folds),
and a v2.0 row's no-answer fields. Both benchmarks score folds with the same code, so their
rows compare.
"""

from __future__ import annotations

import fcntl
import json
import platform
import statistics
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from bench._harness import DATA_ROOT
from nlp.qa.squad import SquadData, read_squad
from nlp.qa.task import QuestionAnswerer
from nlp.qa.threshold import best_no_answer_threshold, f1_at_threshold

DEFAULT_DATA = DATA_ROOT / "squad"

FILES = {"v1.1": "v1.1_shared.json.gz", "v2.0": "v2.0_shared.json.gz"}

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


def evidence_path(path: Path) -> Path:
    """Side file of per-question no-answer evidence (v2.0 rows): compact JSON, one entry per row."""
    return path.with_name(path.stem + "_no_answer_evidence.json")


def merge_result(
    path: Path,
    header: dict[str, Any],
    row: dict[str, Any],
    evidence: dict[str, list[float]] | None = None,
) -> None:
    """Write ``row`` (and its no-answer evidence) into the results, replacing one with its key."""
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


def separation(evidence: dict[str, Any]) -> dict[str, float]:
    """How well the margin ranks unanswerable above answerable questions (ROC AUC), and the span
    F1 the model would score on the answerable ones if it always answered: the two halves of
    v2.0 F1."""
    empty = np.asarray(evidence["empty_f1"]) > 0  # answering nothing is right: unanswerable
    span = np.asarray(evidence["span_f1"])
    return {
        "no_answer_margin_auc": round(float(roc_auc_score(empty, evidence["margin"])), 4),
        "answerable_span_f1": round(100.0 * float(span[~empty].mean()), 2),
    }


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
        # What the official v2.0 script calls best_f1: tuned on this fold's own labels, so an
        # upper bound.
        "best_threshold_on_this_fold": {"threshold": round(threshold, 4), "f1": round(f1, 2)},
        **separation(found),
    }
    return fields, {k: [round(float(x), 4) for x in v] for k, v in found.items()}
