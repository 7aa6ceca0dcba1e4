"""Train one SQuAD v2.0 fold of a ``bench.nlp_qa_gpu`` pack with Keras on JAX (no TensorFlow).

Runs on a lent accelerator machine that has JAX but not TensorFlow. The model is dlsuite's
(``nlp.qa.model.span_model`` over the pack's BertBackbone config and initial weights) and the
recipe is ``QuestionAnswerer.fit``'s (``nlp.qa.model.compile_span_model``: AdamW, warmup + cosine,
clipping, start/end cross-entropy; batch 16). Writes the fold's test-window logits (non-padding
positions only) for ``python -m bench.nlp_qa_gpu finish``. Recipe flags add training windows:
``extra`` the extra v1.1 articles' questions, ``aug`` / ``aug2`` one or two rule-made unanswerable
variants per answerable question (``bench.nlp_qa_augment``; the pack needs ``prepare --augment 2``).

    KERAS_BACKEND=jax python bench/nlp_qa_gpu_train.py --pack .gpu/pack --out OUT \
        --fold 0 --epochs 6
    KERAS_BACKEND=jax python bench/nlp_qa_gpu_train.py --pack .gpu/pack --out OUT \
        --sweep 12:1e-4,12:1e-4:aug

Four fold processes share the GPU well; more do not help (12 at once kept an H200 at 100 % and
trained about 2,100 windows/s in all, against about 1,700 for 3).
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import argparse  # noqa: E402  (the backend must be chosen before keras is imported)
import importlib.util  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from types import ModuleType  # noqa: E402
from typing import Any  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
#: Runs on the GPU machine with --pack/--out, never with defaults (see bench/__main__.py).
RUN_BY_MAKE_BENCH = False
INPUTS = ("token_ids", "padding_mask", "segment_ids")


def load_qa_model() -> ModuleType:
    """``nlp/qa/model.py`` by path: importing the package ``nlp`` would import TensorFlow."""
    sys.path.insert(0, str(REPO_ROOT))  # for common.optimizers, which is Keras-only
    path = REPO_ROOT / "nlp" / "qa" / "model.py"
    spec = importlib.util.spec_from_file_location("dlsuite_qa_model", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def initial_weights(pack: Path, meta: dict[str, Any]) -> list[np.ndarray]:
    """The float32 weights ``prepare`` stored as byte planes; unused embedding rows are zero."""
    stored = np.load(pack / "weights.npz")
    flat = np.ascontiguousarray(stored["byte_planes"].T).view("<f4").ravel()
    shapes = json.loads(str(stored["shapes"]))
    values, offset = [], 0
    for (path, full_shape), shape in zip(meta["weights"], shapes, strict=True):
        size = math.prod(shape)
        value = flat[offset : offset + size].reshape(shape)
        offset += size
        if path.endswith(meta["token_embedding"]):
            full = np.zeros(full_shape, np.float32)
            full[stored["used_tokens"]] = value
            value = full
        values.append(value)
    if offset != flat.size:
        raise ValueError(f"weights.npz holds {flat.size} values, the model {offset}")
    return values


def build_model(meta: dict[str, Any], qa_model: ModuleType) -> keras.Model:
    """dlsuite's span model over the pack's backbone, with the pack's initial weights."""
    import keras_hub

    inputs = {name: keras.Input((None,), dtype="int32", name=name) for name in INPUTS}
    backbone = getattr(keras_hub.models, meta["backbone_class"]).from_config(
        meta["backbone_config"]
    )
    model = qa_model.span_model(inputs, backbone(inputs)["sequence_output"])
    found = [[v.path, list(v.shape)] for v in model.weights]
    if found != meta["weights"]:
        raise ValueError(
            "the model built here does not match the pack's weight list (paths and shapes)"
        )
    return model


FLAGS = (
    "extra",
    "aug",
    "aug2",
)  # recipe flags: + extra v1.1 articles; + 1 or 2 rule-made negatives per question


def window_parts(extra: bool, augment: int) -> list[str]:
    """The pack's window sets (``bench.nlp_qa_gpu.SOURCES``) a recipe adds to ``train``."""
    parts = ["extra"] if extra else []
    if augment:
        parts += ["aug", "aug_second"][:augment]
        if extra:
            parts += ["extra_aug", "extra_aug_second"][:augment]
    return parts


