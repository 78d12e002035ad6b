"""The bench read back (`load`), summed up in tables (`summary_tables`, `totals`) and described in words
(`describe`), for `make bench`'s printout, the notebooks and docs/performance.md. Measuring is `bench`'s.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from convlab.store import records

BENCH_FILE = "bench.json"


def summary_tables(bench: dict, *, with_notebooks: bool = False) -> dict:
    """The bench as DataFrames: throughput, FLOPs, serving, concurrency, precision; with `with_notebooks`, the
    per-notebook split of the report runs found when it was measured (the report's appendix has its own)."""
    import pandas as pd

    measured, flops = bench["throughput"], bench["flops"]
    median = statistics.median
    speed = pd.DataFrame(
        {
            "path": ["convlab training path", "plain Keras (same kernels)", "plain Keras (TensorFlow's default kernels)"],
            "median images/s": [
                median(measured["convlab_images_per_second"]),
                median(measured["plain_keras_images_per_second"]),
                median(measured["plain_keras_tensorflow_defaults_images_per_second"]),
            ],
        }
    ).set_index("path")
    speed["relative to plain Keras"] = (speed["median images/s"] / speed["median images/s"].iloc[1]).round(2)
    speed["median images/s"] = speed["median images/s"].round(0).astype(int)
    compute = pd.Series(
        {
            "training FLOPs per image": f"{flops['training_flops_per_image']:,.0f}",
            "achieved GFLOP/s": f"{flops['achieved_gflops']:.0f}",
            "nominal peak GFLOP/s": f"{flops['nominal_peak']['gflops']:.0f}",
            "share of nominal peak (%)": f"{100 * flops['fraction_of_nominal_peak']:.0f}",
            "measured matmul GFLOP/s": f"{flops['matmul_gflops']:.0f}",
            "share of matmul (%)": f"{100 * flops['fraction_of_matmul']:.0f}",
        },
        name="value",
    ).to_frame()
    notebooks = pd.DataFrame(bench["notebooks"])
    if not notebooks.empty:
        notebooks = notebooks.set_index(["run", "folder", "notebook"])[
            ["seconds", "training_seconds", "other_seconds", "trained", "startup_seconds"]
        ].round(1)
    tables = {"throughput": speed, "compute": compute, "serving": pd.DataFrame(bench["serving"]).round(2)}
    if with_notebooks:
        tables["notebooks"] = notebooks
    if "concurrency" in bench:  # benches written before it was measured lack it
        side = bench["concurrency"]
        tables["concurrency"] = pd.DataFrame(
            {
                "one process alone (images/s)": [round(value) for value in side["alone_images_per_second"]],
                "two at once, summed (images/s)": [round(value) for value in side["two_at_once_images_per_second"]],
                "ratio": [round(value, 2) for value in side["ratio_per_round"]],
            },
            index=pd.RangeIndex(1, len(side["ratio_per_round"]) + 1, name="round"),
        )
    if bench.get("precision"):
        tables["precision"] = pd.DataFrame(
            [
                {
                    "model": row["model"],
                    "round": round_,
                    "float32 (images/s)": round(float32),
                    "bfloat16 (images/s)": round(bfloat16),
                    "ratio": round(ratio, 2),
                }
                for row in bench["precision"]
                for round_, (float32, bfloat16, ratio) in enumerate(
                    zip(row["float32_images_per_second"], row["bfloat16_images_per_second"], row["ratio_per_round"]), 1
                )
            ]
        ).set_index(["model", "round"])
    return tables


def totals(bench: dict) -> dict:
    """Per run kind (cold, warm), the whole report run the bench found (`whole_runs`); empty for older benches."""
    return bench.get("runs", {})


def load(reports_dir: Path) -> dict | None:
    """The latest bench stored under a report tree, or None."""
    try:
        return records.read_json(reports_dir / BENCH_FILE)
    except records.MissingResultError:
        return None


def describe(stored: dict | None) -> str:
    """The bench's findings in Markdown (or how to measure them)."""
    if stored is None:
        return (
            "No bench is stored for this report yet: `make bench` measures it (it trains for several minutes) "
            "and this section shows it."
        )
    measured, flops = stored["throughput"], stored["flops"]
    median = statistics.median
    ours, plain = median(measured["convlab_images_per_second"]), median(measured["plain_keras_images_per_second"])
    defaults = median(measured["plain_keras_tensorflow_defaults_images_per_second"])
    lines = [
        f"Measured {stored['created'][:10]} on {stored['environment']['cpu']} ({stored['environment']['cpu_count']} cores), "
        f"{measured['model']} on {measured['images_per_epoch']:,} {measured['dataset']} images per epoch, batch "
        f"{measured['batch_size']}, {measured['repeats']} runs per path of {measured.get('epochs_per_run', 1)} epochs each, "
        "the paths taking turns, medians over every epoch but each run's first:",
        f"- convlab's training path: {ours:,.0f} images/s, {ours / plain:.2f}× plain Keras ({plain:,.0f} images/s with "
        f"the same kernels){_paired(measured)}; plain Keras with TensorFlow's default kernels: {defaults:,.0f} images/s "
        f"(convlab: {ours / defaults:.2f}×).",
        f"- Training does {flops['training_flops_per_image'] / 1e6:.1f} MFLOP per image ({flops['derivation']}), "
        f"{flops['achieved_gflops']:.0f} GFLOP/s: {100 * flops['fraction_of_nominal_peak']:.0f}% of the nominal peak "
        f"({flops['nominal_peak']['derivation']} = {flops['nominal_peak']['gflops']:.0f} GFLOP/s) and "
        f"{100 * flops['fraction_of_matmul']:.0f}% of what a large float32 matrix product reaches here "
        f"({flops['matmul_gflops']:.0f} GFLOP/s).",
    ]
    if "concurrency" in stored:
        side = stored["concurrency"]
        rounds = ", ".join(f"{ratio:.2f}×" for ratio in side["ratio_per_round"])
        lines.append(
            f"- Two training processes at once (one TensorFlow thread each, as `make report` trains the datasets) "
            f"went through {side['median_ratio']:.2f}× the images of one alone (median; rounds: {rounds})."
        )
    for row in stored.get("precision", []):
        rounds = ", ".join(f"{ratio:.2f}×" for ratio in row["ratio_per_round"])
        lines.append(
            f"- {row['model']} trained in bfloat16 mixed precision went through {row['median_ratio']:.2f}× the images "
            f"per second of float32 (median; rounds: {rounds}; the two taking turns in one process at a time)."
        )
    return "\n".join(lines)


def _paired(measured: dict) -> str:
    """The round-by-round ratio, for benches that stored it."""
    if "paired_ratios" not in measured:
        return ""
    rounds = ", ".join(f"{ratio:.2f}×" for ratio in measured["paired_ratios"])
    return f"; paired round by round, {measured['median_paired_ratio']:.2f}× (median; rounds: {rounds})"
