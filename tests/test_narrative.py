"""`narrative`: every sentence generator, one known-answer case per branch of its wording."""

from __future__ import annotations

import pandas as pd
import pytest
from known_inputs import group, record

from convlab.analysis import eda, narrative, narrative_filters, narrative_probes, protocol_tables, stats, tables
from convlab.experiments import design

LOW, HIGH = stats.interval_columns()


def test_describe_gain():
    figures = {
        stats.ACCURACY_GAIN: 1.5,
        stats.BASELINE_ERROR: 3.0,
        stats.CHALLENGER_ERROR: 1.5,
        stats.ERROR_RATIO: 0.5,
        stats.PARAMETER_RATIO: 2.0,
        stats.MAC_RATIO: 20.0,
        stats.TRAINING_TIME_RATIO: 3.0,
    }
    assert narrative.describe_gain("MNIST", figures) == (
        "On **MNIST** the CNN reaches 98.50% test accuracy against 97.00% for the fully connected baseline, a gain of "
        "+1.50 points: its test error is 0.50× the baseline's (1.50% vs 3.00%). It uses 2.00× the parameters, but 20.0× "
        "the multiply-accumulates per image, and its training took 3.0× as long."
    )


def test_describe_frozen_weights():
    table = pd.DataFrame({eda.PIXELS: [67, 12, 705], eda.FIRST_LAYER_PARAMETERS: [8576, 1536, 90240]})
    assert narrative.describe_frozen_weights(table, units=128) == (
        "67 of the 784 pixels never vary across the training images, so 8,576 of the first layer's 100,352 input weights "
        "(8.5%) receive no gradient and keep their initial random values; another 12 pixels are nearly constant (std < 0.05)."
    )


def test_describe_per_class_gain():
    difference = pd.Series({"a": 0.05, "b": -0.02, "c": 0.01, "d": 0.0})
    assert narrative.describe_per_class_gain(difference, count=2) == (
        "Largest gains: a (+5.0 points), c (+1.0 points). Smallest: b (-2.0 points), d (+0.0 points)."
    )


SWEEP = pd.DataFrame(
    {tables.ACCURACY_MEAN: [90.0, 90.5, 89.25], tables.ACCURACY_STD: [0.2, 0.3, 0.25]}, index=["3×3", "5×5", "7×7"]
)
PAIRS = ["3×3 − 5×5", "3×3 − 7×7", "5×5 − 7×7"]


@pytest.mark.parametrize(
    "holm, expected",
    [
        (
            [float("nan")] * 3,
            "With one seed per configuration there is no estimate of seed noise: 5×5 scores highest, but the 1.25-point "
            "spread cannot be judged. Run with several seeds.",
        ),
        (
            [0.2, 0.3, 0.06],
            "No difference is distinguishable from seed noise: the means span 1.25 points, against a seed-to-seed standard "
            "deviation of about 0.25 points, and no pair reaches Holm-adjusted p < 0.05 (5×5 has the highest mean, which is "
            "not evidence that it is better).",
        ),
        (
            [0.2, 0.01, 0.004],
            "Some differences exceed seed noise (Holm-adjusted p < 0.05): 3×3 − 7×7 (+0.75 points, p = 0.010); 5×5 − 7×7 "
            "(+1.25 points, p = 0.004). 5×5 has the highest mean; the seed-to-seed standard deviation is about 0.25 points.",
        ),
    ],
    ids=["one seed", "within noise", "significant"],
)
def test_sweep_verdict(holm, expected):
    comparisons = pd.DataFrame({stats.DIFFERENCE: [-0.5, 0.75, 1.25], tables.HOLM_P: holm}, index=PAIRS)
    assert narrative.sweep_verdict(SWEEP, comparisons) == expected


def test_describe_costs():
    table = pd.DataFrame(
        {tables.PARAMETERS: [1000, 1100, 900], tables.MACS: [2000, 3000, 2000], tables.EPOCH_TIME: [10.0, 12.5, 10.0]},
        index=["3×3", "5×5", "1×1"],
    )
    assert narrative.describe_costs(table) == (
        "Relative to 3×3: 5×5 changes the parameter count by +10.0%, the MACs per image by +50.0% and the time per epoch "
        "by +25.0%; 1×1 changes the parameter count by -10.0%, the MACs per image by +0.0% and the time per epoch by +0.0%."
    )


# --- describe_translation ---------------------------------------------------------------------------------------------

FC_CURVE = [80, 78, 70, 60, 52, 45, 40]
CNN_CURVE = [90, 88, 80, 70, 60, 50, 45]
AT_LARGEST = {"vertical": -5, "diagonal": -3}  # the other directions differ only at the largest shift: vertical is hardest


def translation_frame(curves: dict[str, list[float]], shifts: tuple[int, ...] = tuple(range(7))) -> pd.DataFrame:
    rows = [
        {"model": model, "seed": 0, "direction": direction, "shift": shift, "accuracy": values[shift] + offset * (shift == 6)}
        for model, values in curves.items()
        for direction, offset in ({"horizontal": 0} | AT_LARGEST).items()
        for shift in shifts
    ]
    return pd.DataFrame(rows)


