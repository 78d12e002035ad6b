"""The paper fits every run: rendered from record sets shaped like each profile's (quick, full, gpu), it prints no
"nan", no "n/a" and no failed-claim marker, names the seeds it has, and leaves out the chapters the run lacks."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from convlab.paper import build, figure_style, notebook_findings
from convlab.report import doccheck, report
from convlab.study import config, hypotheses, manifest, paths, profiles

PUBLISHED = paths.REPORTS_DIR / "published"
CARRIED = paths.REPORTS_DIR / "carried"  # the protocol's records of a full run in progress, where there is one
QUICK_MODELS = ("fc_baseline", "cnn", "cnn_k5", "cnn_k7")
DEFECTS = re.compile(r"\b[Nn]a[Nn]\b|n/a|fails on this run|\bNone\b|\[claim")


def _quick(source: Path, target: Path) -> None:
    """Seed 0 of the studies' models and the serving record: what `make report` (quick) writes."""
    target.mkdir(parents=True)
    for name in QUICK_MODELS:
        shutil.copy2(source / f"{name}-seed0.json", target / f"{name}-seed0.json")
    if (source / "serving").is_dir():
        shutil.copytree(source / "serving", target / "serving")


def _reseeded(path: Path, seed: int, into: Path) -> None:
    record = json.loads(path.read_text(encoding="utf-8"))
    record["seed"] = seed
    name = re.sub(r"seed\d+", f"seed{seed}", path.name)
    (into / name).write_text(json.dumps(record), encoding="utf-8")


