"""The stopping rule's simulation and choice (`convlab.experiments.protocol`), on histories with known answers."""

import pytest

from convlab.experiments import protocol


def test_simulate_stops_like_keras_early_stopping():
    losses = [1.0, 0.8, 0.85, 0.9, 0.7, 0.75, 0.76, 0.77]
    stop = protocol.simulate(losses, 2)
    assert (stop.epochs, stop.best_epoch, stop.best_loss) == (4, 2, 0.8)
    stop = protocol.simulate(losses, 3)
    assert (stop.epochs, stop.best_epoch, stop.best_loss) == (8, 5, 0.7)


def test_simulate_runs_to_the_end_when_the_rule_never_fires():
    assert protocol.simulate([3.0, 2.0, 1.0], 2) == protocol.Stop(3, 3, 1.0)


def test_a_stop_is_premature_only_beyond_the_tolerance():
    losses = [1.0, 0.8, 0.85, 0.9, 0.7]  # patience 2 keeps 0.8, which is 14% above 0.7
    assert protocol.is_premature(losses, 2)
    assert not protocol.is_premature(losses, 3)
    close = [1.0, 0.71, 0.75, 0.76, 0.70]  # 0.71 is 1.4% above 0.70: within 2%
    assert not protocol.is_premature(close, 2)


def test_the_cheapest_rule_within_the_premature_share_is_chosen():
    histories = [[1.0, 0.8, 0.85, 0.9, 0.7, 0.72, 0.73, 0.74, 0.75, 0.76, 0.77, 0.78]] + [
        [1.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    ] * 19
    table = protocol.rule_table(histories, (2, 3, 4))
    assert table.loc["patience 2", "premature stops"] == 1
    assert table.loc["patience 2", "premature share"] == pytest.approx(0.05)
    assert table.loc["patience 3", "premature stops"] == 0
    assert protocol.cheapest_rule(table) == 2  # 5% is allowed
    assert protocol.cheapest_rule(table, share=0.0) == 3
    assert protocol.cheapest_rule(table.iloc[:0]) is None


def test_the_studies_protocol_reads_the_fifteenth_epoch():
    run = {"seed": 0, "history": {"test_accuracy": [0.5 + 0.01 * epoch for epoch in range(20)]}}
    assert protocol.studies_protocol({"FC": [run]}) == {"FC": [pytest.approx(64.0)]}


def test_a_profile_runs_its_notebooks_when_none_are_named():
    from convlab.run import pipeline
    from convlab.study import manifest, profiles

    assert pipeline.profile_notebooks("quick") == manifest.in_order(profiles.STUDIES_NOTEBOOKS)
    assert "12_training_protocol" not in pipeline.profile_notebooks("quick")
    assert pipeline.profile_notebooks("full") == pipeline.profile_notebooks("gpu") == manifest.names()


def test_a_quick_report_names_what_needs_the_full_profile():
    from convlab.report import report
    from convlab.study import manifest

    plan = [{"notebook": name} for name in ("01_eda", "02_fc_baseline")]
    text = report.not_in_this_run(plan)
    assert "make report PROFILE=full" in text and "Convolutional network" in text and "Exploring the data" not in text
    assert report.not_in_this_run([{"notebook": name} for name in manifest.names()]) == ""


def test_progress_counts_runs_and_estimates_the_time_left_from_earlier_records(tmp_path, capsys):
    import json
    from types import SimpleNamespace

    from convlab.training import models, workers

    params = SimpleNamespace(results_dir=tmp_path, dataset="no_such_dataset")  # nothing published to fall back on
    fc, cnn = models.fc_baseline_config("mnist"), models.cnn_config("mnist")
    tasks = [workers.Task(fc, None, 0), workers.Task(cnn, None, 0), workers.Task(cnn, None, 1)]
    for name, seed, seconds in (("fc_baseline", 0, 30.0), ("cnn", 0, 240.0), ("cnn", 1, 360.0)):
        (tmp_path / f"{name}-seed{seed}.json").write_text(json.dumps({"timing": {"train_seconds": seconds}}))
    progress = workers.Progress(tasks, params, processes=2)
    assert progress.done(tasks[0]).endswith("about 5 min left, from earlier runs' times.")  # (240 + 360) / 2 s
    assert "Trained 1 of 3 runs (fc_baseline, seed 0)" in capsys.readouterr().out
    (tmp_path / "cnn-seed1.json").unlink()
    assert "left" not in workers.Progress(tasks[1:], params, processes=2).done(tasks[1]), "no estimate without a record"


def test_the_first_epoch_counts_as_an_improvement_whatever_its_loss():
    """As in Keras: a NaN first epoch is the best so far, and no later loss compares lower than NaN."""
    stop = protocol.simulate([float("nan"), 2.0, 3.0], 1)
    assert (stop.epochs, stop.best_epoch) == (2, 1) and stop.best_loss != stop.best_loss


def test_only_runs_of_the_studies_settings_on_the_same_data_are_like_for_like():
    data = {"train_size": 60000, "test_size": 10000}

    def run(**settings):
        return {
            "parameters": {"learning_rate": 1e-3, "batch_size": 32} | settings,
            "history": {"test_accuracy": [0.9] * 15},
            "dataset": data,
        }

    good, batch64 = run(), run(batch_size=64)
    short = run() | {"history": {"test_accuracy": [0.9] * 3}}
    assert protocol.follows_the_studies(good, data) and not protocol.follows_the_studies(batch64, data)
    assert not protocol.follows_the_studies(short) and not protocol.follows_the_studies(good, {"train_size": 2000})
    assert protocol.like_for_like({"FC": [good, batch64, short]}, data) == {"FC": [good]}


def test_an_exempt_family_is_left_out_of_the_choice_of_the_rule():
    from convlab.experiments import stopping

    steady = {"val_loss": [1.0, 0.8, 0.81, 0.7, 0.71, 0.72, 0.73, 0.74, 0.75], "val_accuracy": [0.5] * 9}
    plateau = {"val_loss": [1.0, 0.9, 0.91, 0.92, 0.93, 0.5, 0.6, 0.6, 0.6], "val_accuracy": [0.5] * 9}
    runs = {"MNIST, CNN": [{"history": steady}], "MNIST, CNN, shift-augmented": [{"history": plateau}]}
    table = stopping.family_rule_table(runs, patiences=(1, 2, 3), monitors=("val_loss",))
    assert stopping.chosen_rule(table) is None, "patience 3 stops the plateau early"
    chosen = stopping.chosen_rule(table, exempt=("CNN, shift-augmented",))
    assert (chosen["monitor"], chosen["patience"]) == ("val_loss", 2)
    assert stopping.exempted("MNIST, CNN, shift-augmented", ("CNN, shift-augmented",))
    assert not stopping.exempted("MNIST, FC, shift-augmented", ("CNN, shift-augmented",))
