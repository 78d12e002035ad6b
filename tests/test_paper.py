"""The paper: its text, claims and figures declared once and used exactly; its statistics; the published copy."""

from __future__ import annotations

import html
import json
import math
import re

import numpy as np
import pytest

from convlab.analysis import stats
from convlab.paper import build, claims, family, runs, values
from convlab.study import paths
from convlab.training import models

TEXT = build.TEXT.read_text(encoding="utf-8")
PUBLISHED = paths.REPORTS_DIR / "published"


def test_every_claim_the_text_names_is_declared_and_every_declared_claim_is_used():
    named = set(re.findall(r'holds\("([\w-]+)"\)', TEXT))
    assert named == set(claims.BY_KEY), named ^ set(claims.BY_KEY)
    assert len(claims.BY_KEY) == len(claims.CLAIMS), "claim keys are unique"


def test_every_figure_is_declared_placed_once_and_at_most_twelve():
    placed = re.findall(r'figure\("([\w-]+)"\)', TEXT)
    assert sorted(placed) == sorted(build.DECLARED) and len(placed) == len(set(placed))
    assert len(build.DECLARED) <= 12
    for key in re.findall(r'fig\("([\w-]+)"\)', TEXT):
        assert key in build.DECLARED, key


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (models.fc_baseline_config("fashion_mnist"), 109_386),
        (models.cnn_config("fashion_mnist"), 220_234),
        (models.fc_baseline_config("mnist"), 101_770),
        (models.cnn_config("mnist"), 121_930),
        (models.cnn_config("mnist", 7), 86_346),
        (models.cnn_config("mnist", 5, 5), 118_346),
        (models.variant(models.cnn_config("fashion_mnist"), head="gap"), 23_626),
    ],
)
def test_the_printed_parameter_arithmetic_is_the_keras_count(config, expected):
    terms = values.parameter_terms(config.to_dict())
    assert sum(count for _, count in terms) == expected == models.build_model(config).count_params()
    assert values.arithmetic(config.to_dict()).endswith(f"= {expected:,}")


def _run(name: str, groups: dict[str, list[float]]) -> runs.DatasetRun:
    """A dataset's run with records that hold only what the family reads: accuracy per seed."""
    made = {
        model: [{"seed": seed, "test": {"accuracy": value / 100}} for seed, value in enumerate(accuracies)]
        for model, accuracies in groups.items()
    }
    return runs.DatasetRun(name=name, title=name, groups=made, reference={})


def test_exploratory_estimates_carry_their_interval_and_no_verdict():
    fashion = _run("fashion_mnist", {"cnn": [90.9, 90.0, 91.2], "fc_baseline": [87.3, 88.0, 87.3], "cnn_k5": [90.4, 89.6, 90.0]})
    mnist = _run("mnist", {"cnn": [99.0, 98.9, 99.1], "fc_baseline": [97.6, 97.6, 97.8], "cnn_k5": [99.2, 98.6, 99.0]})
    found = family.findings({"fashion_mnist": fashion, "mnist": mnist})
    assert set(found) == {(d, k) for d in ("fashion_mnist", "mnist") for k in ("cnn_vs_fc", "k5_vs_k3")}
    for result in found.values():
        assert math.isnan(result.holm_p) and not result.resolved, "an estimate is not tested within any family"
        low, high = stats.welch_difference_interval(
            np.array(
                [
                    r["test"]["accuracy"]
                    for r in (fashion if result.dataset == "fashion_mnist" else mnist).groups[BY[result.key][0]]
                ]
            )
            * 100,
            np.array(
                [
                    r["test"]["accuracy"]
                    for r in (fashion if result.dataset == "fashion_mnist" else mnist).groups[BY[result.key][1]]
                ]
            )
            * 100,
        )
        assert (result.low, result.high) == pytest.approx((low, high))
        expected = "interval above zero" if low > 0 else "interval below zero" if high < 0 else "interval across zero"
        assert result.verdict == expected
    assert found[("mnist", "cnn_vs_fc")].verdict == "interval above zero"
    assert found[("mnist", "k5_vs_k3")].verdict == "interval across zero"