def fold_windows(
    windows: Any, fold: int, extra: bool, limit: int | None, augment: int = 0
) -> np.ndarray:
    parts = window_parts(extra, augment)
    missing = [p for p in parts if f"{p}{fold}" not in windows.files]
    if missing:
        raise ValueError(f"the pack has no {missing} windows: prepare it with --augment 2")
    train = np.concatenate([windows[f"train{fold}"], *(windows[f"{p}{fold}"] for p in parts)])
    return train[:: max(1, len(train) // limit)][:limit] if limit else train


def is_recipe(spec: str) -> bool:
    """``EPOCHS:LR[:extra][:aug|:aug2]`` with a positive whole number of epochs and positive LR."""
    parts = spec.split(":")
    flags = parts[2:]
    if (
        len(parts) < 2
        or any(f not in FLAGS for f in flags)
        or len(set(flags)) != len(flags)
        or ("aug" in flags and "aug2" in flags)
    ):
        return False
    try:
        return int(parts[0]) > 0 and float(parts[1]) > 0
    except ValueError:
        return False


def recipe_arguments(flags: list[str]) -> list[str]:
    """Command-line options of one fold process for a recipe's flags."""
    arguments = ["--extra"] if "extra" in flags else []
    if "aug" in flags or "aug2" in flags:
        arguments += ["--augment", "2" if "aug2" in flags else "1"]
    return arguments


def sweep(
    recipes: list[str],
    pack: Path,
    out: Path,
    folds: int,
    deadline_s: float,
    train_limit: int | None = None,
) -> None:
    """Recipes in order, the folds of each in parallel processes on the one GPU; each finished
    recipe becomes ``out/RECIPE.tar``. A recipe that would not end before the deadline (scaled
    from the last one's wall time) is skipped; one still running at the deadline is stopped and
    dropped."""
    import subprocess
    import tarfile

    begin = time.perf_counter()
    log = open(out / "log.txt", "a")
    # Start-up + compile + test logits, and training per epoch-unit: known after the first recipe.
    overhead_s: float | None = None
    unit_s: float | None = None
    for spec in recipes:  # "EPOCHS:LR" or "EPOCHS:LR:extra"
        epochs, lr, *flags = spec.split(":")
        units = int(epochs) * (
            1 + ("extra" in flags) + ("aug" in flags) + 2 * ("aug2" in flags)
        )  # ~windows
        left = deadline_s - (time.perf_counter() - begin)
        if overhead_s is not None and unit_s is not None and overhead_s + unit_s * units > left:
            print(
                f"skip {spec}: needs about {overhead_s + unit_s * units:.0f} s, {left:.0f} s left",
                file=log,
                flush=True,
            )
            continue
        work = out / f"work-{spec.replace(':', '_')}"
        work.mkdir(parents=True)
        started = time.perf_counter()
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--pack",
                    str(pack),
                    "--out",
                    str(work),
                    "--fold",
                    str(f),
                    "--epochs",
                    epochs,
                    "--learning-rate",
                    lr,
                    *recipe_arguments(flags),
                    *(["--train-limit", str(train_limit)] if train_limit else []),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            for f in range(folds)
        ]
        try:
            codes = [
                p.wait(timeout=max(1.0, deadline_s - (time.perf_counter() - begin))) for p in procs
            ]
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            print(f"deadline: stopped {spec}", file=log, flush=True)
            break
        wall = time.perf_counter() - started
        train_s = (
            max(json.loads(str(np.load(r)["info"]))["train_s"] for r in work.glob("*.npz"))
            if any(c == 0 for c in codes)
            else wall
        )
        overhead_s, unit_s = wall - train_s, train_s / units
        print(
            f"recipe {spec}: exit codes {codes}, {wall:.0f} s ({train_s:.0f} s training)",
            file=log,
            flush=True,
        )
        with tarfile.open(out / f"{spec.replace(':', '_')}.tar", "w") as tar:
            for result in sorted(work.glob("*.npz")):
                tar.add(result, arcname=result.name)
        for result in work.glob("*.npz"):
            result.unlink()
        work.rmdir()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pack", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--fold", type=int, default=None)
    parser.add_argument(
        "--sweep",
        default=None,
        help="comma-separated EPOCHS:LR[:extra] recipes, each over every fold (instead of --fold)",
    )
    parser.add_argument(
        "--deadline", type=float, default=480.0, help="--sweep: seconds before it stops"
    )
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument(
        "--extra", action="store_true", help="also train on the extra v1.1 articles' questions"
    )
    parser.add_argument(
        "--augment",
        type=int,
        choices=(0, 1, 2),
        default=0,
        help="also train on 1 or 2 rule-made unanswerable variants per answerable question",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--train-limit", type=int, default=None, help="smoke test: N training windows"
    )
    parser.add_argument(
        "--recipe", default=None, help="row label (default from epochs, lr and --extra)"
    )
    args = parser.parse_args(argv)
    if not (args.pack / "meta.json").is_file() or not (args.pack / "windows.npz").is_file():
        parser.error(f"{args.pack} is not a pack made by `python -m bench.nlp_qa_gpu prepare`")
    meta = json.loads((args.pack / "meta.json").read_text())
    if args.sweep:
        recipes = args.sweep.split(",")
        for spec in recipes:
            if not is_recipe(spec):
                parser.error(
                    f"--sweep recipe {spec!r} is not EPOCHS:LR[:extra][:aug|:aug2] (e.g. "
                    "8:1e-4:extra)"
                )
        args.out.mkdir(parents=True, exist_ok=True)
        sweep(recipes, args.pack, args.out, meta["folds"], args.deadline, args.train_limit)
        return 0
    if args.fold is None or not 0 <= args.fold < meta["folds"]:
        parser.error(f"give --fold K with 0 <= K < {meta['folds']}, or --sweep RECIPES")
    suffix = ("-extra" if args.extra else "") + (f"-aug{args.augment}" if args.augment else "")
    recipe = args.recipe or f"gpu-e{args.epochs}-lr{args.learning_rate:g}{suffix}"
    target = args.out / f"{recipe}-fold{args.fold}.npz"
    if target.exists():
        parser.error(f"{target} already exists")
    options = meta["options"]
    windows = np.load(args.pack / "windows.npz")
    qa_model = load_qa_model()
    keras.utils.set_random_seed(args.seed)
    model = build_model(meta, qa_model)
    model.set_weights(initial_weights(args.pack, meta))

    try:
        train = fold_windows(windows, args.fold, args.extra, args.train_limit, args.augment)
    except ValueError as error:
        parser.error(str(error))
    x = {name: windows[name][train] for name in INPUTS}
    y = {"start_logits": windows["start"][train], "end_logits": windows["end"][train]}
    batch = options["batch_size"]
    steps = math.ceil(len(train) / batch)
    qa_model.compile_span_model(
        model,
        args.learning_rate,
        options["weight_decay"],
        args.epochs * steps,
        options["warmup_fraction"],
    )
    started = time.perf_counter()
    history = model.fit(x, y, batch_size=batch, epochs=args.epochs, shuffle=True, verbose=2).history
    train_s = time.perf_counter() - started

    test = windows[f"test{args.fold}"]
    logits = model.predict(
        {name: windows[name][test] for name in INPUTS}, batch_size=128, verbose=0
    )
    mask = windows["padding_mask"][test].astype(bool)
    examples = windows["example"]
    if "source" in windows.files:
        source = windows["source"]
    else:  # a pack made before augmentation: the v2.0 questions, then the extra articles'
        source = (np.arange(meta["examples"]) >= meta["examples"] - meta["extra_examples"]).astype(
            int
        )
    trained_on = np.unique(examples[train])
    trained_sources = np.bincount(source[trained_on], minlength=6)
    import jax

    info = {
        "fold": args.fold,
        "recipe": recipe,
        "epochs": args.epochs,
        "learning_rate": args.learning_rate,
        "seed": args.seed,
        "train_windows": int(len(train)),
        "train_questions": int(len(trained_on)),
        "extra_train_questions": int(trained_sources[1]),
        "augment": args.augment,
        "made_unanswerable_train_questions": int(trained_sources[2:].sum()),
        "train_s": train_s,
        "history": {k: [round(float(v), 4) for v in vs] for k, vs in history.items()},
        "device": f"{jax.devices()[0].device_kind} (JAX {jax.__version__}, Keras "
        f"{keras.__version__})",
    }
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez(
        target,
        windows=test,
        start=np.asarray(logits["start_logits"])[mask].astype(np.float32),
        end=np.asarray(logits["end_logits"])[mask].astype(np.float32),
        info=np.array(json.dumps(info)),
    )
    print(json.dumps({k: v for k, v in info.items() if k != "history"}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
