"""Learning-curve tables and data efficiency, on known inputs."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from known_inputs import group

from convlab.analysis import curves
from convlab.experiments import design
from convlab.study import config
from convlab.study.paths import ParameterError


def runs(fc: dict[int, tuple], cnn: dict[int, tuple]) -> dict[str, dict[int, list[dict]]]:
    return {
        design.FC: {size: group(*values) for size, values in fc.items()},
        design.CNN: {size: group(*values) for size, values in cnn.items()},
    }


# FC reaches 85% only on the full set; the CNN passes 85% between 1,000 and 10,000 images
CURVES = runs(
    {100: (0.70, 0.71, 0.72), 1000: (0.795, 0.80, 0.805), 10000: (0.84, 0.845, 0.85)} | {60000: (0.85, 0.851, 0.849)},
    {100: (0.72, 0.73, 0.74), 1000: (0.815, 0.82, 0.825), 10000: (0.88, 0.885, 0.89)} | {60000: (0.91, 0.911, 0.909)},
)


def test_sizes_seeds_and_folders():
    assert design.subset_sizes((300, 1000, 3000, 10000, 30000), 60000) == (300, 1000, 3000, 10000, 30000)
    assert design.subset_sizes((300, 1000, 3000), 2000) == (300, 1000)
    assert design.seeds_for(3000, (0, 1, 2)) == (0, 1, 2, 3, 4) and design.seeds_for(10000, (0, 1, 2)) == (0, 1, 2)
    assert design.seeds_for(300, (5,)) == (5, 6, 7)
    assert design.folder_for(300) == "curves/n300"


def test_curve_sizes_parameter():
    assert config.parse_curve_sizes("auto") == config.parse_curve_sizes("") == config.DEFAULT_CURVE_SIZES
    assert config.parse_curve_sizes("1000, 300") == (300, 1000)
    for bad, message in (("50", "from 100 to 60000"), ("300,300", "repeats a size"), ("70000", "exceeds the training split")):
        with pytest.raises(ParameterError, match=message):
            config.parse_curve_sizes(bad)


def test_curve_and_gain_tables():
    table = curves.curve_table(CURVES)
    assert len(table) == 8 and table[curves.SEEDS].tolist() == [3] * 8
    assert curves.mean_at(table, design.CNN, 10000) == pytest.approx(88.5)
    gains = curves.gain_table(CURVES, design.CNN, design.FC)
    assert gains[curves.SIZE].tolist() == [100, 1000, 10000, 60000]
    assert gains[curves.GAIN].tolist() == pytest.approx([2.0, 2.0, 4.0, 6.0])
    # 100 images: both samples have variance 1 (points²), Welch df 4, t 2.776, half-width 2.776 × √(2/3) = 2.27
    assert gains[curves.HALF_WIDTH].iloc[0] == pytest.approx(2.2666, abs=1e-3)
    assert gains[curves.RESOLVED].tolist() == [False, True, True, True]


def test_size_to_reach_interpolates_in_log_size():
    means = pd.Series([80.0, 90.0], index=[1000, 10000])
    assert curves.size_to_reach(means, 85.0) == pytest.approx(math.sqrt(1000 * 10000))
    assert curves.size_to_reach(means, 75.0) == 1000 and curves.size_to_reach(means, 95.0) is None


def test_data_efficiency_both_ways():
    efficiency = curves.data_efficiency(curves.curve_table(CURVES), design.CNN, design.FC)
    # the FC's full-set 85.0 % lies between the CNN's 82.0 % (1,000) and 88.5 % (10,000): 10^(3 + 3/6.5)
    assert efficiency["challenger_needs"] == pytest.approx(10 ** (3 + 3 / 6.5))
    assert efficiency["ratio"] == pytest.approx(60000 / 10 ** (3 + 3 / 6.5))
    assert efficiency["baseline_needs"] is None and math.isnan(efficiency["baseline_ratio"])


def test_data_efficiency_as_printed():
    table = curves.curve_table(CURVES)
    shown = curves.efficiency_for_reading(curves.data_efficiency(table, design.CNN, design.FC))
    assert shown == {
        "full training set": "60,000 images",
        "CNN reaches FC's full-set accuracy with": "2,894 images (20.7× fewer)",
        "FC reaches CNN's full-set accuracy with": "not within the measured sizes",
    }


@pytest.mark.parametrize(
    "cnn_at_100, gain_at_100, ahead",
    [
        ((0.60, 0.61, 0.62), -10.0, [1000, 10000, 60000]),  # the FC network ahead beyond seed noise at the smallest size
        ((0.80, 0.81, 0.82), 10.0, [100, 1000, 10000, 60000]),  # the CNN ahead at every size
    ],
)
def test_the_gain_at_the_smallest_size_each_way(cnn_at_100, gain_at_100, ahead):
    data = runs(
        {size: tuple(r["test"]["accuracy"] for r in group_) for size, group_ in CURVES[design.FC].items()},
        {size: tuple(r["test"]["accuracy"] for r in group_) for size, group_ in CURVES[design.CNN].items()} | {100: cnn_at_100},
    )
    gains = curves.gain_table(data, design.CNN, design.FC)
    smallest = gains.sort_values(curves.SIZE).iloc[0]
    assert smallest[curves.GAIN] == pytest.approx(gain_at_100) and smallest[curves.RESOLVED]
    assert gains[gains[curves.RESOLVED] & (gains[curves.GAIN] > 0)][curves.SIZE].tolist() == ahead
