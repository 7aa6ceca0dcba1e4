"""Rule-made unanswerable questions for SQuAD 2.0-style training (used by ``bench.nlp_qa_gpu``).

SQuAD 2.0's unanswerable questions were written against their paragraph so that a plausible but
wrong span exists: entity swaps (21 %), antonyms (20 %), negations (9 %), mutual exclusion,
impossible conditions (Rajpurkar et al., 2018). The v2.0 folds here hold only about 2,000 of them.
These rules make more from answerable questions, keeping the paragraph and changing the question:

- ``swap``: a capitalised word or a number of the question that occurs in the paragraph becomes
  one of the same kind from elsewhere in the article that does not occur in the paragraph;
- ``antonym``: a word from a short list of SQuAD-frequent opposites becomes its opposite;
- ``negation``: ``not`` after the question's first auxiliary verb;
- ``distractor``: the question is paired with the article's other paragraph that shares the most
  words with it and contains none of its answers.

Each made example is labelled unanswerable. Only training articles are used (the caller passes the
training part), so no test article, paragraph or question leaks into training.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict

from nlp.qa.squad import QAExample, SquadData

WORD = re.compile(r"[A-Za-z0-9]+(?:['\-.][A-Za-z0-9]+)*")
AUXILIARY = re.compile(
    r"\b(is|was|are|were|did|does|do|can|could|has|have|had|will|would|should)\b"
)
PAIRS = [
    ("first", "last"),
    ("largest", "smallest"),
    ("most", "least"),
    ("highest", "lowest"),
    ("earliest", "latest"),
    ("before", "after"),
    ("increase", "decrease"),
    ("increased", "decreased"),
    ("north", "south"),
    ("east", "west"),
    ("northern", "southern"),
    ("eastern", "western"),
    ("won", "lost"),
    ("win", "lose"),
    ("began", "ended"),
    ("start", "end"),
    ("major", "minor"),
    ("longest", "shortest"),
    ("biggest", "smallest"),
    ("best", "worst"),
    ("more", "less"),
    ("early", "late"),
    ("old", "new"),
    ("older", "newer"),
    ("oldest", "newest"),
    ("above", "below"),
    ("inside", "outside"),
    ("public", "private"),
    ("positive", "negative"),
    ("higher", "lower"),
    ("larger", "smaller"),
    ("maximum", "minimum"),
    ("allowed", "forbidden"),
    ("success", "failure"),
    ("successful", "unsuccessful"),
    ("common", "rare"),
    ("same", "different"),
    ("strong", "weak"),
    ("strongest", "weakest"),
    ("fastest", "slowest"),
    ("cheapest", "most expensive"),
]
ANTONYM = {a: b for a, b in PAIRS} | {b: a for a, b in PAIRS}
STOP = {
    "the",
    "a",
    "an",
    "of",
    "in",
    "on",
    "to",
    "and",
    "or",
    "for",
    "what",
    "which",
    "who",
    "whom",
    "when",
    "where",
    "why",
    "how",
    "is",
    "was",
    "are",
    "were",
    "did",
    "does",
    "do",
    "by",
    "with",
    "as",
    "at",
    "that",
    "from",
    "it",
    "its",
    "be",
    "been",
    "his",
    "her",
    "their",
    "this",
    "many",
    "much",
}
KINDS = ("swap", "antonym", "negation", "distractor")


def _kind(word: str) -> str | None:
    if word.isdigit():
        return "number"
    if word[:1].isupper():
        return "name"
    return None


def _in_text(word: str, text: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9]){re.escape(word)}(?![A-Za-z0-9])", text) is not None


def _swap(example: QAExample, pool: dict[str, list[str]], rng: random.Random) -> str | None:
    words = list(WORD.finditer(example.question))
    spots = [
        m
        for i, m in enumerate(words)
        if (i > 0 or m.group().isdigit())
        and _kind(m.group())
        and _in_text(m.group(), example.context)
    ]
    rng.shuffle(spots)
    for spot in spots:
        options = [
            w
            for w in pool[_kind(spot.group()) or ""]  # spots all have a kind
            if w != spot.group() and not _in_text(w, example.context)
        ]
        if options:
            q = example.question
            return q[: spot.start()] + rng.choice(options) + q[spot.end() :]
    return None


def _antonym(example: QAExample, rng: random.Random) -> str | None:
    spots = [m for m in WORD.finditer(example.question) if m.group().lower() in ANTONYM]
    if not spots:
        return None
    spot = rng.choice(spots)
    q = example.question
    return q[: spot.start()] + ANTONYM[spot.group().lower()] + q[spot.end() :]


def _negation(example: QAExample) -> str | None:
    q = example.question
    found = AUXILIARY.search(q)
    if found is None or re.search(r"\bnot\b|n't\b", q):
        return None
    return q[: found.end()] + " not" + q[found.end() :]


def _content(text: str) -> set[str]:
    return {w.lower() for w in WORD.findall(text)} - STOP


def _distractor(example: QAExample, paragraphs: list[str]) -> str | None:
    asked = _content(example.question)
    others = [
        p
        for p in paragraphs
        if p != example.context and not any(text and text in p for text in example.answer_texts)
    ]
    if not others:
        return None
    best = max(others, key=lambda p: len(asked & _content(p)))
    return best if asked & _content(best) else None


def unanswerable_variants(
    data: SquadData, per_question: int = 1, kinds: tuple[str, ...] = KINDS, seed: int = 0
) -> SquadData:
    """Up to ``per_question`` rule-made unanswerable examples per answerable question of ``data``
    (kinds drawn without repetition in a random order per question); ids ``aug-KIND-ID``."""
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown kinds {sorted(unknown)}; choose from {KINDS}")
    rng = random.Random(seed)
    paragraphs: dict[str, list[str]] = defaultdict(list)
    pools: dict[str, dict[str, set[str]]] = defaultdict(lambda: {"name": set(), "number": set()})
    for example in data.examples:
        if example.context not in paragraphs[example.title]:
            paragraphs[example.title].append(example.context)
            for sentence in re.split(r"(?<=[.!?])\s+", example.context):
                for j, word in enumerate(WORD.findall(sentence)):
                    kind = _kind(word)
                    if kind == "number" or (kind == "name" and j > 0 and word.lower() not in STOP):
                        pools[example.title][kind].add(word)
    sorted_pools = {t: {k: sorted(v) for k, v in p.items()} for t, p in pools.items()}
    made = []
    for example in data.examples:
        if example.is_impossible:
            continue
        order = list(kinds)
        rng.shuffle(order)
        count = 0
        for kind in order:
            if count == per_question:
                break
            context: str | None = example.context
            question = None
            if kind == "swap":
                question = _swap(example, sorted_pools[example.title], rng)
            elif kind == "antonym":
                question = _antonym(example, rng)
            elif kind == "negation":
                question = _negation(example)
            else:
                context = _distractor(example, paragraphs[example.title])
                question = example.question if context else None
            if question and context:  # context is None only where question is None
                made.append(
                    QAExample(
                        question, context, [], id=f"aug-{kind}-{example.id}", title=example.title
                    )
                )
                count += 1
    return SquadData(made, data.version, source=f"{data.source} (rule-made unanswerable)")
