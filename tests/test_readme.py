"""The README is executable documentation: its commands parse, its names exist, and the
built-in-data command sequences run (with fewer epochs), so the README cannot drift again."""

from __future__ import annotations

import itertools
import re
import shlex
from pathlib import Path

import pytest

from common.cli import build_parser, main

README = Path(__file__).resolve().parents[1] / "README.md"
TEXT = README.read_text(encoding="utf-8")
DOMAINS = ("vision", "nlp", "speech", "health", "autonomy", "common", "serving")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", TEXT, flags=re.S)


def _bash_commands() -> list[list[str]]:
    """Every ``dlsuite ...`` command of the README's bash blocks, continuation lines joined."""
    commands = []
    for block in _blocks("bash"):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #", 1)[0].strip()
            words = shlex.split(line, comments=True) if line else []
            while words and re.match(r"^[A-Z_]+=", words[0]):  # environment assignments
                words = words[1:]
            if words[:1] == ["dlsuite"]:
                commands.append(words[1:])
    return commands


def _inline_command_forms() -> list[list[str]]:
    """Inline `dlsuite a|b c|d ...` mentions in prose, expanded into every combination."""
    forms: list[list[str]] = []
    for mention in re.findall(r"`dlsuite ([^`]+)`", TEXT):
        words = [w for w in mention.split() if not w.startswith(("-", "<", "["))]
        words = [w for w in words if w not in ("...", "…") and "/" not in w and "." not in w]
        if words:
            forms.extend(list(combo) for combo in itertools.product(*(w.split("|") for w in words)))
    return [list(form) for form in dict.fromkeys(tuple(form) for form in forms)]


BASH_COMMANDS = _bash_commands()
INLINE_FORMS = _inline_command_forms()


def test_the_readme_has_commands_to_check():
    assert len(BASH_COMMANDS) >= 10 and len(INLINE_FORMS) >= 10


@pytest.mark.parametrize("argv", BASH_COMMANDS, ids=" ".join)
def test_every_readme_command_parses(argv):
    args = build_parser().parse_args(argv)
    assert callable(args.func)


@pytest.mark.parametrize("form", INLINE_FORMS, ids=" ".join)
def test_every_command_named_in_the_prose_exists(form):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([*form, "--help"])
    assert exit_info.value.code == 0


def test_python_snippets_compile_and_their_imports_and_names_exist():
    import importlib

    blocks = _blocks("python")
    assert blocks
    for block in blocks:
        compile(block, "README.md", "exec")
        for line in block.splitlines():
            if re.match(r"^(from \S+ import .+|import \S+)$", line.strip()):
                exec(line.strip(), {})
        for package, name in re.findall(rf"\b({'|'.join(DOMAINS)})\.([A-Za-z_]\w*)", block):
            module = importlib.import_module(package)
            if not hasattr(module, name):  # a sub-module, e.g. common.data
                importlib.import_module(f"{package}.{name}")


def _run(argv: list[str]) -> None:
    assert main(argv) == 0, argv


def _fewer_epochs(argv: list[str], epochs: str = "1") -> list[str]:
    if "--epochs" in argv:
        argv = list(argv)
        argv[argv.index("--epochs") + 1] = epochs
        return argv
    return [*argv, "--epochs", epochs]


def _readme_sequence(prefix: list[str]) -> list[list[str]]:
    return [argv for argv in BASH_COMMANDS if argv[: len(prefix)] == prefix]


@pytest.mark.slow
def test_readme_vision_classification_commands_run(tmp_path, monkeypatch):
    import numpy as np
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    digit = np.zeros((8, 8), np.uint8)
    digit[1:7, 3:5] = 255
    Image.fromarray(digit).save("my_digit.png")
    commands = [c for c in _readme_sequence(["vision", "classify"]) if "photos/" not in c]
    assert [c[2] for c in commands] == ["train", "evaluate", "predict", "export"]
    for argv in commands:
        _run(_fewer_epochs(argv) if argv[2] == "train" else argv)
    assert Path("digits.keras").is_file() and Path("models/digits/1/saved_model.pb").is_file()
    assert any(Path("reports").iterdir())


@pytest.mark.slow
def test_readme_nlp_commands_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    commands = _readme_sequence(["nlp"])
    assert {tuple(c[:3]) for c in commands} >= {
        ("nlp", "translate", "train"),
        ("nlp", "qa", "train"),
    }
    for argv in commands:
        _run(_fewer_epochs(argv) if argv[2] == "train" else argv)
    assert Path("models/nlp_translation/1/saved_model.pb").is_file()
    assert Path("qa.keras").is_file() and Path("qa2.keras").is_file()
