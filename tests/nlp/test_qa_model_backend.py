"""``nlp.qa.model`` builds and trains QuestionAnswerer's span model on Keras-JAX with TensorFlow
unimportable.

That is what lets ``bench/nlp_qa_gpu_train.py`` train the same model and recipe on an accelerator
machine that has JAX but no TensorFlow. The check runs in a fresh process with ``import tensorflow``
blocked, on a toy task (the answer span is marked by two token ids) the model must learn.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import importlib.abc, importlib.util, json, sys

class BlockTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ImportError("tensorflow is blocked in this test")

sys.meta_path.insert(0, BlockTensorFlow())
sys.path.insert(0, sys.argv[1])
import keras, keras_hub, numpy as np

spec = importlib.util.spec_from_file_location("qa_model_alone", sys.argv[1] + "/nlp/qa/model.py")
qa_model = importlib.util.module_from_spec(spec)
spec.loader.exec_module(qa_model)

keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
n, length = 256, 16
token_ids = rng.integers(3, 20, size=(n, length))
starts = rng.integers(1, 8, size=n)
ends = starts + rng.integers(0, 4, size=n)
token_ids[np.arange(n), starts] = 1  # token 1 opens the answer, token 2 closes it
token_ids[np.arange(n), ends] = np.where(starts == ends, 1, 2)
lengths = rng.integers(12, length + 1, size=n)
padding_mask = (np.arange(length)[None, :] < lengths[:, None]).astype("int32")
token_ids = token_ids * padding_mask
x = {"token_ids": token_ids, "padding_mask": padding_mask, "segment_ids": np.zeros_like(token_ids)}
y = {"start_logits": starts, "end_logits": ends}

inputs = {name: keras.Input((None,), dtype="int32", name=name) for name in x}
backbone = keras_hub.models.BertBackbone(
    vocabulary_size=20, num_layers=1, num_heads=2, hidden_dim=32,
    intermediate_dim=64, max_sequence_length=length, dropout=0.0,
)
model = qa_model.span_model(inputs, backbone(inputs)["sequence_output"])
epochs, batch = 40, 32
qa_model.compile_span_model(model, 3e-3, 0.01, epochs * (n // batch), 0.1)
history = model.fit(x, y, batch_size=batch, epochs=epochs, verbose=0).history
out = model.predict(x, verbose=0)
print(json.dumps({
    "backend": keras.backend.backend(),
    "tensorflow_loaded": any(m == "tensorflow" or m.startswith("tensorflow.") for m in sys.modules),
    "first_loss": history["loss"][0], "last_loss": history["loss"][-1],
    "start_accuracy": float((out["start_logits"].argmax(1) == starts).mean()),
    "end_accuracy": float((out["end_logits"].argmax(1) == ends).mean()),
    "padding_logit_max": float(np.max(np.where(padding_mask == 0, out["start_logits"], -np.inf))),
}))
"""


@pytest.mark.slow
def test_span_model_trains_on_jax_without_tensorflow(tmp_path: Path) -> None:
    pytest.importorskip("jax")
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "JAX_PLATFORMS": "cpu",
        "KERAS_HOME": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(REPO_ROOT)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["backend"] == "jax"
    assert not result["tensorflow_loaded"]
    assert result["last_loss"] < 0.3 * result["first_loss"]
    assert result["start_accuracy"] > 0.9 and result["end_accuracy"] > 0.9
    assert result["padding_logit_max"] == pytest.approx(
        -1e4
    )  # padding can never be an answer token
