"""`probe_tables` and `cost_tables`: the translation probe's kept shares, max against average pooling, a sweep's
relative costs and which cost the measured times follow, on frames with known answers."""

from __future__ import annotations

import pandas as pd
import pytest
from known_inputs import group, record

from convlab.analysis import cost_tables, probe_tables, protocol_tables, stats, tables
from convlab.experiments import design

LOW, HIGH = stats.interval_columns()


def shift_frame(curves: dict[str, list[float]], directions=("horizontal", "vertical")) -> pd.DataFrame:
    """A `probes.translation_frame` by hand: one seed, the same curve in every direction (vertical 10 points lower
    from shift 1 on)."""
    return pd.DataFrame(
        [
            {
                "model": model,
                "seed": 0,
                "direction": direction,
                "shift": shift,
                "accuracy": value - 10 * (direction == "vertical") * (shift > 0),
            }
            for model, values in curves.items()
            for direction in directions
            for shift, value in enumerate(values)
        ]
    )


def test_retained_gives_each_models_kept_share_per_direction():
    frame = shift_frame({design.CNN: [90, 88, 80, 70, 60], design.CNN_GAP: [88, 88, 87, 86, 84]})
    table = probe_tables.retained(frame, 4)
    assert table.index.tolist() == [design.CNN, design.CNN_GAP] and table.columns.tolist() == ["horizontal", "vertical"]
    assert table.loc[design.CNN, "horizontal"] == pytest.approx(100 * 60 / 90)
    assert table.loc[design.CNN_GAP, "vertical"] == pytest.approx(100 * 74 / 88)
    assert table.columns.name == "kept at 4 px (%)"
    assert probe_tables.retained(frame, 8).columns.name == "kept at 4 px (%)", "the largest probed shift below it"


def pooling_frame(kept: dict) -> pd.DataFrame:
    """A `probes.translation_frame` by hand: per model, the share of the unshifted 90% kept at 1 and 2 pixels, per seed."""
    rows = []
    for model, (one, two) in kept.items():
        for seed in range(3):
            for direction in ("horizontal", "vertical"):
                for shift, share in ((0, 1.0), (1, one[seed]), (2, two[seed])):
                    rows.append({"model": model, "seed": seed, "direction": direction, "shift": shift, "accuracy": 90 * share})
            for shift in (1, 2):  # diagonal shifts are not part of the comparison: they must not move it
                rows.append({"model": model, "seed": seed, "direction": "diagonal", "shift": shift, "accuracy": 10.0 * seed})
    return pd.DataFrame(rows)


POOLING_FRAME = pooling_frame(
    {design.CNN: ((0.90, 0.91, 0.92), (0.80, 0.80, 0.80)), design.CNN_AVERAGE_POOLING: ((0.95, 0.95, 0.95), (0.81, 0.80, 0.79))}
)


def test_pooling_table_compares_accuracy_and_the_share_kept():
    groups = {design.CNN: group(0.910, 0.912, 0.914), design.CNN_AVERAGE_POOLING: group(0.900, 0.902, 0.904)}
    table = probe_tables.pooling_table(POOLING_FRAME, groups)
    assert table.index.tolist() == [tables.TEST_ACCURACY, "share kept at 1 px (%)", "share kept at 2 px (%)"]
    # 90.2 % against 91.2 %: variances 0.04 each, Welch df 4, t 2.776, half-width 0.45
    accuracy = table.loc[tables.TEST_ACCURACY]
    assert (accuracy["max pooling"], accuracy["average pooling"]) == (pytest.approx(91.2), pytest.approx(90.2))
    assert (accuracy[stats.DIFFERENCE], accuracy[LOW], accuracy[HIGH]) == (
        pytest.approx(-1.0),
        pytest.approx(-1.4534, abs=1e-3),
        pytest.approx(-0.5466, abs=1e-3),
    )
    one = table.loc["share kept at 1 px (%)"]
    assert (one["max pooling"], one["average pooling"], one[stats.DIFFERENCE]) == (91.0, 95.0, pytest.approx(4.0))
    assert (one[LOW], one[HIGH]) == (pytest.approx(1.5158, abs=1e-3), pytest.approx(6.4842, abs=1e-3))
    two = table.loc["share kept at 2 px (%)"]
    assert two[stats.DIFFERENCE] == pytest.approx(0.0, abs=1e-9) and two[HIGH] == pytest.approx(2.4842, abs=1e-3)
    shown = tables.intervals_for_reading(table)
    assert shown.loc[tables.TEST_ACCURACY, stats.DIFFERENCE] == "-1.0"