BASE_LINES = [
    "- Unshifted, the CNN scores 90.00% and the FC baseline 80.00%. After a 4-pixel horizontal shift the CNN keeps 67% of "
    "its accuracy (60.00%) and the FC baseline 65% (52.00%); at 6 pixels, 45.00% against 40.00%.",
    "- The CNN is **not** translation invariant: one pixel costs it 2.00 points, 4 pixels 30.00 points. Its two 2×2 "
    "max-poolings absorb only displacements that stay inside a pooling window, and the dense layer after the flatten "
    "reads each feature at a fixed position, so a larger shift moves the features onto weights that never saw them.",
]
LAST_LINE = "- Diagonal shifts move the object along both axes at once; the vertical direction is the hardest for the CNN."
GAP_LINE = (
    "- With global average pooling instead of flatten + dense, the same convolutions keep this share of their unshifted "
    "accuracy at 4 pixels, against the flatten head's: horizontal: {kept}% against 67%; vertical: {vertical}% against 67%. "
    "{verdict} The convolutions themselves are equivariant: they move their feature maps with the image, except where "
    "zero fill and the border cut the object (the probe mixes a shift with that occlusion). Unshifted, the GAP head "
    "scores 88.00% against 90.00% for the flatten head."
)


def test_describe_translation_of_the_two_models():
    frame = translation_frame({design.FC: FC_CURVE, design.CNN: CNN_CURVE})
    assert narrative_probes.describe_translation(frame, augmentation_shift=4) == "\n".join([*BASE_LINES, LAST_LINE])


@pytest.mark.parametrize(
    "gap_curve, vertical_at_4, kept, vertical, verdict",
    [
        (
            [88, 88, 87, 86, 84, 80, 75],
            None,
            95,
            95,
            "In every direction it keeps more, so much of the CNN's sensitivity to position sits in its flatten-and-dense "
            "head, not in the convolutions.",
        ),
        (
            [88, 88, 87, 86, 84, 80, 75],
            55.0,  # vertically the GAP head keeps 62.5%, less than the flatten head's 67%
            95,
            62,
            "The GAP head tolerates horizontal shifts better but not the others, so the head explains only part of the "
            "sensitivity to position.",
        ),
        ([88, 86, 78, 68, 62, 50, 44], None, 70, 70, "Replacing the head alone does not remove the sensitivity to position."),
    ],
    ids=["head explains it", "horizontal only", "head does not"],
)
def test_describe_translation_with_the_gap_head(gap_curve, vertical_at_4, kept, vertical, verdict):
    frame = translation_frame({design.FC: FC_CURVE, design.CNN: CNN_CURVE, design.CNN_GAP: gap_curve})
    if vertical_at_4 is not None:
        chosen = (frame["model"] == design.CNN_GAP) & (frame["direction"] == "vertical") & (frame["shift"] == 4)
        frame.loc[chosen, "accuracy"] = vertical_at_4
    lines = [*BASE_LINES, GAP_LINE.format(kept=kept, vertical=vertical, verdict=verdict), LAST_LINE]
    assert narrative_probes.describe_translation(frame, augmentation_shift=4) == "\n".join(lines)


@pytest.mark.parametrize(
    "augmentation_shift, expected",
    [
        (
            4,
            "- Training on images shifted at random by up to ±4 pixels teaches the invariance instead of building it in: "
            "CNN, shift-augmented keeps 98% at 4 pixels and 60% at 6; FC, shift-augmented keeps 100% at 4 pixels and 95% "
            "at 6. Beyond the trained range the curves fall again: the learned invariance covers the shifts the data "
            "showed, not translation in general.",
        ),
        (
            8,  # every measured shift lies inside the trained range: nothing falls beyond it
            "- Training on images shifted at random by up to ±8 pixels teaches the invariance instead of building it in: "
            "CNN, shift-augmented keeps 60% at 6 pixels and 60% at 6; FC, shift-augmented keeps 95% at 6 pixels and 95% "
            "at 6.",
        ),
    ],
    ids=["falls beyond the trained range", "inside the trained range"],
)
def test_describe_translation_with_augmented_models(augmentation_shift, expected):
    curves = {
        design.FC: FC_CURVE,
        design.CNN: CNN_CURVE,
        design.FC_SHIFT_AUGMENTED: [80, 80, 80, 80, 80, 78, 76],
        design.CNN_SHIFT_AUGMENTED: [90, 90, 90, 89, 88, 70, 54],
    }
    lines = narrative_probes.describe_translation(translation_frame(curves), augmentation_shift).split("\n")
    assert lines == [*BASE_LINES, expected, LAST_LINE]


def test_describe_translation_without_a_one_pixel_shift_uses_the_smallest():
    frame = translation_frame({design.FC: FC_CURVE, design.CNN: CNN_CURVE}, shifts=(0, 2, 4, 6))
    assert "one pixel costs it 10.00 points, 4 pixels 30.00 points" in narrative_probes.describe_translation(frame, 4)


