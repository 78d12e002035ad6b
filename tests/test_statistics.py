"""The statistics of the seed comparisons, on inputs with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from convlab import analysis


def test_mean_and_t_interval():
    summary = analysis.mean_confidence_interval([1.0, 2.0, 3.0])
    half_width = 4.302652729911275 / np.sqrt(3)  # t(0.975, df=2) × s / √n with s = 1
    assert summary["mean"] == 2.0 and summary["std"] == 1.0
    assert summary["ci_low"] == pytest.approx(2 - half_width) and summary["ci_high"] == pytest.approx(2 + half_width)


def test_single_value_has_no_spread():
    summary = analysis.mean_confidence_interval([0.9])
    assert summary["mean"] == 0.9 and np.isnan(summary["std"]) and np.isnan(summary["ci_low"])


def test_welch_test_by_hand():
    result = analysis.welch_test([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    assert result["difference"] == -3.0
    assert result["t"] == pytest.approx(-3 / np.sqrt(1 / 3 + 1 / 3))
    assert result["p_value"] == pytest.approx(0.02131164, abs=1e-6)  # two-sided, Welch df = 4


def test_bootstrap_interval_of_constant_groups_is_exact():
    assert analysis.bootstrap_difference_interval([1.0, 1.0, 1.0], [0.0, 0.0, 0.0]) == (1.0, 1.0)
    low, high = analysis.bootstrap_difference_interval([0.90, 0.91, 0.92], [0.90, 0.91, 0.92])
    assert low < 0 < high


def test_holm_adjustment():
    assert analysis.holm_adjust([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert analysis.holm_adjust([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def _runs(accuracies: list[float]) -> list[dict]:
    return [{"seed": seed, "test": {"accuracy": value}} for seed, value in enumerate(accuracies)]


def test_settings_check_compares_models_and_gain_seed_by_seed():
    reference = {"FC baseline": _runs([0.875, 0.874, 0.876]), "CNN": _runs([0.907, 0.905, 0.909])}
    same = {"FC baseline": _runs([0.874, 0.876, 0.875]), "CNN": _runs([0.906, 0.908, 0.905])}
    effects = analysis.settings_effects(same, reference)
    assert list(effects.index) == ["FC baseline accuracy", "CNN accuracy", "CNN − FC gain"]
    assert effects.loc["CNN − FC gain", "reference settings"] == "+3.20 ± 0.10"
    assert effects.loc["CNN accuracy", "difference (points)"] == pytest.approx(-0.0667, abs=1e-4)
    text = analysis.describe_settings_check(effects, "cpu")
    assert text.count("within seed noise") == 3 and "does not depend on the settings" in text

    worse = {"FC baseline": same["FC baseline"], "CNN": _runs([0.880, 0.878, 0.879])}
    text = analysis.describe_settings_check(analysis.settings_effects(worse, reference), "cpu")
    assert "CNN accuracy: 90.70 ± 0.20 with the 'paper' settings, 87.90 ± 0.10" in text
    assert "more than seed noise" in text and "The settings matter here" in text


def test_settings_check_without_reference_says_how_to_run_it():
    assert "CHECK_SETTINGS=1" in analysis.describe_settings_check(None, "cpu")
    assert "nothing to compare" in analysis.describe_settings_check(None, "paper")
