"""The exploratory comparisons: every difference the paper reports beyond the primary hypotheses, on both datasets.

A comparison of two configurations is the difference of their mean accuracy over seeds with Welch's 95% t
interval: an estimate, labelled exploratory, read by where its interval lies (above zero, below zero, or across it)
and decided by nothing. The run's decisions are the primary hypotheses' (`paper.primary`), Holm-corrected among
themselves. A comparison of two given models on the same test images (one seed) is McNemar's exact test; the
per-seed tests of a run form a family of their own, adjusted together with Holm's method, and such a test is
*resolved* when its adjusted p is below 0.05: it says that these two trained models differ on these images.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from convlab.analysis import stats
from convlab.paper.runs import DatasetRun
from convlab.store import records
from convlab.study import identities

ALPHA = 0.05
SHIFT = 3  # pixels: the translation probe's accuracy at this shift, mean over its three directions


@dataclass(frozen=True)
class Comparison:
    """A comparison the paper makes: its key, label, and how to get its two samples from a dataset's run."""

    key: str
    label: str
    changed: str
    original: str
    metric: str = "test"  # "test": test accuracy; "shifted": translation-probe accuracy at SHIFT px


COMPARISONS = (
    Comparison("cnn_vs_fc", "CNN − FC", "cnn", identities.FC),
    Comparison("k5_vs_k3", "5×5 − 3×3, first layer", "cnn_k5", "cnn"),
    Comparison("k7_vs_k3", "7×7 − 3×3, first layer", "cnn_k7", "cnn"),
    Comparison("k55_vs_k33", "5×5 − 3×3, both layers", "cnn_k5-5", "cnn"),
    Comparison("k77_vs_k33", "7×7 − 3×3, both layers", "cnn_k7-7", "cnn"),
    Comparison("gap_vs_flatten", "GAP head − flatten head", "cnn_gap", "cnn"),
    Comparison("gap_vs_fc", "CNN with GAP head − FC", "cnn_gap", identities.FC),
    Comparison("avg_vs_max", "average − max pooling", "cnn_avgpool", "cnn"),
    Comparison("cnn_perm", "CNN, permuted − original pixels", "cnn_perm0", "cnn"),
    Comparison("fc_perm", "FC, permuted − original pixels", "fc_baseline_perm0", identities.FC),
    Comparison("cnn_vs_fc_perm", "CNN − FC, both on permuted pixels", "cnn_perm0", "fc_baseline_perm0"),
    Comparison("cnn_shift_aug", "CNN, shift-augmented − plain", "cnn_shift4", "cnn"),
    Comparison("fc_shift_aug", "FC, shift-augmented − plain", "fc_baseline_shift4", identities.FC),
    Comparison("cnn_vs_fc_shifted", f"CNN − FC, images shifted {SHIFT} px", "cnn", identities.FC, "shifted"),
    Comparison("gap_vs_flatten_shifted", f"GAP − flatten head, images shifted {SHIFT} px", "cnn_gap", "cnn", "shifted"),
    Comparison("avg_vs_max_shifted", f"average − max pooling, images shifted {SHIFT} px", "cnn_avgpool", "cnn", "shifted"),
    Comparison(
        "cnn_aug_vs_fc_aug_shifted",
        f"CNN − FC, both shift-augmented, images shifted {SHIFT} px",
        "cnn_shift4",
        "fc_baseline_shift4",
        "shifted",
    ),
)
BY_KEY = {comparison.key: comparison for comparison in COMPARISONS}


@dataclass(frozen=True)
class Result:
    """One comparison on one dataset: difference (points), its 95% Welch interval, p and Holm-adjusted p."""

    key: str
    label: str
    dataset: str
    difference: float
    low: float
    high: float
    seeds: tuple[int, int]
    test: str  # "Welch" or "McNemar"
    p: float
    holm_p: float = math.nan
    df: float = math.nan  # Welch-Satterthwaite degrees of freedom

    @property
    def resolved(self) -> bool:
        """A McNemar test's verdict within the per-seed family (never true of an exploratory estimate)."""
        return bool(self.holm_p < ALPHA)

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    @property
    def above_zero(self) -> bool:
        return bool(self.low > 0)

    @property
    def below_zero(self) -> bool:
        return bool(self.high < 0)

    @property
    def across_zero(self) -> bool:
        """An estimate whose 95% interval holds zero (it was made: a missing interval is not "across zero")."""
        return bool(self.low <= 0 <= self.high)

    @property
    def verdict(self) -> str:
        """A McNemar test: resolved or not; an estimate: where its interval lies."""
        if self.test == "McNemar":
            return "resolved" if self.resolved else "not resolved"
        if self.above_zero:
            return "interval above zero"
        if self.below_zero:
            return "interval below zero"
        return "interval across zero"