def synthetic_translation() -> pd.DataFrame:
    rows = []
    curves = {  # accuracy at shifts 0..6: CNN falls, GAP holds, FC falls fastest, augmented holds to 4
        design.FC: [88, 80, 60, 40, 30, 25, 20],
        design.CNN: [91, 89, 75, 55, 40, 30, 25],
        design.CNN_GAP: [89, 89, 88, 87, 85, 80, 75],
        design.CNN_SHIFT_AUGMENTED: [90, 90, 90, 89, 88, 70, 50],
    }
    for model, values in curves.items():
        for seed, noise in ((0, -0.5), (1, 0.5)):
            for direction in ("horizontal", "vertical", "diagonal"):
                rows += [
                    {"model": model, "seed": seed, "direction": direction, "shift": shift, "accuracy": value + noise}
                    for shift, value in enumerate(values)
                ]
    return pd.DataFrame(rows)


def test_translation_description_of_seeded_curves():
    text = narrative_probes.describe_translation(synthetic_translation(), augmentation_shift=4)
    assert "**not** translation invariant" in text
    assert "flatten-and-dense head" in text, "GAP keeps far more accuracy than the flatten head"
    assert "Beyond the trained range the curves fall again" in text
    assert "horizontal: 96% against " in text  # GAP: 85 / 89


# --- describe_permutation ---------------------------------------------------------------------------------------------

FC_NOISE = (
    "The FC baseline does not care: shuffling the pixels changes its accuracy by +0.10 points, inside seed noise "
    "(Welch interval -0.20 to +0.40)."
)
FC_MOVES = (
    "The FC baseline's accuracy moves by -0.50 points (interval -0.80 to -0.20), more than seed noise alone explains: its "
    "dense layer is blind to pixel order, so the change comes from training dynamics (the seed draws the same initial "
    "weights for differently ordered inputs)."
)
CNN_START = (
    "The CNN loses 3.00 points (interval -3.50 to -2.50). On original pixels it beat the FC baseline by +3.00 points; on "
    "permuted pixels the difference is {difference} points (interval {low} to {high}), "
)
TRAILS = (
    "so it now trails the FC baseline: on shuffled pixels its local windows and its pooling no longer match any structure "
    "in the data, and the prior that helped on images costs accuracy instead."
)
GONE = (
    "so its advantage is gone: it came from the spatial structure, which the permutation destroys while keeping every "
    "pixel's information."
)
SURVIVES = "so part of its advantage survives the shuffle."


def permutation_effects(fc: tuple[float, float, float, float], after: tuple[float, float, float]) -> pd.DataFrame:
    """A `tables.permutation_effects` by hand: FC's and the permuted CNN − FC's (difference, low, high[, Welch p])."""
    rows = {design.FC: fc, design.CNN: (-3.0, -3.5, -2.5, 0.001), tables.CNN_MINUS_FC_PERMUTED: (*after, 0.5)}
    return pd.DataFrame.from_dict(rows, orient="index", columns=[stats.DIFFERENCE, LOW, HIGH, stats.WELCH_P])


PERMUTATION_GROUPS = {design.FC: group(0.88, 0.88), design.CNN: group(0.91, 0.91)}  # a clean gain of 3 points


@pytest.mark.parametrize(
    "fc, after, fc_text, verdict",
    [
        ((0.1, -0.2, 0.4, 0.5), (-1.0, -1.5, -0.5), FC_NOISE, TRAILS),
        ((0.1, -0.2, 0.4, 0.5), (0.2, -0.3, 0.7), FC_NOISE, GONE),
        ((0.1, -0.2, 0.4, 0.5), (2.0, 1.5, 2.5), FC_NOISE, SURVIVES),
        ((-0.5, -0.8, -0.2, 0.01), (0.2, -0.3, 0.7), FC_MOVES, GONE),
    ],
    ids=["CNN trails", "advantage gone", "advantage survives", "FC moves"],
)
def test_describe_permutation(fc, after, fc_text, verdict):
    start = CNN_START.format(difference=f"{after[0]:+.2f}", low=f"{after[1]:+.2f}", high=f"{after[2]:+.2f}")
    text = narrative_probes.describe_permutation(permutation_effects(fc, after), PERMUTATION_GROUPS)
    assert text == f"- {fc_text}\n- {start}{verdict}"


def test_describe_permutation_with_one_seed():
    effects = permutation_effects((0.1, -0.2, 0.4, 0.5), (0.2, -0.3, 0.7))
    assert narrative_probes.describe_permutation(effects, {design.FC: group(0.88), design.CNN: group(0.91)}) == (
        "With one seed per model there is no estimate of seed noise; run with several seeds to judge the changes."
    )


@pytest.mark.parametrize(
    "cnn_permuted, verdict",
    [
        ((0.879, 0.876, 0.878), "advantage is gone"),  # level with the permuted FC network
        ((0.860, 0.855, 0.858), "now trails the FC baseline"),  # below it, interval all negative
        ((0.899, 0.896, 0.898), "part of its advantage survives"),  # most of the gain kept
    ],
)
def test_permutation_verdict_follows_the_records(cnn_permuted, verdict):
    groups = {
        design.FC: group(0.880, 0.876, 0.878),
        design.FC_PERMUTED: group(0.879, 0.877, 0.878),
        design.CNN: group(0.910, 0.905, 0.908),
        design.CNN_PERMUTED: group(*cnn_permuted),
    }
    text = narrative_probes.describe_permutation(tables.permutation_effects(groups), groups)
    assert "does not care" in text and verdict in text


