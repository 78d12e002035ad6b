"""Build the paper: the text (`paper.md`) rendered with the run's named values, its claims checked, its figures
drawn, as HTML; `convlab.report.report` prints it to PDF and writes the supplement beside it.

A claim whose predicate fails on the run is printed marked, with a note, and listed at the end; `failed` in the
returned summary names them, and publishing refuses a paper with any.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

from convlab.experiments import protocol
from convlab.paper import claims, context, explain_figures, family, figure_style, figures, holding, values
from convlab.study import config, hypotheses

FOLDER = Path(__file__).resolve().parent
TEXT = FOLDER / "paper.md"
STYLE = FOLDER / "paper.css"
SUPPLEMENT = "supplement.html"
# Every figure the paper can place: the records' plots and the figures that explain the mechanism.
DECLARED = {figure.key: figure for figure in (*figures.FIGURES, *explain_figures.EXPLAIN_FIGURES)}
TITLE = "What convolutional layers buy over fully connected networks: Fashion-MNIST and MNIST revisited"


@dataclass
class Built:
    html: str
    findings: str = ""  # the findings family as an HTML table, for the supplement
    failed: list[str] = field(default_factory=list)
    claims: list[dict] = field(default_factory=list)
    figures: int = 0
    words: int = 0
    notebook_findings: dict[str, str] = field(default_factory=dict)  # each notebook's paragraph (`notebook_findings`)
    context: SimpleNamespace | None = None  # what the text read: the notebooks' paragraphs read it too

    def claims_table(self) -> str:
        """The claims checked, each with the rule its predicate checks and whether it holds on this run."""
        rows = []
        for item in {item["claim"]: item for item in self.claims}.values():
            rows.append(
                f"<tr><td>{html.escape(item['claim'])}</td><td>{html.escape(item['rule'])}</td>"
                f"<td>{'yes' if item['holds'] else 'no'}</td></tr>"
            )
        return (
            '<table class="paper-claims"><thead><tr><th>claim</th><th>predicate, in words</th><th>holds</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>"
        )


class Renderer:
    """The Jinja2 functions the text calls: `holds`, `figure`, `fig`, and the tables."""

    def __init__(self, c: SimpleNamespace, drawn: Mapping[str, str]):
        self.c, self.drawn = c, drawn
        self.numbers = {key: index for index, key in enumerate(drawn, start=1)}
        self.checked: list[dict] = []
        self.placed: list[str] = []  # the figures the text placed, in its order

    def holds(self, key: str) -> bool:
        """Whether the declared claim holds on this run; the text prints its sentence when it does and what the run
        shows instead when it does not (`{% if holds("key") %}...{% else %}...{% endif %}`)."""
        declared = claims.BY_KEY.get(key)
        if declared is None:
            raise KeyError(f"The text names a claim {key!r} that convlab/paper/claims.py does not declare.")
        holds = claims.evaluate(declared, self.c)
        self.checked.append({"claim": key, "rule": declared.rule, "holds": holds})
        return holds

    def fig(self, key: str) -> str:
        if key not in DECLARED:
            raise KeyError(f"The text refers to a figure {key!r} that convlab/paper/figures.py does not declare.")
        if key not in self.numbers:
            raise LookupError(
                f"The text refers to figure {key!r}, which this run cannot draw: guard the sentence in "
                "convlab/paper/paper.md by what the run holds (`has`)."
            )
        return f'<a href="#figure-{self.numbers[key]}">Figure {self.numbers[key]}</a>'

    def figure(self, key: str) -> str:
        if key not in DECLARED:
            raise KeyError(f"The text places a figure {key!r} that convlab/paper/figures.py does not declare.")
        if key not in self.drawn:
            return ""
        self.placed.append(key)
        caption = html.escape(DECLARED[key].caption_for(self.c))
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

    def hypotheses_table(self) -> str:
        """The primary hypotheses as declared, their tests, and the seeds the power plan asked for on each dataset."""
        plan = self.c.plan
        rows = []
        for hypothesis in hypotheses.PRIMARY:
            if hypothesis.kind == "equivalence":
                test = f"two one-sided tests, ±{hypothesis.margin:g} points"
            elif hypothesis.kind == "interaction":
                test = "one-sided, paired by seed, on the difference of differences"
            else:
                test = "one-sided t test"
            cells = []
            for name, title in config.DATASET_TITLES.items():
                found = plan[(plan["hypothesis"] == hypothesis.key) & (plan["dataset"] == title)]
                cells.append(_planned(found.iloc[0].to_dict() if len(found) else {}, hypothesis, name))
            rows.append(
                f"<tr><td>{html.escape(hypothesis.statement)}</td><td>{test}</td><td>{cells[0]}</td><td>{cells[1]}</td></tr>"
            )
        head = "<tr><th>hypothesis</th><th>test</th><th>Fashion-MNIST: test, seeds planned</th><th>MNIST</th></tr>"
        return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"

    def _family_rule_table(self, table) -> str:
        chosen = self.c.rule.chosen or {}
        picked = (chosen.get("monitor"), chosen.get("patience"))
        rows = []
        for row in _family_rule_rows(table):
            mark = ' class="chosen"' if (row["monitor"], row["patience"]) == picked else ""
            rows.append(
                f"<tr{mark}><td>{protocol.MONITOR_WORDS[row['monitor']]}</td><td>{row['patience']}</td>"
                f"<td>{row['premature']} of {row['runs']}</td><td>{row['families']}</td>"
                f"<td>{row['epochs']:.1f}</td><td>{row['kept']:.2f}</td></tr>"
            )
        head = (
            "<tr><th>monitor</th><th>patience</th><th>premature stops</th><th>families with one (both datasets)</th>"
            "<th>mean epochs per run</th><th>kept validation accuracy (%)</th></tr>"
        )
        return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"

    def both_tested(self, key: str) -> bool:
        """Whether the run decided this primary hypothesis on both datasets."""
        return key in self.c.pf and key in self.c.pm

    def decided(self, key: str) -> str:
        """A primary hypothesis's decisions in words: "supported on both datasets", or each dataset's."""
        fashion, mnist = self.c.pf[key].decision.text, self.c.pm[key].decision.text
        return f"{fashion} on both datasets" if fashion == mnist else f"{fashion} on Fashion-MNIST and {mnist} on MNIST"

    def decisions_table(self) -> str:
        """Each primary test of the run: effect, interval, test, seeds, Holm-adjusted p, decision."""
        rows = []
        for hypothesis in hypotheses.PRIMARY:
            for name, title in config.DATASET_TITLES.items():
                names = self.c.pf if name == "fashion_mnist" else self.c.pm
                if hypothesis.key not in names:
                    continue
                d = names[hypothesis.key]
                rows.append(
                    f"<tr><td>{html.escape(hypothesis.statement)}</td><td>{title}</td><td>{d.diff} [{d.ci}] ({d.level})</td>"
                    f"<td>{d.test}, {d.seeds} seeds</td><td>{html.escape(str(d.holm))}</td>"
                    f"<td><strong>{d.decision}</strong></td></tr>"
                )
        head = (
            "<tr><th>hypothesis</th><th>dataset</th><th>effect [interval]</th><th>test</th><th>Holm p</th><th>decision</th></tr>"
        )
        return f'<table class="decisions"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'

    def rule_table(self) -> str:
        table = self.c.rule.table
        if table is None:
            return "<p><em>This run has no reference runs: the stopping rule cannot be measured on it.</em></p>"
        if self.c.rule.by_family:
            return self._family_rule_table(table)
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


def _family_rule_rows(table) -> list[dict]:
    """Each candidate rule over every family's long runs: premature stops, families touched, mean epochs, kept accuracy."""
    rows = []
    for (monitor, patience), group in table.groupby(["monitor", "patience"], sort=False):
        weights = group["runs"] / group["runs"].sum()
        rows.append(
            {
                "monitor": monitor,
                "patience": int(patience),
                "premature": int(group["premature stops"].sum()),
                "runs": int(group["runs"].sum()),
                "families": int((group["premature stops"] > 0).sum()),
                "epochs": float((group["mean epochs per run"] * weights).sum()),
                "kept": float((group["kept validation accuracy (%)"] * weights).sum()),
            }
        )
    return rows


