"""Named values: every number the paper prints, computed from one run's records and formatted for reading.

A `Value` keeps the raw number (for the claims' predicates) and its printed text (thousands separators, the
decimals its interval supports). `dataset_values` gives one dataset's values by name; `Comparisons` gives each
comparison of the findings family (`family`) with its difference, interval, adjusted p and verdict.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from convlab.analysis import curves, stats
from convlab.experiments import protocol
from convlab.paper import family
from convlab.paper.runs import DatasetRun
from convlab.store import records
from convlab.study import identities
from convlab.training import models


@dataclass(frozen=True)
class Value:
    """A number and its printed text."""

    raw: float
    text: str

    def __str__(self) -> str:
        return self.text

    def __float__(self) -> float:
        return float(self.raw)


def number(value: float, places: int = 2) -> Value:
    return Value(float(value), f"{value:,.{places}f}")


def count(value: int) -> Value:
    return Value(float(value), f"{int(value):,}")


class Missing:
    """What a name reads as where the run lacks the records behind it (a quick or subset run): printed "n/a", NaN
    as a number, false as a verdict, so that a claim resting on it fails and is marked."""

    raw = math.nan
    text = "n/a"
    resolved = False

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return self

    def __getitem__(self, key):
        return self

    def __str__(self) -> str:
        return self.text

    def __float__(self) -> float:
        return math.nan

    def __int__(self) -> int:
        return 0

    def __round__(self, places=None):
        return math.nan

    def __bool__(self) -> bool:
        return False


MISSING = Missing()


class Names(dict):
    """A dict whose entries read as attributes in the template (`fm.cnn_accuracy`); a name the run's records do not
    give reads as `MISSING` (`strict` names raise instead, for the tests)."""

    strict = False

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            if name.startswith("__") or self.strict:
                raise AttributeError(f"No value named {name!r}: this run's records do not give it.") from None
            return MISSING

    def __missing__(self, key):
        if self.strict:
            raise KeyError(key)
        return MISSING


def parameter_terms(model: dict) -> list[tuple[str, int]]:
    """Each layer's parameters as weights-plus-biases arithmetic, from a record's model configuration."""
    config = model_config(model)
    if config.kind == "fc":
        terms, width = [], config.image_side**2
        for units in (*config.hidden_units, config.num_classes):
            terms.append((f"{width:,}×{units}+{units}", width * units + units))
            width = units
        return terms
    channels, terms = 1, []
    for filters, kernel in zip(config.filters, config.kernel_sizes, strict=True):
        terms.append((f"{kernel}·{kernel}·{channels}×{filters}+{filters}", kernel * kernel * channels * filters + filters))
        channels = filters
    side = config.feature_map_sides()[-1]  # after the last pooling
    flat = channels if config.head == "gap" else side * side * channels
    dense, classes = config.dense_units, config.num_classes
    shape = f"{channels}" if config.head == "gap" else f"{side}·{side}·{channels}"
    terms.append((f"{shape}×{dense}+{dense}", flat * dense + dense))
    terms.append((f"{dense}×{classes}+{classes}", dense * classes + classes))
    return terms


def model_config(model: dict) -> models.ModelConfig:
    """The configuration a record's model entry was built from (its stored extras, such as the count, left out)."""
    names = {field.name for field in dataclasses.fields(models.ModelConfig)}
    return models.ModelConfig(**{key: tuple(v) if isinstance(v, list) else v for key, v in model.items() if key in names})


def arithmetic(model: dict) -> str:
    """ "784×128+128 + 128×10+10 = 101,770"."""
    terms = parameter_terms(model)
    return " + ".join(text for text, _ in terms) + f" = {sum(n for _, n in terms):,}"


def mean_sd(values) -> Value:
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return Value(float(values.mean()), f"{values.mean():.2f}")
    return Value(float(values.mean()), f"{values.mean():.2f} ± {values.std(ddof=1):.2f}")


