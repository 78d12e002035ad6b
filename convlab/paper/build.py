"""Build the paper: the text (`paper.md`) rendered with the run's named values, its claims checked, its figures
drawn, as HTML; `convlab.report` prints it to PDF and writes the supplement beside it.

A claim whose predicate fails on the run is printed marked, with a note, and listed at the end; `failed` in the
returned summary names them, and publishing refuses a paper with any.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from convlab import config, costs, protocol, records
from convlab.paper import claims, family, figures, runs, values

FOLDER = Path(__file__).resolve().parent
TEXT = FOLDER / "paper.md"
STYLE = FOLDER / "paper.css"
SUPPLEMENT = "supplement.html"
TITLE = "What convolutional layers buy over fully connected networks: Fashion-MNIST and MNIST revisited"


@dataclass
class TestData:
    """A dataset's test labels as the run's records saw them, its class names and its test images."""

    test_labels: np.ndarray
    class_names: tuple[str, ...]
    x_test: np.ndarray
    y_test: np.ndarray
    train_counts: np.ndarray  # training images per class


def test_data(run: runs.DatasetRun, data_dir: str | None = None) -> TestData | None:
    """The test split the run's records were evaluated on (a subset run's subset), from the data folder the run used
    (`data_dir`, else the usual lookup), or None where the data are absent. The labels are checked against a record:
    its stored predictions must give its stored accuracy."""
    from convlab import data

    record = next((group[0] for group in run.groups.values() if group), None)
    if record is None:
        return None
    try:
        dataset = data.load_dataset(run.name, data_dir or None, allow_download=False)
    except Exception as error:  # noqa: BLE001  (a missing or damaged copy: the figures and tests that need it are left out)
        print(f"Note: {run.name} not loaded ({error}); the paper leaves out what needs its test images.")
        return None
    sizes = record["dataset"]["train_size"], record["dataset"]["test_size"]
    full = len(dataset.y_train), len(dataset.y_test)
    dataset = data.subset(dataset, sizes[0] if sizes[0] < full[0] else 0, sizes[1] if sizes[1] < full[1] else 0, seed=0)
    predictions = np.asarray(record["test"]["predictions"])
    if len(predictions) != len(dataset.y_test) or not math.isclose(
        float(np.mean(predictions == dataset.y_test)), record["test"]["accuracy"], abs_tol=1e-9
    ):
        print(
            f"Note: the {run.name} test labels do not match the records' predictions, so the records were made on other "
            "data; the paper leaves out what needs the test images. Build from the run that wrote them, with its data folder."
        )
        return None
    counts = np.bincount(dataset.y_train, minlength=len(dataset.class_names))
    return TestData(dataset.y_test, dataset.class_names, dataset.x_test, dataset.y_test, counts)


@dataclass
class Built:
    html: str
    findings: str = ""  # the findings family as an HTML table, for the supplement
    failed: list[str] = field(default_factory=list)
    claims: list[dict] = field(default_factory=list)
    figures: int = 0
    words: int = 0


def context(root: Path, datasets: Sequence[str], studies: Mapping) -> SimpleNamespace:
    """Everything the text and the claims read: named values, comparisons, per-seed tests, the rule, serving."""
    from convlab import runlog

    loaded = runs.load_all(root, datasets)
    folders = {name: runlog.read(root / name).get("parameters", {}).get("data_dir") for name in loaded}
    tests = {name: test_data(run, folders[name]) for name, run in loaded.items()}
    results = family.findings(loaded, lambda name: tests[name].test_labels if tests.get(name) else None)
    named = {}
    for name, run in loaded.items():
        v = values.dataset_values(run, studies[name])
        if tests.get(name) is not None:
            v.update(_hardest_classes(run, tests[name]))
        named[name] = v
    empty = values.Names()
    c = SimpleNamespace(
        runs=loaded,
        tests=tests,
        results=results,
        fm=named.get("fashion_mnist", empty),
        mn=named.get("mnist", empty),
        cf=values.comparisons(results, "fashion_mnist"),
        cm=values.comparisons(results, "mnist"),
        mcnemar=[r for r in results.values() if r.test == "McNemar"],
        rule=_rule(loaded),
        serving=_serving(root, datasets),
        cost=_run_cost(root, datasets),
    )
    c.p = _protocol_values(loaded)
    c.serving_difference = _scientific(c.serving.get("largest probability difference", math.nan))
    c.family_size = values.count(sum(not math.isnan(r.p) for r in results.values()))
    c.resolved_count = values.count(sum(r.resolved for r in results.values()))
    c.kernel_largest = {
        name: values.number(
            max(
                (abs(r.difference) for (d, key), r in results.items() if d == name and key in claims.KERNEL_KEYS),
                default=math.nan,
            ),
            2,
        )
        for name in datasets
    }
    return c


def _scientific(value: float) -> str:
    """7.2 × 10<sup>−7</sup>, for a reader rather than a parser."""
    if math.isnan(value):
        return "n/a"
    if value == 0:
        return "0"
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa} × 10<sup>{int(exponent)}</sup>".replace("-", "−")


def _protocol_values(loaded: Mapping[str, runs.DatasetRun]) -> values.Names:
    """The training protocol as the records hold it (the CNN's record, then a reference run's), and the rule's limits."""
    found = values.Names()
    record = next((run.groups["cnn"][0] for run in loaded.values() if run.groups.get("cnn")), None)
    if record is not None:
        settings = record["parameters"]
        found["learning_rate"] = values.Value(settings["learning_rate"], f"{settings['learning_rate']:g}")
        found["batch_size"] = values.count(settings["batch_size"])
        found["patience"] = values.count(settings["patience"])
        found["epoch_cap"] = values.count(settings["epochs"])
        found["validation_percent"] = values.number(100 * settings["validation_fraction"], 0)
        seeds = sorted({r["seed"] for run in loaded.values() for r in run.groups.get("cnn", [])})
        found["seeds"] = values.Value(
            len(seeds), ", ".join(map(str, seeds[:-1])) + f" and {seeds[-1]}" if len(seeds) > 1 else str(seeds[0])
        )
    reference = next((r for run in loaded.values() for family_runs in run.reference.values() for r in family_runs), None)
    if reference is not None:
        found["reference_patience"] = values.count(reference["parameters"]["patience"])
        found["reference_min_epochs"] = values.count(reference["parameters"]["min_epochs"])
    found["studies_epochs"] = values.count(protocol.STUDIES_EPOCHS)
    found["premature_percent"] = values.number(100 * protocol.PREMATURE_TOLERANCE, 0)
    found["share_percent"] = values.number(100 * protocol.PREMATURE_SHARE, 0)
    curve_seeds = sorted(
        {r["seed"] for run in loaded.values() for by_size in run.curves.values() for group in by_size.values() for r in group}
    )
    if curve_seeds:
        found["curve_seeds"] = values.Value(len(curve_seeds), f"{curve_seeds[0]} to {curve_seeds[-1]}")
    shifts = {
        row["shift"]
        for run in loaded.values()
        for probes in run.translation.values()
        for probe in probes
        for row in probe["result"]["rows"]
    }
    if shifts:
        found["max_shift"] = values.count(max(shifts))
    augmented = next((run.groups["cnn_shift4"][0] for run in loaded.values() if run.groups.get("cnn_shift4")), None)
    if augmented is not None:
        found["augmentation_shift"] = values.count(augmented["model"]["shift_augmentation"])
    return found


