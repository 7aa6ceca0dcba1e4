"""``nlp.QuestionAnswerer``: learning, answer offsets, long contexts, save/load, export, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

from common.export import non_core_ops, read_warmup_requests
from nlp.qa.squad import QAExample, make_synthetic_qa
from nlp.qa.task import QuestionAnswerer
from tests.conftest import run_fresh_tensorflow

TINY = dict(
    vocabulary_size=300,
    sequence_length=64,
    doc_stride=16,
    max_question_tokens=16,
    embed_dim=32,
    num_layers=2,
    num_heads=2,
    intermediate_dim=64,
    learning_rate=3e-3,
    batch_size=16,
    dropout=0.0,
)


@pytest.fixture(scope="module")
def qa_data():
    # One person per context with two kinds of fact: the question type picks the fact.
    return make_synthetic_qa(320, seed=0, people=1), make_synthetic_qa(60, seed=1, people=1)


@pytest.fixture(scope="module")
def trained_qa(qa_data):
    answerer = QuestionAnswerer(**TINY)
    answerer.fit(qa_data[0], epochs=7, verbose=0)
    return answerer


@pytest.fixture(scope="module")
def exported_qa(trained_qa, tmp_path_factory):
    return trained_qa.export(tmp_path_factory.mktemp("qa_export") / "qa")


@pytest.mark.slow
def test_short_training_reaches_high_exact_match(trained_qa, qa_data):
    report = trained_qa.evaluate(qa_data[1])
    # A random span of a ~25-token context is exactly right far less than 5% of the time.
    assert report["exact_match"] >= 80.0, report
    assert report["f1"] >= report["exact_match"]
    assert report["count"] == 60


def test_offsets_slice_the_context_with_unicode_and_repeated_spaces(trained_qa):
    contexts = [
        "Zoë  Müller   was born in São   Paulo.",
        "  Zoë Müller joined Helix  Bank last spring.",
    ]
    questions = ["Where was Zoë Müller born?", "Which organisation did Zoë Müller join?"]
    results = trained_qa.predict(questions, contexts)
    for context, result in zip(contexts, results, strict=True):
        assert not result["no_answer"]
        assert context[result["start"] : result["end"]] == result["answer"]
        assert 0.0 <= result["score"] <= 1.0
    assert [r["answer"] for r in results] == ["São   Paulo", "Helix  Bank"]


def test_predict_contract_keywords_pairs_and_mappings(trained_qa):
    question, context = "Where was Zoë Müller born?", "Zoë  Müller   was born in São   Paulo."
    one = trained_qa.predict(question=question, context=context)
    assert isinstance(one, dict) and one["answer"] == "São   Paulo"
    assert trained_qa.predict([question], context) == [one]  # a list in, a list out
    assert trained_qa.predict((question, context)) == one  # one (question, context) pair
    assert trained_qa.predict({"question": question, "context": context}) == one
    pairs = [(question, context), {"question": question, "context": context}]
    assert [r["answer"] for r in trained_qa.predict(pairs)] == [one["answer"]] * 2
    with pytest.raises(ValueError, match="input 0 must be a \\(question, context\\) pair"):
        trained_qa.predict(["just a question"])


def test_save_load_round_trip(trained_qa, tmp_path):
    path = trained_qa.save(tmp_path / "qa.keras")
    loaded = QuestionAnswerer.load(path)
    assert loaded.config == trained_qa.config
    question, context = (
        "What does Omar Haddad work as?",
        "Omar Haddad works as a pilot. Omar Haddad moved abroad in 1999.",
    )
    assert loaded.predict(question, context) == pytest.approx(trained_qa.predict(question, context))


@pytest.mark.slow
def test_export_serves_raw_strings_in_fresh_process_like_predict(trained_qa, exported_qa):
    version_dir = exported_qa
    assert non_core_ops(version_dir) == []
    warmup = read_warmup_requests(version_dir)[0]
    assert set(warmup) == {"question", "context"}
    questions = ["Where was Mei Tanaka born?", "In what year did Lars  Berg move abroad?", "Who?"]
    contexts = [
        "Mei Tanaka was born in Kraków. Mei Tanaka works as a baker.",
        "Lars  Berg moved abroad in 1987.   Lars Berg works as a chemist.",
        "Ünïcode  only here.",
    ]
    out = run_fresh_tensorflow(f"""
