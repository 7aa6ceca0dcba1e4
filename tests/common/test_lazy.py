"""Lazy package exports: importing a domain is light, every public name still resolves."""

from __future__ import annotations

import subprocess
import sys

import pytest

from common.lazy import lazy_exports

PACKAGES = (
    "vision",
    "nlp",
    "speech",
    "nlp.classification",
    "nlp.ner",
    "nlp.qa",
    "nlp.translation",
    "vision.detection",
    "vision.segmentation",
)


def test_importing_domain_packages_does_not_import_tensorflow():
    code = (
        "import sys\n"
        f"for name in {PACKAGES!r}: __import__(name)\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("package", ["vision", "nlp", "speech"])
def test_dir_lists_every_public_name_and_each_resolves(package):
    module = __import__(package)
    names = dir(module)
    assert set(module.__all__) <= set(names)
    for name in module.__all__:
        assert getattr(module, name) is not None, name


def test_unknown_name_is_an_attribute_error():
    getattr_, dir_ = lazy_exports("common", {"Task": "common.task"})
    assert getattr_("Task").__name__ == "Task"
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        getattr_("Nope")
    assert "Task" in dir_()