def _hardest_classes(run: runs.DatasetRun, test: TestData) -> dict:
    found = {}
    for name, key in (("fc_baseline", "fc"), ("cnn", "cnn")):
        if not run.groups.get(name):
            continue
        errors = np.mean(
            [
                [100 * np.mean(np.asarray(r["test"]["predictions"])[test.test_labels == k] != k) for k in range(10)]
                for r in run.groups[name]
            ],
            axis=0,
        )
        hardest = int(np.argmax(errors))
        found["class_min"] = values.count(int(test.train_counts.min()))
        found["class_max"] = values.count(int(test.train_counts.max()))
        found["class_min_name"] = values.Value(0, test.class_names[int(np.argmin(test.train_counts))])
        found["class_max_name"] = values.Value(0, test.class_names[int(np.argmax(test.train_counts))])
        found[f"{key}_hardest"] = values.Value(hardest, test.class_names[hardest])
        found[f"{key}_hardest_error"] = values.number(errors[hardest], 1)
        found[f"{key}_easiest_error"] = values.number(errors.min(), 1)
    return found


def _rule(loaded: Mapping[str, runs.DatasetRun]) -> SimpleNamespace:
    histories = protocol.validation_histories({name: run.reference for name, run in loaded.items() if run.reference})
    if not histories:
        return SimpleNamespace(table=None, chosen=None, premature={}, runs=0)
    table = protocol.rule_table(histories)
    chosen = protocol.cheapest_rule(table)
    premature = {int(p): int(n) for p, n in zip(table["patience"], table["premature stops"], strict=True)}
    return SimpleNamespace(table=table, chosen=chosen, premature=premature, runs=len(histories))