BY = {comparison.key: (comparison.changed, comparison.original) for comparison in family.COMPARISONS}


def test_mcnemar_tests_join_the_family_per_seed():
    labels = np.arange(100) % 10
    fc = np.where(np.arange(100) < 70, labels, (labels + 1) % 10)  # 70 right
    cnn = np.where(np.arange(100) < 95, labels, (labels + 1) % 10)  # 95 right, a superset of the FC's
    made = runs.DatasetRun(
        "mnist",
        "MNIST",
        {
            "cnn": [{"seed": 0, "test": {"accuracy": 0.95, "predictions": cnn.tolist()}}],
            "fc_baseline": [{"seed": 0, "test": {"accuracy": 0.70, "predictions": fc.tolist()}}],
        },
        {},
    )
    found = family.findings({"mnist": made}, lambda name: labels)
    test = found[("mnist", "cnn_vs_fc_seed0")]
    assert test.test == "McNemar" and test.difference == pytest.approx(25.0) and test.resolved
    assert math.isnan(found[("mnist", "cnn_vs_fc")].p), "one seed: no Welch test, so no verdict across seeds"
    assert ("mnist", "cnn_vs_fc_seed0") not in family.findings({"mnist": made}, lambda name: None), "no labels, no McNemar"


def test_a_value_the_run_lacks_reads_as_missing_and_its_claim_fails():
    context = type("C", (), {})()
    context.fm, context.mn = values.Names(), values.Names()
    context.cf, context.cm = values.Names(), values.Names()
    context.mcnemar, context.serving = [], {}
    context.rule = type("R", (), {"chosen": None, "premature": {}})()
    assert str(context.fm.cnn_accuracy) == "n/a" and math.isnan(context.fm.cnn_accuracy.raw)
    assert all(not claims.evaluate(claim, context) for claim in claims.CLAIMS), "no claim holds on no records"
    strict = values.Names()
    strict.strict = True
    with pytest.raises(AttributeError, match="records do not give it"):
        _ = strict.cnn_accuracy


def test_the_data_efficiency_interval_holds_its_estimate():
    def group(accuracy: float, spread: float, seeds: int = 3) -> list[dict]:
        return [{"seed": s, "test": {"accuracy": (accuracy + spread * (s - 1)) / 100}} for s in range(seeds)]

    sizes = (300, 1_000, 3_000, 10_000, 60_000)
    made = runs.DatasetRun(
        "mnist",
        "MNIST",
        {},
        {},
        curves={
            "FC": {n: group(a, 0.1) for n, a in zip(sizes, (84.0, 89.0, 92.0, 95.0, 97.6), strict=True)},
            "CNN": {n: group(a, 0.1) for n, a in zip(sizes, (89.0, 94.0, 96.5, 97.9, 99.0), strict=True)},
        },
    )
    measured = values.efficiency_interval(made)
    assert measured["ratio_low"] <= measured["ratio"] <= measured["ratio_high"]
    assert 60_000 / 10_000 < measured["ratio"] < 60_000 / 3_000
    wide = runs.DatasetRun(
        "mnist", "MNIST", {}, {}, curves={m: {n: group(97.0 if n == 60_000 else 90.0, 3.0) for n in sizes} for m in ("FC", "CNN")}
    )
    assert math.isnan(values.efficiency_interval(wide)["ratio_low"]), "an interval the curves cannot bound is open, not invented"


def test_the_claims_listed_in_the_published_supplement_all_hold():
    """Every claim the published paper checks holds; the only declared claims it does not check are those whose
    sentences stand on a branch this run does not take (latency measured under load is not compared; its stopping
    rule was measured on the FC network's and the CNN's long runs alone, not on every family's)."""
    about = json.loads((PUBLISHED / "report.json").read_text(encoding="utf-8"))
    assert about["paper"]["failed_claims"] == []
    assert about["pdf_pages"] <= 20 and about["paper"]["figures"] <= 12
    supplement = (PUBLISHED / "supplement.html").read_text(encoding="utf-8")
    listed = re.findall(r"<tr><td>([\w-]+)</td><td>[^<]*</td><td>(yes|no)</td></tr>", supplement)
    assert {holds for _, holds in listed} == {"yes"} and about["paper"]["claims"] == len(listed)
    every_family = {"rule_as_chosen", "no_long_run_at_cap", "gap_rate_chosen_on_validation", "augmented_rule_needed"}
    assert set(claims.BY_KEY) - {key for key, _ in listed} == {"latency_same_order"} | every_family


