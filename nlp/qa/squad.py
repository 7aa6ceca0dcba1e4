"""SQuAD data: the official JSON (v1.1 / v2.0, plain or .gz), TFDS ``squad``, the official metrics,
and a small SYNTHETIC template-generated QA set for tests and the demo.

Answers whose text is not found at its ``answer_start`` are counted and reported
(``SquadData.misaligned``): when the text occurs elsewhere in the context its offset is
re-anchored to the nearest occurrence, otherwise the answer is left out of training (it still
counts as a gold answer for EM/F1, which compare text only).
"""

from __future__ import annotations

import collections
import dataclasses
import gzip
import json
import os
import random
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any


@dataclasses.dataclass
class QAExample:
    """One question about one context; ``answers``: ``(text, start)`` pairs (none: unanswerable)."""

    question: str
    context: str
    answers: list[tuple[str, int]] = dataclasses.field(default_factory=list)
    id: str = ""
    title: str = ""

    @property
    def is_impossible(self) -> bool:
        return not self.answers

    @property
    def answer_texts(self) -> list[str]:
        return [text for text, _ in self.answers]


@dataclasses.dataclass
class SquadData:
    """Examples plus what the reader found: version and answers not at their ``answer_start``."""

    examples: list[QAExample]
    version: str = ""
    misaligned: int = 0  # answers whose text is not at answer_start (re-anchored or unusable)
    unusable: int = 0  # of those, answers whose text is nowhere in the context
    source: str = ""

    def __len__(self) -> int:
        return len(self.examples)

    @property
    def titles(self) -> list[str]:
        return sorted({e.title for e in self.examples})

    def subset(self, titles: Iterable[str]) -> SquadData:
        keep = set(titles)
        return SquadData(
            [e for e in self.examples if e.title in keep], self.version, source=self.source
        )

    def report(self) -> dict[str, Any]:
        answerable = sum(not e.is_impossible for e in self.examples)
        return {
            "source": self.source,
            "version": self.version,
            "questions": len(self.examples),
            "answerable": answerable,
            "unanswerable": len(self.examples) - answerable,
            "articles": len(self.titles),
            "answers_not_at_answer_start": self.misaligned,
            "answers_not_in_context": self.unusable,
        }


# --------------------------------------------------------------------------- reading
def _anchor(context: str, text: str, start: int) -> int | None:
    """The offset of ``text`` in ``context`` nearest to ``start``; None when it does not occur."""
    positions = [m.start() for m in re.finditer(re.escape(text), context)] if text else []
    if not positions:
        return None
    return min(positions, key=lambda p: abs(p - start))


def _is_impossible(value: Any, where: str) -> bool:
    """``is_impossible`` as a real bool; the strings "true" / "false" are read strictly."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ValueError(f"{where}: 'is_impossible' must be true or false, got {value!r}")


def _items(value: Any, key: str, where: str) -> list:
    """``value`` (a list under ``key``), or a ``ValueError`` naming where and what it was."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{where}: {key!r} must be a list, got {type(value).__name__}")
    return value


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where} must be a JSON object, got {type(value).__name__}")
    return value


def _answer(answer: Any, where: str) -> tuple[str, int]:
    answer = _object(answer, where)
    text, start = answer.get("text", ""), answer.get("answer_start", -1)
    if not isinstance(text, str):
        raise ValueError(f"{where}: 'text' must be a string, got {type(text).__name__}")
    if isinstance(start, bool) or not isinstance(start, (int, str)):
        raise ValueError(f"{where}: 'answer_start' must be an integer, got {start!r}")
    try:
        return text, int(start)
    except ValueError:
        raise ValueError(f"{where}: 'answer_start' must be an integer, got {start!r}") from None