def dataset_values(run: DatasetRun, study: Mapping) -> Names:
    """One dataset's named values; names absent where the run lacks the records behind them."""
    v = Names(title=run.title)
    first = next(iter(run.groups.values()), [None])[0]
    if first is None:
        return v
    v["train_size"] = count(first["dataset"]["train_size"])
    v["test_size"] = count(first["dataset"]["test_size"])
    v["fit_size"] = count(first["parameters"]["fit_size"])
    v["validation_size"] = count(first["parameters"]["validation_size"])
    v["seeds"] = count(len(run.groups.get("cnn", [])))
    for name, runs in run.groups.items():
        key = identities.short(name)
        accuracy = run.accuracies(name)
        v[f"{key}_accuracy"] = mean_sd(accuracy)
        v[f"{key}_mean"] = number(accuracy.mean())
        v[f"{key}_parameters"] = count(run.parameters(name))
        v[f"{key}_arithmetic"] = Value(run.parameters(name), arithmetic(runs[0]["model"]))
        v[f"{key}_macs"] = count(runs[0]["macs_per_image"])
        v[f"{key}_epochs"] = number(np.mean([r["epochs_run"] for r in runs]), 1)
        v[f"{key}_cap_bound"] = count(sum(r["epochs_run"] >= r["parameters"]["epochs"] for r in runs))
        v[f"{key}_precision"] = Value(0, runs[0]["parameters"]["precision"])
    if run.has("cnn", identities.FC):
        v["parameter_ratio"] = number(run.parameters("cnn") / run.parameters(identities.FC), 2)
        v["mac_ratio"] = number(run.groups["cnn"][0]["macs_per_image"] / run.groups[identities.FC][0]["macs_per_image"], 1)
        fc_error, cnn_error = 100 - run.accuracies(identities.FC).mean(), 100 - run.accuracies("cnn").mean()
        v["fc_error"], v["cnn_error"] = number(fc_error), number(cnn_error)
        v["errors_removed"] = number(100 * (1 - cnn_error / fc_error), 0)
    if run.has("cnn_gap", "cnn"):
        v["gap_parameter_share"] = number(100 * run.parameters("cnn_gap") / run.parameters("cnn"), 0)
    v.update(_reference_values(run, study))
    v.update(_shift_values(run))
    v.update(_curve_values(run))
    v.update(_latency_values(run))
    published = study["models"]
    approximate = "~" if study["approximate"] else ""
    for name, figures in published.items():
        key = identities.short(name)
        if "test_accuracy" in figures:
            places = 0 if approximate else 2
            v[f"study_{key}_accuracy"] = Value(figures["test_accuracy"], f"{approximate}{figures['test_accuracy']:.{places}f}")
        if "parameters" in figures:
            v[f"study_{key}_parameters"] = Value(figures["parameters"], f"{approximate}{figures['parameters']:,}")
        if "test_loss" in figures:
            v[f"study_{key}_loss"] = Value(figures["test_loss"], f"{approximate}{figures['test_loss']:g}")
    return v


def _reference_values(run: DatasetRun, study: Mapping) -> dict:
    """The studies' 15-epoch protocol on the reference runs, and what those runs say about over-fitting."""
    if not run.reference:
        return {}
    found = {}
    at_15 = protocol.studies_protocol(run.reference)
    losses_at_15 = protocol.studies_protocol(run.reference, metric="test_loss")
    literal = {family: [r for r in group if r["epochs_run"] == protocol.STUDIES_EPOCHS] for family, group in run.literal.items()}
    if all(literal.get(family) for family in protocol.FAMILIES):  # the studies' protocol trained literally
        at_15 = {family: [float(a) for a in records.accuracies(group)] for family, group in literal.items()}
        losses_at_15 = {family: [r["test"]["loss"] for r in group] for family, group in literal.items()}
    for family_name, accuracies in at_15.items():
        if not accuracies:
            continue
        key = family_name.lower()
        low, high = protocol.prediction_interval(accuracies)
        found[f"ref_{key}_accuracy"] = mean_sd(accuracies)
        found[f"ref_{key}_pi"] = Value(high - low, f"{low:.2f} to {high:.2f}")
        found[f"ref_{key}_pi_low"], found[f"ref_{key}_pi_high"] = number(low), number(high)
        found[f"ref_{key}_seeds"] = count(len(accuracies))
        loss = losses_at_15[family_name]
        found[f"ref_{key}_loss"] = number(float(np.mean(loss)), 4)
        spread = f" ± {np.std(loss, ddof=1):.3f}" if len(loss) > 1 else ""
        found[f"ref_{key}_loss_text"] = Value(float(np.mean(loss)), f"{np.mean(loss):.3f}{spread}")
        curves = [
            r["history"]["test_loss"][: protocol.STUDIES_EPOCHS]
            for r in (run.literal.get(family_name) or run.reference.get(family_name, []))
            if len(r["history"].get("test_loss", [])) >= protocol.STUDIES_EPOCHS
        ]
        if curves:
            found[f"ref_{key}_lowest_test_loss"] = number(float(np.mean([min(c) for c in curves])), 3)
            found[f"ref_{key}_lowest_test_loss_epoch"] = number(float(np.mean([int(np.argmin(c)) + 1 for c in curves])), 1)
        long_enough = [r for r in run.reference.get(family_name, []) if len(r["history"]["val_loss"]) >= protocol.STUDIES_EPOCHS]
        if not long_enough:  # a smoke run's reference runs: too short to read the studies' epochs off
            continue
        best = [int(np.argmin(r["history"]["val_loss"][: protocol.STUDIES_EPOCHS])) + 1 for r in long_enough]
        found[f"ref_{key}_best_epoch"] = number(float(np.mean(best)), 1)
        rise = [
            100
            * (
                r["history"]["val_loss"][protocol.STUDIES_EPOCHS - 1] / min(r["history"]["val_loss"][: protocol.STUDIES_EPOCHS])
                - 1
            )
            for r in long_enough
        ]
        found[f"ref_{key}_val_rise"] = number(float(np.mean(rise)), 0)
    return found


