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


# The long runs of every family: those carried for a full run in progress, else the published run's.
CARRIED = paths.REPORTS_DIR / "carried"
EVERY_FAMILY = CARRIED if CARRIED.is_dir() else PUBLISHED


def test_the_declared_rule_is_the_one_every_family_but_the_shift_augmented_ones_chooses():
    from convlab.experiments import protocol

    families = rule.by_family(rule.long_runs(EVERY_FAMILY))
    assert len(families) == 2 * 10, "a long run of every family on both datasets"
    table = stopping.family_rule_table(families)
    assert stopping.chosen_rule(table) is None, "no candidate serves every family, the shift-augmented ones included"
    chosen = stopping.chosen_rule(table, exempt=protocol.LONG_RULE_FAMILIES)
    assert (chosen["monitor"], chosen["patience"]) == (profiles.MONITOR, profiles.PATIENCE)
    exempt = [label for label in families if stopping.exempted(label, protocol.LONG_RULE_FAMILIES)]
    assert len(exempt) == 4 and all("shift-augmented" in label for label in exempt)
    for label in exempt:
        (run,) = families[label]
        assert stopping.is_premature_on(run["history"], chosen["patience"], chosen["monitor"]), label


def test_the_families_of_the_long_rule_are_the_shift_augmented_ones_and_train_by_it(fashion):
    from convlab.experiments import plans, protocol
    from convlab.training import fit

    params = config.RunParameters.from_notebook(notebook="03_cnn", dataset="fashion_mnist", profile="full")
    for label, model_config in plans.settings_families("fashion_mnist").items():
        settings = fit.training_config_for(params, model_config)
        if label in protocol.LONG_RULE_FAMILIES:
            assert model_config.shift_augmentation > 0, label
            assert (settings.patience, settings.also_wait_for) == (profiles.AUGMENTED_PATIENCE, "val_accuracy"), label
        else:
            assert model_config.shift_augmentation == 0, label
            assert (settings.patience, settings.also_wait_for) == (profiles.PATIENCE, ""), label
        assert settings.monitor == profiles.MONITOR and settings.epochs == profiles.EPOCH_CAP
