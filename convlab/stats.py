"""Statistics over seeds: t intervals, Welch's test, bootstrap intervals, Holm's adjustment and the CNN's gain.

The keys of the rows `paired_effect`, `gain` and `dataset_gain` return are named here; tables and prose read them by name.
"""

from __future__ import annotations

import numpy as np

from convlab import records

DEFAULT_CONFIDENCE = 0.95

# Keys of `paired_effect`'s row (and of the tables built from it).
ORIGINAL = "original (%)"
CHANGED = "changed (%)"
DIFFERENCE = "difference (points)"
WELCH_P = "Welch p"
SEEDS = "seeds"

# Keys of `gain`'s figures.
ACCURACY_GAIN = "accuracy gain (points)"
BASELINE_ERROR = "baseline error (%)"
CHALLENGER_ERROR = "challenger error (%)"
ERROR_RATIO = "error ratio"  # also a key of `dataset_gain`
PARAMETER_RATIO = "parameter ratio"
MAC_RATIO = "MAC ratio"
TRAINING_TIME_RATIO = "training time ratio"

# Keys of `dataset_gain`'s row.
FC_ACCURACY = "FC accuracy (%)"
CNN_ACCURACY = "CNN accuracy (%)"
GAIN = "gain (points)"
FC_ERROR = "FC error (%)"
CNN_ERROR = "CNN error (%)"


def bootstrap_columns(confidence: float = DEFAULT_CONFIDENCE) -> tuple[str, str]:
    """The names of a difference's bootstrap interval bounds, e.g. ("bootstrap 95% CI low", "bootstrap 95% CI high")."""
    return f"bootstrap {confidence:.0%} CI low", f"bootstrap {confidence:.0%} CI high"


def gain_columns(confidence: float = DEFAULT_CONFIDENCE) -> tuple[str, str]:
    """The names of the bounds of `dataset_gain`'s interval of the gain in points."""
    return f"gain {confidence:.0%} CI low", f"gain {confidence:.0%} CI high"


def error_ratio_columns(confidence: float = DEFAULT_CONFIDENCE) -> tuple[str, str]:
    """The names of the bounds of `dataset_gain`'s interval of the error ratio."""
    return f"error ratio {confidence:.0%} CI low", f"error ratio {confidence:.0%} CI high"


def mean_confidence_interval(values: list[float] | np.ndarray, confidence: float = DEFAULT_CONFIDENCE) -> dict:
    """Mean, sample standard deviation and the Student-t confidence interval of the mean."""
    from scipy import stats as scipy_stats

    sample = np.asarray(values, dtype=float)
    mean = float(sample.mean())
    if len(sample) < 2:
        return {"n": len(sample), "mean": mean, "std": float("nan"), "ci_low": float("nan"), "ci_high": float("nan")}
    std = float(sample.std(ddof=1))
    half_width = float(scipy_stats.t.ppf(0.5 + confidence / 2, df=len(sample) - 1) * std / np.sqrt(len(sample)))
    return {"n": len(sample), "mean": mean, "std": std, "ci_low": mean - half_width, "ci_high": mean + half_width}


def welch_test(first: list[float] | np.ndarray, second: list[float] | np.ndarray) -> dict:
    """Welch's t-test (unequal variances) of two samples' means: difference, t statistic, two-sided p-value."""
    from scipy import stats as scipy_stats

    first, second = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    result = scipy_stats.ttest_ind(first, second, equal_var=False)
    return {"difference": float(first.mean() - second.mean()), "t": float(result.statistic), "p_value": float(result.pvalue)}


def welch_interval(
    first: list[float] | np.ndarray, second: list[float] | np.ndarray, confidence: float = DEFAULT_CONFIDENCE
) -> dict:
    """The difference of two samples' means and the half-width of its Welch interval (Welch–Satterthwaite degrees
    of freedom): the smallest difference those samples can tell from seed noise. NaN with fewer than 2 per sample."""
    from scipy import stats as scipy_stats

    first, second = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    difference = float(first.mean() - second.mean())
    if min(len(first), len(second)) < 2:
        return {"difference": difference, "half_width": float("nan"), "df": float("nan")}
    a, b = first.var(ddof=1) / len(first), second.var(ddof=1) / len(second)
    if a + b == 0:
        return {"difference": difference, "half_width": 0.0, "df": float("inf")}
    df = (a + b) ** 2 / (a**2 / (len(first) - 1) + b**2 / (len(second) - 1))
    half_width = float(scipy_stats.t.ppf(0.5 + confidence / 2, df) * np.sqrt(a + b))
    return {"difference": difference, "half_width": half_width, "df": float(df)}


