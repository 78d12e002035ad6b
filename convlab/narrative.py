"""The report's generated prose: every sentence that states what a table, a sweep or a probe measured."""

from __future__ import annotations

import pandas as pd

from convlab import census, claims, config, curves, eda, filters, records, stats, tables


def describe_gain(dataset_name: str, figures: dict) -> str:
    """One paragraph, in Markdown, stating the measured gain of the CNN over the baseline (`figures`: `stats.gain`)."""
    return (
        f"On **{dataset_name}** the CNN reaches {100 - figures[stats.CHALLENGER_ERROR]:.2f}% test accuracy against "
        f"{100 - figures[stats.BASELINE_ERROR]:.2f}% for the fully connected baseline, a gain of "
        f"{figures[stats.ACCURACY_GAIN]:+.2f} points: its test error is {figures[stats.ERROR_RATIO]:.2f}× the "
        f"baseline's ({figures[stats.CHALLENGER_ERROR]:.2f}% vs {figures[stats.BASELINE_ERROR]:.2f}%). It uses "
        f"{figures[stats.PARAMETER_RATIO]:.2f}× the parameters, but {figures[stats.MAC_RATIO]:.1f}× the multiply-accumulates "
        f"per image, and its training took {figures[stats.TRAINING_TIME_RATIO]:.1f}× as long."
    )


def describe_frozen_weights(table: pd.DataFrame, units: int, threshold: float = 0.05) -> str:
    """A sentence on the first-layer weights whose pixel is constant, which never learn (`eda.weights_by_pixel_variation`)."""
    constant = table.iloc[0]
    near = table.iloc[1]
    total = 784 * units
    return (
        f"{int(constant[eda.PIXELS])} of the 784 pixels never vary across the training images, so "
        f"{int(constant[eda.FIRST_LAYER_PARAMETERS]):,} of the first layer's {total:,} input weights "
        f"({100 * constant[eda.FIRST_LAYER_PARAMETERS] / total:.1f}%) receive no gradient and keep their initial random "
        f"values; another {int(near[eda.PIXELS])} pixels are nearly constant (std < {threshold})."
    )


def describe_per_class_gain(difference: pd.Series, count: int = 3) -> str:
    """A sentence naming the classes that gain most and least (difference in accuracy, 0–1 scale)."""
    ordered = difference.sort_values()

    def listing(items: pd.Series) -> str:
        return ", ".join(f"{name} ({100 * value:+.1f} points)" for name, value in items.items())

    return f"Largest gains: {listing(ordered[::-1][:count])}. Smallest: {listing(ordered[:count])}."


def sweep_verdict(table: pd.DataFrame, comparisons: pd.DataFrame, alpha: float = 0.05) -> str:
    """One sentence: are the configurations' accuracies distinguishable from seed-to-seed noise?

    `table` is a `tables.sweep_table`, `comparisons` the `tables.pairwise_comparisons` of the same groups.
    """
    best = table[tables.ACCURACY_MEAN].idxmax()
    spread = table[tables.ACCURACY_MEAN].max() - table[tables.ACCURACY_MEAN].min()
    if comparisons[tables.HOLM_P].isna().all():
        return (
            f"With one seed per configuration there is no estimate of seed noise: {best} scores highest, "
            f"but the {spread:.2f}-point spread cannot be judged. Run with several seeds."
        )
    significant = comparisons[comparisons[tables.HOLM_P] < alpha]
    noise = table[tables.ACCURACY_STD].mean()
    if significant.empty:
        return (
            f"No difference is distinguishable from seed noise: the means span {spread:.2f} points, against a "
            f"seed-to-seed standard deviation of about {noise:.2f} points, and no pair reaches Holm-adjusted "
            f"p < {alpha} ({best} has the highest mean, which is not evidence that it is better)."
        )
    pairs = "; ".join(
        f"{name} ({row[stats.DIFFERENCE]:+.2f} points, p = {row[tables.HOLM_P]:.3f})" for name, row in significant.iterrows()
    )
    return (
        f"Some differences exceed seed noise (Holm-adjusted p < {alpha}): {pairs}. {best} has the highest mean; "
        f"the seed-to-seed standard deviation is about {noise:.2f} points."
    )


def cost_verdict(table: pd.DataFrame) -> str:
    """Which configuration of a sweep is cheapest by each cost, and whether one is cheapest by all (`tables.sweep_table`)."""
    costs = {"parameters": tables.PARAMETERS, "MACs per image": tables.MACS, "time per epoch": tables.EPOCH_TIME}
    cheapest = {name: table[column].idxmin() for name, column in costs.items()}
    listed = ", ".join(f"{label} in {name}" for name, label in cheapest.items())
    first = next(iter(cheapest.values()))
    return claims.check(
        f"On cost alone {first} is the better choice: it is the cheapest in parameters, MACs and time per epoch.",
        "one configuration has the fewest parameters, the fewest MACs and the shortest epoch",
        len(set(cheapest.values())) == 1,
        dict(cheapest),
        f"No configuration is cheapest by every cost: the cheapest is {listed}. Which one is cheaper depends on "
        "the cost that matters.",
    )


NEAR_CONSTANT_STD = 0.02  # a pixel whose standard deviation (scaled units) is below this carries almost no signal


