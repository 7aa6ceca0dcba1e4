"""A `.keras` file saved by dlsuite loads in a fresh process: through ``common.load_model``, or
with plain Keras after the imports ``common.required_imports`` names; ``import common`` is light.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

import common

ROOT = Path(__file__).resolve().parents[2]


def _fresh(code: str) -> dict:
    """Run ``code`` in a new interpreter at the repository root; it prints one JSON line."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def saved_task(tmp_path_factory) -> tuple[Path, np.ndarray]:
    from vision import ImageClassifier

    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (8, 16, 16, 3)).astype(np.uint8)
    task = ImageClassifier(classes=["a", "b"], image_size=16, widths=[8], batch_size=8)
    task.fit((images, rng.integers(0, 2, 8)), epochs=1, verbose=0)
    path = tmp_path_factory.mktemp("saved") / "clf.keras"
    task.save(path)
    return path, np.asarray(task.model.predict(images[:2].astype("float32"), verbose=0))


def test_saved_task_loads_in_a_fresh_process(saved_task):
    path, expected = saved_task
    assert common.required_imports(path) == [
        "common.layers",
        "common.losses",
        "vision.classification",
    ]
    result = _fresh(
        f"""
        import json, sys
        import numpy as np
        import keras
        path = {str(path)!r}
        try:  # what a user gets today without importing dlsuite: Keras cannot find our classes
            keras.saving.load_model(path)
            bare = "loaded"
        except TypeError as error:
            bare = str(error)
        import common
        model = common.load_model(path, safe_mode=True)
        rng = np.random.default_rng(0)
        images = rng.integers(0, 255, (8, 16, 16, 3)).astype(np.uint8)[:2].astype("float32")
        print(json.dumps({{"bare": bare, "scores": model.predict(images, verbose=0).tolist()}}))
        """
    )
    assert "could not be deserialized" in result["bare"] or "Could not locate" in result["bare"]
    np.testing.assert_allclose(result["scores"], expected, rtol=1e-5, atol=1e-6)


def test_plain_keras_loads_after_the_named_imports(saved_task):
    path, expected = saved_task
    imports = "\n".join(f"import {module}" for module in common.required_imports(path))
    result = _fresh(
        f"import json, keras\n{imports}\n"
        f"model = keras.saving.load_model({str(path)!r}, safe_mode=True)\n"
        "print(json.dumps({'layers': len(model.layers)}))"
    )
    assert result["layers"] > 1


def test_import_common_stays_light():
    result = _fresh(
        """
        import json, sys
        import common
        heavy = [m for m in ("keras", "tensorflow", "numpy") if m in sys.modules]
        print(json.dumps({"heavy": heavy, "names": sorted(common.__all__)}))
        """
    )
    assert result == {"heavy": [], "names": ["DLSUITE_PACKAGES", "load_model", "required_imports"]}


def _archive(path: Path, config: dict) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
    return path


def test_foreign_modules_and_wrong_files_are_refused(tmp_path):
    layer = {"module": "mypackage.layers", "class_name": "Fancy", "config": {}}
    model = {"module": "keras", "class_name": "Sequential", "config": {"layers": [layer]}}
    foreign = _archive(tmp_path / "foreign.keras", model)
    assert common.required_imports(foreign) == ["mypackage.layers"]
    with pytest.raises(ValueError, match="mypackage.layers, which are not part of dlsuite"):
        common.load_model(foreign)
    (tmp_path / "text.keras").write_text("not a zip")
    with pytest.raises(ValueError, match="not a zip archive"):
        common.required_imports(tmp_path / "text.keras")
    with pytest.raises(ValueError, match="no such file"):
        common.required_imports(tmp_path / "missing.keras")
    no_config = tmp_path / "empty.keras"
    zipfile.ZipFile(no_config, "w").close()
    with pytest.raises(ValueError, match="no config.json"):
        common.required_imports(no_config)
