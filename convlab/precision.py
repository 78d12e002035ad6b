"""The arithmetic of training: bfloat16 mixed precision where the CPU computes bfloat16 natively, float32 elsewhere.

On a CPU with AMX-BF16 or AVX512-BF16, oneDNN runs a convolution's bfloat16 products in hardware; measured side by
side on such a CPU (Intel Xeon, AMX), a CNN epoch took 1.6× to 2.5× less time than in float32. Mixed precision keeps
the weights and the optimizer in float32 and computes the layers in bfloat16; the output layer computes in float32
(`models.build_model`). Training alone uses it: every stored model is a float32 copy of the trained weights, so
every evaluation, probe, figure and served model computes in float32 on any machine. `CONVLAB_PRECISION` overrides
the choice ("float32" or "bfloat16"). The precision is part of every run's settings and cache key, and the report
compares each model family's accuracy with a float32 run of it (`precision_check`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from convlab import paths, records

PRECISION_ENV = "CONVLAB_PRECISION"
FLOAT32, BFLOAT16 = "float32", "bfloat16"
NATIVE_BFLOAT16 = ("amx_bf16", "avx512_bf16")  # CPU flags under which oneDNN computes bfloat16 in hardware
KERAS_POLICY = {FLOAT32: "float32", BFLOAT16: "mixed_bfloat16"}


def native_bfloat16(isa: list[str] | None = None) -> bool:
    """Whether this CPU (or one with these instruction sets) computes bfloat16 natively."""
    isa = records.cpu_isa() if isa is None else isa
    return any(flag in isa for flag in NATIVE_BFLOAT16)


def training_precision(environment=os.environ, isa: list[str] | None = None) -> str:
    """`CONVLAB_PRECISION` if set, else "bfloat16" on a CPU with native bfloat16 and "float32" elsewhere."""
    value = environment.get(PRECISION_ENV, "").strip().lower()
    if not value or value == "auto":
        return BFLOAT16 if native_bfloat16(isa) else FLOAT32
    if value not in KERAS_POLICY:
        raise paths.ParameterError(
            f"{PRECISION_ENV}={value!r} is not a training precision: use {FLOAT32!r}, {BFLOAT16!r} or 'auto' "
            "(bfloat16 where the CPU computes it natively)."
        )
    return value


@contextmanager
def policy(precision: str) -> Iterator[None]:
    """Keras's global dtype policy for `precision` while the block runs (models built inside compute in it)."""
    import keras

    before = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(KERAS_POLICY[precision])
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(before)


def as_float32(model, build):
    """A float32 model with `model`'s weights (`build()` makes the architecture); `model` itself if it is float32."""
    if all(layer.dtype_policy.compute_dtype == "float32" for layer in model.layers):
        return model
    with policy(FLOAT32):
        copy = build()
    copy.set_weights(model.get_weights())
    return copy


REFERENCE_DIR = paths.PROJECT_DIR / "reports" / "reference" / FLOAT32  # a float32 run's records, one folder per dataset


def precision_check(results_dir: str | Path, reference_dir: str | Path, confidence: float = 0.95):
    """Per model (and learning-curve size), the run's test accuracy against a float32 run's with the same seeds.

    Compares only where both hold the same model, dataset, seeds and training settings apart from the
    precision; None when nothing qualifies (a subset run, or a run that trained in float32 itself).
    """
    import pandas as pd

    rows = []
    results_dir, reference_dir = Path(results_dir), Path(reference_dir)
    for folder in _record_folders(results_dir):
        try:
            run, float32_run = records.load_all_records(results_dir / folder), records.load_all_records(reference_dir / folder)
        except records.MissingResultError:
            continue
        for name, runs in run.items():
            reference = float32_run.get(name, [])
            if _comparable(runs, reference):
                rows.append(_comparison(name, folder, runs, reference, confidence))
    return pd.DataFrame(rows) if rows else None


def _record_folders(results_dir: Path) -> list[Path]:
    """The run's own folder and its learning-curve folders (curves/n<size>)."""
    from convlab import curves

    return [Path("."), *sorted(p.relative_to(results_dir) for p in (results_dir / curves.CURVES_FOLDER).glob("n*"))]


def _comparison(name: str, folder: Path, runs: list[dict], reference: list[dict], confidence: float) -> dict:
    from convlab import stats

    ours, theirs = records.accuracies(runs), records.accuracies(reference)
    low, high = stats.welch_difference_interval(ours, theirs, confidence)
    return {
        "model": name,
        "training images": runs[0]["parameters"]["fit_size"] + runs[0]["parameters"]["validation_size"],
        "seeds": len(runs),
        "float32 (%)": round(float(theirs.mean()), 2),
        f"{runs[0]['parameters']['precision']} (%)": round(float(ours.mean()), 2),
        "difference (points)": round(float(ours.mean() - theirs.mean()), 2),
        f"{confidence:.0%} interval": f"[{low:.2f}, {high:.2f}]",
        "epochs run (float32 → this run)": f"{_epochs(reference)} → {_epochs(runs)}",
        "within seed noise": "yes" if low <= 0 <= high else "no",
    }


def _comparable(runs: list[dict], reference: list[dict]) -> bool:
    """Same seeds, dataset and settings but the precision, and a run that did not train in float32 itself."""
    if not reference or sorted(r["seed"] for r in runs) != sorted(r["seed"] for r in reference):
        return False
    ours, theirs = runs[0], reference[0]
    settings = {key: value for key, value in ours["parameters"].items() if key != "precision"}
    return (
        ours["parameters"].get("precision", FLOAT32) != FLOAT32
        and theirs["parameters"].get("precision", FLOAT32) == FLOAT32
        and {**ours["dataset"], "source": None} == {**theirs["dataset"], "source": None}
        and ours["model"] == theirs["model"]
        and settings == {key: value for key, value in theirs["parameters"].items() if key != "precision"}
    )


def _epochs(runs: list[dict]) -> str:
    return ", ".join(str(r["epochs_run"]) for r in sorted(runs, key=lambda r: r["seed"]))
