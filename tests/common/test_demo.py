"""Demo results tables: one per kind of task, fitted to the terminal width."""

from __future__ import annotations

from common.demo import print_table

ROWS = [
    {"task": "nlp/classification", "accuracy": 0.98765, "macro_f1": 0.97},
    {"task": "nlp/ner", "entity_f1": 0.91, "entities": "Ada Lovelace (PER), London (LOC)"},
    {"task": "nlp/translation", "bleu": 41.2, "translation": "ich sehe einen roten Hund " * 4},
    {"task": "nlp/classification", "accuracy": 0.5, "macro_f1": 0.4},
]


def test_rows_of_different_tasks_get_their_own_tables(capsys):
    print_table("nlp", ROWS, width=80)
    out = capsys.readouterr().out
    assert out.count("nlp: nlp/classification") == 1  # both classification rows, one table
    assert "nlp: nlp/ner" in out and "nlp: nlp/translation" in out
    assert all(word in out for word in ("0.9877", "0.5", "entity_f1", "bleu", "London"))
    assert max(len(line) for line in out.splitlines()) <= 80
    classification = out[: out.index("nlp: nlp/ner")]
    assert "bleu" not in classification and "entities" not in classification


def test_one_kind_of_row_is_one_table_under_the_given_title(capsys):
    print_table("vision", [{"task": "a", "accuracy": 1.0}, {"task": "b", "accuracy": 0.5}], 60)
    out = capsys.readouterr().out
    assert out.count("vision") == 1 and "accuracy" in out