def parse_squad(payload: Mapping[str, Any], source: str = "") -> SquadData:
    """The official ``{"version", "data": [{"title", "paragraphs": [...]}]}`` dict -> ``SquadData``.

    Every structural problem is a ``ValueError`` naming the source and the article, paragraph,
    question or answer.
    """
    name = source or "input"
    if not isinstance(payload, Mapping) or not isinstance(payload.get("data"), list):
        raise ValueError(f"{name} is not SQuAD JSON: expected an object with a 'data' list")
    examples, misaligned, unusable = [], 0, 0
    for a, article in enumerate(payload["data"]):
        article = _object(article, f"{name}: article {a}")
        title = str(article.get("title", ""))
        at = f"{name}: article {a} ({title[:60]!r})"
        for p, paragraph in enumerate(_items(article.get("paragraphs"), "paragraphs", at)):
            paragraph = _object(paragraph, f"{at}, paragraph {p}")
            context = paragraph.get("context")
            if not isinstance(context, str):
                raise ValueError(f"{name}: paragraph {p} of {title!r} has no 'context' string")
            for q, qa in enumerate(_items(paragraph.get("qas"), "qas", f"{at}, paragraph {p}")):
                where = f"{at}, paragraph {p}, question {q}"
                qa = _object(qa, where)
                where = f"{where} (id {str(qa.get('id', ''))[:60]!r})"
                question = qa.get("question", "")
                if not isinstance(question, str):
                    raise ValueError(f"{where}: 'question' must be a string")
                impossible = _is_impossible(qa.get("is_impossible", False), where)
                answers = []
                raw_answers = [] if impossible else _items(qa.get("answers"), "answers", where)
                for n, raw in enumerate(raw_answers):
                    text, start = _answer(raw, f"{where}, answer {n}")
                    if context[max(start, 0) : start + len(text)] != text or start < 0 or not text:
                        misaligned += 1
                        start = _anchor(context, text, start)
                        if start is None:
                            unusable += 1
                            start = -1
                    answers.append((text, start))
                if not impossible and not answers:
                    raise ValueError(
                        f"{source}: question {qa.get('id')!r} has no answers and is not marked "
                        "is_impossible"
                    )
                examples.append(QAExample(question, context, answers, str(qa.get("id", "")), title))
    return SquadData(examples, str(payload.get("version", "")), misaligned, unusable, source)


