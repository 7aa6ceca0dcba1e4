"""Speech benchmark: SpeechRecognizer on the Free Spoken Digit Dataset (FSDD).

Train on recordings 5-49 of every digit and speaker, score recordings 0-4 (the dataset's own
test convention) as digit-level WER and CER, with open-vocabulary greedy decoding and with the
ten digit words as a phrase grammar. Reports training time and the real-time factor (RTF) of
the exported SavedModel on 2 CPU threads (one WAV per request, and 32 per request), against the
Python ``predict``/``evaluate`` path (batches of 32) measured in the same run. A pocketsphinx
row is added only if it is installed.

    python bench/speech_asr.py [--data ../shared/data/fsdd] [--epochs 30] [--max-minutes 20]

``--speakers`` runs the leave-one-speaker-out protocol instead: train on 4 of the 5 speakers,
test on all 500 recordings of the fifth, for each fold and each recipe of the augmentation
curve (each recipe adds one change to the one before), plus the same-speaker split as the
pseudo-fold ``same``. Results accumulate in bench/results/speech_asr_speakers.json, one fold
at a time, so a budget-limited run can be continued.

    python bench/speech_asr.py --speakers --recipes baseline,specaug --folds all,same
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

RTF_PROBE = """
import json, sys, time
import tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(2)
tf.config.threading.set_inter_op_parallelism_threads(2)
version_dir, files = sys.argv[1], json.loads(sys.stdin.read())
fn = tf.saved_model.load(version_dir).signatures["serving_default"]
payload = [open(f, "rb").read() for f in files]
fn(audio_bytes=tf.constant(payload[:1]))  # warm up (TF Serving replays the warmup request)
started, cpu = time.perf_counter(), time.process_time()
transcripts = [fn(audio_bytes=tf.constant([p]))["transcript"].numpy()[0].decode() for p in payload]
single, single_cpu = time.perf_counter() - started, time.process_time() - cpu
started, cpu = time.perf_counter(), time.process_time()
for i in range(0, len(payload), 32):
    fn(audio_bytes=tf.constant(payload[i : i + 32]))
batched, batched_cpu = time.perf_counter() - started, time.process_time() - cpu
print(json.dumps({"single": single, "batched": batched, "single_cpu": single_cpu,
                  "batched_cpu": batched_cpu, "transcripts": transcripts}))
