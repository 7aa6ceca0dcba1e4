"""``dlsuite health segment|classify train|evaluate|predict|export`` (+ ``classify explain``,
``deidentify``), registered through the ``dlsuite.cli`` entry point.

Built on ``common.task_cli``; TensorFlow, the tasks and the DICOM/NIfTI readers are imported
only when a command runs.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from common import task_cli as cli
from common.task_cli_spec import TaskCommands, TrainCommand, add_task_commands
from health.anomaly.cli import register as register_anomaly
from health.molecules.cli import register as register_molecules

SUMMARY = "medical imaging: DICOM/NIfTI segmentation and classification"
SEGMENTER = "health.segmentation:MedicalSegmenter"
CLASSIFIER = "health.classification:MedicalImageClassifier"
SEGMENT_CLASSES = ["background", "organ", "lesion"]  # the phantoms' structures
SEGMENT_DATA_HELP = (
    "a folder of cases (<case>/image.nii[.gz] or <case>/dicom/, and <case>/mask.nii[.gz]), "
    "'builtin:phantoms' (2-D CT slices) or 'builtin:phantoms3d'"
)
CLASSIFY_DATA_HELP = (
    "a CSV with image,label columns (paths relative to it; 'a|b' for several findings), "
    "'builtin:phantoms' or a TFDS image set 'tfds:NAME[:SPLIT]' (e.g. tfds:patch_camelyon, "
    "tfds:curated_breast_imaging_ddsm/patches; missing sets are downloaded when online unless "
    "--no-download, --data-dir holds prepared ones)"
)
WINDOW_HELP = (
    "CT window preset (lung, mediastinum, bone, brain, abdomen, ...), 'LEVEL,WIDTH' or none"
)


def segment_data(spec: str, part: str, size: int = 64) -> Any:
    """Data spec -> what MedicalSegmenter.fit/evaluate take (built-ins: fixed seeds per part)."""
    data = cli.parse_data_spec(spec, ("phantoms", "phantoms3d"))
    seed = 0 if part == "train" else 1
    if data.kind == "builtin":
        from health import io as hio

        if data.name == "phantoms":
            count, shape = (160 if part == "train" else 40), (size, size)
        else:
            count, shape = (24 if part == "train" else 6), (16, size, size)
        return hio.make_phantoms(count, shape, seed=seed, lesion_fraction=0.7)
    if data.kind == "tfds" or not data.path.is_dir():
        raise cli.UsageError(f"data {spec!r} is not a folder of cases ({SEGMENT_DATA_HELP})")
    return spec


def classify_data(
    spec: str, part: str, size: int = 64, data_dir: str | None = None, limit: int | None = None
) -> Any:
    """Data spec -> what MedicalImageClassifier.fit/evaluate take."""
    data = cli.parse_data_spec(spec, ("phantoms",))
    if data.kind == "tfds":
        from health.tfds_sets import load_tfds_medical

        split = data.arg or ("validation" if part == "val" else "train")
        return load_tfds_medical(data.name, split, data_dir, limit)
    if data.kind == "builtin":
        from health import io as hio

        return hio.make_phantoms(
            320 if part == "train" else 100, (size, size), seed=2 if part == "train" else 3
        )
    if not (spec.endswith(".csv") and data.path.is_file()):
        raise cli.UsageError(f"data {spec!r} is not a CSV file, builtin:phantoms nor tfds:NAME")
    return spec


def parse_window(value: str) -> Any:
    """``--window``: a preset name, ``LEVEL,WIDTH`` or ``none``."""
    if value.strip().lower() == "none":
        return cli.NONE
    if "," in value:
        try:
            return [float(v) for v in value.split(",")]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not LEVEL,WIDTH") from None
    return value


parse_window.__name__ = "window"


def _model_help(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {"window": WINDOW_HELP, "widths": "widths per level", **(extra or {})}


# ------------------------------------------------------------------ --log-dir pictures
#: Mask colours (RGB in [0, 1]) for classes 1, 2, ... (0, the background, stays grey).
MASK_COLOURS = ((0.0, 1.0, 0.0), (1.0, 0.0, 0.0), (0.0, 0.5, 1.0), (1.0, 0.8, 0.0))


def path_samples(data: Any) -> list[str] | None:
    """A few image paths when ``data`` is a path (a labels CSV or a folder of cases), else None
    (``cli.fit`` then takes samples from the loaded data)."""
    if not isinstance(data, (str, os.PathLike)):
        return None
    path = Path(data)
    if path.suffix == ".csv":
        from health.data import read_label_csv

        return [str(p) for p in read_label_csv(path)[0][: cli.SAMPLE_COUNT]]
    found = []
    for case in sorted(p for p in path.iterdir() if p.is_dir()):
        names = ("image.nii.gz", "image.nii", "dicom")
        image = next((case / n for n in names if (case / n).exists()), None)
        if image is not None:
            found.append(str(image))
        if len(found) == cli.SAMPLE_COUNT:
            break
    return found


def sample_inputs(data: Any) -> list[Any]:
    """A few inputs for the ``--log-dir`` pictures: ``path_samples`` of a path, else
    ``cli.sample_inputs`` of the loaded data."""
    paths = path_samples(data)
    return cli.sample_inputs(data) if paths is None else paths


def _middle_slice(item: Any, mask: Any) -> tuple[Any, Any]:
    """An input (array, ``Volume`` or path) and its mask -> arrays; a volume and its 3-D mask
    -> their middle slices (2-D pictures pass unchanged)."""
    import numpy as np

    if isinstance(item, (str, os.PathLike)):
        from health import io as hio

        item = hio.read(item)
    image = np.asarray(getattr(item, "array", item), np.float32)
    mask = np.asarray(mask)
    if image.ndim == 3 and image.shape == mask.shape:
        middle = image.shape[0] // 2
        return image[middle], mask[middle]
    return image, mask


def render_scores(task: Any) -> cli.RenderFn:
    """``--log-dir`` pictures: each image (windowed as the model sees it) with its prediction."""

    def draw(item: Any, result: dict[str, Any]) -> Any:
        from common.plots import caption_images
        from health.gradcam import _display_image

        label = result.get("label") or ", ".join(result.get("labels", [])) or "none"
        caption = f"{label} {max(result['scores'].values()):.2f}"
        return caption_images(_display_image(task, item)[None], [caption])[0]

    return cli.render_each(task, draw)


def render_masks(task: Any) -> cli.RenderFn:
    """``--log-dir`` pictures: each windowed slice with its predicted structures tinted (the
    middle slice of a volume), captioned with the structures found."""

    def draw(item: Any, result: dict[str, Any]) -> Any:
        import numpy as np

        from common.plots import caption_images
        from health.gradcam import _display_image

        image, mask = _middle_slice(item, result["mask"])
        grey = _display_image(task, image)
        rgb = np.repeat(grey[..., None], 3, -1) if grey.ndim == 2 else grey[..., :3].copy()
        if mask.shape == rgb.shape[:2]:
            for label in range(1, int(mask.max()) + 1):
                colour = np.array(MASK_COLOURS[(label - 1) % len(MASK_COLOURS)])
                rgb[mask == label] = 0.6 * rgb[mask == label] + 0.4 * colour
        found = [c for c in result.get("classes", []) if c != task.classes[0]]
        return caption_images(rgb[None], [", ".join(found) or "nothing found"])[0]

    return cli.render_each(task, draw)


# ------------------------------------------------------------------ segment
def _segment_train(args: argparse.Namespace) -> int:
    from health.segmentation import MedicalSegmenter

    output = cli.start_training(args)
    data, val = cli.load_train_val(args, segment_data)
    options = cli.config_options(args, MedicalSegmenter.config_class)
    options.setdefault("classes", SEGMENT_CLASSES)
    patch = list(cli.config_value(args, MedicalSegmenter.config_class, "patch_size"))
    if args.data == "builtin:phantoms3d" and len(patch) == 2:
        options["patch_size"] = [16, *patch]
    task = MedicalSegmenter(**options)
    samples = sample_inputs(val if val is not None else data) if args.log_dir else None
    # validation: the summary (Dice / HD95 on whole cases); val only gives the pictures
    summary = "validation mean Dice {mean_dice:.4f}, mean HD95 {mean_hd95_mm:.2f} mm"
    return cli.finish_training(
        task,
        args,
        output,
        data,
        val,
        summary,
        fit_validation=False,
        render=render_masks(task),
        samples=samples,
    )


def _segment_describe(path: str, result: dict[str, Any]) -> str:
    sizes = result.get("volume_ml") or result.get("area_mm2") or {}
    unit = "ml" if "volume_ml" in result else "mm2"
    return f"{Path(path).name}: shape {result['mask'].shape}, " + ", ".join(
        f"{k} {v:.2f} {unit}" for k, v in sizes.items()
    )


def _write_masks(args: argparse.Namespace, task: Any, inputs: list[Any], results: list[Any]):
    if not args.mask_dir:
        return
    import numpy as np

    from health import io as hio

    for path, result in zip(inputs, results, strict=True):
        volume = hio.read(path)
        hio.write_nifti(
            hio.Volume(result["mask"].astype(np.uint8), volume.spacing),
            Path(args.mask_dir) / f"{Path(path).name.split('.')[0]}_mask.nii.gz",
            dtype=np.uint8,
        )


# ------------------------------------------------------------------ classify
def _classify_train(args: argparse.Namespace) -> int:
    from health.classification import MedicalImageClassifier

    output = cli.start_training(args)
    config = MedicalImageClassifier.config_class
    size = cli.config_value(args, config, "image_size")
    data, val = cli.load_train_val(
        args, lambda spec, part: classify_data(spec, part, size, args.data_dir, args.limit)
    )
    options = cli.config_options(args, config)
    if hasattr(data, "classes"):  # a TFDS set: 8-bit images scaled to [0, 1], its own channels
        options.setdefault("window", None)
        options.setdefault("scale", 1 / 255)
        options.setdefault("channels", int(data.images[0].shape[-1]))
    if "classes" not in options:
        if hasattr(data, "classes"):
            options["classes"] = data.classes
        elif args.data.startswith("builtin:"):
            options["classes"] = ["normal", "lesion"]
        else:
            from health.data import read_label_csv

            options["classes"] = read_label_csv(args.data)[2]
    task = MedicalImageClassifier(**options)
    samples = sample_inputs(val if val is not None else data) if args.log_dir else None
    return cli.finish_training(
        task, args, output, data, val, _auc_summary, render=render_scores(task), samples=samples
    )


def _auc_summary(report: Any) -> str:
    return f"validation ROC-AUC {report.get('roc_auc', report.get('macro_roc_auc')):.4f}"


def _limit(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit", type=int, help="use at most this many examples of a tfds: set")


def _classify_evaluate_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threshold", type=float, help="operating point (default: the model's)")
    _limit(parser)


def _classify_evaluate_data(args: argparse.Namespace, task: Any) -> Any:
    size = task.config.image_size
    return classify_data(args.data, args.part, size, args.data_dir, args.limit)


def _classify_describe(path: str, result: dict[str, Any]) -> str:
    scores = ", ".join(f"{k} {v:.3f}" for k, v in result["scores"].items())
    return f"{Path(path).name}: {result.get('label', result.get('labels'))} ({scores})"


def _classify_explain(args: argparse.Namespace) -> int:
    from common.task_cli_commands import load
    from health.gradcam import explain, unique_output_paths

    task = load(args.model, CLASSIFIER)
    # case_000/image.nii.gz and case_001/image.nii.gz -> case_000_image_gradcam.png and
    # case_001_image_gradcam.png; a file already there gets -1, -2, ... and is never replaced.
    targets = unique_output_paths(args.inputs, "_gradcam.png", args.output_dir)
    for path, target in zip(args.inputs, targets, strict=True):
        result = explain(task, path, path=target, class_index=args.target_class)
        print(f"{path}: {result['class']} {result['score']:.3f} -> {target}")
    return 0


# ------------------------------------------------------------------ deidentify
def _deidentify(args: argparse.Namespace) -> int:
    from health import io as hio

    source, target = Path(args.source), Path(args.output)
    files = hio.dicom_files(source) if source.is_dir() else [source]
    for path in files:
        relative = path.relative_to(source) if source.is_dir() else Path(path.name)
        hio.deidentify_file(path, target / relative, salt=args.salt)
    print(f"de-identified {len(files)} file(s) into {target}")
    return 0


SEGMENT = TaskCommands(
    "segment",
    "organ / lesion segmentation (2-D or 3-D U-Net)",
    SEGMENTER,
    noun="segmenter",
    train=TrainCommand(
        _segment_train,
        SEGMENT_DATA_HELP,
        epochs=20,
        data_dir=False,
        config_help=_model_help(
            {
                "classes": f"class names in index order (default: {','.join(SEGMENT_CLASSES)})",
                "patch_size": "patch sides: 'H,W' (2-D) or 'D,H,W' (3-D)",
                "widths": "U-Net widths per level",
            }
        ),
        types={"window": parse_window},
    ),
    evaluate={
        "resolve": lambda args, task: segment_data(args.data, args.part),
        "help": "Dice, IoU and HD95 (mm) per structure",
        "details": (),
        "part_help": "part of a built-in set",
    },
    predict={
        "help": "segment DICOM series / NIfTI / image files",
        "describe": _segment_describe,
        "inputs_help": "DICOM series folders, DICOM files, .nii[.gz], PNG",
        "input_key": "path",
        "options": lambda p: p.add_argument("--mask-dir", help="write each mask as NIfTI here"),
        "after": _write_masks,
    },
    export={"example": "models/health_segment"},
)
CLASSIFY = TaskCommands(
    "classify",
    "findings on 2-D images (binary, multi-class, multi-label)",
    CLASSIFIER,
    noun="classifier",
    train=TrainCommand(
        _classify_train,
        CLASSIFY_DATA_HELP,
        epochs=20,
        options=_limit,
        config_help=_model_help(
            {
                "classes": "class names in index order (default: the data's)",
                "multi_label": "independent findings (sigmoid)",
                "widths": "ResNet stage widths",
            }
        ),
        choices={"loss": ("cross_entropy", "focal")},
        types={"window": parse_window},
    ),
    evaluate={
        "resolve": _classify_evaluate_data,
        "help": "ROC-AUC, PR-AUC, sensitivity/specificity, ECE",
        "details": (),
        "part_help": "part of a built-in set",
        "options": _classify_evaluate_options,
        "evaluate_kwargs": lambda args: {"threshold": args.threshold},
    },
    predict={
        "help": "scores for DICOM / NIfTI / PNG images",
        "describe": _classify_describe,
        "inputs_help": "DICOM files, .nii[.gz], PNG images",
        "input_key": "path",
    },
    export={"example": "models/health_classify"},
)


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``health`` with its ``segment``, ``classify`` and ``deidentify`` sub-commands."""
    _, tasks = cli.add_group(commands, "health", SUMMARY, dest="health_task")
    add_task_commands(tasks, SEGMENT)
    register_molecules(tasks)  # dlsuite health molecules ... (health/molecules/cli.py)
    register_anomaly(tasks)  # dlsuite health anomaly ... (health/anomaly/cli.py)
    classify = add_task_commands(tasks, CLASSIFY)
    explain = classify.add_parser(
        "explain", help="Grad-CAM overlay PNGs", description="Grad-CAM overlay PNGs"
    )
    explain.add_argument("--model", required=True, help="a .keras file written by train")
    explain.add_argument("--output-dir", required=True, help="where the PNGs go")
    explain.add_argument("--target-class", help="class to explain (default: the predicted one)")
    explain.add_argument("inputs", nargs="+", help="DICOM files, .nii[.gz], PNG images")
    explain.set_defaults(func=_classify_explain)

    deid = tasks.add_parser(
        "deidentify",
        help="copy DICOM files without patient identifiers",
        description="copy DICOM files without patient identifiers",
        allow_abbrev=False,
        formatter_class=cli.HelpFormatter,
    )
    deid.add_argument("source", help="a DICOM file or folder")
    deid.add_argument("--output", required=True, help="target folder")
    deid.add_argument("--salt", default="", help="secret mixed into the replacement UIDs")
    deid.set_defaults(func=_deidentify)