def read_squad(path: str | os.PathLike) -> SquadData:
    """Read an official SQuAD JSON file (v1.1 or v2.0; ``.gz`` is read transparently)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"SQuAD file not found: {path}")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            payload = json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError, OSError, EOFError) as error:
        raise ValueError(f"{path} is not readable SQuAD JSON: {error}") from error
    except RecursionError:
        raise ValueError(f"{path} is not readable SQuAD JSON: nested too deeply") from None
    return parse_squad(payload, str(path))


def load_tfds_squad(
    name: str = "squad/v1.1",
    split: str = "validation",
    data_dir: str | os.PathLike | None = None,
    limit: int | None = None,
    download: bool | None = None,
) -> SquadData:
    """TFDS ``squad`` (``squad/v1.1`` / ``squad/v2.0``); ``download`` as in ``load_tfds``."""
    from common.data import load_tfds

    if name.split("/")[0] != "squad":
        raise ValueError(f"load_tfds_squad reads the TFDS 'squad' dataset, got {name!r}")
    dataset = load_tfds(
        name, split=split, data_dir=data_dir, as_supervised=False, download=download
    )
    if limit:
        dataset = dataset.take(limit)
    payload: dict[str, Any] = {"version": name.partition("/")[2] or "v1.1", "data": []}
    articles: dict[str, dict[str, Any]] = {}
    for row in dataset.as_numpy_iterator():
        title = row["title"].decode("utf-8")
        article = articles.setdefault(title, {"title": title, "paragraphs": []})
        if title not in [a["title"] for a in payload["data"]]:
            payload["data"].append(article)
        answers = [
            {"text": t.decode("utf-8"), "answer_start": int(s)}
            for t, s in zip(row["answers"]["text"], row["answers"]["answer_start"], strict=False)
        ]
        qa = {
            "id": row["id"].decode("utf-8"),
            "question": row["question"].decode("utf-8"),
            "answers": answers,
            "is_impossible": bool(row.get("is_impossible", False)) or not answers,
        }
        article["paragraphs"].append({"context": row["context"].decode("utf-8"), "qas": [qa]})
    return parse_squad(payload, f"tfds:{name}:{split}")


# --------------------------------------------------------------------------- official metrics
def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lower case, drop punctuation and articles, squeeze whitespace."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(prediction: str, truth: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(truth))


def f1_score(prediction: str, truth: str) -> float:
    """Token-overlap F1 of the official v2.0 script (an empty answer only matches an empty one)."""
    pred_tokens, truth_tokens = (
        normalize_answer(prediction).split(),
        normalize_answer(truth).split(),
    )
    if not pred_tokens or not truth_tokens:
        return float(pred_tokens == truth_tokens)
    common = collections.Counter(pred_tokens) & collections.Counter(truth_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(truth_tokens)
    return 2 * precision * recall / (precision + recall)


def gold_answers(example: QAExample) -> list[str]:
    """Gold texts an answer is scored against: ``[""]`` for an unanswerable question."""
    return [t for t in example.answer_texts if normalize_answer(t)] or [""]


def squad_scores(examples: Sequence[QAExample], predictions: Sequence[str]) -> dict[str, Any]:
    """EM and F1 in percent (max over gold answers; an unanswerable question's gold is ``""``).

    Also reported separately for answerable and unanswerable questions when both occur.
    """
    if len(examples) != len(predictions):
        raise ValueError(f"got {len(predictions)} predictions for {len(examples)} questions")
    if not examples:
        raise ValueError("no questions to score")
    em, f1 = [], []
    for example, prediction in zip(examples, predictions, strict=True):
        golds = gold_answers(example)
        em.append(max(exact_match(prediction, g) for g in golds))
        f1.append(max(f1_score(prediction, g) for g in golds))

    def summary(rows: list[int]) -> dict[str, float]:
        return {
            "exact_match": 100.0 * sum(em[i] for i in rows) / len(rows),
            "f1": 100.0 * sum(f1[i] for i in rows) / len(rows),
            "count": len(rows),
        }

    report: dict[str, Any] = summary(list(range(len(examples))))
    has = [i for i, e in enumerate(examples) if not e.is_impossible]
    none = [i for i, e in enumerate(examples) if e.is_impossible]
    if has and none:
        report["has_answer"] = summary(has)
        report["no_answer"] = summary(none)
    return report


# --------------------------------------------------------------------------- SYNTHETIC data
_PEOPLE = [
    "Ada Lovelace",
    "Zoë Müller",
    "José Ortega",
    "Mei Tanaka",
    "Omar Haddad",
    "Ines Costa",
    "Lars Berg",
    "Priya Nair",
    "Tomás Novák",
    "Amara Obi",
    "Hugo Lefèvre",
    "Sofia Rossi",
]
_CITIES = [
    "São Paulo",
    "Kraków",
    "Reykjavík",
    "Nairobi",
    "Osaka",
    "Lyon",
    "Quito",
    "Tallinn",
    "Perth",
    "Málaga",
    "Hanoi",
    "Zürich",
]
_JOBS = ["chemist", "pilot", "carpenter", "violinist", "geologist", "surgeon", "baker", "lawyer"]
_ORGS = [
    "Acme Labs",
    "the Royal Museum",
    "Nordic Air",
    "Helix Bank",
    "the City Theatre",
    "Orbit Systems",
]
_FACTS = [
    ("city", "{p} was born in {v}.", "Where was {p} born?"),
    ("year", "{p} moved abroad in {v}.", "In what year did {p} move abroad?"),
    ("job", "{p} works as a {v}.", "What does {p} work as?"),
    ("org", "{p} joined {v} last spring.", "Which organisation did {p} join?"),
]


def make_synthetic_qa(
    n: int = 400, seed: int = 0, unanswerable: float = 0.0, people: int = 2
) -> SquadData:
    """SYNTHETIC QA pairs from templates: a context of facts about ``people`` persons, one question.

    Several persons share a context with the same kinds of fact, so answering needs the
    question's name, not just the answer type (type alone gives 1 / ``people`` exact match).
    With ``unanswerable`` > 0 that fraction asks about a person absent from the context.
    Names and places include accented characters (offsets are code points).
    """
    rng = random.Random(seed)
    values = {
        "city": _CITIES,
        "year": [str(y) for y in range(1950, 2021)],
        "job": _JOBS,
        "org": _ORGS,
    }
    examples = []
    for i in range(n):
        persons = rng.sample(_PEOPLE, people + 1)
        present, absent = persons[:people], persons[people]
        sentences, facts = [], []
        kinds = rng.sample(_FACTS, 2)  # every person gets the same kinds of fact: the answer type
        for person in present:  # alone never decides, the question's name has to be matched
            for kind, statement, question in kinds:
                value = rng.choice(values[kind])
                sentences.append(
                    (statement.format(p=person, v=value), person, kind, value, question)
                )
        rng.shuffle(sentences)
        context = ""
        for sentence, person, _kind, value, question in sentences:
            context += ("" if not context else " ") + sentence
            start = context.rindex(value)
            facts.append((question.format(p=person), value, start))
        if rng.random() < unanswerable:
            _, _, question = rng.choice(_FACTS)
            examples.append(
                QAExample(
                    question.format(p=absent), context, [], f"synthetic-{seed}-{i}", "synthetic"
                )
            )
            continue
        question, value, start = rng.choice(facts)
        examples.append(
            QAExample(question, context, [(value, start)], f"synthetic-{seed}-{i}", "synthetic")
        )
    return SquadData(
        examples, "synthetic" + (" v2.0" if unanswerable else ""), source="builtin:synthetic"
    )