# --- describe_settings_check ------------------------------------------------------------------------------------------

SETTINGS_ROWS = ["FC baseline accuracy", "CNN accuracy", protocol_tables.CNN_MINUS_FC_GAIN]


def settings_effects(gain: tuple, confidence: float = 0.95) -> pd.DataFrame:
    """A `protocol_tables.settings_effects` by hand; `gain` is the gain row (reference, run, difference, low, high, Welch p)."""
    columns = [
        protocol_tables.REFERENCE_SETTINGS,
        protocol_tables.RUN_SETTINGS,
        stats.DIFFERENCE,
        *stats.interval_columns(confidence),
        stats.WELCH_P,
    ]
    rows = [
        ("87.50 ± 0.10", "87.50 ± 0.10", 0.0, -0.15, 0.15, 0.99),
        ("90.70 ± 0.20", "90.63 ± 0.15", -0.0667, -0.3, 0.15, 0.7),
        gain,
    ]
    table = pd.DataFrame(rows, index=SETTINGS_ROWS, columns=columns)
    table.attrs["confidence"] = confidence
    return table


SETTINGS_LINES = [
    "- FC baseline accuracy: 87.50 ± 0.10 with the 'gpu' settings, 87.50 ± 0.10 with this run's ('full'); change +0.00 "
    "points, Welch 95% interval -0.15 to +0.15, Welch p 0.99: within seed noise.",
    "- CNN accuracy: 90.70 ± 0.20 with the 'gpu' settings, 90.63 ± 0.15 with this run's ('full'); change -0.07 points, "
    "Welch 95% interval -0.30 to +0.15, Welch p 0.70: within seed noise.",
]
SAME = (
    "The conclusion does not depend on the settings: the CNN's advantage has the same sign under both and its size moves "
    "by less than seed noise."
)
MATTERS = "The settings matter here: read this run's figures with the reference figures beside them."


@pytest.mark.parametrize(
    "gain, gain_line, conclusion",
    [
        (
            ("+3.20 ± 0.10", "+3.13 ± 0.25", -0.0667, -0.3, 0.2, 0.7),
            "change -0.07 points, Welch 95% interval -0.30 to +0.20, Welch p 0.70: within seed noise.",
            SAME,
        ),
        (
            ("+3.20 ± 0.10", "+3.50 ± 0.05", 0.3, 0.1, 0.5, 0.01),
            "change +0.30 points, Welch 95% interval +0.10 to +0.50, Welch p 0.01: more than seed noise.",
            MATTERS,
        ),
        (
            ("+0.10 ± 0.30", "-0.05 ± 0.30", -0.15, -0.6, 0.3, 0.6),
            "change -0.15 points, Welch 95% interval -0.60 to +0.30, Welch p 0.60: within seed noise.",
            MATTERS,  # within noise, but the sign of the advantage flips
        ),
    ],
    ids=["same conclusion", "gain moves", "sign flips"],
)
def test_describe_settings_check(gain, gain_line, conclusion):
    reference, run = gain[:2]
    lines = [
        *SETTINGS_LINES,
        f"- {protocol_tables.CNN_MINUS_FC_GAIN}: {reference} with the 'gpu' settings, {run} with this run's ('full'); "
        f"{gain_line}",
        conclusion,
    ]
    assert narrative.describe_settings_check(settings_effects(gain), "full") == "\n".join(lines)


def test_describe_settings_check_reads_the_tables_confidence():
    gain = ("+3.20 ± 0.10", "+3.13 ± 0.25", -0.0667, -0.3, 0.2, 0.07)  # Welch rejects at 10%, not at 5%
    text = narrative.describe_settings_check(settings_effects(gain, confidence=0.9), "full")
    assert "Welch 90% interval -0.30 to +0.20, Welch p 0.07: more than seed noise." in text and text.endswith(MATTERS)
    assert narrative.describe_settings_check(settings_effects(gain), "full").endswith(SAME)


@pytest.mark.parametrize(
    "profile, expected",
    [
        ("gpu", "This run uses the 'gpu' profile's settings itself: there is nothing to compare."),
        (
            "full",
            "This run has no check against the 'gpu' profile's training settings for these seeds. `make report "
            "NOTEBOOKS=03_cnn CHECK_SETTINGS=1` trains the FC baseline and the CNN with them (same seeds) and fills in "
            "this section.",
        ),
    ],
)
def test_describe_settings_check_without_reference_runs(profile, expected):
    assert narrative.describe_settings_check(None, profile) == expected


def test_settings_check_of_records_compares_seed_by_seed():
    reference = {design.FC_BASELINE: group(0.875, 0.874, 0.876), design.CNN: group(0.907, 0.905, 0.909)}
    same = {design.FC_BASELINE: group(0.874, 0.876, 0.875), design.CNN: group(0.906, 0.908, 0.905)}
    text = narrative.describe_settings_check(protocol_tables.settings_effects(same, reference), "full")
    assert text.count("within seed noise") == 3 and "does not depend on the settings" in text
    worse = {design.FC_BASELINE: same[design.FC_BASELINE], design.CNN: group(0.880, 0.878, 0.879)}
    text = narrative.describe_settings_check(protocol_tables.settings_effects(worse, reference), "full")
    assert "CNN accuracy: 90.70 ± 0.20 with the 'gpu' settings, 87.90 ± 0.10" in text
    assert "more than seed noise" in text and "The settings matter here" in text