def _serving(root: Path, datasets: Sequence[str]) -> dict:
    for dataset in datasets:
        path = root / dataset / "results" / "serving" / "cnn-seed0-local.json"
        if path.is_file():
            stored = records.read_json(path)
            return stored["comparison"] | {"front end": stored.get("front_end", ""), "dataset": config.DATASET_TITLES[dataset]}
    return {}


def _run_cost(root: Path, datasets: Sequence[str]) -> SimpleNamespace:
    """The run's trainings: how many, epochs, training hours, and what the quick profile's share took."""
    found = [
        (relative, record) for dataset in datasets for relative, record in costs.training_records(root / dataset / "results")
    ]
    trained = [record for _, record in found]
    quick = [  # the quick profile's trainings: seed 0 of the studies' models, trained in the results folder itself
        record
        for relative, record in found
        if "/" not in relative and record["seed"] == 0 and record["model"]["name"] in ("fc_baseline", "cnn", "cnn_k5", "cnn_k7")
    ]
    seconds = sum(r["timing"]["train_seconds"] for r in trained)
    stamp = trained[0]["environment"] if trained else {}
    return SimpleNamespace(
        trainings=values.count(len(trained)),
        epochs=values.count(sum(r["epochs_run"] for r in trained)),
        hours=values.number(seconds / 3600, 1),
        quick_minutes=values.number(sum(r["timing"]["train_seconds"] for r in quick) / 60, 0),
        cpu=stamp.get("cpu", "unknown"),
        cores=stamp.get("cpu_count", "?"),
        tensorflow=stamp.get("packages", {}).get("tensorflow-cpu") or stamp.get("packages", {}).get("tensorflow", "?"),
    )