"""


def load_fsdd(folder: Path):
    """(train, test) Utterances of FSDD: index 0-4 of each digit and speaker is the test split."""
    from speech import Utterances

    files = sorted((folder / "recordings").glob("*.wav"))
    if not files:
        raise SystemExit(f"no FSDD recordings in {folder / 'recordings'}")
    split: dict[str, tuple[list[str], list[str]]] = {"train": ([], []), "test": ([], [])}
    for path in files:
        digit, _speaker, index = path.stem.split("_")
        part = "test" if int(index) < 5 else "train"
        split[part][0].append(str(path))
        split[part][1].append(DIGITS[int(digit)])
    return tuple(Utterances(a, t, [None] * len(a)) for a, t in (split["train"], split["test"]))


def pocketsphinx_row(test) -> dict | None:
    """The same test audio through pocketsphinx's default English model, when it is installed."""
    try:
        from pocketsphinx import Decoder
    except ImportError:
        return None
    import jiwer
    import numpy as np

    from speech.features import read_audio, resample

    decoder = Decoder(samprate=16000)
    hypotheses, started, audio_seconds = [], time.perf_counter(), 0.0
    for path in test.audio:
        waveform, rate = read_audio(path, 8000)
        audio_seconds += len(waveform) / rate
        pcm = (np.clip(resample(waveform, rate, 16000).numpy(), -1, 1) * 32767).astype(np.int16)
        decoder.start_utt()
        decoder.process_raw(pcm.tobytes(), full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        hypotheses.append(hyp.hypstr.lower().strip() if hyp else "")
    seconds = time.perf_counter() - started
    return {
        "system": "pocketsphinx (default en-us model, no training)",
        "wer": jiwer.wer(test.transcripts, hypotheses),
        "cer": jiwer.cer(test.transcripts, hypotheses),
        "rtf": seconds / audio_seconds,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=str(REPO / ".." / "shared" / "data" / "fsdd"))
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument(
        "--max-minutes", type=float, default=20.0, help="training wall-clock budget"
    )
    parser.add_argument("--rnn-units", type=int, default=96)
    parser.add_argument("--model", help="a trained .keras file: skip training and only evaluate")
    parser.add_argument("--save-model", help="save the trained recogniser here (.keras)")
    parser.add_argument("--output", default=str(REPO / "bench" / "results" / "speech_asr.json"))
    parser.add_argument(
        "--rerun",
        metavar="RESULTS_JSON",
        help="train and score again with the config and bench arguments recorded in RESULTS_JSON",
    )
    parser.add_argument("--speakers", action="store_true", help="leave-one-speaker-out protocol")
    parser.add_argument("--recipes", default=",".join(RECIPES), help="--speakers: recipes to run")
    parser.add_argument(
        "--folds", default="all", help="--speakers: held-out speakers, 'all' and/or 'same'"
    )
    parser.add_argument("--export-check", action="store_true", help="--speakers: score exports")
    args = parser.parse_args(argv)
    if args.speakers:
        return speakers_main(args)
    recorded_config = None
    if args.rerun:
        recorded = json.loads(Path(args.rerun).read_text())
        if "bench_args" not in recorded:
            parser.error(f"{args.rerun} records no bench_args (written before --rerun existed)")
        recorded_config = recorded["config"]
        args.epochs, args.max_minutes = (
            recorded["bench_args"][k] for k in ("epochs", "max_minutes")
        )

    from bench._harness import EpochTimeBudget
    from speech import SpeechRecognizer

    train, test = load_fsdd(Path(args.data))
    print(f"FSDD: {len(train)} training and {len(test)} test recordings")
    if args.model:
        recognizer = SpeechRecognizer.load(args.model)
        train_seconds, epochs_run = float("nan"), 0
    else:
        recognizer = SpeechRecognizer(
            **(
                recorded_config
                or dict(
                    sample_rate=8000,
                    num_bins=40,
                    conv_filters=[16, 32],
                    rnn_units=args.rnn_units,
                    rnn_layers=2,
                    dropout=0.2,
                    learning_rate=3e-3,
                    batch_size=32,
                )
            )
        )
        started = time.perf_counter()
        budget = EpochTimeBudget(60 * args.max_minutes, announce=True)
        recognizer.fit(train, epochs=args.epochs, callbacks=[budget], verbose=2)
        train_seconds = time.perf_counter() - started
        epochs_run = len(recognizer.history["loss"])
        if args.save_model:
            recognizer.save(args.save_model)

    rows = []
    greedy = recognizer.evaluate(test)
    rows.append({"system": "SpeechRecognizer, greedy (open vocabulary)", **_scores(greedy)})
    recognizer.configure_decoder(phrases=list(DIGITS))
    grammar = recognizer.evaluate(test)
    rows.append({"system": "SpeechRecognizer, digit grammar", **_scores(grammar)})

    served = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        for name, phrases in (("greedy", []), ("digit grammar", list(DIGITS))):
            recognizer.configure_decoder(phrases=phrases)
            version_dir = recognizer.export(Path(tmp) / "fsdd")
            probe = subprocess.run(
                [sys.executable, "-c", RTF_PROBE, str(version_dir)],
                input=json.dumps(test.audio),
                capture_output=True,
                text=True,
                env=env,
                check=True,
            )
            served[name] = json.loads(probe.stdout.strip().splitlines()[-1])
            expected = [r["transcript"] for r in recognizer.predict(test.audio)]
            served[name]["agree"] = sum(
                a == b for a, b in zip(served[name]["transcripts"], expected, strict=True)
            )
    import jiwer

    seconds = grammar["audio_seconds"]
    for name, result in served.items():
        for mode, label in (("single", "1 WAV"), ("batched", "32 WAVs")):
            rows.append(
                {
                    "system": f"exported SavedModel, {name}, {label} per request",
                    # scored on the export's own transcripts of the raw WAV bytes (1 per request)
                    "wer": jiwer.wer(test.transcripts, result["transcripts"]),
                    "cer": jiwer.cer(test.transcripts, result["transcripts"]),
                    "rtf": result[mode] / seconds,
                    "cpu_rtf": result[f"{mode}_cpu"] / seconds,
                }
            )
    export_rtf = served["digit grammar"]["single"] / seconds
    agree = min(result["agree"] for result in served.values())
    reference = pocketsphinx_row(test)
    if reference is not None:
        rows.append(reference)

    print(
        f"\ntraining: {train_seconds / 60:.1f} min, {epochs_run} epochs, "
        f"{recognizer.model.count_params():,} parameters (loaded shared 2-core machine)"
    )
    # RTF: wall seconds per second of audio; CPU RTF: CPU seconds of the serving process (both
    # threads) per second of audio, less sensitive to other processes on a shared machine.
    print(f"{'system':<70} {'WER':>7} {'CER':>7} {'RTF':>8} {'CPU RTF':>8}")
    for row in rows:
        wer = "-" if row["wer"] is None else f"{row['wer']:.4f}"
        cer = "-" if row["cer"] is None else f"{row['cer']:.4f}"
        cpu = f"{row['cpu_rtf']:.4f}" if "cpu_rtf" in row else "-"
        print(f"{row['system']:<70} {wer:>7} {cer:>7} {row['rtf']:>8.4f} {cpu:>8}")
    print(
        "exported RTF (grammar, 1 WAV per request) / Python evaluate RTF: "
        f"{export_rtf / grammar['rtf']:.2f}; export agrees with predict on {agree}/{len(test)} "
        "recordings"
    )
    result = {
        "dataset": "FSDD (5 speakers); train index 5-49, test index 0-4",
        "train_recordings": len(train),
        "test_recordings": len(test),
        "train_seconds": train_seconds,
        "epochs": epochs_run,
        "parameters": recognizer.model.count_params(),
        "config": recognizer.config.to_dict(),
        "bench_args": {"epochs": args.epochs, "max_minutes": args.max_minutes},
        "rows": rows,
        "export_rtf_over_python_rtf": export_rtf / grammar["rtf"],
        "export_agrees_with_predict": agree / len(test),
        "note": "timings on a shared, loaded 2-core CPU machine",
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2))
    print(f"wrote {args.output}")
    return result


SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo")
#: The recipe of the same-speaker benchmark above (its defaults).
BASE_RECIPE = dict(
    sample_rate=8000,
    num_bins=40,
    conv_filters=[16, 32],
    rnn_units=96,
    rnn_layers=2,
    dropout=0.2,
    learning_rate=3e-3,
    batch_size=32,
)
_SPEED = {"speed_perturbation": 0.1}
_VTLP = {**_SPEED, "vtlp": 0.1}
_NOISE = {**_VTLP, "noise_snr_db": 10.0}
#: The augmentation curve: each recipe adds one change to the previous one (features are
#: normalised per utterance in all of them).
RECIPES: dict[str, dict] = {
    "baseline": {},
    "speed": _SPEED,
    "vtlp": _VTLP,
    "noise": _NOISE,
    "specaug": {**_NOISE, "spec_augment_masks": 3, "freq_mask_width": 10, "time_mask_width": 15},
}
SPEAKER_RESULTS = REPO / "bench" / "results" / "speech_asr_speakers.json"


def fsdd_by_speaker(folder: Path) -> list[tuple[str, int, str]]:
    """(path, recording index, speaker) of every FSDD recording, with its digit word."""
    files = sorted((folder / "recordings").glob("*.wav"))
    if not files:
        raise SystemExit(f"no FSDD recordings in {folder / 'recordings'}")
    return [(str(f), int(f.stem.split("_")[2]), f.stem.split("_")[1]) for f in files]


def _fold_split(folder: Path, fold: str):
    """(train, test) Utterances: fold a speaker (held out entirely) or 'same' (index 0-4)."""
    from speech import Utterances

    parts: dict[str, tuple[list[str], list[str]]] = {"train": ([], []), "test": ([], [])}
    for path, index, speaker in fsdd_by_speaker(folder):
        held_out = index < 5 if fold == "same" else speaker == fold
        part = parts["test" if held_out else "train"]
        part[0].append(path)
        part[1].append(DIGITS[int(Path(path).stem.split("_")[0])])
    return tuple(Utterances(a, t, [None] * len(a)) for a, t in (parts["train"], parts["test"]))


def _export_scores(recognizer, test) -> dict:
    """WER of the exported SavedModel (digit grammar) on the raw WAV bytes, fresh process."""
    import jiwer

    with tempfile.TemporaryDirectory() as tmp:
        version_dir = recognizer.export(Path(tmp) / "fsdd")
        probe = subprocess.run(
            [sys.executable, "-c", RTF_PROBE, str(version_dir)],
            input=json.dumps(test.audio),
            capture_output=True,
            text=True,
            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
            check=True,
        )
    served = json.loads(probe.stdout.strip().splitlines()[-1])["transcripts"]
    expected = [r["transcript"] for r in recognizer.predict(test.audio)]
    return {
        "export_grammar_wer": jiwer.wer(test.transcripts, served),
        "export_agrees_with_predict": sum(a == b for a, b in zip(served, expected, strict=True))
        / len(test),
    }


