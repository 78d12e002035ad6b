"""`make bench`: what training and serving cost on this machine, in one JSON file and one table.

    python -m convlab.tools.bench [--repeats 5] [--train-size 20000] [--output reports/bench.json]

It measures, in one run:
- CNN training throughput (images/s) of convlab's training path (`fit.fit`, validation included)
  against plain Keras (`model.fit` on numpy arrays, same model, batch size and images): each timed run
  trains a fresh model for `EPOCHS_PER_RUN` epochs and times every epoch but the first (which also
  builds the graphs); the two paths take turns, in the order A B B A ..., so that a change in the shared
  machine's speed falls on both; medians over all timed epochs. Plain Keras is measured again in a fresh process
  with TensorFlow's own default kernels;
- the training throughput of two processes at once against one alone, round by round (`convlab.tools.concurrency`);
- the share of the CPU's peak FLOP/s that training reaches, against a nominal peak derived from the
  CPU's clock and vector width and against a float32 matrix product measured here;
and it reads what the report runs recorded: each notebook's wall time split into training and the rest
for the latest cold run (nothing stored) and warm run (nothing trained), from `pipeline.json`, and the
serving latency measured by `06_sagemaker_deploy`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from convlab.store import records, runlog
from convlab.study import config, manifest, paths
from convlab.tools.bench_summary import BENCH_FILE, summary_tables, totals

EPOCHS_PER_RUN = 3  # all but the first are timed: graph building and first-call set-up fall in the first
TRAINING_FLOPS_PER_MAC = 6  # forward: 2 FLOPs per MAC; backward: about twice the forward pass
PLAIN_KERAS_SCRIPT = """
import json, sys
import tensorflow  # first: importing convlab afterwards leaves TensorFlow's choice of kernels alone
from convlab.tools import bench
print(json.dumps(bench.plain_keras_runs(*sys.argv[1:])))
"""


def fit_images(dataset_name: str, data_dir: Path, train_size: int):
    """The subset that the bench trains on, and the scaled images that `fit.fit` would fit on."""
    from convlab.datasets import data

    dataset = data.subset(data.load_dataset(dataset_name, data_dir), train_size, 0)
    x_fit, y_fit, _, _ = data.split_validation(dataset.x_train, dataset.y_train, 0.1, seed=0)
    return dataset, data.scale_images(x_fit), y_fit


def plain_keras_images_per_second(model_config, x, y, batch_size: int) -> list[float]:
    """`model.fit` on numpy arrays with Keras's defaults, fresh model: images/s of each epoch after the first."""
    import keras

    from convlab.training import fit, models

    keras.utils.set_random_seed(0)
    model = models.build_model(model_config)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    timer = fit.EpochTimer()
    model.fit(x, y, batch_size=batch_size, epochs=EPOCHS_PER_RUN, callbacks=[timer], verbose=0)
    return [len(x) / seconds for seconds in timer.seconds[1:]]


def plain_keras_runs(dataset_name: str, data_dir: str, train_size: str, batch_size: str, repeats: str) -> list[float]:
    """`repeats` plain-Keras epochs of the dataset's CNN (the arguments as text, for a subprocess)."""
    from convlab.training import models

    _, x_fit, y_fit = fit_images(dataset_name, Path(data_dir), int(train_size))
    config_ = models.cnn_config(dataset_name)
    return [speed for _ in range(int(repeats)) for speed in plain_keras_images_per_second(config_, x_fit, y_fit, int(batch_size))]


def convlab_images_per_second(model_config, dataset, batch_size: int, arithmetic: str = "float32") -> list[float]:
    """convlab's training path (`fit.fit`, validation included), fresh model: images/s of each epoch after the first."""
    from convlab.training import fit

    settings = fit.TrainingConfig(epochs=EPOCHS_PER_RUN, batch_size=batch_size, patience=EPOCHS_PER_RUN, precision=arithmetic)
    _, record = fit.fit(model_config, dataset, 0, settings, verbose=0)
    return [record["parameters"]["fit_size"] / seconds for seconds in record["history"]["epoch_seconds"][1:]]