def describe_spatial_structure(correlation: pd.DataFrame, spread) -> str:
    """Locality and the unused border, each checked on the measurements (`eda.neighbour_correlation`, `eda.pixel_std_map`)."""
    by_distance = correlation.pivot(index="distance", columns="direction", values="correlation")
    near, far = by_distance.loc[1], by_distance.loc[3]
    values = {
        f"r {direction} {distance} px": by_distance.loc[distance, direction]
        for distance in (1, 3, 6)
        for direction in by_distance.columns
    }
    figures = ", ".join(f"{direction} {near[direction]:.2f} → {far[direction]:.2f}" for direction in by_distance.columns)
    locality = claims.check(
        f"**Locality.** The correlation between two pixels falls quickly with their distance (1 → 3 pixels: {figures}): "
        "the informative structure (edges, strokes) is local. A layer that looks at small neighbourhoods, such as a 3×3 "
        "convolution, matches this; a dense layer connects every pixel to every unit regardless of distance.",
        "in every direction, the correlation at 3 pixels is below half its value at 1 pixel",
        bool((far < near / 2).all()),
        values,
        f"**Locality.** The correlation between two pixels falls with their distance, but slowly (1 → 3 pixels: {figures}): "
        "structure extends over several pixels, so one small kernel sees only part of it, and the stacked "
        "convolutions and poolings gather the rest.",
    )
    share = float((spread < NEAR_CONSTANT_STD).mean())
    border = claims.check(
        f"**Unused border.** {100 * share:.0f}% of the pixels hardly vary (standard deviation below {NEAR_CONSTANT_STD} in "
        "scaled units), mostly along the frame: a dense layer spends input weights on them that carry almost no signal.",
        f"at least 10% of the pixels have a standard deviation below {NEAR_CONSTANT_STD}",
        share >= 0.1,
        {"share of near-constant pixels (%)": 100 * share, "least pixel std": float(spread.min())},
        f"**No unused border.** Only {100 * share:.1f}% of the pixels have a standard deviation below {NEAR_CONSTANT_STD} "
        "in scaled units: almost every pixel varies, so few of a dense layer's input weights are wasted on constant pixels.",
    )
    return f"- {locality}\n- {border}"


def describe_costs(table: pd.DataFrame) -> str:
    """How parameters, MACs and epoch time change relative to the first configuration of a sweep table."""
    reference = table.iloc[0]
    parts = []
    for label, row in table.iloc[1:].iterrows():
        parts.append(
            f"{label} changes the parameter count by {100 * (row[tables.PARAMETERS] / reference[tables.PARAMETERS] - 1):+.1f}%, "
            f"the MACs per image by {100 * (row[tables.MACS] / reference[tables.MACS] - 1):+.1f}% and the "
            f"time per epoch by {100 * (row[tables.EPOCH_TIME] / reference[tables.EPOCH_TIME] - 1):+.1f}%"
        )
    return f"Relative to {table.index[0]}: " + "; ".join(parts) + "."


def describe_translation(frame: pd.DataFrame, augmentation_shift: int, direction: str = "horizontal") -> str:
    """What the accuracy-versus-shift curves show, as Markdown bullet points with the measured figures."""
    shifts = sorted(frame["shift"].unique())
    largest = max(shifts)
    mid = min(shifts, key=lambda shift: abs(shift - 4))
    fc_label, cnn_label, gap_label = tables.FC, tables.CNN, tables.CNN_GAP

    def at(model: str, shift: int, where: str = direction) -> float:
        return tables.mean_shift_accuracy(frame, model, shift, where)

    def retained(model: str, shift: int, where: str = direction) -> float:
        return 100 * at(model, shift, where) / at(model, 0, where)

    lines = []
    fc, cnn = at(fc_label, 0), at(cnn_label, 0)
    lines.append(
        f"Unshifted, the CNN scores {cnn:.2f}% and the FC baseline {fc:.2f}%. After a {mid}-pixel {direction} shift the "
        f"CNN keeps {retained(cnn_label, mid):.0f}% of its accuracy ({at(cnn_label, mid):.2f}%) and the FC baseline "
        f"{retained(fc_label, mid):.0f}% ({at(fc_label, mid):.2f}%); at {largest} pixels, {at(cnn_label, largest):.2f}% against "
        f"{at(fc_label, largest):.2f}%."
    )
    one = 1 if 1 in shifts else shifts[1]
    drop_one = at(cnn_label, 0) - at(cnn_label, one)
    drop_mid = at(cnn_label, 0) - at(cnn_label, mid)
    lines.append(
        claims.check(
            f"The CNN is **not** translation invariant: one pixel costs it {drop_one:.2f} points, {mid} pixels "
            f"{drop_mid:.2f} points. Its two 2×2 max-poolings absorb only displacements that stay inside a pooling "
            f"window, and the dense layer after the flatten reads each feature at a fixed position, so a larger shift "
            f"moves the features onto weights that never saw them.",
            f"the CNN loses more than 1 point of accuracy at a {mid}-pixel {direction} shift",
            drop_mid > 1,
            {"unshifted (%)": at(cnn_label, 0), f"{mid} px (%)": at(cnn_label, mid)},
            f"Over these shifts the CNN's accuracy hardly moves: one pixel costs it {drop_one:.2f} points, {mid} pixels "
            f"{drop_mid:.2f} points.",
        )
    )
    if gap_label in set(frame["model"]):
        directions = [where for where in ("horizontal", "vertical") if where in set(frame["direction"])]
        kept = {where: (retained(gap_label, mid, where), retained(cnn_label, mid, where)) for where in directions}
        figures = "; ".join(f"{where}: {gap:.0f}% against {flat:.0f}%" for where, (gap, flat) in kept.items())
        lead = (
            f"With global average pooling instead of flatten + dense, the same convolutions keep this share of their "
            f"unshifted accuracy at {mid} pixels, against the flatten head's: {figures}. "
        )
        tail = (
            f" The convolutions themselves are equivariant: they move their feature maps with the image, except where "
            f"zero fill and the border cut the object (the probe mixes a shift with that occlusion). Unshifted, the GAP "
            f"head scores {at(gap_label, 0):.2f}% against {cnn:.2f}% for the flatten head."
        )
        ahead = [where for where, (gap, flat) in kept.items() if gap > flat + 5]
        otherwise = (
            f"The GAP head tolerates {', '.join(ahead)} shifts better but not the others, so the head explains only part of "
            "the sensitivity to position."
            if ahead
            else "Replacing the head alone does not remove the sensitivity to position."
        )
        lines.append(
            lead
            + claims.check(
                "In every direction it keeps more, so much of the CNN's sensitivity to position sits in its "
                "flatten-and-dense head, not in the convolutions.",
                f"at {mid} pixels, the GAP head keeps at least 5 points more of its accuracy than the flatten head, "
                "horizontally and vertically",
                len(ahead) == len(kept),
                {f"{where} GAP / flatten (%)": [gap, flat] for where, (gap, flat) in kept.items()},
                otherwise,
            )
            + tail
        )
    augmented = [name for name in (tables.CNN_SHIFT_AUGMENTED, tables.FC_SHIFT_AUGMENTED) if name in set(frame["model"])]
    if augmented:
        inside = min(augmentation_shift, largest)
        parts = [
            f"{name} keeps {retained(name, inside):.0f}% at {inside} pixels and {retained(name, largest):.0f}% at {largest}"
            for name in augmented
        ]
        falls = largest > augmentation_shift and any(retained(name, largest) < retained(name, inside) - 5 for name in augmented)
        beyond = (
            " Beyond the trained range the curves fall again: the learned invariance covers the shifts the data showed, "
            "not translation in general."
            if falls
            else ""
        )
        lines.append(
            f"Training on images shifted at random by up to ±{augmentation_shift} pixels teaches the invariance "
            f"instead of building it in: " + "; ".join(parts) + "." + beyond
        )
    hardest = min(frame["direction"].unique(), key=lambda where: at(cnn_label, largest, where))
    lines.append(f"Diagonal shifts move the object along both axes at once; the {hardest} direction is the hardest for the CNN.")
    return "\n".join(f"- {line}" for line in lines)