def _gpu(source: Path, target: Path) -> None:
    """The full run's records with seeds 3 and 4 added (copies of seeds 1 and 2): the gpu profile's shape."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("claims"))
    for folder in (target, target / "probes", *sorted((target / "protocol").glob("*"))):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*-seed[12].json")):
            _reseeded(path, int(path.stem[-1]) + 2, folder)


def _full(source: Path, target: Path) -> None:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("claims"))


def _by_power(source: Path, target: Path) -> None:
    """The full profile's design: each primary model on the seeds the power plan gives it on this dataset (copies of
    seeds 0 to 2 beyond the third), the exploratory models on three, 7×7 in both layers not trained; every family's
    long run as notebook 12 trained it (the carried records of a full run in progress, else the published ones), and
    every training stopped by the declared rule (the shift-augmented models by the long runs' own)."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("claims", "cnn_k7-7-seed*"))
    dataset = target.parent.name
    for name in hypotheses.primary_models():
        for seed in hypotheses.seeds_for_model(name, profiles.PROFILES["full"].seeds, dataset)[3:]:
            original = target / f"{name}-seed{seed % 3}.json"
            if original.exists():  # the published run has no locally connected twin
                _reseeded(original, seed, target)
    carried = CARRIED / dataset / "results" / "protocol"
    if carried.is_dir():
        shutil.rmtree(target / "protocol")
        shutil.copytree(carried, target / "protocol")
    else:
        _family_long_runs(target / "protocol")
    for path in target.glob("*-seed*.json"):
        record = json.loads(path.read_text(encoding="utf-8"))
        augmented = bool(record["model"].get("shift_augmentation"))
        record["parameters"] |= {
            "monitor": profiles.MONITOR,
            "patience": profiles.AUGMENTED_PATIENCE if augmented else profiles.PATIENCE,
            "also_wait_for": "val_accuracy" if augmented else "",
        }
        path.write_text(json.dumps(record), encoding="utf-8")


# Every family's long-patience run, as notebook 12 now trains them: (stored name, base record, what differs)
LONG_RUNS = (
    ("fc_baseline_shift4", "fc_baseline", {"shift_augmentation": 4}),
    ("fc_baseline_perm0", "fc_baseline", {"pixel_permutation": 0}),
    ("cnn_k7", "cnn", {"kernel_sizes": [7, 3]}),
    ("cnn_gap", "cnn", {"head": "gap"}),
    ("cnn_avgpool", "cnn", {"pooling": "average"}),
    ("cnn_shift4", "cnn", {"shift_augmentation": 4}),
    ("cnn_perm0", "cnn", {"pixel_permutation": 0}),
    ("cnn_local1", "cnn", {"locally_connected": 1}),
)


def _family_long_runs(protocol: Path) -> None:
    """Seed 0 of every family's long run (copies of the FC network's or the CNN's), and the GAP head's at 3e-3."""
    for name, base, changed in LONG_RUNS:
        record = json.loads((protocol / f"{base}-seed0.json").read_text(encoding="utf-8"))
        record["model"] = record["model"] | changed | {"name": name}
        (protocol / f"{name}-seed0.json").write_text(json.dumps(record), encoding="utf-8")
    faster = json.loads((protocol / "cnn_gap-seed0.json").read_text(encoding="utf-8"))
    faster["parameters"]["learning_rate"] = 0.003
    (protocol / "lr0.003").mkdir()
    (protocol / "lr0.003" / "cnn_gap-seed0.json").write_text(json.dumps(faster), encoding="utf-8")


def _not_rasterised(figure) -> str:
    import matplotlib.pyplot as plt

    plt.close(figure)
    return "data:image/png;base64,"


SHAPES = {"quick": _quick, "full": _full, "gpu": _gpu, "by power": _by_power}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Each profile's paper, its figures drawn but not rasterised (the text is what is checked here)."""
    papers = {}
    patch = pytest.MonkeyPatch()
    patch.setattr(figure_style, "png_data_uri", _not_rasterised)
    try:
        for shape, make in SHAPES.items():
            root = tmp_path_factory.mktemp(shape)
            for dataset in config.DATASETS:
                make(PUBLISHED / dataset / "results", root / dataset / "results")
            paper = build.render(root, config.DATASETS, report.studies(), "Built for a test.")
            papers[shape] = notebook_findings.attach(paper)
    finally:
        patch.undo()
    return papers


def _text(built) -> str:
    """What a reader reads: the page's main part as plain text."""
    return build._plain_text(built.html.split("<main>", 1)[1])


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_profiles_paper_prints_no_missing_value_and_no_failed_claim_marker(rendered, shape):
    text = _text(rendered[shape])
    assert not DEFECTS.findall(text), sorted({match.group(0) for match in DEFECTS.finditer(text)})
    assert doccheck.figure_problems(rendered[shape].html) == [], "every figure placed is numbered in order and referenced"


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_notebooks_findings_paragraph_fits_the_run_and_shares_the_papers_verdicts(rendered, shape):
    paper = rendered[shape]
    assert set(paper.notebook_findings) == set(manifest.per_dataset()) | set(manifest.across_datasets())
    for notebook, text in paper.notebook_findings.items():
        assert not DEFECTS.findall(text), (notebook, text)
    verdicts = {}
    for item in paper.claims:  # the paper's sentences and the notebooks' paragraphs: one verdict per claim
        assert verdicts.setdefault(item["claim"], item["holds"]) == item["holds"], item["claim"]


def test_the_quick_paper_says_it_has_one_seed_and_what_the_full_profile_adds(rendered):
    text = _text(rendered["quick"]).split("References")[0]  # the list and the box after it name every profile
    assert "one seed" in text and "three seeds" not in text
    assert re.search(r"make report PROFILE=full\s+adds seeds from a power calculation \(5 to 7 for each model", text)
    for left_out in ("4.4 Where the advantage comes from", "Every comparison", "Welch"):
        assert left_out not in text
    assert "McNemar" in text
    assert "4.1 The CNN against the FC network" in text and "4.2 Kernel size" in text, "sections numbered without gaps"


def test_the_full_and_gpu_papers_name_their_seeds(rendered):
    assert "three seeds" in _text(rendered["full"])
    assert "4.2 The primary hypotheses" in _text(rendered["full"]), "4.1 is the studies' protocol"
    assert "4.3 The CNN against the FC network" in _text(rendered["full"])
    gpu = _text(rendered["gpu"]).split("Reproduce this")[0]
    assert "five seeds" in gpu and "three seeds" not in gpu


def test_a_run_seeded_by_power_says_so_and_what_it_left_untrained(rendered):
    text = _text(rendered["by power"])
    assert f"or the first {hypotheses.MIN_PRIMARY_SEEDS} or more of them where the power plan" in text
    assert "7×7 in both layers, several times the CNN's arithmetic on Fashion-MNIST, is not trained" in text
    assert "5×5, 5×5 and 7×7, 7×7" not in text and "(5×5, 5×5)" in text
    if CARRIED.is_dir():
        assert "The rule was measured, not assumed. For each dataset we trained one seed of every family of models" in text
        assert "10 families, 20 runs over both datasets" in text and "GAP head, slow to learn" in text
    else:
        assert "The rule was measured, not assumed. For each dataset we trained every family of models on 1 to 3 seeds" in text
        assert "10 families, 28 runs over both datasets" in text and "GAP head, slow to learn" in text
    assert "or 7×7, is not" not in _text(rendered["full"]) and "is not trained" not in _text(rendered["full"])


def test_the_published_runs_claims_all_hold(rendered):
    assert rendered["full"].failed == []


def test_a_run_stopped_by_the_chosen_rule_says_which_models_train_by_the_long_runs_rule(rendered):
    text = _text(rendered["by power"])
    chosen = f"validation loss, patience {profiles.PATIENCE}, the rule every training of this run used but the shift-augmented"
    assert chosen in text
    assert "the chosen rule would have stopped each of their long runs more than 2% above its lowest validation loss" in text
    assert f"They train with the long runs' own rule: patience {profiles.AUGMENTED_PATIENCE}" in text
    assert "shift-augmented models were left out" not in _text(rendered["full"]), "the published run has no such rule"