def run_fold(folder: Path, recipe: str, fold: str, args: argparse.Namespace) -> dict:
    """Train one recipe on one fold's training speakers and score its held-out recordings."""
    from bench._harness import EpochTimeBudget, load_average
    from speech import SpeechRecognizer

    train, test = _fold_split(folder, fold)
    recognizer = SpeechRecognizer(**BASE_RECIPE, **RECIPES[recipe])
    started = time.perf_counter()
    budget = EpochTimeBudget(60 * args.max_minutes, announce=True)
    recognizer.fit(train, epochs=args.epochs, callbacks=[budget], verbose=2)
    row = {
        "recipe": recipe,
        "fold": fold,
        "train_recordings": len(train),
        "test_recordings": len(test),
        "epochs": len(recognizer.history["loss"]),
        "train_seconds": round(time.perf_counter() - started, 1),
        "load_average": load_average(),
    }
    greedy = recognizer.evaluate(test)
    recognizer.configure_decoder(phrases=list(DIGITS))
    grammar = recognizer.evaluate(test)
    row.update(
        greedy_wer=greedy["wer"],
        greedy_cer=greedy["cer"],
        grammar_wer=grammar["wer"],
        grammar_cer=grammar["cer"],
    )
    if args.export_check:
        row.update(_export_scores(recognizer, test))
    return row


def summarize(runs: list[dict]) -> list[dict]:
    """One row per recipe: mean over the held-out-speaker folds run, and the same-split row."""
    import numpy as np

    rows = []
    for recipe in RECIPES:
        mine = {r["fold"]: r for r in runs if r["recipe"] == recipe}
        folds = [mine[s] for s in SPEAKERS if s in mine]
        if folds:
            rows.append(
                {
                    "recipe": recipe,
                    "split": f"unseen speaker ({len(folds)} of 5 folds)",
                    "folds": [r["fold"] for r in folds],
                    **{
                        k: float(np.mean([r[k] for r in folds]))
                        for k in ("greedy_wer", "greedy_cer", "grammar_wer", "grammar_cer")
                    },
                    "per_speaker_grammar_wer": {r["fold"]: r["grammar_wer"] for r in folds},
                    "per_speaker_greedy_wer": {r["fold"]: r["greedy_wer"] for r in folds},
                    "max_train_minutes": max(r["train_seconds"] for r in folds) / 60,
                }
            )
        if "same" in mine:
            same = mine["same"]
            rows.append(
                {
                    "recipe": recipe,
                    "split": "same speakers (index 0-4 held out)",
                    **{
                        k: same[k]
                        for k in ("greedy_wer", "greedy_cer", "grammar_wer", "grammar_cer")
                    },
                    "max_train_minutes": same["train_seconds"] / 60,
                }
            )
    return rows


def speakers_main(args: argparse.Namespace) -> dict:
    """The leave-one-speaker-out protocol (see the module docstring)."""
    output = Path(args.output) if args.output != parser_default_output() else SPEAKER_RESULTS
    recorded = json.loads(output.read_text()) if output.is_file() else {}
    runs: list[dict] = recorded.get("runs", [])
    folds = [f for part in args.folds.split(",") for f in (SPEAKERS if part == "all" else (part,))]
    recipes = args.recipes.split(",")
    for name in (*folds, *recipes):
        if name not in (*SPEAKERS, "same", *RECIPES):
            raise SystemExit(f"unknown fold or recipe {name!r}")
    for recipe in recipes:
        for fold in folds:
            print(f"\n== recipe {recipe}, held out: {fold}", flush=True)
            row = run_fold(Path(args.data), recipe, fold, args)
            print(json.dumps(row), flush=True)
            runs = [r for r in runs if (r["recipe"], r["fold"]) != (recipe, fold)] + [row]
            result = {
                "dataset": "FSDD, 5 speakers x 500 recordings; leave-one-speaker-out",
                "protocol": "train on all recordings of 4 speakers, test on the 5th (500); "
                "'same': train index 5-49 of all, test index 0-4; fixed epochs, no tuning on "
                "the held-out speaker",
                "base_recipe": BASE_RECIPE,
                "recipes": RECIPES,
                "bench_args": {"epochs": args.epochs, "max_minutes": args.max_minutes},
                "targets": {"unseen_greedy_wer": 0.05, "unseen_grammar_wer": 0.03},
                "summary": summarize(runs),
                "runs": runs,
                "note": "2-core CPU shared with other jobs; training time per fold recorded",
            }
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(json.dumps(result, indent=2) + "\n")
    summary = summarize(runs)
    print(
        f"\n{'recipe':<10} {'split':<36} {'greedy WER':>10} {'CER':>6} "
        f"{'grammar WER':>11} {'CER':>6}"
    )
    for row in summary:
        print(
            f"{row['recipe']:<10} {row['split']:<36} {row['greedy_wer']:>10.4f} "
            f"{row['greedy_cer']:>6.4f} {row['grammar_wer']:>11.4f} {row['grammar_cer']:>6.4f}"
        )
    return {"summary": summary, "runs": runs}


def parser_default_output() -> str:
    return str(REPO / "bench" / "results" / "speech_asr.json")


def _scores(report: dict) -> dict:
    return {"wer": report["wer"], "cer": report["cer"], "rtf": report["rtf"]}


if __name__ == "__main__":
    main()