import json
fn = tf.saved_model.load({str(version_dir)!r}).signatures["serving_default"]
out = fn(question=tf.constant({questions!r}), context=tf.constant({contexts!r}))
values = {{k: v.numpy().tolist() for k, v in out.items()}}
print(json.dumps(values, default=lambda b: b.decode("utf-8")))
""")
    served = json.loads(out.strip().splitlines()[-1])
    expected = trained_qa.predict(questions, contexts)
    assert served["answer"] == [r["answer"] for r in expected]
    assert served["start"] == [r["start"] for r in expected]
    assert served["end"] == [r["end"] for r in expected]
    np.testing.assert_allclose(
        served["score"], [r["score"] for r in expected], rtol=1e-4, atol=1e-6
    )
    np.testing.assert_allclose(
        served["no_answer_margin"], [r["no_answer_margin"] for r in expected], rtol=1e-4, atol=1e-4
    )


def test_export_survives_bad_requests(exported_qa):
    """Empty strings, invalid UTF-8 and a 100k-character context answer without raising."""
    serve = tf.saved_model.load(str(exported_qa)).signatures["serving_default"]
    long_context = "word " * 20_000 + "Ada Lovelace was born in Osaka."
    out = serve(
        question=tf.constant(
            [b"", b"Where was Ada born?", b"Where \xff\xfe?", b"Where was Ada Lovelace born?"]
        ),
        context=tf.constant(
            [b"Ada was born in Lyon.", b"", b"Ada was born in Lyon \xc3(.", long_context.encode()]
        ),
    )
    answers = [a.decode("utf-8") for a in out["answer"].numpy()]
    assert out["no_answer"].numpy()[1] and answers[1] == "" and out["start"].numpy()[1] == -1
    start, end = int(out["start"].numpy()[3]), int(out["end"].numpy()[3])
    assert answers[3] and long_context[start:end] == answers[3]


def test_predict_rejects_bad_input_with_clear_errors(trained_qa):
    with pytest.raises(ValueError, match="question 0 is empty"):
        trained_qa.predict("  ", "Ada was born in Lyon.")
    with pytest.raises(ValueError, match="context 0 is empty"):
        trained_qa.predict("Where?", "")
    with pytest.raises(ValueError, match="not valid UTF-8"):
        trained_qa.predict("Where?", b"Lyon \xff")
    with pytest.raises(ValueError, match="2 questions but 3 contexts"):
        trained_qa.predict(["a", "b"], ["x", "y", "z"])
    with pytest.raises(ValueError, match="max_context_chars"):
        trained_qa.predict("Where?", "x" * (trained_qa.config.max_context_chars + 1))
    with pytest.raises(ValueError, match="SquadData"):
        trained_qa.evaluate({"question": "q"})
    with pytest.raises(
        ValueError, match="question must be a string or a list of strings, got NoneType"
    ):
        trained_qa.predict(None, "Ada was born in Lyon.")
    with pytest.raises(ValueError, match="context 0 is int"):
        trained_qa.predict("Where?", [5])


def test_a_100k_character_context_is_handled_through_windows(trained_qa):
    """Python predict accepts contexts up to max_context_chars and answers from all its windows."""
    context = ("Lars Berg works as a baker. " * 3600)[:99_960] + " Ada Lovelace was born in Quito."
    assert len(context) <= trained_qa.config.max_context_chars == 100_000
    result = trained_qa.predict("Where was Ada Lovelace born?", context)
    assert result["answer"] and context[result["start"] : result["end"]] == result["answer"]


def test_no_answer_option_answers_nothing_when_the_null_score_wins(trained_qa):
    """The same weights with allow_no_answer and a very low threshold always abstain."""
    abstaining = QuestionAnswerer(**{**TINY, "allow_no_answer": True, "no_answer_threshold": -1e6})
    abstaining.set_state(trained_qa.get_state())
    abstaining._model = trained_qa.model
    result = abstaining.predict("Where was Ada born?", "Ada Lovelace was born in Lyon.")
    assert result == {
        "answer": "",
        "start": -1,
        "end": -1,
        "score": result["score"],
        "no_answer": True,
        "no_answer_margin": result["no_answer_margin"],
    }


@pytest.mark.slow
def test_tuned_no_answer_threshold_is_the_best_and_is_what_predict_applies(trained_qa, tmp_path):
    """Tuning on SQuAD 2.0-style data picks the F1-best threshold; predict/evaluate/save use it."""
    v2 = make_synthetic_qa(80, seed=2, people=1, unanswerable=0.5)
    tuned_qa = QuestionAnswerer(**{**TINY, "allow_no_answer": True})
    tuned_qa.set_state(trained_qa.get_state())
    tuned_qa._model = trained_qa.model
    before = tuned_qa.evaluate(v2)["f1"]
    tuned = tuned_qa.tune_no_answer_threshold(v2)
    assert tuned["previous_threshold_f1"] == pytest.approx(before)
    assert tuned_qa.config.no_answer_threshold == tuned["threshold"]
    assert tuned_qa.evaluate(v2)["f1"] == pytest.approx(tuned["f1"]) and tuned["f1"] >= before
    # The model never saw unanswerable questions; a tuned threshold must still beat abstaining.
    assert tuned["f1"] > 100.0 * sum(e.is_impossible for e in v2.examples) / len(v2)
    results = tuned_qa.predict([e.question for e in v2.examples], [e.context for e in v2.examples])
    assert [r["no_answer"] for r in results] == [
        r["no_answer_margin"] > tuned["threshold"] for r in results
    ]
    loaded = QuestionAnswerer.load(tuned_qa.save(tmp_path / "tuned.keras"))
    assert loaded.config.no_answer_threshold == tuned["threshold"]
    with pytest.raises(ValueError, match="allow_no_answer=True"):
        trained_qa.tune_no_answer_threshold(v2)


def test_config_and_data_errors():
    with pytest.raises(ValueError, match="at least 8 context tokens"):
        QuestionAnswerer(sequence_length=32, max_question_tokens=30)
    with pytest.raises(ValueError, match="doc_stride"):
        QuestionAnswerer(doc_stride=0)
    with pytest.raises(ValueError, match="no usable training examples"):
        QuestionAnswerer(**TINY).fit(
            [QAExample("q?", "some context", [("absent", -1)])], epochs=1, verbose=0
        )
