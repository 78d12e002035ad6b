"""`stats`: the statistics of the seed comparisons, on inputs with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from known_inputs import group, record

from convlab.analysis import stats


def test_mean_and_t_interval():
    summary = stats.mean_confidence_interval([1.0, 2.0, 3.0])
    half_width = 4.302652729911275 / np.sqrt(3)  # t(0.975, df=2) × s / √n with s = 1
    assert summary["mean"] == 2.0 and summary["std"] == 1.0
    assert summary["ci_low"] == pytest.approx(2 - half_width) and summary["ci_high"] == pytest.approx(2 + half_width)


def test_single_value_has_no_spread():
    summary = stats.mean_confidence_interval([0.9])
    assert summary["mean"] == 0.9 and np.isnan(summary["std"]) and np.isnan(summary["ci_low"])


def test_welch_test_by_hand():
    result = stats.welch_test([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    assert result["difference"] == -3.0
    assert result["t"] == pytest.approx(-3 / np.sqrt(1 / 3 + 1 / 3))
    assert result["p_value"] == pytest.approx(0.02131164, abs=1e-6)  # two-sided, Welch df = 4


def test_welch_difference_interval():
    assert stats.welch_difference_interval([1.0, 1.0, 1.0], [0.0, 0.0, 0.0]) == (1.0, 1.0)
    # −3 ± t(0.975, df 4) · √(2/3) = −3 ± 2.776 · 0.8165
    low, high = stats.welch_difference_interval([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    assert (low, high) == (pytest.approx(-3 - 2.2666, abs=1e-3), pytest.approx(-3 + 2.2666, abs=1e-3))
    interval = stats.welch_interval([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    assert interval["half_width"] == pytest.approx((high - low) / 2), "one Welch interval, two spellings"
    assert all(np.isnan(stats.welch_difference_interval([1.0], [2.0, 3.0])))


def test_welch_interval_covers_at_its_stated_rate_with_three_seeds():
    """Simulated seeds (normal, equal means): the 95% Welch interval of a difference holds 0 in at least 94% of 4,000
    draws of 3 against 3 (slightly more than 95%: Welch's degrees of freedom err on the safe side), where a
    percentile bootstrap over the same draws holds it far less often."""
    rng = np.random.default_rng(0)
    draws = rng.normal(90.0, 0.3, size=(4000, 2, 3))
    covered = [low <= 0 <= high for low, high in (stats.welch_difference_interval(a, b) for a, b in draws)]
    assert 0.94 <= np.mean(covered) <= 0.975
    boot = []
    for a, b in draws[:500]:
        means = rng.choice(a, (2000, 3)).mean(axis=1) - rng.choice(b, (2000, 3)).mean(axis=1)
        low, high = np.quantile(means, [0.025, 0.975])
        boot.append(low <= 0 <= high)
    assert np.mean(boot) < 0.90


def test_mcnemar_exact_counts_the_discordant_images():
    first = np.array([True] * 10 + [False] * 2 + [True] * 50 + [False] * 5)
    second = np.array([False] * 10 + [True] * 2 + [True] * 50 + [False] * 5)
    result = stats.mcnemar_exact(first, second)
    assert (result["first only"], result["second only"]) == (10, 2)
    assert result["p_value"] == pytest.approx(0.03857, abs=1e-4)  # two-sided binomial, 2 of 12 at 1/2: 2 × 79/4096
    assert stats.mcnemar_exact(first, first)["p_value"] == 1.0


def test_holm_adjustment():
    assert stats.holm_adjust([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert stats.holm_adjust([0.5, 0.9]) == pytest.approx([1.0, 1.0])


@pytest.mark.parametrize(
    "columns, confidence, names",
    [
        (stats.interval_columns, 0.95, ("Welch 95% CI low", "Welch 95% CI high")),
        (stats.interval_columns, 0.9, ("Welch 90% CI low", "Welch 90% CI high")),
        (stats.gain_columns, 0.95, ("gain 95% CI low", "gain 95% CI high")),
        (stats.error_ratio_columns, 0.99, ("error ratio 99% CI low", "error ratio 99% CI high")),
    ],
)
def test_interval_columns_are_named_by_their_confidence(columns, confidence, names):
    assert columns(confidence) == names


def test_paired_effect_of_constant_groups():
    effect = stats.paired_effect(group(0.90, 0.90), group(0.92, 0.92))
    low, high = stats.interval_columns()
    assert effect[stats.ORIGINAL] == "90.00 ± 0.00" and effect[stats.CHANGED] == "92.00 ± 0.00"
    assert effect[stats.DIFFERENCE] == pytest.approx(2.0)
    assert effect[low] == pytest.approx(2.0) and effect[high] == pytest.approx(2.0)
    assert effect[stats.SEEDS] == "2 / 2"


def test_paired_effect_of_single_runs_has_no_p_value():
    effect = stats.paired_effect(group(0.9), group(0.8), confidence=0.9)
    assert effect[stats.ORIGINAL] == "90.00" and effect[stats.CHANGED] == "80.00"
    assert np.isnan(effect[stats.WELCH_P]) and "Welch 90% CI low" in effect


def test_gain_over_the_common_seeds():
    baseline = [record(0.97, seed, model={"parameters": 100}, macs_per_image=10) for seed in (0, 1)]
    challenger = [record(0.985, seed, model={"parameters": 200}, macs_per_image=200) for seed in (0, 1)]
    challenger.append(record(0.5, 7, model={"parameters": 200}, macs_per_image=200))  # no baseline of seed 7: left out
    figures = stats.gain(baseline, challenger)
    assert figures[stats.ACCURACY_GAIN] == pytest.approx(1.5)
    assert figures[stats.BASELINE_ERROR] == pytest.approx(3.0) and figures[stats.CHALLENGER_ERROR] == pytest.approx(1.5)
    assert figures[stats.ERROR_RATIO] == pytest.approx(0.5)
    assert figures[stats.PARAMETER_RATIO] == 2.0 and figures[stats.MAC_RATIO] == 20.0
    assert figures[stats.TRAINING_TIME_RATIO] == 1.0  # same train_seconds per seed


def test_dataset_gain_and_error_ratio():
    gain = stats.dataset_gain(group(0.97, 0.97, 0.97), group(0.985, 0.985, 0.985))
    ratio_low, ratio_high = stats.error_ratio_columns()
    gain_low, gain_high = stats.gain_columns()
    assert gain[stats.GAIN] == pytest.approx(1.5)
    assert gain[gain_low] == pytest.approx(1.5) and gain[gain_high] == pytest.approx(1.5)
    assert gain[stats.ERROR_RATIO] == pytest.approx(0.5)
    assert gain[ratio_low] == pytest.approx(0.5) and gain[ratio_high] == pytest.approx(0.5)
    assert gain[stats.FC_ERROR] == pytest.approx(3.0) and gain[stats.CNN_ERROR] == pytest.approx(1.5)
    assert gain[stats.FC_ACCURACY] == "97.00 ± 0.00" and gain[stats.SEEDS] == "3 / 3"


def test_welch_interval_is_scipys_welch_confidence_interval():
    from scipy import stats as scipy_stats

    first, second = [91.0, 90.2, 90.9, 91.4], [88.1, 88.9, 87.6]
    interval = stats.welch_interval(first, second, 0.95)
    expected = scipy_stats.ttest_ind(first, second, equal_var=False).confidence_interval(0.95)
    assert interval["difference"] - interval["half_width"] == pytest.approx(expected.low)
    assert interval["difference"] + interval["half_width"] == pytest.approx(expected.high)
    assert np.isnan(stats.welch_interval([90.0], [89.0, 88.0])["half_width"]), "one seed: no interval"
    assert stats.welch_interval([90.0, 90.0], [89.0, 89.0])["half_width"] == 0.0