def test_the_published_paper_has_its_shape():
    paper = (PUBLISHED / "report.html").read_text(encoding="utf-8")
    abstract = re.search(r'<div class="abstract">(.*?)</div>', paper, re.DOTALL).group(1)
    words = html.unescape(re.sub(r"<[^>]+>", " ", abstract)).split()
    assert len(words) <= 201, "at most 200 words after the label"
    headings = re.findall(r"<h2[^>]*>(.*?)</h2>", paper)
    expected = [
        "1 Introduction",
        "2 Data",
        "3 Methods",
        "4 Results",
        "5 Deployment",
        "6 Limitations",
        "7 Conclusions",
        "References",
        "Reproduce this",
    ]
    assert headings == expected
    for reference in ("Xiao", "LeCun", "Adam", "Welch", "Holm", "McNemar"):
        assert reference in paper.split("References", 1)[1], reference
    assert 'href="supplement.html"' in paper
    numbers = re.findall(r'<figure id="figure-(\d+)"', paper)
    assert numbers == [str(n) for n in range(1, len(numbers) + 1)]


def test_no_notebook_imports_what_the_notebook_key_leaves_out():
    """`staleness.notebook_key` hashes the convlab source a notebook can import; what it leaves out (the paper, the
    report's builder) must not be importable from a notebook's code, or a change there would not re-run it; the one
    exception is the findings paragraph, which the report renders again from the finished run."""
    import nbformat

    from convlab.run import staleness
    from convlab.study import manifest

    left_out = {name.removesuffix(".py").replace("/", ".") for name in staleness.NOT_IMPORTED_BY_NOTEBOOKS}
    assert "run.pipeline" in left_out and "paper" in staleness.NOT_IMPORTED_FOLDERS
    pattern = re.compile(r"\b(?:from convlab(?:\.([\w.]+))? import ([\w, ]+)|import convlab\.([\w.]+))")
    for name in manifest.names():
        code = "\n".join(
            cell.source for cell in nbformat.read(manifest.entry(name).path, as_version=4).cells if cell.cell_type == "code"
        )
        for package, imported, dotted in pattern.findall(code):
            modules = (
                {dotted} if dotted else {f"{package}.{part.strip()}" if package else part.strip() for part in imported.split(",")}
            )
            assert not modules & left_out, (name, modules & left_out)
            kept_out = {module.split(".")[0] for module in modules if module not in staleness.RENDERED_AGAIN}
            assert not kept_out & set(staleness.NOT_IMPORTED_FOLDERS), (name, modules)


def test_a_run_reads_only_the_records_of_its_newest_test_set():
    """A subset run's CNN left beside the FC network of a newer run on the full data is not compared with it."""
    from convlab.paper import runs

    def record(name, test_size, created):
        digest = {"x_test": f"x{test_size}", "y_test": f"y{test_size}"}
        return {"model": {"name": name}, "seed": 0, "created": created, "dataset": {"test_size": test_size, "sha256": digest}}

    groups = {
        "cnn": [record("cnn", 500, "2026-01-01T10:00:00+00:00")],
        "fc_baseline": [record("fc_baseline", 10000, "2026-01-02T10:00:00+00:00")],
    }
    assert list(runs.newest_test_set(groups)) == ["fc_baseline"]
    groups["cnn"].append(record("cnn", 10000, "2026-01-03T10:00:00+00:00") | {"seed": 1})
    kept = runs.newest_test_set(groups)
    assert {name: [r["seed"] for r in group] for name, group in kept.items()} == {"cnn": [1], "fc_baseline": [0]}
    assert runs.newest_test_set({}) == {}