# --- describe_efficiency ----------------------------------------------------------------------------------------------

EFFICIENCY_COLUMNS = [
    tables.NAME,
    tables.PARAMETERS,
    tables.MACS,
    tables.EPOCH_TIME,
    tables.LATENCY_P50,
    tables.ACCURACY_MEAN,
    tables.PARETO_MACS,
]
EFFICIENCY_ROWS = {
    "FC 784→128→64→10": ("fc_baseline", 100_000, 100_000, 2.0, 0.1, 88.0, True),
    "CNN 3×3/3×3": ("cnn", 200_000, 4_000_000, 10.0, 0.5, 91.0, True),
    "CNN 5×5/3×3": ("cnn_k5", 202_000, 6_000_000, 15.0, 0.6, 91.25, False),
    "CNN 3×3/3×3, GAP head": ("cnn_gap", 20_000, 3_000_000, 8.0, 0.45, 89.5, False),
}


def efficiency_table(names: list[str], index_name: str | None = tables.MODEL) -> pd.DataFrame:
    rows = {label: row for label, row in EFFICIENCY_ROWS.items() if row[0] in names}
    table = pd.DataFrame.from_dict(rows, orient="index", columns=EFFICIENCY_COLUMNS)
    table.index.name = index_name
    return table


FC_VS_CNN = (
    "- The CNN has 2.0× the FC baseline's parameters, and 80% of them sit in its dense layer, which reads the flattened "
    "feature maps. Its compute tells another story: 40× the multiply-accumulates per image, 5.0× the time per training "
    "epoch and 5.0× the single-image latency; almost all of it is spent in the convolutions, which hold few weights but "
    "apply each one at every position."
)
K5 = "CNN 5×5/3×3: +1.0% parameters but +50.0% MACs and +50.0% time per epoch, for +0.25 points of accuracy."
GAP = (
    "- The GAP-head CNN has 10× fewer parameters than the CNN, yet 75% of its MACs, and scores -1.50 points: by parameters "
    "it would look nearly free, by compute it is not."
)


@pytest.mark.parametrize(
    "names, index_name, expected",
    [
        (
            ["fc_baseline", "cnn", "cnn_k5", "cnn_gap"],
            tables.MODEL,
            [
                FC_VS_CNN,
                f"- {K5}",
                GAP,
                "- On the accuracy–MACs frontier (no model more accurate for less compute): FC 784→128→64→10, CNN 3×3/3×3.",
            ],
        ),
        (
            ["cnn", "cnn_k5"],
            None,  # no model column after reset_index: the line names the model by its short name
            [
                f"- {K5.replace('CNN 5×5/3×3', 'cnn_k5')}",
                "- On the accuracy–MACs frontier (no model more accurate for less compute): CNN 3×3/3×3.",
            ],
        ),
        (
            ["fc_baseline"],
            tables.MODEL,
            ["- On the accuracy–MACs frontier (no model more accurate for less compute): FC 784→128→64→10."],
        ),
    ],
    ids=["every model", "kernel variant only", "no CNN"],
)
def test_describe_efficiency(names, index_name, expected):
    assert narrative.describe_efficiency(efficiency_table(names, index_name), dense_share=80.0).split("\n") == expected


# --- describe_dataset_gains -------------------------------------------------------------------------------------------


def dataset_gains(rows: dict[str, tuple], confidence: float = 0.95) -> pd.DataFrame:
    """A `tables.dataset_gain_table` by hand: gain (points, low, high), error ratio (ratio, low, high), CNN and FC error."""
    columns = [stats.GAIN, *stats.gain_columns(confidence), stats.ERROR_RATIO, *stats.error_ratio_columns(confidence)]
    table = pd.DataFrame.from_dict(rows, orient="index", columns=[*columns, stats.CNN_ERROR, stats.FC_ERROR])
    table.attrs["confidence"] = confidence
    return table


FASHION = (3.2, 2.9, 3.5, 0.74, 0.72, 0.76, 9.2, 12.4)
FASHION_LINE = (
    "- Fashion-MNIST: the CNN gains +3.20 points (95% interval +2.90 to +3.50); its error is 0.74× the FC baseline's "
    "(9.20% against 12.40%; interval 0.72 to 0.76)."
)
MNIST_LINE = (
    "- MNIST: the CNN gains +1.50 points (95% interval +1.30 to +1.70); its error is 0.50× the FC baseline's (1.50% "
    "against 3.00%; interval {low:.2f} to {high:.2f})."
)
RANKED_APART = (
    "- In points the gain is largest on Fashion-MNIST (+3.20), in relative terms on MNIST (error ratio 0.50). Absolute "
    "points and error ratios rank the datasets differently when their baselines differ this much: on a nearly solved task "
    "a small absolute gain can be a large share of the errors that remain."
)