def describe_permutation(effects: pd.DataFrame, groups: dict[str, list[dict]]) -> str:
    """The permutation experiment's answer in Markdown, with its figures (`effects`: `tables.permutation_effects`)."""
    fc, cnn, after = effects.loc[tables.FC], effects.loc[tables.CNN], effects.loc[tables.CNN_MINUS_FC_PERMUTED]
    if len(groups[tables.FC]) < 2:
        return "With one seed per model there is no estimate of seed noise; run with several seeds to judge the changes."
    confidence = tables.confidence_of(effects)
    low, high = stats.interval_columns(confidence)
    fc_text = (
        f"The FC baseline does not care: shuffling the pixels changes its accuracy by {fc[stats.DIFFERENCE]:+.2f} "
        f"points, inside seed noise (Welch interval {fc[low]:+.2f} to {fc[high]:+.2f})."
        if tables.within_noise(fc, confidence)
        else f"The FC baseline's accuracy moves by {fc[stats.DIFFERENCE]:+.2f} points (interval "
        f"{fc[low]:+.2f} to {fc[high]:+.2f}), more than seed noise alone explains: "
        "its dense layer is blind to pixel order, so the change comes from training dynamics (the seed draws the same "
        "initial weights for differently ordered inputs)."
    )
    clean_gain = records.accuracies(groups[tables.CNN]).mean() - records.accuracies(groups[tables.FC]).mean()
    cnn_text = (
        f"The CNN loses {-cnn[stats.DIFFERENCE]:.2f} points (interval {cnn[low]:+.2f} to "
        f"{cnn[high]:+.2f}). On original pixels it beat the FC baseline by {clean_gain:+.2f} points; "
        f"on permuted pixels the difference is {after[stats.DIFFERENCE]:+.2f} points (interval "
        f"{after[low]:+.2f} to {after[high]:+.2f}), "
        + (
            "so it now trails the FC baseline: on shuffled pixels its local windows and its pooling no longer match "
            "any structure in the data, and the prior that helped on images costs accuracy instead."
            if after[high] < 0
            else "so its advantage is gone: it came from the spatial structure, which the permutation destroys while "
            "keeping every pixel's information."
            if after[stats.DIFFERENCE] < clean_gain / 2
            else "so part of its advantage survives the shuffle."
        )
    )
    return f"- {fc_text}\n- {cnn_text}"


