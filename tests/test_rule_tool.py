"""The stopping rule read off the long-patience runs before a full run (`python -m convlab.tools.rule`)."""

from __future__ import annotations

import shutil

import pytest

from convlab.experiments import stopping
from convlab.study import config, paths, profiles
from convlab.tools import rule

PUBLISHED = paths.REPORTS_DIR / "published"


@pytest.fixture()
def reports(tmp_path):
    for dataset in config.DATASETS:
        source = PUBLISHED / dataset / "results" / "protocol"
        target = tmp_path / dataset / "results" / "protocol"
        target.mkdir(parents=True)
        for path in source.glob("*-seed*.json"):
            shutil.copy2(path, target / path.name)
    return tmp_path


def test_the_rule_is_chosen_on_both_datasets_families_and_compared_with_the_declared_one(reports, capsys):
    families = rule.by_family(rule.long_runs(reports))
    assert sorted(families) == ["Fashion-MNIST, CNN", "Fashion-MNIST, FC", "MNIST, CNN", "MNIST, FC"]
    assert all(len(group) == 3 for group in families.values())
    assert rule.main([str(reports)]) == 0
    printed = capsys.readouterr().out
    chosen = stopping.chosen_rule(stopping.family_rule_table(families))
    assert f"Chosen on these runs: {chosen['monitor']}, patience {chosen['patience']}" in printed
    declared = (profiles.MONITOR, profiles.PATIENCE)
    assert rule.epoch_factor(families, {"monitor": declared[0], "patience": declared[1]}, declared) == 1.0
    longer = rule.epoch_factor(families, {"monitor": "val_loss", "patience": 8}, ("val_loss", 2))
    assert longer > 1, "a longer patience runs more epochs on the same runs"


def test_without_long_runs_it_says_what_to_run(tmp_path, capsys):
    assert rule.main([str(tmp_path)]) == 1
    assert "run 12_training_protocol with the full profile first" in capsys.readouterr().out