def bootstrap_difference_interval(
    first: list[float] | np.ndarray,
    second: list[float] | np.ndarray,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = 10_000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of mean(first) − mean(second), resampling each group independently."""
    rng = np.random.default_rng(seed)
    first, second = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    draws_first = rng.choice(first, size=(resamples, len(first)), replace=True).mean(axis=1)
    draws_second = rng.choice(second, size=(resamples, len(second)), replace=True).mean(axis=1)
    low, high = np.quantile(draws_first - draws_second, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(low), float(high)


def holm_adjust(p_values: list[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (family-wise error control for several comparisons)."""
    order = np.argsort(p_values)
    adjusted = np.empty(len(p_values))
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted.tolist()


def paired_effect(original: list[dict], changed: list[dict], confidence: float = DEFAULT_CONFIDENCE) -> dict:
    """Accuracy of two groups of runs (mean ± std, %), their difference, its bootstrap interval and Welch's p."""
    a, b = records.accuracies(original), records.accuracies(changed)
    low, high = bootstrap_difference_interval(b, a, confidence)
    p_value = welch_test(b, a)["p_value"] if min(len(a), len(b)) > 1 else float("nan")
    low_column, high_column = bootstrap_columns(confidence)
    return {
        ORIGINAL: f"{a.mean():.2f} ± {a.std(ddof=1):.2f}" if len(a) > 1 else f"{a.mean():.2f}",
        CHANGED: f"{b.mean():.2f} ± {b.std(ddof=1):.2f}" if len(b) > 1 else f"{b.mean():.2f}",
        DIFFERENCE: float(b.mean() - a.mean()),
        low_column: low,
        high_column: high,
        WELCH_P: p_value,
        SEEDS: f"{len(a)} / {len(b)}",
    }


def gain(baseline: list[dict], challenger: list[dict]) -> dict:
    """Accuracy gain and error-rate ratio of `challenger` over `baseline` (means over the seeds both have, if any)."""
    common = {record["seed"] for record in baseline} & {record["seed"] for record in challenger}
    if common:
        baseline = [record for record in baseline if record["seed"] in common]
        challenger = [record for record in challenger if record["seed"] in common]
    base = np.mean([record["test"]["accuracy"] for record in baseline])
    new = np.mean([record["test"]["accuracy"] for record in challenger])
    return {
        ACCURACY_GAIN: 100 * (new - base),
        BASELINE_ERROR: 100 * (1 - base),
        CHALLENGER_ERROR: 100 * (1 - new),
        ERROR_RATIO: (1 - new) / (1 - base),
        PARAMETER_RATIO: challenger[0]["model"]["parameters"] / baseline[0]["model"]["parameters"],
        MAC_RATIO: challenger[0]["macs_per_image"] / baseline[0]["macs_per_image"],
        TRAINING_TIME_RATIO: np.mean([r["timing"]["train_seconds"] for r in challenger])
        / np.mean([r["timing"]["train_seconds"] for r in baseline]),
    }


def dataset_gain(
    baseline: list[dict], challenger: list[dict], confidence: float = DEFAULT_CONFIDENCE, resamples: int = 10_000
) -> dict:
    """CNN-over-FC gain in points and error ratio, each with a bootstrap interval over seeds, and Welch's p."""
    base, new = records.accuracies(baseline), records.accuracies(challenger)
    low, high = bootstrap_difference_interval(new, base, confidence, resamples)
    rng = np.random.default_rng(1)
    base_errors = 100 - rng.choice(base, size=(resamples, len(base))).mean(axis=1)
    new_errors = 100 - rng.choice(new, size=(resamples, len(new))).mean(axis=1)
    ratio_low, ratio_high = np.quantile(new_errors / base_errors, [(1 - confidence) / 2, (1 + confidence) / 2])
    gain_low, gain_high = gain_columns(confidence)
    ratio_low_column, ratio_high_column = error_ratio_columns(confidence)
    return {
        SEEDS: f"{len(base)} / {len(new)}",
        FC_ACCURACY: f"{base.mean():.2f} ± {base.std(ddof=1):.2f}" if len(base) > 1 else f"{base.mean():.2f}",
        CNN_ACCURACY: f"{new.mean():.2f} ± {new.std(ddof=1):.2f}" if len(new) > 1 else f"{new.mean():.2f}",
        GAIN: float(new.mean() - base.mean()),
        gain_low: low,
        gain_high: high,
        WELCH_P: welch_test(new, base)["p_value"] if min(len(base), len(new)) > 1 else float("nan"),
        FC_ERROR: float(100 - base.mean()),
        CNN_ERROR: float(100 - new.mean()),
        ERROR_RATIO: float((100 - new.mean()) / (100 - base.mean())),
        ratio_low_column: float(ratio_low),
        ratio_high_column: float(ratio_high),
    }
