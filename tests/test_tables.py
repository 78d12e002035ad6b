"""`tables`: the tables built from result records, on records and frames with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from known_inputs import group, record

from convlab.analysis import curves, protocol_tables, stats, tables
from convlab.experiments import design


def test_column_names_follow_the_confidence():
    assert tables.ci_columns() == ("95% CI low (%)", "95% CI high (%)")
    assert tables.ci_columns(0.9) == ("90% CI low (%)", "90% CI high (%)")
    assert tables.shift_column(4) == "shift 4 px"
    assert tables.confidence_of(pd.DataFrame()) == 0.95


@pytest.mark.parametrize(
    "model, label",
    [
        ({"kind": "fc", "hidden_units": [128, 64], "num_classes": 10}, "FC 784→128→64→10"),
        (
            {"kind": "fc", "hidden_units": [128, 64], "num_classes": 10, "pixel_permutation": 0},
            "FC 784→128→64→10, permuted pixels",
        ),
        ({"kind": "cnn", "kernel_sizes": [5, 3], "head": "gap"}, "CNN 5×5/3×3, GAP head"),
        ({"kind": "cnn", "kernel_sizes": [3, 3], "head": "flatten", "shift_augmentation": 4}, "CNN 3×3/3×3, shift-augmented ±4"),
    ],
)
def test_model_label(model, label):
    assert tables.model_label(model) == label


def test_summarize_and_comparison_table():
    runs = group(0.90, 0.92)
    summary = tables.summarize(runs, design.CNN)
    assert summary[tables.MODEL] == design.CNN and summary[stats.SEEDS] == 2
    assert summary[tables.TEST_ACCURACY] == pytest.approx(91.0) and summary[tables.ACCURACY_STD] == pytest.approx(np.sqrt(2))
    assert summary[tables.TEST_LOSS] == pytest.approx(0.275) and summary["epochs run"] == 6.5
    assert summary[tables.TRAIN_TIME] == 10.5 and summary[tables.EPOCH_TIME] == 2.0
    assert tables.summarize(runs)[tables.MODEL] == "m", "without a label, the record's model name"
    table = tables.comparison_table({design.FC_BASELINE: group(0.88), design.CNN: runs})
    assert list(table.index) == [design.FC_BASELINE, design.CNN]
    assert table.loc[design.CNN, tables.ACCURACY_STD] == 1.41 and np.isnan(table.loc[design.FC_BASELINE, tables.ACCURACY_STD])


def test_history_frame_and_overfitting_summary():
    run = record(0.9)
    history = tables.history_frame(run)
    assert history.index.name == "epoch" and list(history.index) == [1, 2, 3, 4, 5, 6]
    assert history.loc[4, "val_loss"] == 0.45
    assert tables.overfitting_summary(run) == {
        "epochs run": 6,
        "restored epoch": 4,
        "validation loss at restored epoch": 0.45,
        "validation loss at last epoch": 0.55,
        "training loss at last epoch": 0.2,
    }


@pytest.mark.parametrize("confidence", [0.95, 0.9])
def test_sweep_table_gives_the_t_interval(confidence):
    table = tables.sweep_table({"3×3": group(0.01, 0.02, 0.03), "5×5": group(0.5)}, confidence)
    low, high = tables.ci_columns(confidence)
    summary = stats.mean_confidence_interval([1.0, 2.0, 3.0], confidence)
    assert table.loc["3×3", tables.ACCURACY_MEAN] == 2.0 and table.loc["3×3", tables.ACCURACY_STD] == 1.0
    assert table.loc["3×3", low] == pytest.approx(summary["ci_low"], abs=0.006)
    assert table.loc["3×3", high] == pytest.approx(summary["ci_high"], abs=0.006)
    assert table.loc["3×3", "accuracy ± std"] == "2.00 ± 1.00" and np.isnan(table.loc["5×5", low])
    assert tables.confidence_of(table) == confidence


def test_pairwise_comparisons_adjust_the_welch_p_values():
    groups = {"a": group(0.01, 0.02, 0.03), "b": group(0.04, 0.05, 0.06), "c": group(0.5)}
    table = tables.pairwise_comparisons(groups)
    assert list(table.index) == ["a − b", "a − c", "b − c"]
    assert table.loc["a − b", stats.DIFFERENCE] == -3.0
    assert table.loc["a − b", stats.WELCH_P] == pytest.approx(0.0213, abs=1e-4)
    assert table.loc["a − b", tables.HOLM_P] == table.loc["a − b", stats.WELCH_P], "one valid comparison: nothing to adjust"
    assert table.loc[["a − c", "b − c"], tables.HOLM_P].isna().all(), "one seed: no p-value"
    low, high = stats.interval_columns()
    assert table.loc["a − c", stats.DIFFERENCE] == -48.0
    assert table.loc[["a − c"], [low, high]].isna().all(axis=None), "one seed: no interval"


def translation_frame() -> pd.DataFrame:
    rows = [
        {"model": model, "seed": seed, "direction": direction, "shift": shift, "accuracy": 90 - 10 * shift + offset + seed}
        for model, offset in ((design.CNN, 0), (design.FC, -5))
        for direction in ("horizontal", "vertical")
        for seed in (0, 2)
        for shift in (0, 1, 2)
    ]
    return pd.DataFrame(rows)


def test_shift_curve_table_and_mean():
    frame = translation_frame()
    curve = tables.shift_curve(frame)
    row = curve[(curve["model"] == design.FC) & (curve["direction"] == "vertical") & (curve["shift"] == 1)].iloc[0]
    assert (row["mean"], row["std"], row["count"]) == (76.0, pytest.approx(np.sqrt(2)), 2)
    table = tables.shift_table(frame)
    assert list(table.columns) == [tables.shift_column(0), tables.shift_column(2)], "the even shifts by default"
    assert list(table.index) == [
        (direction, model) for direction in ("horizontal", "vertical") for model in (design.CNN, design.FC)
    ]
    assert table.loc[("vertical", design.FC), tables.shift_column(2)] == "66.00 ± 1.41"
    assert list(tables.shift_table(frame, (1,)).columns) == [tables.shift_column(1)]
    assert tables.mean_shift_accuracy(frame, design.CNN, 2, "vertical") == 71.0
    with pytest.raises(KeyError, match="'CNN' at a diagonal shift of 2"):
        tables.mean_shift_accuracy(frame, design.CNN, 2, "diagonal")


def test_shift_table_of_one_seed_has_no_spread():
    frame = translation_frame()
    assert tables.shift_table(frame[frame["seed"] == 0]).loc[("horizontal", design.CNN), tables.shift_column(0)] == "90.00"


def test_permutation_effects_compare_each_model_with_itself():
    groups = {
        design.FC: group(0.880, 0.876, 0.878),
        design.FC_PERMUTED: group(0.879, 0.877, 0.878),
        design.CNN: group(0.910, 0.905, 0.908),
        design.CNN_PERMUTED: group(0.879, 0.876, 0.878),
    }
    effects = tables.permutation_effects(groups)
    assert list(effects.index) == [design.FC, design.CNN, tables.CNN_MINUS_FC_PERMUTED]
    assert effects.loc[design.CNN, stats.DIFFERENCE] == pytest.approx(-3.0, abs=1e-9)
    assert effects.loc[design.CNN, "original pixels (%)"] == "90.77 ± 0.25"
    assert effects.loc[tables.CNN_MINUS_FC_PERMUTED, "permuted pixels (%)"] == "—"
    assert effects.loc[tables.CNN_MINUS_FC_PERMUTED, stats.DIFFERENCE] == pytest.approx(-0.1 / 3, abs=1e-4)
    assert stats.interval_columns(0.9)[0] in tables.permutation_effects(groups, 0.9).columns


def test_settings_effects_compare_models_and_gain_seed_by_seed():
    reference = {design.FC_BASELINE: group(0.875, 0.874, 0.876), design.CNN: group(0.907, 0.905, 0.909)}
    same = {design.FC_BASELINE: group(0.874, 0.876, 0.875), design.CNN: group(0.906, 0.908, 0.905)}
    effects = protocol_tables.settings_effects(same, reference)
    assert list(effects.index) == ["FC baseline accuracy", "CNN accuracy", protocol_tables.CNN_MINUS_FC_GAIN]
    assert effects.loc[protocol_tables.CNN_MINUS_FC_GAIN, protocol_tables.REFERENCE_SETTINGS] == "+3.20 ± 0.10"
    assert effects.loc["CNN accuracy", protocol_tables.RUN_SETTINGS] == "90.63 ± 0.15"
    assert effects.loc["CNN accuracy", stats.DIFFERENCE] == pytest.approx(-0.0667, abs=1e-4)
    assert tables.confidence_of(protocol_tables.settings_effects(same, reference, 0.9)) == 0.9


@pytest.mark.parametrize(
    "low, high, p_value, confidence, within",
    [
        (-0.2, 0.3, 0.5, 0.95, True),
        (0.1, 0.3, 0.5, 0.95, False),  # the interval excludes 0
        (-0.2, 0.3, 0.049, 0.95, False),  # Welch rejects at 5%
        (-0.2, 0.3, 0.07, 0.95, True),
        (-0.2, 0.3, 0.07, 0.9, False),  # … but rejects at 10%
    ],
)
def test_within_noise_reads_the_tables_confidence(low, high, p_value, confidence, within):
    low_column, high_column = stats.interval_columns(confidence)
    row = pd.Series({low_column: low, high_column: high, stats.WELCH_P: p_value})
    assert tables.within_noise(row, confidence) is within


def test_pareto_mask_keeps_only_undominated_models():
    cost = pd.Series([1, 2, 3, 4], index=list("abcd"))
    accuracy = pd.Series([80, 90, 85, 95], index=list("abcd"))
    assert tables.pareto_mask(cost, accuracy).to_dict() == {"a": True, "b": True, "c": False, "d": True}


def test_efficiency_table_sorts_by_compute_and_marks_the_frontiers():
    fc = group(
        0.88, 0.88, model={"name": "fc_baseline", "kind": "fc", "hidden_units": [128, 64], "num_classes": 10, "parameters": 100}
    )
    cnn = group(0.91, 0.91, model={"name": "cnn", "kind": "cnn", "kernel_sizes": [3, 3], "parameters": 300}, macs_per_image=9000)
    gap = group(
        0.89,
        model={"name": "cnn_gap", "kind": "cnn", "kernel_sizes": [3, 3], "head": "gap", "parameters": 30},
        macs_per_image=9500,
    )
    latency = {"single_p50_ms": 0.5, "single_p99_ms": 1.0, "batch_images_per_second": 2000.4}
    table = tables.efficiency_table(
        {"fc_baseline": fc, "cnn": cnn, "cnn_gap": gap}, dict.fromkeys(("fc_baseline", "cnn", "cnn_gap"), {"result": latency})
    )
    assert list(table[tables.NAME]) == ["fc_baseline", "cnn", "cnn_gap"], "sorted by MACs"
    assert list(table.index) == ["FC 784→128→64→10", "CNN 3×3/3×3", "CNN 3×3/3×3, GAP head"]
    assert table.loc["CNN 3×3/3×3", tables.ACCURACY_MEAN] == 91.0 and table.loc["CNN 3×3/3×3", tables.ACCURACY_STD] == 0.0
    assert list(table[tables.PARETO_MACS]) == [True, True, False], "the CNN is more accurate than the GAP CNN for fewer MACs"
    assert list(table[tables.PARETO_PARAMETERS]) == [False, True, True], (
        "the GAP CNN is more accurate than FC with fewer parameters"
    )
    assert table.loc["CNN 3×3/3×3", "throughput (images/s)"] == 2000.0 and table.loc["CNN 3×3/3×3", tables.LATENCY_P50] == 0.5


def test_dataset_gain_table_one_row_per_dataset():
    pairs = {"mnist": (group(0.97, 0.97), group(0.985, 0.985)), "fashion_mnist": (group(0.88, 0.88), group(0.91, 0.91))}
    table = tables.dataset_gain_table(pairs)
    assert list(table.index) == ["mnist", "fashion_mnist"] and table.index.name == "dataset"
    assert table.loc["mnist", stats.GAIN] == 1.5 and table.loc["fashion_mnist", stats.ERROR_RATIO] == 0.75
    assert table.loc["mnist", stats.error_ratio_columns()[1]] == 0.5
    table = tables.dataset_gain_table(pairs, confidence=0.9)
    assert tables.confidence_of(table) == 0.9 and table.loc["mnist", stats.gain_columns(0.9)[0]] == 1.5


def stop(ran: int, best: int, cap: int = 10, patience: int = 2, seed: int = 0) -> dict:
    return record(0.9, seed, epochs_run=ran, best_epoch=best, parameters={"epochs": cap, "patience": patience})


def test_training_stops_tell_early_stopping_from_the_cap():
    groups = {"cnn": [stop(6, 4), stop(10, 10, seed=1), stop(10, 8, seed=2)], "fc": [stop(10, 9)]}
    table = protocol_tables.training_stops(groups)
    assert table[protocol_tables.CAP_BOUND].tolist() == [False, True, False, True]  # 10 − 8 = patience: early stopping fired
    assert table[
        [tables.MODEL, tables.SEED, protocol_tables.EPOCHS_RUN, protocol_tables.EPOCH_CAP, protocol_tables.BEST_EPOCH]
    ].values.tolist() == [
        ["cnn", 0, 6, 10, 4],
        ["cnn", 1, 10, 10, 10],
        ["cnn", 2, 10, 10, 8],
        ["fc", 0, 10, 10, 9],
    ]
    assert protocol_tables.cap_bound_runs(table)[[tables.MODEL, tables.SEED]].values.tolist() == [["cnn", 1], ["fc", 0]]
    assert (
        protocol_tables.cap_bound_runs(protocol_tables.training_stops({"cnn": [stop(6, 4)]})) is None
    )  # nothing for the report to show


def test_resolution_table_takes_the_headline_pairs_present():
    groups = {"cnn": group(0.91, 0.905, 0.912), "fc_baseline": group(0.88, 0.884, 0.879), "cnn_k5": group(0.909, 0.915, 0.902)}
    table = tables.resolution_table(groups)
    assert list(table.index) == ["CNN − FC", "5×5 − 3×3 first kernel"]
    gain = stats.welch_interval([91.0, 90.5, 91.2], [88.0, 88.4, 87.9])
    assert table.loc["CNN − FC", stats.DIFFERENCE] == pytest.approx(gain["difference"])
    assert table.loc["CNN − FC", tables.HALF_WIDTH] == pytest.approx(gain["half_width"])
    assert table[tables.RESOLVED].tolist() == [True, False] and table.loc["CNN − FC", stats.SEEDS] == "3 and 3"
    shown = tables.resolution_for_reading(table)
    places = 1 if gain["half_width"] >= 0.15 else 2
    assert shown.loc["CNN − FC", stats.DIFFERENCE] == f"{gain['difference']:+.{places}f}"
    assert shown.loc["CNN − FC", tables.HALF_WIDTH] == f"{gain['half_width']:.2f}"
    assert shown[tables.RESOLVED].tolist() == ["yes", "no"]
    one_seed = tables.resolution_for_reading(tables.resolution_table({"cnn": group(0.91), "fc_baseline": group(0.88)}))
    assert one_seed.loc["CNN − FC", tables.HALF_WIDTH] == "— (one seed)"


def test_a_difference_carries_the_decimals_its_interval_supports():
    assert stats.decimals_for(0.15) == 1 and stats.decimals_for(1.3) == 1
    assert stats.decimals_for(0.149) == 2 and stats.decimals_for(float("nan")) == 1


def test_the_dataset_gain_table_reads_with_titles_and_the_decimals_it_supports():
    fc, cnn = group(0.870, 0.862, 0.875), group(0.905, 0.910, 0.909)
    table = tables.dataset_gain_table({"fashion_mnist": (fc, cnn), "mnist": (group(0.97), group(0.99))})
    shown = tables.dataset_gains_for_reading(table)
    assert list(shown.index) == ["Fashion-MNIST", "MNIST"]
    assert shown.loc["Fashion-MNIST", stats.GAIN] == f"{table.loc['fashion_mnist', stats.GAIN]:.2f}"
    assert shown.loc["Fashion-MNIST", stats.WELCH_P] == f"{table.loc['fashion_mnist', stats.WELCH_P]:.2g}"
    assert shown.loc["MNIST", stats.WELCH_P] == "—"  # one seed per model: no test
    assert "nan" not in shown.to_string()


def test_the_learning_curve_gains_read_like_the_resolution_table():
    runs = {"CNN": {300: group(0.80, 0.82, 0.81)}, "FC": {300: group(0.76, 0.77, 0.75)}}
    gains = curves.gain_table(runs, "CNN", "FC")
    shown = tables.resolution_for_reading(gains, difference=curves.GAIN)
    assert shown.loc[0, curves.GAIN] == "+5.0" and shown.loc[0, tables.RESOLVED] == "yes"


def test_differences_and_their_intervals_read_with_the_decimals_the_interval_supports():
    groups = {"a": group(0.910, 0.905, 0.912), "b": group(0.880, 0.884, 0.879), "c": group(0.9101)}
    table = tables.pairwise_comparisons(groups)
    shown = tables.intervals_for_reading(table)
    low, high = stats.interval_columns()
    places = stats.decimals_for((table.loc["a − b", high] - table.loc["a − b", low]) / 2)
    assert shown.loc["a − b", stats.DIFFERENCE] == f"{table.loc['a − b', stats.DIFFERENCE]:+.{places}f}"
    assert shown.loc["a − b", low] == f"{table.loc['a − b', low]:.{places}f}"
    assert shown.loc["a − b", stats.WELCH_P] == f"{table.loc['a − b', stats.WELCH_P]:.2g}"
    assert shown.loc["a − c", stats.WELCH_P] == "—" and shown.loc["a − c", tables.HOLM_P] == "—"  # one seed: no test
    assert "nan" not in shown.to_string()
