"""Tables of result records: comparisons, sweeps, probes and costs, with the names of their columns and record groups."""

from __future__ import annotations

import numpy as np
import pandas as pd

from convlab.analysis import stats
from convlab.experiments import design
from convlab.store import records
from convlab.study import config, identities

CNN_MINUS_FC_PERMUTED = "CNN − FC, permuted"  # a row of `permutation_effects`

# Columns read outside the function that builds them.
MODEL = "model"
NAME = "name"
PARAMETERS = "parameters"
MACS = "MACs per image"
TEST_ACCURACY = "test accuracy (%)"
TEST_LOSS = "test loss"
ACCURACY_MEAN = "accuracy mean (%)"
ACCURACY_STD = "accuracy std (%)"
TRAIN_TIME = "train time (s)"
EPOCH_TIME = "s per epoch"
LATENCY_P50 = "latency p50 (ms)"
PARETO_MACS = "Pareto (MACs)"
PARETO_PARAMETERS = "Pareto (parameters)"
HOLM_P = "Holm-adjusted p"
SEED = "seed"
COMPARISON = "comparison"
HALF_WIDTH = "interval half-width (points)"
RESOLVED = "resolved"
# The headline comparisons: (label, the changed model, the model it is compared with), by record group name.
HEADLINE_PAIRS = (
    ("CNN − FC", identities.CNN, identities.FC),
    ("5×5 − 3×3 first kernel", f"{identities.CNN}_k5", identities.CNN),
    ("7×7 − 3×3 first kernel", f"{identities.CNN}_k7", identities.CNN),
    ("GAP head − flatten head", f"{identities.CNN}_gap", identities.CNN),
    ("average − max pooling", f"{identities.CNN}_avgpool", identities.CNN),
    ("CNN, permuted − original pixels", f"{identities.CNN}_perm0", identities.CNN),
    ("FC, permuted − original pixels", f"{identities.FC}_perm0", identities.FC),
)


def ci_columns(confidence: float = stats.DEFAULT_CONFIDENCE) -> tuple[str, str]:
    """The names of `sweep_table`'s t-interval bounds, e.g. ("95% CI low (%)", "95% CI high (%)")."""
    return f"{confidence:.0%} CI low (%)", f"{confidence:.0%} CI high (%)"


def shift_column(shift: int) -> str:
    """The name of `shift_table`'s column for one shift, e.g. "shift 4 px"."""
    return f"shift {shift} px"


def confidence_of(table: pd.DataFrame) -> float:
    """The confidence level a table's intervals were built with (the default for tables that do not say)."""
    return table.attrs.get("confidence", stats.DEFAULT_CONFIDENCE)


def with_confidence(table: pd.DataFrame, confidence: float) -> pd.DataFrame:
    table.attrs["confidence"] = confidence
    return table


def within_noise(row: pd.Series, confidence: float = stats.DEFAULT_CONFIDENCE) -> bool:
    """Whether a difference's Welch interval holds 0 and Welch's test does not reject at 1 − `confidence`."""
    low, high = stats.interval_columns(confidence)
    alpha = round(1 - confidence, 10)
    return bool(row[low] <= 0 <= row[high]) and not (row[stats.WELCH_P] < alpha)


def model_label(model: dict) -> str:
    """A readable label for a record's model configuration (e.g. "CNN 5×5/3×3, GAP head")."""
    if model["kind"] == "fc":
        label = "FC " + "→".join(str(units) for units in (784, *model["hidden_units"], model["num_classes"]))
    else:
        label = "CNN " + "/".join(f"{size}×{size}" for size in model["kernel_sizes"])
    if model.get("head", "flatten") != "flatten":
        label += f", {model['head'].upper()} head"
    if model.get("pooling", "max") != "max":
        label += f", {model['pooling']} pooling"
    if model.get("shift_augmentation"):
        label += f", shift-augmented ±{model['shift_augmentation']}"
    if model.get("pixel_permutation") is not None:
        label += ", permuted pixels"
    return label


def summarize(group: list[records.ResultRecord], label: str | None = None) -> dict:
    """One row of a comparison table: cost and test metrics, mean and std over seeds."""
    accuracy = stats.mean_confidence_interval(records.accuracies(group))
    loss = np.array([record["test"]["loss"] for record in group])
    first = group[0]
    return {
        MODEL: label or first["model"]["name"],
        PARAMETERS: first["model"]["parameters"],
        MACS: first["macs_per_image"],
        stats.SEEDS: len(group),
        TEST_ACCURACY: accuracy["mean"],
        ACCURACY_STD: accuracy["std"],
        TEST_LOSS: loss.mean(),
        "epochs run": np.mean([record["epochs_run"] for record in group]),
        "best epoch": np.mean([record["best_epoch"] for record in group]),
        TRAIN_TIME: np.mean([record["timing"]["train_seconds"] for record in group]),
        EPOCH_TIME: np.mean([record["timing"]["seconds_per_epoch"] for record in group]),
        "inference (ms/image)": np.mean([record["timing"]["inference_ms_per_image"] for record in group]),
    }