def convlab_run_images_per_second(dataset_name: str, data_dir: str, train_size: str, batch_size: str) -> list[float]:
    """One fresh `convlab_images_per_second` run of the dataset's CNN (the arguments as text, for a subprocess)."""
    from convlab.training import models

    dataset, _, _ = fit_images(dataset_name, Path(data_dir), int(train_size))
    return convlab_images_per_second(models.cnn_config(dataset_name), dataset, int(batch_size))


def throughput(dataset_name: str, data_dir: Path, train_size: int, batch_size: int, repeats: int) -> dict:
    """convlab's training path against plain Keras on the same images, alternating, medians of `repeats`."""
    from convlab.training import fit, models

    dataset, x_fit, y_fit = fit_images(dataset_name, data_dir, train_size)
    model_config = models.cnn_config(dataset_name)
    ours_runs, plain_runs = [], []
    for repeat in range(repeats):  # A B, B A, A B, ...: a drift in the machine's speed falls on both paths
        for path in ("plain", "ours") if repeat % 2 == 0 else ("ours", "plain"):
            if path == "plain":
                plain_runs.append(plain_keras_images_per_second(model_config, x_fit, y_fit, batch_size))
            else:
                ours_runs.append(convlab_images_per_second(model_config, dataset, batch_size))
    ours, plain = [speed for run in ours_runs for speed in run], [speed for run in plain_runs for speed in run]
    paired = paired_ratios(ours_runs, plain_runs)
    defaults = _plain_keras_with_tensorflow_defaults(dataset_name, data_dir, train_size, batch_size, repeats)
    return {
        "model": model_config.name,
        "dataset": dataset_name,
        "batch_size": batch_size,
        "images_per_epoch": len(x_fit),
        "repeats": repeats,
        "epochs_per_run": EPOCHS_PER_RUN,
        "timed": "every epoch of each run but the first",
        "steps_per_execution": fit.steps_per_execution(batch_size),
        "onednn": records.onednn_setting(),
        "convlab_images_per_second": ours,
        "plain_keras_images_per_second": plain,
        "plain_keras_tensorflow_defaults_images_per_second": defaults,
        "ratio_of_medians": statistics.median(ours) / statistics.median(plain),
        "paired_ratios": paired,
        "median_paired_ratio": statistics.median(paired),
        "macs_per_image": models.macs_per_image(models.build_model(model_config)),
    }


def paired_ratios(ours_runs: Sequence[Sequence[float]], plain_runs: Sequence[Sequence[float]]) -> list[float]:
    """Per round, convlab's median images/s over plain Keras's: the two runs of a round ran back to back.

    A round's two runs share the machine's speed state far more often than two runs minutes apart,
    so the median of these per-round ratios moves much less between benches than a ratio of overall
    medians, which compares epochs measured in whatever states each path happened to meet.
    """
    if len(ours_runs) != len(plain_runs) or not ours_runs:
        raise ValueError(
            f"Pairing needs as many convlab runs as plain-Keras runs, at least one: {len(ours_runs)}, {len(plain_runs)}."
        )
    return [statistics.median(ours) / statistics.median(plain) for ours, plain in zip(ours_runs, plain_runs, strict=True)]


PRECISION_MODELS = ((3, 3), (7, 7))  # the study's CNN and the costliest kernel variant


