"""The report's generated prose for model comparisons: gains, sweeps, costs, settings, efficiency, stops and
resolution. The probes, the filters and serving have theirs in `narrative_probes`, `narrative_filters` and
`narrative_serving`; every finding is a number from the records or a claim checked on them (`claims`)."""

from __future__ import annotations

import pandas as pd

from convlab.analysis import claims, eda, protocol_tables, stats, tables
from convlab.experiments import design
from convlab.study import config


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


def difference_sentence(interval: dict, confidence: float, first: str, second: str, unit: str = "points") -> str:
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
        f"{baseline} gets right, McNemar's exact test): {counts}. For this pair alone, p is below 0.05 in "
        f"{significant} of {len(table)} seeds; the paper's verdicts correct these tests together with every other "
        "comparison it makes (Holm)."
    )


def _p_value(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def describe_settings_check(
    effects: pd.DataFrame | None, profile: str, reference_profile: str = "gpu", families: pd.DataFrame | None = None
) -> str:
    """Whether the run's training settings change the headline result, in Markdown (or how to check it).

    `effects` is a `protocol_tables.settings_effects`, or None where the reference runs are not stored; `families`,
    a `plans.settings_by_family`, says which model families train with other settings than the reference.
    """
    if profile == reference_profile:
        return f"This run uses the {reference_profile!r} profile's settings itself: there is nothing to compare."
    if families is not None and families[design.SAME_SETTINGS].all():
        return (
            f"Every model family the report compares ({len(families)} in the table) trains with the same settings under the "
            f"{profile!r} and {reference_profile!r} profiles: the settings cannot change any result here, and no reference "
            "runs are needed. The profiles differ in their seeds only."
        )
    if families is not None:
        differing = ", ".join(families.index[~families[design.SAME_SETTINGS].astype(bool)])
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
        reference, run = row[protocol_tables.REFERENCE_SETTINGS], row[protocol_tables.RUN_SETTINGS]
        lines.append(
            f"- {quantity}: {reference} with the {reference_profile!r} settings, {run} "
            f"with this run's ({profile!r}); change {row[stats.DIFFERENCE]:+.2f} points, Welch {confidence:.0%} interval "
            f"{row[low]:+.2f} to {row[high]:+.2f}, Welch p {row[stats.WELCH_P]:.2f}: {verdict}."
        )
    gain = effects.loc[protocol_tables.CNN_MINUS_FC_GAIN]
    same_sign = gain[protocol_tables.REFERENCE_SETTINGS].startswith("+") == gain[protocol_tables.RUN_SETTINGS].startswith("+")
    lines.append(
        "The conclusion does not depend on the settings: the CNN's advantage has the same sign under both and its size "
        "moves by less than seed noise."
        if same_sign and tables.within_noise(gain, confidence)
        else "The settings matter here: read this run's figures with the reference figures beside them."
    )
    return "\n".join(lines)


def _settings_check_missing(reference_profile: str) -> str:
    return (
        f"This run has no check against the {reference_profile!r} profile's training settings for these seeds. "
        "`make report NOTEBOOKS=03_cnn CHECK_SETTINGS=1` trains the FC baseline and the CNN with them "
        "(same seeds) and fills in this section."
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


def describe_training_stops(stops: pd.DataFrame) -> str:
    """Whether the epoch cap ended any run, and what that means for the numbers (`stops`: `protocol_tables.training_stops`)."""
    bound = stops[stops[protocol_tables.CAP_BOUND]]
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
    counts = stops.groupby(tables.MODEL, sort=False)[protocol_tables.CAP_BOUND].agg(["sum", "size"])
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
        sentence += f"Intervals that exclude zero: {_differences(resolved)}. "
    if unresolved.empty:
        return sentence + "Every headline interval excludes zero. " + FAMILY_NOTE
    return sentence + (
        f"Intervals that hold zero: {_differences(unresolved)}. These runs cannot say which model of such a pair is "
        "better; more seeds (the gpu profile has 5) would narrow the interval. " + FAMILY_NOTE
    )


FAMILY_NOTE = (
    "These intervals are per comparison; the paper's verdict on each (resolved or not) corrects the whole family of "
    "its comparisons together (Holm), so an interval that excludes zero here may still be unresolved there."
)


def _differences(rows: pd.DataFrame) -> str:
    return "; ".join(f"{name} ({row[stats.DIFFERENCE]:+.2f} ± {row[tables.HALF_WIDTH]:.2f})" for name, row in rows.iterrows())