def comparison_table(groups: records.RecordGroups) -> pd.DataFrame:
    """Models side by side, one row each, from their result records (rounded for display)."""
    table = pd.DataFrame([summarize(group, label) for label, group in groups.items()]).set_index(MODEL)
    return table.round(
        {
            TEST_ACCURACY: 2,
            ACCURACY_STD: 2,
            TEST_LOSS: 4,
            "epochs run": 1,
            "best epoch": 1,
            TRAIN_TIME: 1,
            EPOCH_TIME: 1,
            "inference (ms/image)": 3,
        }
    )


def history_frame(record: records.ResultRecord) -> pd.DataFrame:
    """Per-epoch training and validation metrics of one run."""
    history = record["history"]
    frame = pd.DataFrame({key: history[key] for key in ("loss", "val_loss", "accuracy", "val_accuracy")})
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="epoch")
    return frame


def overfitting_summary(record: records.ResultRecord) -> dict:
    """How far validation loss rose after its minimum, and which epoch's weights were kept."""
    history = record["history"]
    best = record["best_epoch"]
    return {
        "epochs run": record["epochs_run"],
        "restored epoch": best,
        "validation loss at restored epoch": history["val_loss"][best - 1],
        "validation loss at last epoch": history["val_loss"][-1],
        "training loss at last epoch": history["loss"][-1],
    }


def sweep_table(groups: records.RecordGroups, confidence: float = stats.DEFAULT_CONFIDENCE) -> pd.DataFrame:
    """Cost and accuracy (mean ± std and t interval over seeds, in %) of each configuration."""
    low, high = ci_columns(confidence)
    rows = []
    for label, group in groups.items():
        summary = stats.mean_confidence_interval(records.accuracies(group), confidence)
        rows.append(
            {
                "configuration": label,
                PARAMETERS: group[0]["model"]["parameters"],
                MACS: group[0]["macs_per_image"],
                EPOCH_TIME: np.mean([record["timing"]["seconds_per_epoch"] for record in group]),
                "inference (ms/image)": np.mean([record["timing"]["inference_ms_per_image"] for record in group]),
                stats.SEEDS: summary["n"],
                ACCURACY_MEAN: summary["mean"],
                ACCURACY_STD: summary["std"],
                low: summary["ci_low"],
                high: summary["ci_high"],
                "accuracy ± std": f"{summary['mean']:.2f} ± {summary['std']:.2f}",
            }
        )
    table = (
        pd.DataFrame(rows)
        .set_index("configuration")
        .round({EPOCH_TIME: 1, "inference (ms/image)": 3, ACCURACY_MEAN: 2, ACCURACY_STD: 2, low: 2, high: 2})
    )
    return with_confidence(table, confidence)


def pairwise_comparisons(groups: records.RecordGroups, confidence: float = stats.DEFAULT_CONFIDENCE) -> pd.DataFrame:
    """Every pair of configurations: accuracy difference, its Welch interval, Welch p-value and Holm-adjusted p."""
    low_column, high_column = stats.interval_columns(confidence)
    labels = list(groups)
    rows = []
    for index, first in enumerate(labels):
        for second in labels[index + 1 :]:
            a, b = records.accuracies(groups[first]), records.accuracies(groups[second])
            low, high = stats.welch_difference_interval(a, b, confidence)
            test = stats.welch_test(a, b) if min(len(a), len(b)) > 1 else {"p_value": float("nan")}
            rows.append(
                {
                    "comparison": f"{first} − {second}",
                    stats.DIFFERENCE: a.mean() - b.mean(),
                    low_column: low,
                    high_column: high,
                    stats.WELCH_P: test["p_value"],
                }
            )
    table = pd.DataFrame(rows).set_index("comparison")
    valid = table[stats.WELCH_P].notna()
    table[HOLM_P] = np.nan
    if valid.any():
        table.loc[valid, HOLM_P] = stats.holm_adjust(table.loc[valid, stats.WELCH_P].tolist())
    return with_confidence(table.round(4), confidence)


