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