def _shift_values(run: DatasetRun) -> dict:
    """Translation-probe accuracy (%), mean over seeds and directions, at 0 and `family.SHIFT` pixels."""
    found = {}
    for name in run.translation:
        key = identities.short(name)
        for shift in (0, family.SHIFT, 6):
            values = family.shifted_accuracies(run, name, shift)
            if len(values):
                found[f"{key}_shift{shift}"] = number(values.mean(), 1)
        if f"{key}_shift0" in found and f"{key}_shift{family.SHIFT}" in found:
            found[f"{key}_shift_drop"] = number(found[f"{key}_shift0"].raw - found[f"{key}_shift{family.SHIFT}"].raw, 1)
    if found:
        found["probe_images"] = count(run.translation[next(iter(run.translation))][0]["inputs"]["test_images"])
    return found


def efficiency_interval(run: DatasetRun, confidence: float = stats.DEFAULT_CONFIDENCE) -> dict | None:
    """How many times fewer training images the CNN needs to match the FC network's full-set accuracy, with an
    interval: the sizes at which the CNN curve's interval band crosses the FC accuracy's interval ends."""
    if not run.curves:
        return None
    table = curves.curve_table(run.curves, confidence)
    measured = curves.data_efficiency(table, "CNN", "FC")
    if not measured["challenger_needs"]:
        return None
    rows = {model: frame.set_index(curves.SIZE) for model, frame in table.groupby(curves.MODEL)}
    full = measured["full_size"]
    fc_low, fc_high = float(rows["FC"].loc[full, curves.LOW]), float(rows["FC"].loc[full, curves.HIGH])
    earliest = curves.size_to_reach(rows["CNN"][curves.HIGH], fc_low)  # optimistic: the CNN's upper band, FC's low end
    latest = curves.size_to_reach(rows["CNN"][curves.LOW], fc_high)  # pessimistic
    return {
        "ratio": full / measured["challenger_needs"],
        "needs": measured["challenger_needs"],
        "full": full,
        "ratio_high": full / earliest if earliest else math.nan,
        "ratio_low": full / latest if latest else math.nan,
        "sizes": sorted(rows["CNN"].index.astype(int)),
    }


def _curve_values(run: DatasetRun) -> dict:
    measured = efficiency_interval(run)
    if not measured:
        return {}
    low, high = measured["ratio_low"], measured["ratio_high"]
    places = 0 if (math.isnan(low) or high - low >= 1) else 1  # the ratio to what its interval supports
    found = {
        "efficiency_ratio": Value(measured["ratio"], f"{measured['ratio']:.{places}f}"),
        # the interval's ends to one decimal, so that an end near 1 reads on the right side of it
        "efficiency_low": Value(low, "open" if math.isnan(low) else f"{low:.1f}"),
        "efficiency_high": Value(high, "open" if math.isnan(high) else f"{high:.1f}"),
        "efficiency_needs": count(round(measured["needs"], -2)),
        "curve_smallest": count(measured["sizes"][0]),
        "curve_sizes": Value(len(measured["sizes"]), ", ".join(f"{size:,}" for size in measured["sizes"])),
    }
    table = curves.curve_table(run.curves)
    smallest = measured["sizes"][0]
    found["curve_fc_smallest"] = number(curves.mean_at(table, "FC", smallest), 1)
    found["curve_cnn_smallest"] = number(curves.mean_at(table, "CNN", smallest), 1)
    seeds = table[table[curves.SIZE] == smallest][curves.SEEDS].iloc[0]
    found["curve_smallest_seeds"] = count(int(seeds))
    return found