@pytest.mark.parametrize(
    "low, high, verdict",
    [
        (0.45, 0.55, "is consistent with the measurement: 0.5 lies inside the interval of the error ratio"),
        (0.3, 0.45, "understates it: the CNN removes more than half of the errors (ratio at most 0.45)"),
        (0.6, 0.8, "overstates it: the CNN removes less than half of the errors (ratio at least 0.60)"),
    ],
    ids=["consistent", "understates", "overstates"],
)
def test_describe_dataset_gains_judges_the_halving_claim(low, high, verdict):
    table = dataset_gains({"fashion_mnist": FASHION, "mnist": (1.5, 1.3, 1.7, 0.5, low, high, 1.5, 3.0)})
    assert narrative.describe_dataset_gains(table).split("\n") == [
        FASHION_LINE,
        MNIST_LINE.format(low=low, high=high),
        f"- The MNIST study's claim that the CNN halves the error {verdict}.",
        RANKED_APART,
    ]


def test_describe_dataset_gains_when_one_dataset_leads_both_ways():
    table = dataset_gains({"fashion_mnist": FASHION, "mnist": (4.0, 3.8, 4.2, 0.5, 0.45, 0.55, 1.5, 3.0)})
    assert narrative.describe_dataset_gains(table).split("\n")[-1] == (
        "- MNIST benefits most both in points (+4.00) and as a share of the errors (ratio 0.50)."
    )


def test_describe_dataset_gains_of_one_dataset_without_the_claim():
    assert narrative.describe_dataset_gains(dataset_gains({"fashion_mnist": FASHION})) == FASHION_LINE
    text = narrative.describe_dataset_gains(dataset_gains({"fashion_mnist": FASHION}, confidence=0.9))
    assert text.startswith("- Fashion-MNIST: the CNN gains +3.20 points (90% interval +2.90 to +3.50)")


@pytest.mark.parametrize(
    "cnn, verdict",
    [((0.985, 0.984, 0.986), "consistent"), ((0.995, 0.994, 0.996), "understates"), ((0.975, 0.976, 0.974), "overstates")],
)
def test_halving_claim_verdict_follows_the_records(cnn, verdict):
    table = tables.dataset_gain_table({"mnist": (group(0.97, 0.971, 0.969), group(*cnn))})
    assert verdict in narrative.describe_dataset_gains(table)


# --- the filters' prose -----------------------------------------------------------------------------------------------


def test_describe_tuning_counts_selective_filters_by_orientation():
    summary = pd.DataFrame(
        {
            "selectivity": [0.5, 0.1, 0.3, 0.9],
            "mean response": [1.0, 0.0, 0.5, 2.0],
            "preferred orientation (°)": [0.0, 45.0, 90.0, 170.0],
            "disagreement (°)": [5.0, 50.0, 30.0, 10.0],
        }
    )
    assert narrative_filters.describe_tuning(summary) == (
        "3 of the 4 first-layer filters are orientation-selective (selectivity ≥ 0.25): 2 horizontal, 1 vertical. For 2 "
        "of these the orientation read from the weights lies within 22.5° of the one measured with gratings. 1 filter(s) "
        "never respond to any grating."
    )
    assert narrative_filters.describe_tuning(summary.iloc[[1, 2]]) == (
        "1 of the 2 first-layer filters are orientation-selective (selectivity ≥ 0.25): 1 vertical. For 0 of these the "
        "orientation read from the weights lies within 22.5° of the one measured with gratings. 1 filter(s) never respond "
        "to any grating."
    )


def test_describe_tuning_names_both_diagonals_in_words():
    """Markdown would swallow a backslash label ("diagonal \\" printed as "diagonal ."): the diagonals are named in words."""
    summary = pd.DataFrame(
        {
            "selectivity": [0.5, 0.5, 0.5],
            "mean response": [1.0, 1.0, 1.0],
            "preferred orientation (°)": [45.0, 135.0, 140.0],
            "disagreement (°)": [0.0, 0.0, 0.0],
        }
    )
    assert "3 first-layer filters are orientation-selective (selectivity ≥ 0.25): 2 falling diagonal, 1 rising diagonal." in (
        narrative_filters.describe_tuning(summary)
    )


def test_describe_tuning_without_selective_filters():
    summary = pd.DataFrame(
        {
            "selectivity": [0.1, 0.0],
            "mean response": [0.4, 0.0],
            "preferred orientation (°)": [10.0, 0.0],
            "disagreement (°)": [1.0, 0.0],
        }
    )
    assert narrative_filters.describe_tuning(summary) == (
        "0 of the 2 first-layer filters are orientation-selective (selectivity ≥ 0.25). For 0 of these the orientation "
        "read from the weights lies within 22.5° of the one measured with gratings. 1 filter(s) never respond to any grating."
    )