class Renderer:
    """The Jinja2 functions the text calls: `claim`, `figure`, `fig`, and the tables."""

    def __init__(self, c: SimpleNamespace, drawn: Mapping[str, str]):
        self.c, self.drawn = c, drawn
        self.numbers = {key: index for index, key in enumerate(drawn, start=1)}
        self.checked: list[dict] = []

    def claim(self, key: str, caller) -> str:
        declared = claims.BY_KEY.get(key)
        if declared is None:
            raise KeyError(f"The text names a claim {key!r} that convlab/paper/claims.py does not declare.")
        holds = claims.evaluate(declared, self.c)
        self.checked.append({"claim": key, "rule": declared.rule, "holds": holds})
        text = caller().strip()
        if holds:
            return f'<span class="claim" data-claim="{key}">{text}</span>'
        note = f'<sup class="claim-failed">[claim “{key}” fails on this run]</sup>'
        return f'<mark class="claim-failed" data-claim="{key}">{text}</mark>{note}'

    def fig(self, key: str) -> str:
        if key not in figures.BY_KEY:
            raise KeyError(f"The text refers to a figure {key!r} that convlab/paper/figures.py does not declare.")
        return (
            f'<a href="#figure-{self.numbers[key]}">Figure {self.numbers[key]}</a>'
            if key in self.numbers
            else "(a figure this run cannot draw)"
        )

    def figure(self, key: str) -> str:
        if key not in figures.BY_KEY:
            raise KeyError(f"The text places a figure {key!r} that convlab/paper/figures.py does not declare.")
        if key not in self.drawn:
            return ""
        caption = html.escape(figures.BY_KEY[key].caption)
        return (
            f'\n<figure id="figure-{self.numbers[key]}"><img src="{self.drawn[key]}" alt="{caption}">'
            f"<figcaption><strong>Figure {self.numbers[key]}.</strong> {caption}</figcaption></figure>\n"
        )

    def findings_table(self) -> str:
        """Every comparison of the family, both datasets: difference, interval, Holm p, verdict."""
        rows = []
        labels = {c.key: c.label for c in family.COMPARISONS}
        for key, label in labels.items():
            cells = []
            for name in ("fashion_mnist", "mnist"):
                result = self.c.results.get((name, key))
                cells.append("—" if result is None else _finding_cell(values.ComparisonText(result)))
            rows.append(f"<tr><td>{html.escape(label)}</td><td>{cells[0]}</td><td>{cells[1]}</td></tr>")
        mcnemar = {}
        for result in self.c.mcnemar:
            mcnemar.setdefault(result.dataset, []).append(result)
        if mcnemar:
            cells = []
            for name in ("fashion_mnist", "mnist"):
                found = sorted(mcnemar.get(name, []), key=lambda r: r.key)
                cells.append(
                    "; ".join(
                        f"seed {r.key[-1]}: {r.difference:+.2f}, Holm p {values._p_text(r.holm_p)}, {r.verdict}" for r in found
                    )
                    or "—"
                )
            rows.append(f"<tr><td>CNN − FC per seed, same test images (McNemar)</td><td>{cells[0]}</td><td>{cells[1]}</td></tr>")
        head = "<tr><th>comparison (points of accuracy)</th><th>Fashion-MNIST</th><th>MNIST</th></tr>"
        return f'<table class="findings"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'

    def rule_table(self) -> str:
        table = self.c.rule.table
        if table is None:
            return "<p><em>This run has no reference runs: the stopping rule cannot be measured on it.</em></p>"
        frame = table.reset_index()
        rows = "".join(
            f"<tr><td>{html.escape(str(row['rule']))}</td><td>{int(row['premature stops'])} of {int(row['runs'])}</td>"
            f"<td>{row['mean epochs per run']:.1f}</td></tr>"
            for _, row in frame.iterrows()
        )
        return (
            "<table><thead><tr><th>rule</th><th>premature stops</th><th>mean epochs per run</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )


def _finding_cell(text: values.ComparisonText) -> str:
    result = text.result
    if result.test == "McNemar":
        return f"{text.diff}"
    verdict = "<strong>resolved</strong>" if result.resolved else "not resolved"
    return f"{text.diff} [{text.ci}], Holm p {text.holm}, {verdict}"


def draw(c: SimpleNamespace, root: Path) -> dict[str, str]:
    """Every figure this run can draw, as data URIs, in the paper's order."""
    data: dict[str, object] = {name: test for name, test in c.tests.items() if test is not None}
    for name in c.runs:
        model_file = root / name / "models" / "cnn-seed0.keras"
        if model_file.is_file():
            data[f"{name}:filters"] = figures.first_layer_kernels(model_file)
    drawn = {}
    for declared in figures.FIGURES:
        figure = declared.draw(c.runs, data)
        if figure is not None:
            drawn[declared.key] = figures.png_data_uri(figure)
    return drawn


def render(root: Path, datasets: Sequence[str], studies: Mapping, stamp: str) -> Built:
    """The paper as one HTML page, with the claims it checked and those that failed."""
    import jinja2
    import mistune

    c = context(root, datasets, studies)
    drawn = draw(c, root)
    source = TEXT.read_text(encoding="utf-8")
    placed = re.findall(r'figure\("([\w-]+)"\)', source)  # the text's order numbers the figures
    unplaced = sorted(set(figures.BY_KEY) - set(placed))
    if unplaced:
        raise KeyError(f"convlab/paper/figures.py declares figures the text never places: {', '.join(unplaced)}.")
    renderer = Renderer(c, {key: drawn[key] for key in placed if key in drawn})
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
    text = environment.from_string(source).render(
        c=c,
        fm=c.fm,
        mn=c.mn,
        cf=c.cf,
        cm=c.cm,
        claim=renderer.claim,
        fig=renderer.fig,
        figure=renderer.figure,
        findings_table=renderer.findings_table,
        rule_table=renderer.rule_table,
        stamp=stamp,
        supplement=SUPPLEMENT,
    )
    body = mistune.create_markdown(escape=False, plugins=["table"])(text)
    failed = [item["claim"] for item in renderer.checked if not item["holds"]]
    if failed:
        listed = "".join(f"<li>{html.escape(key)}: {html.escape(claims.BY_KEY[key].rule)}</li>" for key in dict.fromkeys(failed))
        body += (
            '<section class="failed-claims"><h2>Claims that fail on this run</h2><p>The sentences marked in the text make '
            "claims that this run's records do not support. The text was written for the published run.</p>"
            f"<ul>{listed}</ul></section>"
        )
    style = STYLE.read_text(encoding="utf-8")
    page = (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(TITLE)}</title>\n'
        f"<style>\n{style}\n</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )
    words = len(_plain_text(body).split())
    return Built(page, renderer.findings_table(), failed, renderer.checked, len(renderer.numbers), words)


def _plain_text(body: str) -> str:
    without_figures = re.sub(r"<img[^>]*>", " ", body)
    return html.unescape(re.sub(r"<[^>]+>", " ", without_figures))


def stamp_line(root: Path, datasets: Sequence[str], state: dict, built: datetime | None = None) -> str:
    built = built or datetime.now(UTC)
    profile = ""
    from convlab import runlog

    for dataset in datasets:
        stored = runlog.read(root / dataset)
        if stored.get("parameters"):
            profile = str(stored["parameters"].get("profile", ""))
    dirty = ", working tree modified" if state.get("dirty") else ""
    return (
        f"Built {built:%Y-%m-%d %H:%M} UTC from commit {html.escape(state.get('commit', 'unknown')[:12])}{dirty}; "
        f"profile {html.escape(profile or 'auto')}."
    )
