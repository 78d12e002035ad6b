"""The planned cost of a full run: every part of the design counted, from the published run's records."""

from __future__ import annotations

import pytest

from convlab.analysis import costs
from convlab.study import config, hypotheses, paths, profiles
from convlab.tools import budget


def test_the_plan_counts_every_training_the_design_asks_for():
    table = budget.plan(paths.REPORTS_DIR / "published")
    seeds = profiles.PROFILES["full"].seeds
    by_power = {
        d: {m: len(hypotheses.seeds_for_model(m, seeds, d)) for m in hypotheses.primary_models()} for d in config.DATASETS
    }
    assert by_power["fashion_mnist"]["cnn"] == by_power["mnist"]["cnn"] == len(seeds), "the CNN is in every hypothesis"
    assert min(n for counts in by_power.values() for n in counts.values()) == hypotheses.MIN_PRIMARY_SEEDS
    assert table.loc["primary models", "trainings"] == sum(sum(counts.values()) for counts in by_power.values()) == 83
    assert table.loc["long-patience runs (one per family)", "trainings"] == 2 * (len(plans_families()) + 1)
    assert table.loc["the studies' literal protocol", "trainings"] == len(config.DATASETS) * 2 * profiles.EXPLORATORY_SEEDS
    exploratory = table.loc["exploratory models", "trainings"]
    assert exploratory > 0 and exploratory % profiles.EXPLORATORY_SEEDS == 0
    assert table.loc["all", "FLOP"] == pytest.approx(table.drop(index="all")["FLOP"].sum())
    published = costs.run_flops([paths.REPORTS_DIR / "published" / d / "results" for d in config.DATASETS])
    assert published == pytest.approx(1.194e15, rel=1e-3), "the run the budget was set against"
    assert table.loc["all", "FLOP"] > published, "more seeds and more runs cost more than the published run"
    slower = budget.plan(paths.REPORTS_DIR / "published", epoch_factor=1.5)
    stopped = ["primary models", "exploratory models", "learning curves"]
    assert slower.loc[stopped, "FLOP"].to_numpy() == pytest.approx(1.5 * table.loc[stopped, "FLOP"].to_numpy())
    assert slower.loc["the studies' literal protocol", "FLOP"] == table.loc["the studies' literal protocol", "FLOP"]


def plans_families() -> dict:
    from convlab.experiments import plans

    return plans.settings_families("mnist")


def test_a_both_layer_kernel_is_costed_only_when_the_design_does_not_train_it():
    assert budget.costed_only("cnn_k7-7") and not budget.costed_only("cnn_k5-5")
    assert not budget.costed_only("cnn_k7") and not budget.costed_only("cnn")


def test_a_protocol_part_already_trained_counts_its_recorded_flop(tmp_path):
    """Every long-patience run of a dataset trained: that part is its records' FLOP; the literal part, incomplete,
    stays planned."""
    from convlab.experiments import literal, protocol
    from convlab.store import records

    published = paths.REPORTS_DIR / "published"
    planned = budget.plan(published)
    results = tmp_path / "mnist" / "results"
    source = records.read_json(published / "mnist" / "results" / "protocol" / "cnn-seed0.json")
    runs = int(planned.loc[budget.LONG_RUNS, "trainings"]) // len(config.DATASETS)
    for index in range(runs):
        records.write_json(results / protocol.FOLDER / f"model{index}-seed0.json", source | {"epochs_run": 10})
    records.write_json(results / literal.FOLDER / "cnn-seed0.json", source | {"epochs_run": 15})
    table = budget.plan(published, trained=tmp_path)
    per_run = costs.training_flops(source | {"epochs_run": 10})
    assert table.loc[f"{budget.LONG_RUNS}, trained", "trainings"] == runs
    assert table.loc[f"{budget.LONG_RUNS}, trained", "FLOP"] == pytest.approx(runs * per_run)
    assert table.loc[budget.LONG_RUNS, "trainings"] == runs, "Fashion-MNIST's long runs stay planned"
    assert table.loc[budget.LITERAL, "FLOP"] == pytest.approx(planned.loc[budget.LITERAL, "FLOP"])


def test_a_shift_augmented_model_is_planned_at_its_long_runs_epochs(tmp_path):
    """It trains by the long runs' own rule, so each of its seeds runs about as long as its long run."""
    import numpy as np

    from convlab.experiments import protocol
    from convlab.store import records

    published = paths.REPORTS_DIR / "published"
    stored = [r for rel, r in costs.training_records(published / "mnist" / "results") if rel == "cnn_shift4-seed0.json"]
    long_run = stored[0] | {"epochs_run": 40}
    records.write_json(tmp_path / "mnist" / "results" / protocol.FOLDER / "cnn_shift4-seed0.json", long_run)
    group = [r for rel, r in costs.training_records(published / "mnist" / "results") if rel.startswith("cnn_shift4-")]
    per_epoch = np.mean([costs.training_flops(r) / r["epochs_run"] for r in group])
    seeds = len(hypotheses.seeds_for_model("cnn_shift4", profiles.PROFILES["full"].seeds, "mnist"))
    planned, trained = budget.plan(published), budget.plan(published, trained=tmp_path)
    grown = trained.loc["exploratory models", "FLOP"] - planned.loc["exploratory models", "FLOP"]
    mean = np.mean([costs.training_flops(r) for r in group])
    assert grown == pytest.approx(seeds * (40 * per_epoch - mean))