def test_describe_class_preferences():
    layers = {
        "conv_1": pd.DataFrame([[2.0, 0.0], [1.0, 1.5], [3.0, 0.0]], columns=["a", "b"]),
        "conv_2": pd.DataFrame([[0.0, 1.0], [0.0, 1.0]], columns=["a", "b"]),
    }
    assert narrative_filters.describe_class_preferences(layers) == (
        "Per layer — conv_1: class spread 1.30; classes that drive the most filters: a (2), b (1); conv_2: class spread "
        "0.71; classes that drive the most filters: b (2). A larger spread means filters that respond more selectively to "
        "some classes."
    )


def stopped(ran: int, best: int, cap: int = 10) -> dict:
    return record(0.9, epochs_run=ran, best_epoch=best, parameters={"epochs": cap, "patience": 2})


STOPS = [
    ("early stopping ended every run", {"cnn": [stopped(6, 4), stopped(10, 8)]}, "Early stopping ended all 2 runs: no run"),
    (
        "the cap ended some",
        {"cnn": [stopped(6, 4), stopped(10, 10)], "fc": [stopped(10, 9), stopped(10, 10), stopped(7, 5)]},
        "The epoch cap ended 3 of 5 runs (60%): cnn (1 of 2), fc (2 of 3). Their validation loss was still falling",
    ),
]


@pytest.mark.parametrize("case, groups, expected", STOPS, ids=[row[0] for row in STOPS])
def test_describe_training_stops(case, groups, expected):
    assert narrative.describe_training_stops(protocol_tables.training_stops(groups)).startswith(expected)


def test_describe_training_stops_names_the_comparisons_a_capped_run_feeds():
    text = narrative.describe_training_stops(
        protocol_tables.training_stops({"cnn_gap": [stopped(10, 10)], "cnn": [stopped(6, 4)]})
    )
    assert text.endswith("Headline comparisons that use them: GAP head − flatten head; read each with that in mind.")
    text = narrative.describe_training_stops(protocol_tables.training_stops({"cnn_shift4": [stopped(10, 10)]}))
    assert text.endswith("may understate that model."), "no headline comparison uses the shift-augmented CNN"


RESOLUTION = [
    ("nothing to compare", {"cnn": group(0.9, 0.91)}, "No headline comparison has both of its models"),
    ("one seed each", {"cnn": group(0.9), "fc_baseline": group(0.88)}, "CNN − FC: with one seed per model there is no interval"),
    (
        "every difference resolved",
        {"cnn": group(0.91, 0.905, 0.912), "fc_baseline": group(0.88, 0.884, 0.879)},
        # 90.9 % against 88.1 %: sample variances 0.13 and 0.07, Welch df 3.67, t 2.87, half-width 0.74
        "With these seeds a difference must exceed 0.74 to 0.74 points to stand out of seed noise (95% Welch intervals). "
        "Intervals that exclude zero: CNN − FC (+2.80 ± 0.74). Every headline interval excludes zero. These intervals are "
        "per comparison; the paper's verdict",
    ),
    (
        "one not resolved",
        {"cnn": group(0.91, 0.905, 0.912), "fc_baseline": group(0.88, 0.884, 0.879), "cnn_k5": group(0.909, 0.915, 0.902)},
        "Intervals that exclude zero: CNN − FC (+2.80 ± 0.74). Intervals that hold zero: 5×5 − 3×3 first kernel "
        "(-0.03 ± 1.34). These runs cannot say",
    ),
]


@pytest.mark.parametrize("case, groups, expected", RESOLUTION, ids=[row[0] for row in RESOLUTION])
def test_describe_resolution(case, groups, expected):
    assert expected in narrative.describe_resolution(tables.resolution_table(groups))


def families(*same: bool) -> pd.DataFrame:
    """An `experiments.settings_by_family` by hand: one family per flag."""
    names = [design.FC, design.CNN, design.CNN_GAP][: len(same)]
    return pd.DataFrame({design.SAME_SETTINGS: list(same)}, index=pd.Index(names, name="model family"))


def test_describe_settings_check_when_every_family_trains_alike():
    text = narrative.describe_settings_check(None, "full", families=families(True, True, True))
    assert text.startswith("Every model family the report compares (3 in the table) trains with the same settings under")
    assert "the settings cannot change any result here" in text


def test_describe_settings_check_names_the_families_that_differ():
    text = narrative.describe_settings_check(None, "full", families=families(True, False, False))
    assert text.startswith(f"Families trained with other settings than the 'gpu' profile's: {design.CNN}, {design.CNN_GAP}. ")
    assert text.endswith("fills in this section.")
    gain = ("+3.00 ± 0.20", "+3.07 ± 0.25", 0.07, -0.10, 0.20, 0.60)
    text = narrative.describe_settings_check(settings_effects(gain), "full", families=families(False, True))
    assert "The check below covers the FC baseline and the CNN.\n\n- FC baseline accuracy" in text and text.endswith(SAME)


# --- describe_pooling -------------------------------------------------------------------------------------------------


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