def _latency_values(run: DatasetRun) -> dict:
    if not {"cnn", identities.FC} <= set(run.latency):
        return {}
    cnn, fc = run.latency["cnn"]["single_p50_ms"], run.latency[identities.FC]["single_p50_ms"]
    return {"cnn_latency": number(cnn, 2), "fc_latency": number(fc, 2), "latency_ratio": number(cnn / fc, 1)}


class DecisionText:
    """One primary hypothesis on one dataset as the text prints it (`paper.primary`): the effect, its interval, the
    test, the Holm-adjusted p over the primary tests, and the decision."""

    def __init__(self, row: Mapping):
        self.row = row
        half = (row["interval high"] - row["interval low"]) / 2
        places = stats.decimals_for(half)
        self.diff = Value(row["effect (points)"], signed(row["effect (points)"], places))
        self.ci = Value(half, f"{signed(row['interval low'], places)} to {signed(row['interval high'], places)}")
        self.level = Value(row["interval level"], f"{100 * row['interval level']:.0f}%")
        self.holm = Value(row["Holm p"], _p_text(row["Holm p"]))
        self.p = Value(row["p"], _p_text(row["p"]))
        self.held = row["decision"] in {"supported", "equivalent"}  # `primary.decisions` decided it at its level
        self.decision = Value(float(self.held), row["decision"])
        self.test = Value(math.nan, row["test"])
        self.seeds = count(int(row["seeds"]))
        self.df = Value(row["degrees of freedom"], f"{row['degrees of freedom']:.1f}")

    def __str__(self) -> str:
        return f"{self.diff} points ({self.level.text} interval {self.ci}; Holm p {self.holm}, {self.decision})"


def decisions(frame, dataset: str) -> Names:
    """The primary decisions of one dataset, by hypothesis key (`c.pf.cnn_above_fc.decision`)."""
    if frame is None or frame.empty:
        return Names()
    rows = frame[frame["dataset"] == dataset].to_dict("records")
    return Names({row["hypothesis"]: DecisionText(row) for row in rows})


class ComparisonText:
    """One comparison as the text prints it: difference, 95% interval, and where the interval lies (an exploratory
    estimate), or a McNemar test's Holm-adjusted p and verdict."""

    def __init__(self, result: family.Result):
        self.result = result
        places = stats.decimals_for(result.half_width) if not math.isnan(result.half_width) else 2
        self.diff = Value(result.difference, signed(result.difference, places))
        self.ci = Value(result.half_width, f"{signed(result.low, places)} to {signed(result.high, places)}")
        self.holm = Value(result.holm_p, _p_text(result.holm_p))
        self.p = Value(result.p, _p_text(result.p))
        self.verdict = Value(float(result.resolved), result.verdict)
        self.df = Value(result.df, "—" if math.isnan(result.df) else f"{result.df:.1f}")
        self.resolved = result.resolved

    def __str__(self) -> str:
        return f"{self.diff} points (95% interval {self.ci}; Holm p {self.holm}, {self.verdict})"


def signed(value: float, places: int) -> str:
    """+1.4, −0.2 (a true minus sign), and no "−0.0": a value that rounds to zero prints unsigned."""
    text = f"{value:+.{places}f}"
    if float(text) == 0:
        return f"{0:.{places}f}"
    return text.replace("-", "−")


def _p_text(p: float) -> str:
    """A p-value to three significant figures (so 0.0495 does not print as 0.050), "< 0.001" below that."""
    if math.isnan(p):
        return "—"
    if p < 0.001:
        return "< 0.001"
    return f"{p:.3g}" if p < 0.1 else f"{p:.2f}"


def comparisons(results: Mapping[tuple[str, str], family.Result], dataset: str) -> Names:
    return Names({key: ComparisonText(result) for (name, key), result in results.items() if name == dataset})
