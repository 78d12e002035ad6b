"""The primary hypotheses decided: one test each per dataset, Holm's correction over these tests alone.

Each hypothesis of `study.hypotheses.PRIMARY` is tested on each dataset whose run holds both samples (at least two
seeds each):

- superiority and interaction: a one-sided t test that the per-seed effect lies in the declared direction, paired by
  seed (n − 1 degrees of freedom) where `hypotheses.paired_on` says so, else Welch's test;
- equivalence: two one-sided tests (TOST) that the difference lies within ±margin; its p is the larger of the two.

The p-values of every test present are adjusted together with Holm's method, and a hypothesis is decided at a
family-wise 5%: "supported" (superiority, interaction) or "equivalent" (equivalence) when its adjusted p is below
0.05, else "not supported" or "not shown equivalent". The interval beside each decision is the 95% interval of the
effect (90% for an equivalence test, the interval TOST reads against the margin). Nothing else in a run is decided:
every other comparison is an estimate, labelled exploratory.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats as distributions

from convlab.analysis import power, stats
from convlab.paper import power_table, runs
from convlab.study import config, hypotheses

ALPHA = 0.05


def _interval(effect: np.ndarray, se: float, df: float, confidence: float) -> tuple[float, float]:
    half = float(distributions.t.ppf(0.5 + confidence / 2, df)) * se
    return float(effect.mean()) - half, float(effect.mean()) + half


def test(hypothesis: hypotheses.Hypothesis, run: runs.DatasetRun) -> dict | None:
    """One hypothesis on one dataset's run: its samples, effect, interval and raw p; None where a sample is missing."""
    first, second, effect = power_table.per_seed_effect(run, hypothesis)
    if len(effect) < 2:
        return None
    paired = hypotheses.paired_on(hypothesis, run.name)  # both samples hold the same seeds (`per_seed_effect`)
    se, df = power.standard_error(
        float(first.std(ddof=1)), float(second.std(ddof=1)), len(effect), float(effect.std(ddof=1)) if paired else None
    )
    estimate = float(effect.mean())
    if se == 0:
        se = 1e-12  # identical samples: the test is decided by the sign (or size) of the estimate alone
    if hypothesis.kind == "equivalence":
        lower = distributions.t.sf((estimate + hypothesis.margin) / se, df)  # H0: difference ≤ −margin
        upper = distributions.t.cdf((estimate - hypothesis.margin) / se, df)  # H0: difference ≥ +margin
        p_value, confidence = float(max(lower, upper)), 1 - 2 * ALPHA
    else:
        p_value, confidence = float(distributions.t.sf(hypothesis.direction * estimate / se, df)), 1 - ALPHA
    low, high = _interval(effect, se, df, confidence)
    return {
        "hypothesis": hypothesis.key,
        "statement": hypothesis.statement,
        "kind": hypothesis.kind,
        "dataset": run.name,
        "seeds": len(effect),
        "test": "paired" if paired else "Welch",
        "effect (points)": estimate,
        "interval low": low,
        "interval high": high,
        "interval level": confidence,
        "degrees of freedom": float(df),
        "p": p_value,
    }


def decisions(loaded: Mapping[str, runs.DatasetRun]) -> pd.DataFrame:
    """Every primary test the run can make, with its Holm-adjusted p and its one decision."""
    rows = [
        row for hypothesis in hypotheses.PRIMARY for name, run in loaded.items() if (row := test(hypothesis, run)) is not None
    ]
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows)
    frame["Holm p"] = stats.holm_adjust(frame["p"].tolist())
    frame["family size"] = len(frame)
    held = frame["Holm p"] < ALPHA
    equivalence = frame["kind"] == "equivalence"
    frame["decision"] = np.where(
        equivalence,
        np.where(held, "equivalent", "not shown equivalent"),
        np.where(held, "supported", "not supported"),
    )
    frame["dataset title"] = frame["dataset"].map(config.DATASET_TITLES)
    return frame


def decision(frame: pd.DataFrame, key: str, dataset: str) -> dict | None:
    """One hypothesis's row on one dataset, as a dict (None when the run could not test it)."""
    if frame.empty:
        return None
    rows = frame[(frame["hypothesis"] == key) & (frame["dataset"] == dataset)]
    return None if rows.empty else rows.iloc[0].to_dict()