def describe_pooling(frame: pd.DataFrame, groups: dict[str, list[dict]], confidence: float = stats.DEFAULT_CONFIDENCE) -> str:
    """Max against average pooling: test accuracy, and the share of it kept at small shifts (both directions pooled).

    `frame` is `probes.translation_frame` over `groups`, which hold `tables.CNN` and `tables.CNN_AVERAGE_POOLING`.
    """
    max_runs, average_runs = groups[tables.CNN], groups[tables.CNN_AVERAGE_POOLING]
    accuracy = stats.welch_interval(records.accuracies(average_runs), records.accuracies(max_runs), confidence)
    lines = [
        f"Average pooling scores {records.accuracies(average_runs).mean():.2f}% and max pooling "
        f"{records.accuracies(max_runs).mean():.2f}% ({len(average_runs)} and {len(max_runs)} seeds): "
        + _difference_sentence(accuracy, confidence, "average pooling", "max pooling")
    ]
    small = [shift for shift in (1, 2) if shift in set(frame["shift"])]
    for shift in small:
        kept = {label: _kept_per_seed(frame, label, shift) for label in (tables.CNN, tables.CNN_AVERAGE_POOLING)}
        change = stats.welch_interval(kept[tables.CNN_AVERAGE_POOLING], kept[tables.CNN], confidence)
        lines.append(
            f"At a {shift}-pixel shift (horizontal and vertical averaged), max pooling keeps {kept[tables.CNN].mean():.1f}% of "
            f"its unshifted accuracy and average pooling {kept[tables.CNN_AVERAGE_POOLING].mean():.1f}%: "
            + _difference_sentence(change, confidence, "average pooling", "max pooling", unit="points of the share kept")
        )
    lead = "The MNIST study chose max pooling for its accuracy on strokes; on this dataset that choice is "
    otherwise = (
        "contradicted: average pooling is the more accurate"
        if accuracy["difference"] > accuracy["half_width"]
        else "not resolved by these seeds: neither pooling is the more accurate beyond seed noise"
    )
    lines.append(
        claims.check(
            lead + "supported: max pooling is the more accurate.",
            "the Welch interval of average − max pooling accuracy lies below 0",
            accuracy["difference"] < -accuracy["half_width"],
            {"difference (points)": accuracy["difference"], "half-width (points)": accuracy["half_width"]},
            lead + otherwise + ".",
        )
    )
    return "\n".join(f"- {line}" for line in lines)


def _kept_per_seed(frame: pd.DataFrame, model: str, shift: int):
    """Per seed: accuracy at `shift` (both directions averaged) as a share (%) of the unshifted accuracy."""
    rows = frame[frame["model"] == model]
    by_seed = rows.groupby(["seed", "shift"])["accuracy"].mean().unstack("shift")
    return (100 * by_seed[shift] / by_seed[0]).to_numpy()


def _difference_sentence(interval: dict, confidence: float, first: str, second: str, unit: str = "points") -> str:
    """ "difference +0.12 points (95% Welch interval −0.30 to +0.54): not resolved." and its resolved forms."""
    difference, half = interval["difference"], interval["half_width"]
    if half != half:  # NaN: one seed
        return f"difference {difference:+.2f} {unit}, with one seed per model no interval."
    verdict = (
        f"{first if difference > 0 else second} is ahead beyond seed noise"
        if abs(difference) > half
        else "within seed noise, not resolved"
    )
    return (
        f"difference {difference:+.2f} {unit} ({confidence:.0%} Welch interval {difference - half:+.2f} to "
        f"{difference + half:+.2f}): {verdict}."
    )


def describe_learning_curves(table: pd.DataFrame, gains: pd.DataFrame, efficiency: dict) -> str:
    """The CNN's gain over the FC baseline by training-set size, its data efficiency, and the two claims about small data.

    `table` is a `curves.curve_table` with `tables.FC` and `tables.CNN`, `gains` their `curves.gain_table`
    (CNN − FC) and `efficiency` the `curves.data_efficiency` of the CNN against the FC baseline.
    """
    signs = curves.sign_of_gains(gains)
    sizes = gains[curves.SIZE].astype(int).tolist()
    lines = [
        "CNN − FC at each size: "
        + "; ".join(
            f"{int(row[curves.SIZE]):,} images {row[curves.GAIN]:+.2f}"
            + ("" if row[curves.HALF_WIDTH] != row[curves.HALF_WIDTH] else f" ± {row[curves.HALF_WIDTH]:.2f}")
            for _, row in gains.iterrows()
        )
        + f" points ({tables.confidence_of(gains):.0%} Welch intervals)."
    ]
    full = efficiency["full_size"]
    fc_full, cnn_full = curves.mean_at(table, tables.FC, full), curves.mean_at(table, tables.CNN, full)
    needs = efficiency["challenger_needs"]
    if needs is None:
        lines.append(f"The CNN does not reach the FC baseline's full-set accuracy ({fc_full:.2f}%) at any measured size.")
    elif needs <= min(sizes):
        lines.append(
            f"The CNN reaches the FC baseline's full-set accuracy ({fc_full:.2f}%) already at the smallest size measured, "
            f"{min(sizes):,} images: it needs at most 1/{full / min(sizes):.0f} of the data."
        )
    else:
        lines.append(
            f"The CNN reaches the FC baseline's full-set accuracy ({fc_full:.2f}%) with about {needs:,.0f} images "
            f"(interpolated in log size): {efficiency['ratio']:.1f}× less data than the baseline's {full:,}."
        )
    fc_needs = efficiency["baseline_needs"]
    lines.append(
        f"The FC baseline does not reach the CNN's full-set accuracy ({cnn_full:.2f}%) within the {full:,} images."
        if fc_needs is None
        else f"The FC baseline reaches the CNN's full-set accuracy ({cnn_full:.2f}%) with about {fc_needs:,.0f} images."
    )
    smallest = curves.smallest_size_gain(gains)
    at = f"at {int(smallest[curves.SIZE]):,} images, the smallest size"
    lead = "The Fashion-MNIST study's advice against convolution on very small datasets: "
    otherwise = (
        f"not supported: {at}, the CNN is still ahead beyond seed noise ({smallest[curves.GAIN]:+.2f} points)"
        if smallest[curves.RESOLVED]
        else f"not resolved: {at}, the two are within seed noise"
    )
    small_values = {"size": smallest[curves.SIZE], "CNN − FC (points)": smallest[curves.GAIN]}
    small_values["half-width (points)"] = smallest[curves.HALF_WIDTH]
    lines.append(
        claims.check(
            lead + f"supported: {at}, the FC baseline is ahead beyond seed noise.",
            "at the smallest size, the Welch interval of CNN − FC lies below 0",
            bool(smallest[curves.RESOLVED] and smallest[curves.GAIN] < 0),
            small_values,
            lead + otherwise + ".",
        )
    )
    lead = "The claim that the CNN learns more from the same data: "
    otherwise = (
        f"supported at {', '.join(f'{size:,}' for size in signs['ahead'])} images only"
        if signs["ahead"]
        else "not supported at any size measured"
    )
    lines.append(
        claims.check(
            lead + "supported at every size measured.",
            "at every size, the Welch interval of CNN − FC lies above 0",
            len(signs["ahead"]) == len(sizes),
            {"sizes": sizes, "sizes where the CNN is ahead": signs["ahead"]},
            lead + otherwise + ".",
        )
    )
    return "\n".join(f"- {line}" for line in lines)


