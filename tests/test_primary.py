"""The primary hypotheses decided: each test against scipy's own, Holm over the primary tests alone, and a run that
lacks a model testing only what it holds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from convlab.paper import primary, runs
from convlab.study import config, hypotheses, identities, paths


def _records(name: str, accuracies: list[float]) -> list[dict]:
    return [{"seed": seed, "model": {"name": name}, "test": {"accuracy": value / 100}} for seed, value in enumerate(accuracies)]


def _run(dataset: str, samples: dict[str, list[float]]) -> runs.DatasetRun:
    groups = {name: _records(name, values) for name, values in samples.items()}
    return runs.DatasetRun(name=dataset, title=config.DATASET_TITLES[dataset], groups=groups, reference={})


FC = [97.1, 97.4, 97.0, 97.6, 97.2, 97.3]
CNN = [98.9, 99.1, 98.8, 99.2, 98.7, 99.0]
K5 = [98.8, 99.2, 98.6, 99.1, 98.9, 98.9]
K7 = [99.0, 99.0, 98.9, 99.3, 98.6, 99.1]
SAMPLES = {identities.FC: FC, identities.CNN: CNN, "cnn_k5": K5, "cnn_k7": K7}


def _rows(dataset: str = "mnist") -> dict:
    frame = primary.decisions({dataset: _run(dataset, SAMPLES)})
    return {row["hypothesis"]: row for row in frame.to_dict("records")}, frame


def test_a_paired_superiority_test_is_scipys_one_sided_paired_t_test():
    rows, _ = _rows("mnist")
    assert hypotheses.paired_on(hypotheses.PRIMARY[0], "mnist")
    expected = stats.ttest_rel(CNN, FC, alternative="greater")
    assert rows["cnn_above_fc"]["test"] == "paired"
    assert rows["cnn_above_fc"]["p"] == pytest.approx(expected.pvalue, rel=1e-9)
    assert rows["cnn_above_fc"]["effect (points)"] == pytest.approx(np.mean(CNN) - np.mean(FC))


def test_a_welch_superiority_test_is_scipys_one_sided_welch_test():
    rows, _ = _rows("fashion_mnist")  # declared unpaired on Fashion-MNIST (hypotheses.WELCH_ON)
    expected = stats.ttest_ind(CNN, FC, equal_var=False, alternative="greater")
    assert rows["cnn_above_fc"]["test"] == "Welch"
    assert rows["cnn_above_fc"]["p"] == pytest.approx(expected.pvalue, rel=1e-9)


def test_an_equivalence_test_is_two_one_sided_tests_against_the_margin():
    rows, _ = _rows("mnist")
    margin = hypotheses.EQUIVALENCE_MARGIN
    difference = np.array(K7) - np.array(CNN)
    above = stats.ttest_1samp(difference, -margin, alternative="greater").pvalue
    below = stats.ttest_1samp(difference, margin, alternative="less").pvalue
    assert rows["k7_equivalent"]["p"] == pytest.approx(max(above, below), rel=1e-9)
    low, high = rows["k7_equivalent"]["interval low"], rows["k7_equivalent"]["interval high"]
    assert rows["k7_equivalent"]["interval level"] == pytest.approx(0.90)
    # TOST at 5% holds exactly when the 90% interval lies inside the margin
    assert (max(above, below) < 0.05) == (-margin < low and high < margin)


def test_holm_runs_over_the_primary_tests_the_run_holds_and_nothing_else():
    rows, frame = _rows("mnist")
    # no permuted, locally connected or probe records: those hypotheses are not tested, and not counted
    assert set(rows) == {"cnn_above_fc", "k5_equivalent", "k7_equivalent"}
    assert (frame["family size"] == 3).all()
    ordered = sorted(frame["p"])
    smallest = frame.loc[frame["p"].idxmin()]
    assert smallest["Holm p"] == pytest.approx(min(1.0, 3 * ordered[0]))
    assert set(frame["decision"]) <= {"supported", "not supported", "equivalent", "not shown equivalent"}
    assert rows["cnn_above_fc"]["decision"] == "supported"


def test_a_difference_outside_the_margin_is_not_shown_equivalent():
    far = [value - 1.5 for value in CNN]
    frame = primary.decisions({"mnist": _run("mnist", {identities.CNN: CNN, "cnn_k5": far})})
    assert frame.iloc[0]["decision"] == "not shown equivalent" and frame.iloc[0]["p"] > 0.5


def test_the_published_run_decides_every_hypothesis_it_has_records_for():
    loaded = runs.load_all(paths.REPORTS_DIR / "published", config.DATASETS)
    frame = primary.decisions(loaded)
    assert 0 < len(frame) <= hypotheses.FAMILY_SIZE
    assert frame["Holm p"].between(0, 1).all() and (frame["Holm p"] >= frame["p"] - 1e-12).all()
    assert not frame.isna().any().any()