def test_pooling_table_with_one_seed_gives_no_interval():
    frame = POOLING_FRAME[POOLING_FRAME["seed"] == 0]
    table = probe_tables.pooling_table(frame, {design.CNN: group(0.91), design.CNN_AVERAGE_POOLING: group(0.90)})
    assert table.loc[tables.TEST_ACCURACY, stats.DIFFERENCE] == pytest.approx(-1.0)
    assert table[LOW].isna().all() and table[stats.SEEDS].tolist() == ["1 and 1"] * 3
    assert tables.intervals_for_reading(table).loc[tables.TEST_ACCURACY, LOW] == "—"


def test_cost_changes_relative_to_the_first_configuration():
    table = pd.DataFrame(
        {tables.PARAMETERS: [1000, 1100, 900], tables.MACS: [2000, 3000, 2000], tables.EPOCH_TIME: [10.0, 12.5, 10.0]},
        index=["3×3", "5×5", "1×1"],
    )
    changes = cost_tables.cost_changes(table)
    assert changes.loc["5×5"].tolist()[:3] == pytest.approx([10.0, 50.0, 25.0])
    assert changes.loc["1×1"].tolist()[:3] == pytest.approx([-10.0, 0.0, 0.0])
    assert changes.loc["3×3"].tolist()[:3] == [0.0, 0.0, 0.0]
    assert changes["cheapest by"].tolist() == ["MACs per image, time per epoch", "—", "parameters"], "the first of equals"


def test_cost_tracking_ranks_the_times_against_each_cost():
    table = pd.DataFrame(
        {
            tables.PARAMETERS: [100, 400, 300, 200],
            tables.MACS: [1, 2, 3, 4],
            tables.EPOCH_TIME: [1.0, 2.0, 3.0, 4.0],
            tables.LATENCY_P50: [0.1, 0.2, 0.4, 0.3],
        }
    )
    tracking = cost_tables.cost_tracking(table)
    # ranks: parameters 1 4 3 2, latency 1 2 4 3 against MACs 1 2 3 4: ρ = 1 − 6Σd²/(n(n²−1))
    assert tracking.loc["time per epoch"].tolist() == pytest.approx([1.0, 0.2])
    assert tracking.loc["single-image latency"].tolist() == pytest.approx([0.8, 0.4])
    assert tracking.index.name == "over 4 models"


def test_image_by_image_counts_the_images_only_one_model_gets_right():
    import numpy as np

    labels = np.array([0, 1, 2, 3] * 5)
    right, wrong = labels.tolist(), ((labels + 1) % 4).tolist()
    fc = [record(0.5, seed, test={"accuracy": 0.5, "predictions": wrong[:10] + right[10:]}) for seed in (0, 1)]
    cnn = [
        record(1.0, 0, test={"accuracy": 1.0, "predictions": right}),
        record(0.9, 2, test={"accuracy": 0.9, "predictions": right}),
    ]
    table = tables.image_by_image(fc, cnn, labels)
    assert table[tables.SEED].tolist() == [0], "seed 2 has no baseline"
    assert table.loc[0, ["baseline only right", "challenger only right"]].tolist() == [0, 10]
    assert table.loc[0, "McNemar exact p"] == pytest.approx(2 / 1024)  # 10 of 10 discordant images at 1/2, two-sided
    assert tables.image_by_image(fc, cnn[1:], labels).empty


def stopped(ran: int, best: int, cap: int = 10, seed: int = 0) -> dict:
    return record(0.9, seed, epochs_run=ran, best_epoch=best, parameters={"epochs": cap, "patience": 2})


def test_stops_by_model_counts_the_runs_the_cap_ended():
    stops = protocol_tables.training_stops(
        {"cnn": [stopped(6, 4), stopped(10, 10, seed=1)], "fc": [stopped(10, 9), stopped(10, 10, seed=1), stopped(7, 5, seed=2)]}
    )
    table = protocol_tables.stops_by_model(stops)
    assert table.index.tolist() == ["cnn", "fc"]
    assert table["runs"].tolist() == [2, 3] and table[protocol_tables.CAP_BOUND].tolist() == [1, 2]
