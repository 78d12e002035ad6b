"""The prose of the experiments that probe the inductive bias: spatial structure, translation, permutation,
pooling and learning curves. Every finding is a number from the records or a claim checked on them (`claims`)."""

from __future__ import annotations

import pandas as pd

from convlab.analysis import claims, curves, stats, tables
from convlab.analysis.narrative import difference_sentence
from convlab.experiments import design
from convlab.store import records

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


def describe_translation(frame: pd.DataFrame, augmentation_shift: int, direction: str = "horizontal") -> str:
    """What the accuracy-versus-shift curves show, as Markdown bullet points with the measured figures."""
    shifts = sorted(frame["shift"].unique())
    largest = max(shifts)
    mid = min(shifts, key=lambda shift: abs(shift - 4))
    fc_label, cnn_label, gap_label = design.FC, design.CNN, design.CNN_GAP

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
    augmented = [name for name in (design.CNN_SHIFT_AUGMENTED, design.FC_SHIFT_AUGMENTED) if name in set(frame["model"])]
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


def describe_permutation(effects: pd.DataFrame, groups: records.RecordGroups) -> str:
    """The permutation experiment's answer in Markdown, with its figures (`effects`: `tables.permutation_effects`)."""
    fc, cnn, after = effects.loc[design.FC], effects.loc[design.CNN], effects.loc[tables.CNN_MINUS_FC_PERMUTED]
    if len(groups[design.FC]) < 2:
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
    clean_gain = records.accuracies(groups[design.CNN]).mean() - records.accuracies(groups[design.FC]).mean()
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


def describe_pooling(frame: pd.DataFrame, groups: records.RecordGroups, confidence: float = stats.DEFAULT_CONFIDENCE) -> str:
    """Max against average pooling: test accuracy, and the share of it kept at small shifts (both directions pooled).

    `frame` is `probes.translation_frame` over `groups`, which hold `design.CNN` and `design.CNN_AVERAGE_POOLING`.
    """
    max_runs, average_runs = groups[design.CNN], groups[design.CNN_AVERAGE_POOLING]
    accuracy = stats.welch_interval(records.accuracies(average_runs), records.accuracies(max_runs), confidence)
    lines = [
        f"Average pooling scores {records.accuracies(average_runs).mean():.2f}% and max pooling "
        f"{records.accuracies(max_runs).mean():.2f}% ({len(average_runs)} and {len(max_runs)} seeds): "
        + difference_sentence(accuracy, confidence, "average pooling", "max pooling")
    ]
    small = [shift for shift in (1, 2) if shift in set(frame["shift"])]
    for shift in small:
        kept = {label: _kept_per_seed(frame, label, shift) for label in (design.CNN, design.CNN_AVERAGE_POOLING)}
        change = stats.welch_interval(kept[design.CNN_AVERAGE_POOLING], kept[design.CNN], confidence)
        lines.append(
            f"At a {shift}-pixel shift (horizontal and vertical averaged), max pooling keeps {kept[design.CNN].mean():.1f}% of "
            f"its unshifted accuracy and average pooling {kept[design.CNN_AVERAGE_POOLING].mean():.1f}%: "
            + difference_sentence(change, confidence, "average pooling", "max pooling", unit="points of the share kept")
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
    rows = frame[(frame["model"] == model) & frame["direction"].isin(("horizontal", "vertical"))]
    by_seed = rows.groupby(["seed", "shift"])["accuracy"].mean().unstack("shift")
    return (100 * by_seed[shift] / by_seed[0]).to_numpy()


def describe_learning_curves(table: pd.DataFrame, gains: pd.DataFrame, efficiency: dict) -> str:
    """The CNN's gain over the FC baseline by training-set size, its data efficiency, and the two claims about small data.

    `table` is a `curves.curve_table` with `design.FC` and `design.CNN`, `gains` their `curves.gain_table`
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
    fc_full, cnn_full = curves.mean_at(table, design.FC, full), curves.mean_at(table, design.CNN, full)
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