def shift_curve(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds of accuracy (%) per model, direction and shift, from `probes.translation_frame`."""
    return frame.groupby(["model", "direction", "shift"], sort=False)["accuracy"].agg(["mean", "std", "count"]).reset_index()


def shift_table(frame: pd.DataFrame, shifts: tuple[int, ...] | None = None) -> pd.DataFrame:
    """Accuracy "mean ± std" (%) per direction and model (rows) at the chosen shifts (default: the even ones)."""
    shifts = shifts or tuple(shift for shift in sorted(frame["shift"].unique()) if shift % 2 == 0)
    curve = shift_curve(frame)
    curve = curve[curve["shift"].isin(shifts)]
    curve["accuracy (%)"] = [
        f"{mean:.2f}" if count < 2 else f"{mean:.2f} ± {std:.2f}"
        for mean, std, count in zip(curve["mean"], curve["std"], curve["count"])
    ]
    table = curve.pivot(index=["direction", "model"], columns="shift", values="accuracy (%)")
    table.columns = [shift_column(shift) for shift in table.columns]
    order = {name: index for index, name in enumerate(dict.fromkeys(frame["model"]))}
    directions = {name: index for index, name in enumerate(dict.fromkeys(frame["direction"]))}
    return table.sort_index(key=lambda level: level.map(directions if level.name == "direction" else order))


def mean_shift_accuracy(frame: pd.DataFrame, model: str, shift: int, direction: str = "horizontal") -> float:
    """Mean accuracy (%) over seeds of one model at one shift."""
    rows = frame[(frame["model"] == model) & (frame["shift"] == shift) & (frame["direction"] == direction)]
    if rows.empty:
        raise KeyError(f"No translation result for {model!r} at a {direction} shift of {shift}.")
    return float(rows["accuracy"].mean())


def permutation_effects(groups: records.RecordGroups, confidence: float = stats.DEFAULT_CONFIDENCE) -> pd.DataFrame:
    """For FC and CNN: accuracy on original and on permuted pixels, the change and whether it exceeds seed noise."""
    permuted = {design.FC: design.FC_PERMUTED, design.CNN: design.CNN_PERMUTED}
    rows = [
        {MODEL: name} | stats.paired_effect(groups[name], groups[permuted[name]], confidence) for name in (design.FC, design.CNN)
    ]
    rows.append(
        {MODEL: CNN_MINUS_FC_PERMUTED} | stats.paired_effect(groups[design.FC_PERMUTED], groups[design.CNN_PERMUTED], confidence)
    )
    table = pd.DataFrame(rows).set_index(MODEL)
    table = table.rename(columns={stats.ORIGINAL: "original pixels (%)", stats.CHANGED: "permuted pixels (%)"}).round(4)
    table.loc[CNN_MINUS_FC_PERMUTED, ["original pixels (%)", "permuted pixels (%)"]] = "—"  # the rows above hold them
    return with_confidence(table, confidence)


def pareto_mask(cost: pd.Series, accuracy: pd.Series) -> pd.Series:
    """True where no other model is at least as accurate for less cost (or more accurate for the same cost)."""
    values = list(zip(cost, accuracy))
    return pd.Series(
        [not any((c <= ci and a >= ai) and (c < ci or a > ai) for c, a in values) for ci, ai in values],
        index=cost.index,
    )


def efficiency_table(groups: records.RecordGroups, latencies: dict[str, dict]) -> pd.DataFrame:
    """One row per trained model: cost (parameters, MACs, training time, latency) and test accuracy over its seeds."""
    rows = []
    for name, group in groups.items():
        summary = summarize(group, model_label(group[0]["model"]))
        latency = latencies[name]["result"]
        rows.append(
            {key: summary[key] for key in (MODEL, PARAMETERS, MACS, stats.SEEDS, TRAIN_TIME, "epochs run")}
            | {
                NAME: name,
                ACCURACY_MEAN: summary[TEST_ACCURACY],
                ACCURACY_STD: summary[ACCURACY_STD],
                EPOCH_TIME: summary[EPOCH_TIME],
                LATENCY_P50: latency["single_p50_ms"],
                "latency p99 (ms)": latency["single_p99_ms"],
                "throughput (images/s)": latency["batch_images_per_second"],
            }
        )
    table = pd.DataFrame(rows).set_index(MODEL).sort_values(MACS)
    table[PARETO_MACS] = pareto_mask(table[MACS], table[ACCURACY_MEAN])
    table[PARETO_PARAMETERS] = pareto_mask(table[PARAMETERS], table[ACCURACY_MEAN])
    return table.round(
        {
            ACCURACY_MEAN: 2,
            ACCURACY_STD: 2,
            TRAIN_TIME: 1,
            "epochs run": 1,
            EPOCH_TIME: 1,
            LATENCY_P50: 3,
            "latency p99 (ms)": 3,
            "throughput (images/s)": 0,
        }
    )


def dataset_gain_table(
    pairs: dict[str, tuple[list[dict], list[dict]]], confidence: float = stats.DEFAULT_CONFIDENCE
) -> pd.DataFrame:
    """`stats.dataset_gain` for each dataset (name → (FC records, CNN records)), one row each."""
    rows = [{"dataset": name} | stats.dataset_gain(*pair, confidence) for name, pair in pairs.items()]
    return with_confidence(pd.DataFrame(rows).set_index("dataset").round(4), confidence)


def intervals_for_reading(table: pd.DataFrame) -> pd.DataFrame:
    """A table of differences with Welch intervals (`pairwise_comparisons`, `permutation_effects`) as printed: each
    difference and its bounds to the decimals the interval supports (`stats.decimals_for`), p-values to two
    significant digits, a dash where one seed gives no interval or test."""
    low, high = stats.interval_columns(confidence_of(table))
    shown = table.astype({column: object for column in (stats.DIFFERENCE, low, high)})
    for index, row in table.iterrows():
        width = (float(row[high]) - float(row[low])) / 2
        places = stats.decimals_for(width)
        for column, sign in ((stats.DIFFERENCE, "+"), (low, ""), (high, "")):
            value = float(row[column])
            shown.loc[index, column] = "—" if np.isnan(value) else f"{value:{sign}.{places}f}"
    for column in (stats.WELCH_P, HOLM_P):
        if column in table:
            shown[column] = ["—" if np.isnan(value) else f"{value:.2g}" for value in table[column].astype(float)]
    return shown


def dataset_gains_for_reading(table: pd.DataFrame) -> pd.DataFrame:
    """`dataset_gain_table` as printed: datasets by their titles, points and error ratios to two decimals,
    Welch's p to two significant digits, a dash where one seed gives none."""
    shown = table.rename(index=config.DATASET_TITLES).rename_axis(None)
    for column in shown.columns:
        if pd.api.types.is_float_dtype(table[column]):
            spec = ".2g" if column == stats.WELCH_P else ".2f"
            shown[column] = ["—" if np.isnan(value) else format(value, spec) for value in table[column]]
    return shown


def resolution_table(groups: records.RecordGroups, confidence: float = stats.DEFAULT_CONFIDENCE) -> pd.DataFrame:
    """Per headline comparison present in `groups`: the accuracy difference and the half-width of its Welch interval,
    the smallest difference these seeds resolve; `RESOLVED` when the difference exceeds it."""
    rows = []
    for label, changed, original in HEADLINE_PAIRS:
        if changed in groups and original in groups:
            interval = stats.welch_interval(records.accuracies(groups[changed]), records.accuracies(groups[original]), confidence)
            rows.append(
                {COMPARISON: label, stats.SEEDS: f"{len(groups[changed])} and {len(groups[original])}"}
                | {stats.DIFFERENCE: interval["difference"], HALF_WIDTH: interval["half_width"]}
                | {RESOLVED: bool(abs(interval["difference"]) > interval["half_width"])}
            )
    table = pd.DataFrame(rows, columns=[COMPARISON, stats.SEEDS, stats.DIFFERENCE, HALF_WIDTH, RESOLVED]).set_index(COMPARISON)
    table.attrs["confidence"] = confidence
    return table


def resolution_for_reading(table: pd.DataFrame, difference: str = stats.DIFFERENCE) -> pd.DataFrame:
    """`resolution_table` (or `curves.gain_table`, with its `difference` column) as printed: each difference to the
    decimals its half-width supports (`stats.decimals_for`), half-widths to two decimals (none from one seed),
    "yes" or "no" for resolved."""
    shown = table.copy()
    shown[difference] = [f"{value:+.{stats.decimals_for(width)}f}" for value, width in zip(table[difference], table[HALF_WIDTH])]
    shown[HALF_WIDTH] = ["— (one seed)" if np.isnan(width) else f"{width:.2f}" for width in table[HALF_WIDTH]]
    shown[RESOLVED] = table[RESOLVED].map({True: "yes", False: "no"})
    return shown


def image_by_image(
    baseline: list[records.ResultRecord], challenger: list[records.ResultRecord], labels: np.ndarray
) -> pd.DataFrame:
    """Per seed both groups share: the test images only the baseline gets right, only the challenger, and McNemar's exact p."""
    by_seed = {record["seed"]: record for record in baseline}
    rows = []
    for record in challenger:
        if record["seed"] not in by_seed:
            continue
        base_right = records.record_predictions(by_seed[record["seed"]]) == labels
        new_right = records.record_predictions(record) == labels
        result = stats.mcnemar_exact(base_right, new_right)
        rows.append(
            {SEED: record["seed"], "baseline only right": result["first only"], "challenger only right": result["second only"]}
            | {"McNemar exact p": result["p_value"]}
        )
    return pd.DataFrame(rows, columns=[SEED, "baseline only right", "challenger only right", "McNemar exact p"])
