"""Statistics over seeds: t intervals, Welch's test and interval, Holm's adjustment, McNemar's exact test, the CNN's gain.

One method throughout: a difference of mean accuracies over seeds gets Welch's t interval (scipy's own
`confidence_interval` of `ttest_ind(equal_var=False)`), which keeps its stated coverage with as few as three
seeds per group, where a percentile bootstrap over three values cannot (at most 10 distinct resampled means)
and comes out too narrow. Two given models on the same test images are compared image by image with
McNemar's exact test. The keys of the rows `paired_effect`, `gain` and `dataset_gain` return are named here;
tables and prose read them by name.
"""

from __future__ import annotations

import numpy as np

from convlab.store import records

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


def decimals_for(half_width: float) -> int:
    """Decimals that a difference with this interval half-width (points) supports: 1 from 0.15 points up, else 2."""
    return 1 if np.isnan(half_width) or half_width >= 0.15 else 2


def interval_columns(confidence: float = DEFAULT_CONFIDENCE) -> tuple[str, str]:
    """The names of a difference's Welch interval bounds, e.g. ("Welch 95% CI low", "Welch 95% CI high")."""
    return f"Welch {confidence:.0%} CI low", f"Welch {confidence:.0%} CI high"


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


def welch_difference_interval(
    first: list[float] | np.ndarray, second: list[float] | np.ndarray, confidence: float = DEFAULT_CONFIDENCE
) -> tuple[float, float]:
    """Welch's t interval of mean(first) − mean(second) (scipy's `confidence_interval`); NaN with fewer than 2 per group,
    the difference itself when neither group varies."""
    from scipy import stats as scipy_stats

    first, second = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    if min(len(first), len(second)) < 2:
        return float("nan"), float("nan")
    if first.var() == 0 and second.var() == 0:
        difference = float(first.mean() - second.mean())
        return difference, difference
    interval = scipy_stats.ttest_ind(first, second, equal_var=False).confidence_interval(confidence)
    return float(interval.low), float(interval.high)


def mcnemar_exact(first_correct: np.ndarray, second_correct: np.ndarray) -> dict:
    """McNemar's exact test of two models on the same images: the images only one of them gets right, and the
    two-sided binomial p-value of that split (the images both get right or both miss carry no information)."""
    from scipy import stats as scipy_stats

    first_correct, second_correct = np.asarray(first_correct, dtype=bool), np.asarray(second_correct, dtype=bool)
    first_only, second_only = int(np.sum(first_correct & ~second_correct)), int(np.sum(second_correct & ~first_correct))
    discordant = first_only + second_only
    p_value = float(scipy_stats.binomtest(first_only, discordant, 0.5).pvalue) if discordant else 1.0
    return {"first only": first_only, "second only": second_only, "p_value": p_value}


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
    """Accuracy of two groups of runs (mean ± std, %), their difference, its Welch interval and Welch's p."""
    a, b = records.accuracies(original), records.accuracies(changed)
    low, high = welch_difference_interval(b, a, confidence)
    p_value = welch_test(b, a)["p_value"] if min(len(a), len(b)) > 1 else float("nan")
    low_column, high_column = interval_columns(confidence)
    return {
        ORIGINAL: f"{a.mean():.2f} ± {a.std(ddof=1):.2f}" if len(a) > 1 else f"{a.mean():.2f}",
        CHANGED: f"{b.mean():.2f} ± {b.std(ddof=1):.2f}" if len(b) > 1 else f"{b.mean():.2f}",
        DIFFERENCE: float(b.mean() - a.mean()),
        low_column: low,
        high_column: high,
        WELCH_P: p_value,
        SEEDS: f"{len(a)} / {len(b)}",
    }


def gain(baseline: list[records.ResultRecord], challenger: list[records.ResultRecord]) -> dict:
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
    baseline: list[records.ResultRecord], challenger: list[records.ResultRecord], confidence: float = DEFAULT_CONFIDENCE
) -> dict:
    """CNN-over-FC gain in points with its Welch interval, the error ratio with a delta-method interval (Welch's
    degrees of freedom), and Welch's p."""
    from scipy import stats as scipy_stats

    base, new = records.accuracies(baseline), records.accuracies(challenger)
    low, high = welch_difference_interval(new, base, confidence)
    base_error, new_error = 100 - base.mean(), 100 - new.mean()
    ratio = float(new_error / base_error)
    ratio_low = ratio_high = float("nan")
    if min(len(base), len(new)) > 1:
        spread = welch_interval(new, base, confidence)
        relative = np.sqrt(new.var(ddof=1) / len(new) / new_error**2 + base.var(ddof=1) / len(base) / base_error**2)
        quantile = scipy_stats.t.ppf(0.5 + confidence / 2, spread["df"]) if np.isfinite(spread["df"]) else 0.0
        ratio_low, ratio_high = ratio * (1 - quantile * relative), ratio * (1 + quantile * relative)
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
        FC_ERROR: float(base_error),
        CNN_ERROR: float(new_error),
        ERROR_RATIO: ratio,
        ratio_low_column: float(ratio_low),
        ratio_high_column: float(ratio_high),
    }