def _finding_cell(text: values.ComparisonText) -> str:
    result = text.result
    if result.test == "McNemar":
        return f"{text.diff}"
    return f"{text.diff} [{text.ci}], {text.verdict}"


def _planned(row: Mapping, hypothesis, dataset: str) -> str:
    """A plan's cell: the test it declared and the seeds it asked for, or why it asked for none."""
    test = "paired" if hypotheses.paired_on(hypothesis, dataset) else "Welch"
    needed = row.get("seeds needed")
    if isinstance(needed, int | float) and needed == needed:
        return f"{test}, {int(needed)}"
    if isinstance(needed, str) and needed.startswith("more than"):
        return f"{test}, out of reach"
    return f"{test}, no records to plan from"


def draw(c: SimpleNamespace, root: Path) -> dict[str, str]:
    """Every figure this run can draw, as data URIs, in the paper's order."""
    data: dict[str, object] = {name: test for name, test in c.tests.items() if test is not None}
    data["findings"] = c.results
    for name in c.runs:
        model_file = holding.cnn_model_file(root, name)
        if model_file is not None:
            data[f"{name}:cnn_model"] = model_file
    drawn = {}
    for declared in DECLARED.values():
        figure = declared.draw(c.runs, data)
        if figure is not None:
            drawn[declared.key] = figure_style.png_data_uri(figure)
    return drawn