@pytest.mark.parametrize(
    "average, verdict",
    [
        # 90.2 % against 91.2 %: variances 0.04 each, Welch df 4, t 2.776, half-width 0.45
        ((0.900, 0.902, 0.904), "supported: max pooling is the more accurate"),
        ((0.920, 0.922, 0.924), "contradicted: average pooling is the more accurate"),
        ((0.911, 0.913, 0.909), "not resolved by these seeds: neither pooling is the more accurate beyond seed noise"),
    ],
)
def test_describe_pooling(average, verdict):
    groups = {design.CNN: group(0.910, 0.912, 0.914), design.CNN_AVERAGE_POOLING: group(*average)}
    lines = narrative_probes.describe_pooling(POOLING_FRAME, groups).split("\n")
    assert len(lines) == 4 and lines[-1].endswith(f"on this dataset that choice is {verdict}.")
    if verdict.startswith("supported"):
        assert lines[0] == (
            "- Average pooling scores 90.20% and max pooling 91.20% (3 and 3 seeds): difference -1.00 points "
            "(95% Welch interval -1.45 to -0.55): max pooling is ahead beyond seed noise."
        )
    assert lines[1] == (
        "- At a 1-pixel shift (horizontal and vertical averaged), max pooling keeps 91.0% of its unshifted accuracy and "
        "average pooling 95.0%: difference +4.00 points of the share kept (95% Welch interval +1.52 to +6.48): average "
        "pooling is ahead beyond seed noise."
    )
    assert lines[2].endswith(
        "difference +0.00 points of the share kept (95% Welch interval -2.48 to +2.48): within seed noise, not resolved."
    )


def test_describe_pooling_with_one_seed_gives_no_interval():
    frame = POOLING_FRAME[POOLING_FRAME["seed"] == 0]
    text = narrative_probes.describe_pooling(frame, {design.CNN: group(0.91), design.CNN_AVERAGE_POOLING: group(0.90)})
    assert "difference -1.00 points, with one seed per model no interval." in text
    assert text.endswith("not resolved by these seeds: neither pooling is the more accurate beyond seed noise.")


def test_image_by_image_counts_and_wording():
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
    assert narrative.describe_image_by_image(table) == (
        "Image by image, on the same test images (test images only the CNN gets right against those only the FC baseline "
        "gets right, McNemar's exact test): seed 0: 10 against 0, p 0.002. For this pair alone, p is below 0.05 in 1 of 1 "
        "seeds; the paper's verdicts correct these tests together with every other comparison it makes (Holm)."
    )
    assert narrative.describe_image_by_image(table.iloc[0:0]).startswith("No seed has both")


@pytest.mark.parametrize(
    "far, share, locality, border",
    [
        # MNIST-like: correlation from 0.81 to 0.30 at 3 pixels, 26% near-constant pixels
        (
            0.30,
            0.26,
            "falls quickly with their distance (1 → 3 pixels: horizontal 0.81 → 0.30",
            "**Unused border.** 26% of the pixels",
        ),
        # Fashion-MNIST-like: still 0.59 at 3 pixels, 2.6% near-constant
        (
            0.59,
            0.026,
            "falls with their distance, but slowly (1 → 3 pixels: horizontal 0.81 → 0.59",
            "**No unused border.** Only 2.6%",
        ),
    ],
)
def test_describe_spatial_structure_states_only_what_the_measurements_show(far, share, locality, border):
    import numpy as np

    rows = [{"distance": d, "direction": "horizontal", "correlation": {1: 0.81, 3: far, 6: far / 2}[d]} for d in (1, 3, 6)]
    spread = np.full(1000, 0.3)
    spread[: int(share * 1000)] = 0.0
    text = narrative_probes.describe_spatial_structure(pd.DataFrame(rows), spread)
    assert locality in text and border in text


def test_cost_verdict_names_the_cheapest_by_each_cost():
    table = pd.DataFrame(
        {tables.PARAMETERS: [100, 90, 80], tables.MACS: [10, 20, 12], tables.EPOCH_TIME: [1.0, 2.0, 0.9]},
        index=["3×3", "5×5", "7×7"],
    )
    assert narrative.cost_verdict(table) == (
        "No configuration is cheapest by every cost: the cheapest is 7×7 in parameters, 3×3 in MACs per image, 7×7 in "
        "time per epoch. Which one is cheaper depends on the cost that matters."
    )
    table.loc["7×7", tables.MACS] = 9
    assert narrative.cost_verdict(table).startswith("On cost alone 7×7 is the better choice: it is the cheapest in")


def test_describe_cost_tracking_checks_which_count_time_follows():
    table = pd.DataFrame(
        {
            tables.PARAMETERS: [100, 400, 300, 200],
            tables.MACS: [1, 2, 3, 4],
            tables.EPOCH_TIME: [1.0, 2.0, 3.0, 4.0],
            tables.LATENCY_P50: [0.1, 0.2, 0.4, 0.3],
        }
    )
    text = narrative.describe_cost_tracking(table)
    assert text.startswith("Parameters measure memory, not work: time follows the MACs more closely than the parameter count")
    # ranks: parameters 1 4 3 2, latency 1 2 4 3 against MACs 1 2 3 4: ρ = 1 − 6Σd²/(n(n²−1))
    assert "time per epoch +1.00 with MACs against +0.20 with parameters; single-image latency +0.80 against +0.40" in text
    table[tables.LATENCY_P50] = [0.4, 0.3, 0.2, 0.1]
    assert narrative.describe_cost_tracking(table).startswith("Neither cost count predicts time well on its own here")