def describe_image_by_image(table: pd.DataFrame, baseline: str = "the FC baseline", challenger: str = "the CNN") -> str:
    """McNemar's exact test per seed, in one sentence (`table`: `tables.image_by_image`)."""
    if table.empty:
        return f"No seed has both {baseline} and {challenger} trained: there is nothing to compare image by image."
    significant = int((table["McNemar exact p"] < 0.05).sum())
    counts = "; ".join(
        f"seed {int(row[tables.SEED])}: {int(row['challenger only right']):,} against {int(row['baseline only right']):,}, "
        f"p {_p_value(row['McNemar exact p'])}"
        for _, row in table.iterrows()
    )
    return (
        f"Image by image, on the same test images (test images only {challenger} gets right against those only "
        f"{baseline} gets right, McNemar's exact test): {counts}. The difference is significant at the 5% level in "
        f"{significant} of {len(table)} seeds."
    )


def _p_value(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def describe_settings_check(
    effects: pd.DataFrame | None, profile: str, reference_profile: str = "paper", families: pd.DataFrame | None = None
) -> str:
    """Whether the run's training settings change the headline result, in Markdown (or how to check it).

    `effects` is a `tables.settings_effects`, or None where the reference runs are not stored; `families`,
    an `experiments.settings_by_family`, says which model families train with other settings than the reference.
    """
    if profile == reference_profile:
        return f"This run uses the {reference_profile!r} profile's settings itself: there is nothing to compare."
    if families is not None and families[tables.SAME_SETTINGS].all():
        return (
            f"Every model family the report compares ({len(families)} in the table) trains with the same settings under the "
            f"{profile!r} and {reference_profile!r} profiles: the settings cannot change any result here, and no reference "
            "runs are needed. The profiles differ in their seeds only."
        )
    if families is not None:
        differing = ", ".join(families.index[~families[tables.SAME_SETTINGS].astype(bool)])
        lead = f"Families trained with other settings than the {reference_profile!r} profile's: {differing}. "
        if effects is None:
            return lead + _settings_check_missing(reference_profile)
        return (
            lead
            + "The check below covers the FC baseline and the CNN.\n\n"
            + describe_settings_check(effects, profile, reference_profile)
        )
    if effects is None:
        return _settings_check_missing(reference_profile)
    confidence = tables.confidence_of(effects)
    low, high = stats.interval_columns(confidence)
    lines = []
    for quantity, row in effects.iterrows():
        verdict = "within seed noise" if tables.within_noise(row, confidence) else "more than seed noise"
        lines.append(
            f"- {quantity}: {row[tables.REFERENCE_SETTINGS]} with the {reference_profile!r} settings, {row[tables.RUN_SETTINGS]} "
            f"with this run's ({profile!r}); change {row[stats.DIFFERENCE]:+.2f} points, Welch {confidence:.0%} interval "
            f"{row[low]:+.2f} to {row[high]:+.2f}, Welch p {row[stats.WELCH_P]:.2f}: {verdict}."
        )
    gain = effects.loc[tables.CNN_MINUS_FC_GAIN]
    same_sign = gain[tables.REFERENCE_SETTINGS].startswith("+") == gain[tables.RUN_SETTINGS].startswith("+")
    lines.append(
        "The conclusion does not depend on the settings: the CNN's advantage has the same sign under both and its size "
        "moves by less than seed noise."
        if same_sign and tables.within_noise(gain, confidence)
        else "The settings matter here: read this run's figures with the reference figures beside them."
    )
    return "\n".join(lines)


def _settings_check_missing(reference_profile: str) -> str:
    return (
        f"The check against the {reference_profile!r} profile's training settings is not stored for these seeds. "
        "`make report NOTEBOOKS=03_cnn CHECK_SETTINGS=1` trains the FC baseline and the CNN with them "
        "(same seeds, kept apart under `results/reference/`) and fills in this section."
    )


def describe_efficiency(table: pd.DataFrame, dense_share: float) -> str:
    """Where counting parameters misleads, in Markdown bullet points computed from `tables.efficiency_table`."""
    parameters, macs, epoch, accuracy = tables.PARAMETERS, tables.MACS, tables.EPOCH_TIME, tables.ACCURACY_MEAN
    by_name = table.reset_index().set_index(tables.NAME)
    lines = []
    if {"fc_baseline", "cnn"} <= set(by_name.index):
        fc, cnn = by_name.loc["fc_baseline"], by_name.loc["cnn"]
        lines.append(
            f"The CNN has {cnn[parameters] / fc[parameters]:.1f}× the FC baseline's parameters, and "
            f"{dense_share:.0f}% of them sit in its dense layer, which reads the flattened feature maps. Its compute "
            f"tells another story: {cnn[macs] / fc[macs]:.0f}× the multiply-accumulates per "
            f"image, {cnn[epoch] / fc[epoch]:.1f}× the time per training epoch and "
            f"{cnn[tables.LATENCY_P50] / fc[tables.LATENCY_P50]:.1f}× the single-image latency; almost all of it is "
            "spent in the convolutions, which hold few weights but apply each one at every position."
        )
    for name in ("cnn_k5", "cnn_k7"):
        if name in by_name.index and "cnn" in by_name.index:
            row, cnn = by_name.loc[name], by_name.loc["cnn"]
            lines.append(
                f"{row[tables.MODEL] if tables.MODEL in row else name}: {100 * (row[parameters] / cnn[parameters] - 1):+.1f}% "
                f"parameters but {100 * (row[macs] / cnn[macs] - 1):+.1f}% MACs and "
                f"{100 * (row[epoch] / cnn[epoch] - 1):+.1f}% time per epoch, for "
                f"{row[accuracy] - cnn[accuracy]:+.2f} points of accuracy."
            )
    gap = next((name for name in by_name.index if name.endswith("_gap")), None)
    if gap and "cnn" in by_name.index:
        row, cnn = by_name.loc[gap], by_name.loc["cnn"]
        lines.append(
            f"The GAP-head CNN has {cnn[parameters] / row[parameters]:.0f}× fewer parameters than the CNN, yet "
            f"{100 * row[macs] / cnn[macs]:.0f}% of its MACs, and scores "
            f"{row[accuracy] - cnn[accuracy]:+.2f} points: by parameters it would look "
            "nearly free, by compute it is not."
        )
    front = table[table[tables.PARETO_MACS]].index.tolist()
    lines.append("On the accuracy–MACs frontier (no model more accurate for less compute): " + ", ".join(front) + ".")
    return "\n".join(f"- {line}" for line in lines)


def describe_cost_tracking(table: pd.DataFrame) -> str:
    """Whether training time and latency follow MACs more closely than parameters across the trained models
    (Spearman rank correlations over the rows of `tables.efficiency_table`)."""
    from scipy import stats as scipy_stats

    def rho(first: str, second: str) -> float:
        return float(scipy_stats.spearmanr(table[first], table[second]).statistic)

    values = {
        f"ρ({time}, {cost})": rho(column, cost_column)
        for time, column in (("epoch time", tables.EPOCH_TIME), ("latency", tables.LATENCY_P50))
        for cost, cost_column in (("MACs", tables.MACS), ("parameters", tables.PARAMETERS))
    }
    epoch_macs, epoch_params, latency_macs, latency_params = values.values()
    figures = (
        f"Spearman rank correlation over the {len(table)} trained models: time per epoch {epoch_macs:+.2f} with MACs against "
        f"{epoch_params:+.2f} with parameters; single-image latency {latency_macs:+.2f} against {latency_params:+.2f}"
    )
    return claims.check(
        f"Parameters measure memory, not work: time follows the MACs more closely than the parameter count ({figures}). "
        "A comparison by parameters alone makes the convolutional models look cheaper than they are.",
        "both epoch time and latency rank-correlate more with MACs than with parameters",
        epoch_macs > epoch_params and latency_macs > latency_params,
        values,
        f"Neither cost count predicts time well on its own here ({figures}): per-layer overheads and the "
        "machine's state weigh as much as the arithmetic, so measured times are the ones to compare.",
    )


def describe_dataset_gains(table: pd.DataFrame, halving_dataset: str = "mnist") -> str:
    """What the datasets' gains (`tables.dataset_gain_table`) say, as Markdown bullet points with the measured figures."""

    def title(name: str) -> str:
        return config.DATASET_TITLES.get(name, name)

    confidence = tables.confidence_of(table)
    gain_low, gain_high = stats.gain_columns(confidence)
    ratio_low, ratio_high = stats.error_ratio_columns(confidence)
    lines = []
    for name, row in table.iterrows():
        lines.append(
            f"{title(name)}: the CNN gains {row[stats.GAIN]:+.2f} points ({confidence:.0%} interval {row[gain_low]:+.2f} to "
            f"{row[gain_high]:+.2f}); its error is {row[stats.ERROR_RATIO]:.2f}× the FC baseline's "
            f"({row[stats.CNN_ERROR]:.2f}% against {row[stats.FC_ERROR]:.2f}%; interval {row[ratio_low]:.2f} "
            f"to {row[ratio_high]:.2f})."
        )
    if halving_dataset in table.index:
        row = table.loc[halving_dataset]
        low, high = row[ratio_low], row[ratio_high]
        if low <= 0.5 <= high:
            verdict = "is consistent with the measurement: 0.5 lies inside the interval of the error ratio"
        elif high < 0.5:
            verdict = f"understates it: the CNN removes more than half of the errors (ratio at most {high:.2f})"
        else:
            verdict = f"overstates it: the CNN removes less than half of the errors (ratio at least {low:.2f})"
        lines.append(f"The MNIST study's claim that the CNN halves the error {verdict}.")
    if len(table) >= 2:
        points = table[stats.GAIN]
        ratio = table[stats.ERROR_RATIO]
        lines.append(
            f"In points the gain is largest on {title(points.idxmax())} ({points.max():+.2f}), in relative terms on "
            f"{title(ratio.idxmin())} (error ratio {ratio.min():.2f}). Absolute points and error ratios rank the datasets "
            "differently when their baselines differ this much: on a nearly solved task a small absolute gain can "
            "be a large share of the errors that remain."
            if points.idxmax() != ratio.idxmin()
            else f"{title(points.idxmax())} benefits most both in points ({points.max():+.2f}) and as a share of the errors "
            f"(ratio {ratio.min():.2f})."
        )
    return "\n".join(f"- {line}" for line in lines)


def describe_tuning(summary: pd.DataFrame, threshold: float = 0.25, tolerance: float = 22.5) -> str:
    """A sentence on how many filters are orientation-selective and whether weights and responses agree.

    `summary` is `filters.tuning_summary` with the notebook's "disagreement (°)" column (weights against gratings).
    """
    selective = summary[summary["selectivity"] >= threshold]
    silent = int((summary["mean response"] <= 1e-6).sum())
    agree = int((selective["disagreement (°)"] <= tolerance).sum()) if len(selective) else 0
    bins = pd.cut(
        selective["preferred orientation (°)"] % 180,
        [0, 22.5, 67.5, 112.5, 157.5, 180],
        right=False,
        labels=["horizontal", "rising diagonal", "vertical", "falling diagonal", "horizontal "],
    )
    counts = bins.astype(str).str.strip().value_counts()
    spread = ", ".join(f"{count} {name}" for name, count in counts.items())
    return (
        f"{len(selective)} of the {len(summary)} first-layer filters are orientation-selective (selectivity ≥ {threshold})"
        + (f": {spread}" if len(selective) else "")
        + f". For {agree} of these the orientation read from the weights lies within {tolerance}° of the one measured "
        f"with gratings. {silent} filter(s) never respond to any grating."
    )


def describe_census(counts: pd.DataFrame) -> str:
    """The census's counts per kind over seeds, and whether the study's claim about the first layer holds (`census.counts`)."""
    filters_per_seed = int(counts.sum(axis=1).iloc[0])
    spread = "; ".join(
        f"{kind} {counts[kind].min()}" + (f"–{counts[kind].max()}" if counts[kind].max() != counts[kind].min() else "")
        for kind in census.KINDS
    )
    holding = [seed for seed, row in counts.iterrows() if census.claim_holds(row)]
    seeds = len(counts)
    verdict = claims.check(
        f"The measurements support it in all {seeds} seeds.",
        "every seed has at least one oriented, one checkerboard and one centre–surround filter",
        len(holding) == seeds,
        {"seeds": seeds, "seeds with all three kinds": len(holding)},
        f"The measurements support it in {len(holding)} of {seeds} seeds only (seeds {', '.join(map(str, holding))})."
        if holding
        else f"The measurements do not support it: no seed of {seeds} has all three kinds.",
    )
    return (
        f"Of the {filters_per_seed} first-layer filters per seed ({seeds} seeds; a range is the lowest to the highest count): "
        f"{spread}. The Fashion-MNIST study claims that, besides oriented edges, the first layer holds texture "
        f"(checkerboard) and contrast (centre–surround) detectors. {verdict}"
    )


def describe_class_preferences(layers: dict[str, pd.DataFrame], count: int = 3) -> str:
    """Which class drives the most filters, and how class-specific each layer is (`layers`: `filters.class_filter_means`)."""
    parts = []
    for name, by_class in layers.items():
        favourite = by_class.idxmax(axis=1).value_counts()
        top = ", ".join(f"{label} ({number})" for label, number in favourite.head(count).items())
        parts.append(f"{name}: class spread {filters.class_spread(by_class):.2f}; classes that drive the most filters: {top}")
    return "Per layer — " + "; ".join(parts) + ". A larger spread means filters that respond more selectively to some classes."


def describe_front_end(endpoint) -> str:
    """Which front-end answered, and why the container's did not where the fallback did."""
    reason = getattr(endpoint, "fallback_reason", "")
    return f"Served by {endpoint.front_end}." + (f" The container's front-end did not run here: {reason}" if reason else "")


def describe_serving(record: dict) -> str:
    """What the local serving run showed, in a few sentences that follow its numbers."""
    comparison, serving = record["comparison"], record["serving"]
    same = comparison["same predicted class for every image"]
    statuses = sorted({row["status"] for row in record["bad_requests"]})
    all_refused = all(400 <= row["status"] < 500 for row in record["bad_requests"])
    served_by = f"Front-end: {record['front_end']}. " if record.get("front_end") else ""
    return served_by + (
        f"Served over HTTP, the model classified {comparison['images']} test images with accuracy "
        f"{comparison['served accuracy (%)']:.2f}% against {comparison['in-process accuracy (%)']:.2f}% in this process; "
        + ("it predicted the same class for every image" if same else "**the predicted classes differ for some images**")
        + f" (largest probability difference {comparison['largest probability difference']:.1e}). "
        f"Single-image requests took {serving['single_p50_ms']:.1f} ms (median) and {serving['single_p99_ms']:.1f} ms "
        f"(99th percentile) over {serving['repeats']} requests; batches of {serving['batch_size']} went through at "
        f"{serving['batch_images_per_second']:.0f} images/s. "
        + (
            f"All {len(record['bad_requests'])} bad requests were refused with a 4xx status "
            f"({', '.join(map(str, statuses))}), and the endpoint kept serving: the timings above were taken after them."
            if all_refused
            else "**Some bad requests were not refused with a 4xx status**: see the table above."
        )
    )


def describe_aws_run(result: dict) -> str:
    """One paragraph on what mode aws measured."""
    job = result["training_job"]
    return (
        f"Training job `{job['job']}` ended as {job['status']}; its artifact `{job['artifact_uri']}` was served by "
        f"endpoint `{result['names']['endpoint']}`. Through the endpoint, {result['images']} test images were classified "
        f"with accuracy {100 * result['accuracy']:.2f}%; single-image requests took {result['single_ms_p50']:.1f} ms "
        f"(median) and {result['single_ms_p99']:.1f} ms (99th percentile) from this machine, network included. "
        + _bad_requests_sentence(result.get("bad_requests", []))
        + "Deleted afterwards: "
        + ", ".join(
            f"{item['resource']} yes"
            if item["deleted"]
            else f"{item['resource']} **NO** ({item['error']}; `{item['delete it with']}`)"
            for item in result["clean_up"]
        )
        + "."
    )


def _bad_requests_sentence(rows: list[dict]) -> str:
    if not rows:
        return ""
    refused = [row for row in rows if row["error"] == "ModelError" and 400 <= row["status"] < 500]
    statuses = sorted({row["status"] for row in refused})
    return (
        f"Of {len(rows)} bad requests, {len(refused)} came back as ModelError with the container's 4xx status "
        f"({', '.join(map(str, statuses)) or 'none'}) as OriginalStatusCode. "
    )


def describe_training_stops(stops: pd.DataFrame) -> str:
    """Whether the epoch cap ended any run, and what that means for the numbers (`stops`: `tables.training_stops`)."""
    bound = stops[stops[tables.CAP_BOUND]]
    claims.check(
        "The epoch cap binds in at most 10% of the runs.",
        "runs that the cap ended ≤ 10% of all runs",
        len(bound) <= 0.1 * len(stops),
        {"runs": len(stops), "ended by the cap": len(bound)},
        "The epoch cap binds in more than 10% of the runs.",
    )
    if bound.empty:
        return f"Early stopping ended all {len(stops)} runs: no run was cut short by its epoch cap."
    counts = _bound_counts(stops)
    families = ", ".join(f"{model} ({count} of {total})" for model, count, total in counts)
    bound_models = {model for model, _, _ in counts}
    fed = [label for label, changed, original in tables.HEADLINE_PAIRS if {changed, original} & bound_models]
    feeds = f" Headline comparisons that use them: {', '.join(fed)}; read each with that in mind." if fed else ""
    return (
        f"The epoch cap ended {len(bound)} of {len(stops)} runs ({100 * len(bound) / len(stops):.0f}%): {families}. "
        "Their validation loss was still falling within the last epochs, so their accuracy is a lower bound of what "
        f"the model reaches, and a comparison that uses them may understate that model.{feeds}"
    )


def _bound_counts(stops: pd.DataFrame) -> list[tuple[str, int, int]]:
    counts = stops.groupby(tables.MODEL, sort=False)[tables.CAP_BOUND].agg(["sum", "size"])
    return [(model, int(row["sum"]), int(row["size"])) for model, row in counts.iterrows() if row["sum"]]


def describe_resolution(table: pd.DataFrame) -> str:
    """Which headline differences these seeds resolve, and what the others mean (`table`: `tables.resolution_table`)."""
    if table.empty:
        return "No headline comparison has both of its models trained in this folder yet."
    unknown = table[table[tables.HALF_WIDTH].isna()]
    if not unknown.empty:
        return f"{', '.join(unknown.index)}: with one seed per model there is no interval, so seed noise cannot be ruled out."
    confidence = table.attrs.get("confidence", stats.DEFAULT_CONFIDENCE)
    resolved, unresolved = table[table[tables.RESOLVED]], table[~table[tables.RESOLVED]]
    widths = f"{table[tables.HALF_WIDTH].min():.2f} to {table[tables.HALF_WIDTH].max():.2f}"
    sentence = f"With these seeds a difference must exceed {widths} points to stand out of seed noise "
    sentence += f"({confidence:.0%} Welch intervals). "
    if not resolved.empty:
        sentence += f"Resolved: {_differences(resolved)}. "
    if unresolved.empty:
        return sentence + "Every headline difference is resolved."
    return sentence + (
        f"Not resolved: {_differences(unresolved)}. These runs cannot say which model of such a pair is better; "
        "more seeds (the paper profile has 5) would narrow the interval."
    )


def _differences(rows: pd.DataFrame) -> str:
    return "; ".join(f"{name} ({row[stats.DIFFERENCE]:+.2f} ± {row[tables.HALF_WIDTH]:.2f})" for name, row in rows.iterrows())
