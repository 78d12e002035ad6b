"""Every caption says what its figure draws: which seed, how many seeds, a mean or each seed. Each figure notes what
its marks are drawn from (`figure_style.drew`); drawn from record sets shaped like the published run (three seeds)
and like the quick profile's (seed 0), each caption is held against that note."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from convlab.paper import build, context, holding
from convlab.study import config, paths, studies

PUBLISHED = paths.REPORTS_DIR / "published"
QUICK_MODELS = ("fc_baseline", "cnn", "cnn_k5", "cnn_k7")


def _quick(root: Path) -> Path:
    for dataset in config.DATASETS:
        target = root / dataset / "results"
        target.mkdir(parents=True)
        for name in QUICK_MODELS:
            shutil.copy2(PUBLISHED / dataset / "results" / f"{name}-seed0.json", target / f"{name}-seed0.json")
    return root


def _drawn(root: Path):
    """Each figure the run draws: its key, its caption for this run, and what it noted it drew."""
    c = context.context(root, config.DATASETS, studies.published())
    data: dict[str, object] = {name: test for name, test in c.tests.items() if test is not None}
    data["findings"] = c.results
    for name in c.runs:
        if (model_file := holding.cnn_model_file(root, name)) is not None:
            data[f"{name}:cnn_model"] = model_file
    found = []
    for declared in build.DECLARED.values():
        figure = declared.draw(c.runs, data)
        if figure is None:
            continue
        found.append((declared.key, declared.caption_for(c), getattr(figure, "convlab_drawn", [])))
        plt.close(figure)
    return found


@pytest.fixture(scope="module", params=["published", "quick"])
def drawn(request, tmp_path_factory):
    root = PUBLISHED if request.param == "published" else _quick(tmp_path_factory.mktemp("quick"))
    return request.param, _drawn(root)


def disagreements(caption: str, facts: list[dict]) -> list[str]:
    """Where a caption and what its figure noted it drew disagree (empty when they agree)."""
    found = []
    one_seed = re.search(r"\bseed (\d+)\b", caption)
    if one_seed and not all(fact["seeds"] == [int(one_seed.group(1))] for fact in facts):
        found.append(f"names seed {one_seed.group(1)}, draws {[fact['seeds'] for fact in facts]}")
    counted = re.search(r"over the (\d+) seeds", caption)
    means = [fact for fact in facts if fact["mean"]]
    if counted and not (means and all(len(fact["seeds"]) == int(counted.group(1)) for fact in means)):
        found.append(f"names {counted.group(1)} seeds, means over {[len(fact['seeds']) for fact in means]}")
    if (re.search(r"\bmeans?\b", caption) is not None) != bool(means):
        found.append("says mean" if means == [] else "draws means it does not name")
    says_each = re.search(r"single seeds|one line per seed|range of the seeds", caption) is not None
    draws_each = any(fact["each_seed"] for fact in facts) or (bool(means) and "range of the seeds" in caption)
    if says_each != draws_each:
        found.append("names each seed's mark" if says_each else "draws each seed without saying so")
    return found


def test_each_caption_says_what_its_figure_draws(drawn):
    shape, figures = drawn
    assert len(figures) >= (4 if shape == "quick" else 8)
    for key, caption, facts in figures:
        if key == "architecture":  # configurations, not trained runs
            continue
        assert facts, f"{key}: the figure notes nothing it drew"
        assert disagreements(caption, facts) == [], (shape, key, caption)


def test_a_caption_written_for_another_run_fails_the_check(drawn, tmp_path):
    """Not vacuous: the captions worded for the other shape of run, set beside this run's drawings, disagree."""
    shape, figures = drawn
    other = context.context(PUBLISHED if shape == "quick" else _quick(tmp_path), config.DATASETS, studies.published())
    mismatched = [
        key for key, _, facts in figures if key != "architecture" and disagreements(build.DECLARED[key].caption_for(other), facts)
    ]
    assert len(mismatched) >= 2, mismatched