def precision_throughput(dataset_name: str, data_dir: Path, train_size: int, batch_size: int, rounds: int) -> list[dict]:
    """Per CNN of `PRECISION_MODELS`, convlab's training path in float32 and in bfloat16 taking turns (A B, B A, ...):
    images/s per run and the bfloat16/float32 ratio of each round. Empty where the CPU lacks native bfloat16."""
    from convlab.training import models, precision

    if not precision.native_bfloat16():
        return []
    dataset, _, _ = fit_images(dataset_name, data_dir, train_size)
    results = []
    for kernels in PRECISION_MODELS:
        model_config = models.cnn_config(dataset_name, *kernels)
        runs: dict[str, list[list[float]]] = {precision.FLOAT32: [], precision.BFLOAT16: []}
        for round_ in range(rounds):
            order = (precision.FLOAT32, precision.BFLOAT16) if round_ % 2 == 0 else (precision.BFLOAT16, precision.FLOAT32)
            for arithmetic in order:
                runs[arithmetic].append(convlab_images_per_second(model_config, dataset, batch_size, arithmetic))
        ratios = paired_ratios(runs[precision.BFLOAT16], runs[precision.FLOAT32])
        results.append(
            {
                "model": model_config.name,
                "float32_images_per_second": [statistics.median(run) for run in runs[precision.FLOAT32]],
                "bfloat16_images_per_second": [statistics.median(run) for run in runs[precision.BFLOAT16]],
                "ratio_per_round": ratios,
                "median_ratio": statistics.median(ratios),
            }
        )
    return results