def shifted_accuracies(run: DatasetRun, name: str, shift: int = SHIFT) -> np.ndarray:
    """Per seed, the translation probe's accuracy (%) at `shift` pixels, mean over its directions."""
    values = []
    for probe in sorted(run.translation.get(name, []), key=lambda probe: probe["seed"]):
        rows = [row["accuracy"] for row in probe["result"]["rows"] if row["shift"] == shift]
        if rows:
            values.append(100 * float(np.mean(rows)))
    return np.asarray(values)


def sample(run: DatasetRun, name: str, metric: str) -> np.ndarray:
    if metric == "shifted":
        return shifted_accuracies(run, name)
    return records.accuracies(run.groups[name]) if run.groups.get(name) else np.asarray([])


def welch(comparison: Comparison, run: DatasetRun) -> Result | None:
    changed, original = sample(run, comparison.changed, comparison.metric), sample(run, comparison.original, comparison.metric)
    if len(changed) == 0 or len(original) == 0:
        return None
    low, high = stats.welch_difference_interval(changed, original)
    p = stats.welch_test(changed, original)["p_value"] if min(len(changed), len(original)) > 1 else math.nan
    difference = float(changed.mean() - original.mean())
    df = stats.welch_interval(changed, original)["df"]
    return Result(
        comparison.key, comparison.label, run.name, difference, low, high, (len(changed), len(original)), "Welch", p, df=df
    )


def mcnemar(run: DatasetRun, seed: int, labels: np.ndarray) -> Result | None:
    """CNN against FC on the same test images, one seed: McNemar's exact test (difference in points, no interval)."""
    by_seed = {name: {r["seed"]: r for r in run.groups.get(name, [])} for name in ("cnn", identities.FC)}
    if seed not in by_seed["cnn"] or seed not in by_seed[identities.FC]:
        return None
    cnn = records.record_predictions(by_seed["cnn"][seed]) == labels
    fc = records.record_predictions(by_seed[identities.FC][seed]) == labels
    test = stats.mcnemar_exact(cnn, fc)
    difference = 100 * float(cnn.mean() - fc.mean())
    key = f"cnn_vs_fc_seed{seed}"
    label = f"CNN − FC, seed {seed}, same test images"
    return Result(key, label, run.name, difference, math.nan, math.nan, (1, 1), "McNemar", test["p_value"])


def findings(
    runs: Mapping[str, DatasetRun], labels_of: Callable[[str], np.ndarray] | None = None
) -> dict[tuple[str, str], Result]:
    """Every comparison the run can make, keyed (dataset, comparison key): the exploratory estimates, and the per-seed
    McNemar tests with Holm's adjustment over those tests alone.

    `labels_of(dataset)` gives the test labels for McNemar's tests (left out when None)."""
    results: list[Result] = []
    for run in runs.values():
        for comparison in COMPARISONS:
            if not (run.groups.get(comparison.changed) and run.groups.get(comparison.original)):
                continue
            result = welch(comparison, run)
            if result is not None:
                results.append(result)
        labels = labels_of(run.name) if labels_of is not None else None
        if labels is not None and run.groups.get("cnn"):
            for record in run.groups["cnn"]:
                result = mcnemar(run, record["seed"], labels)
                if result is not None:
                    results.append(result)
    testable = [index for index, result in enumerate(results) if result.test == "McNemar" and not math.isnan(result.p)]
    adjusted = stats.holm_adjust([results[index].p for index in testable]) if testable else []
    final = list(results)
    for index, holm in zip(testable, adjusted, strict=True):
        final[index] = _with_holm(results[index], holm)
    return {(result.dataset, result.key): result for result in final}


def _with_holm(result: Result, holm: float) -> Result:
    from dataclasses import replace

    return replace(result, holm_p=float(holm))