def render(root: Path, datasets: Sequence[str], studies: Mapping, stamp: str) -> Built:
    """The paper as one HTML page, with the claims it checked and those that failed."""
    import mistune

    c = context.context(root, datasets, studies)
    drawn = draw(c, root)
    source = TEXT.read_text(encoding="utf-8")
    placed = re.findall(r'figure\("([\w-]+)"\)', source)  # the text's order numbers the figures
    unplaced = sorted(set(DECLARED) - set(placed))
    if unplaced:
        raise KeyError(f"convlab/paper/figures.py declares figures the text never places: {', '.join(unplaced)}.")
    # Twice: the first rendering finds which figures the run's sections place, the second numbers exactly those.
    first = Renderer(c, {key: drawn[key] for key in placed if key in drawn})
    render_fragment(source, c, first, stamp=stamp, supplement=SUPPLEMENT)
    renderer = Renderer(c, {key: drawn[key] for key in first.placed})
    text = render_fragment(source, c, renderer, stamp=stamp, supplement=SUPPLEMENT)
    body = mistune.create_markdown(escape=False, plugins=["table"])(text)
    style = STYLE.read_text(encoding="utf-8")
    page = (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(TITLE)}</title>\n'
        f"<style>\n{style}\n</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )
    words = len(_plain_text(body).split())
    failed = [item["claim"] for item in renderer.checked if not item["holds"]]
    findings = renderer.findings_table()
    if len(c.primary):
        findings = (
            "<p>The primary hypotheses, decided with Holm's correction among themselves (the paper's Table 4):</p>"
            + renderer.decisions_table()
            + "<p>Every other difference, an exploratory estimate with its 95% interval:</p>"
            + findings
        )
    return Built(page, findings, failed, renderer.checked, len(renderer.numbers), words, context=c)


def render_fragment(source: str, c: SimpleNamespace, renderer: Renderer, **extra) -> str:
    """Jinja2-Markdown over the paper's context: the names the run lacks stop the rendering with a clear error."""
    import jinja2

    for names in (c.fm, c.mn, c.cf, c.cm, c.p):
        names.strict = True  # a name the run lacks stops the build: the text must not print it
    c.section.restart()
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
    try:
        return environment.from_string(source).render(
            c=c,
            fm=c.fm,
            mn=c.mn,
            cf=c.cf,
            cm=c.cm,
            holds=renderer.holds,
            has=c.has,
            fig=renderer.fig,
            figure=renderer.figure,
            findings_table=renderer.findings_table,
            rule_table=renderer.rule_table,
            hypotheses_table=renderer.hypotheses_table,
            both_tested=renderer.both_tested,
            decided=renderer.decided,
            decisions_table=renderer.decisions_table,
            **extra,
        )
    except (jinja2.UndefinedError, AttributeError, KeyError) as error:
        raise LookupError(
            f"The text prints a value this run's records do not give ({error}): guard its sentence by what the run "
            "holds (`has`), so that it fits every run."
        ) from error


def _plain_text(body: str) -> str:
    without_figures = re.sub(r"<img[^>]*>", " ", body)
    return html.unescape(re.sub(r"<[^>]+>", " ", without_figures))


def stamp_line(root: Path, datasets: Sequence[str], state: dict, built: datetime | None = None) -> str:
    built = built or datetime.now(UTC)
    profile = ""
    from convlab.store import runlog

    for dataset in datasets:
        stored = runlog.read(root / dataset)
        if stored.get("parameters"):
            profile = str(stored["parameters"].get("profile", ""))
    dirty = ", working tree modified" if state.get("dirty") else ""
    return (
        f"Built {built:%Y-%m-%d %H:%M} UTC from commit {html.escape(state.get('commit', 'unknown')[:12])}{dirty}; "
        f"profile {html.escape(profile or 'auto')}."
    )
