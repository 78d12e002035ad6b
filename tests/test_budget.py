"""The planned cost of a full run: every part of the design counted, from the published run's records."""

from __future__ import annotations

import pytest

from convlab.analysis import costs
from convlab.study import config, hypotheses, paths, profiles
from convlab.tools import budget


def test_the_plan_counts_every_training_the_design_asks_for():
    table = budget.plan(paths.REPORTS_DIR / "published")
    seeds, datasets = len(profiles.PROFILES["full"].seeds), len(config.DATASETS)
    assert table.loc["primary models", "trainings"] == datasets * len(hypotheses.primary_models()) * seeds
    assert table.loc["the studies' literal protocol", "trainings"] == datasets * 2 * profiles.EXPLORATORY_SEEDS
    exploratory = table.loc["exploratory models", "trainings"]
    assert exploratory > 0 and exploratory % profiles.EXPLORATORY_SEEDS == 0
    assert table.loc["all", "FLOP"] == pytest.approx(table.drop(index="all")["FLOP"].sum())
    published = costs.run_flops([paths.REPORTS_DIR / "published" / d / "results" for d in config.DATASETS])
    assert published == pytest.approx(1.194e15, rel=1e-3), "the run the budget was set against"
    assert table.loc["all", "FLOP"] > published, "more seeds and more runs cost more than the published run"