def _plain_keras_with_tensorflow_defaults(dataset: str, data_dir: Path, train_size: int, batch_size: int, repeats: int) -> list:
    """Plain Keras in a fresh process where TensorFlow picks its kernels itself (TF_ENABLE_ONEDNN_OPTS unset)."""
    environment = {key: value for key, value in os.environ.items() if key != "TF_ENABLE_ONEDNN_OPTS"}
    arguments = [dataset, str(data_dir), str(train_size), str(batch_size), str(repeats)]
    done = subprocess.run(
        [sys.executable, "-c", PLAIN_KERAS_SCRIPT, *arguments],
        env=environment,
        capture_output=True,
        text=True,
        timeout=1800,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def nominal_peak_flops() -> dict:
    """The CPU's nominal float32 peak: cores × clock × FLOPs per cycle per core (two FMA units assumed)."""
    flags, model = _cpu_flags(), records.cpu_model()
    lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags else 4
    per_cycle = 2 * 2 * lanes if "fma" in flags or lanes == 16 else 2 * lanes  # 2 FMA units × lanes × 2 FLOPs
    match = re.search(r"@\s*([\d.]+)\s*GHz", model)
    gigahertz = float(match.group(1)) if match else _mhz() / 1000
    cores = os.cpu_count() or 1
    return {
        "cpu": model,
        "cores": cores,
        "gigahertz": gigahertz,
        "flops_per_cycle_per_core": per_cycle,
        "vector": "AVX-512" if lanes == 16 else "AVX2" if lanes == 8 else "SSE",
        "gflops": cores * gigahertz * per_cycle,
        "derivation": f"{cores} cores × {gigahertz:.2f} GHz × {per_cycle} FLOP/cycle "
        f"(2 FMA units × {lanes} float32 lanes × 2 FLOPs per FMA)",
    }


def _cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _mhz() -> float:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("cpu MHz"):
                return float(line.split(":", 1)[1])
    except OSError:
        pass
    return float("nan")


def measured_matmul_gflops(size: int = 2048, repeats: int = 10) -> float:
    """float32 GFLOP/s of a large matrix product in TensorFlow: what this CPU delivers on the easiest kernel."""
    import tensorflow as tf

    a = tf.random.stateless_normal((size, size), seed=(0, 0))
    b = tf.random.stateless_normal((size, size), seed=(0, 1))
    tf.linalg.matmul(a, b).numpy()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        tf.linalg.matmul(a, b).numpy()
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best / 1e9


def notebook_split(reports_dir: Path) -> list[dict]:
    """Per notebook and dataset folder, for the latest cold and warm run: wall time, training time summed over the
    training processes, and the time in which no model trained (`runlog.trained_during`)."""
    rows = []
    for folder in [*config.DATASETS, manifest.COMPARISON_FOLDER]:
        stored = runlog.read(reports_dir / folder)
        for kind in ("cold", "warm"):
            run = stored.get(kind)
            for notebook, timing in (run or {}).get("notebooks", {}).items():
                trained, training_seconds, training_wall = runlog.trained_during(reports_dir / folder, timing)
                rows.append(
                    {
                        "run": kind,
                        "folder": folder,
                        "notebook": notebook,
                        "seconds": timing["seconds"],
                        "training_seconds": training_seconds,
                        "other_seconds": round(max(0.0, timing["seconds"] - training_wall), 1),
                        "trained": trained,
                        "startup_seconds": timing.get("startup_seconds"),
                        "finished": run["finished"],
                    }
                )
    return rows


def serving_latency(reports_dir: Path) -> list[dict]:
    """The latency and throughput that `06_sagemaker_deploy` recorded, per dataset and mode."""
    rows = []
    for dataset in config.DATASETS:
        for path in records.committed((reports_dir / dataset / "results" / "serving").glob("*.json")):
            rows.append({"dataset": dataset, "file": path.name} | records.read_json(path).get("serving", {}))
    return rows


def run_bench(data_dir: Path, reports_dir: Path, *, train_size: int, batch_size: int, repeats: int) -> dict:
    """Every measurement of the bench, as one JSON-ready dict."""
    from convlab.tools import concurrency

    measured = throughput("fashion_mnist", data_dir, train_size, batch_size, repeats)
    side_by_side = concurrency.measure("fashion_mnist", data_dir, train_size, batch_size, max(2, repeats // 2))
    arithmetic = precision_throughput("fashion_mnist", data_dir, train_size, batch_size, max(2, repeats // 2))
    flops_per_image = TRAINING_FLOPS_PER_MAC * measured["macs_per_image"]
    achieved = statistics.median(measured["convlab_images_per_second"]) * flops_per_image / 1e9
    nominal, matmul = nominal_peak_flops(), measured_matmul_gflops()
    return {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": records.environment_stamp(),
        "throughput": measured,
        "concurrency": side_by_side,
        "precision": arithmetic,
        "flops": {
            "training_flops_per_image": flops_per_image,
            "derivation": f"{TRAINING_FLOPS_PER_MAC} FLOPs per MAC ({measured['macs_per_image']:,} MACs per forward pass: "
            "2 FLOPs per MAC forward, about twice the forward pass backward)",
            "achieved_gflops": achieved,
            "nominal_peak": nominal,
            "fraction_of_nominal_peak": achieved / nominal["gflops"],
            "matmul_gflops": matmul,
            "fraction_of_matmul": achieved / matmul,
        },
        "notebooks": notebook_split(reports_dir),
        "runs": whole_runs(reports_dir),
        "serving": serving_latency(reports_dir),
    }


def whole_runs(reports_dir: Path) -> dict:
    """The latest cold and warm report runs as a whole (`runlog.whole_run`), those that exist."""
    folders = [*config.DATASETS, manifest.COMPARISON_FOLDER]
    runs = {kind: runlog.whole_run(reports_dir, folders, kind) for kind in ("cold", "warm")}
    return {kind: run for kind, run in runs.items() if run}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=None, help="default: $CONVLAB_DATA_DIR, else data/")
    parser.add_argument("--reports-dir", type=Path, default=paths.REPORTS_DIR)
    parser.add_argument("--output", type=Path, default=None, help=f"default: <reports-dir>/{BENCH_FILE}")
    parser.add_argument("--train-size", type=int, default=20000, help="images per timed epoch (a stratified subset)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per path")
    args = parser.parse_args(argv)
    bench = run_bench(
        paths.resolve_data_dir(args.data_dir),
        args.reports_dir,
        train_size=args.train_size,
        batch_size=args.batch_size,
        repeats=args.repeats,
    )
    output = args.output or args.reports_dir / BENCH_FILE
    records.write_json(output, bench)
    import pandas as pd

    with pd.option_context("display.width", 160, "display.max_rows", 200, "display.float_format", "{:,.2f}".format):
        for title, table in summary_tables(bench, with_notebooks=True).items():
            print(f"\n{title}\n{table.to_string() if not table.empty else '(nothing recorded yet)'}")
        for kind, total in totals(bench).items():
            print(
                f"\n{kind} run: {total['elapsed_seconds'] / 60:.1f} min elapsed, "
                f"{total['training_wall_seconds'] / 60:.1f} min with a model training, "
                f"{total['outside_training_seconds'] / 60:.1f} min with none"
            )
    print(f"\nWritten to {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
