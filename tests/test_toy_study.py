"""A new experiment is one notebook, one manifest entry, its parameter's declaration, its analysis module, its
figure's caption and its tests. The toy study is added here to a copy of the repository, file by file as a
maintainer would; `TOY_FILES` is every file it touches, and `git status` in the copy shows nothing else changed.
Its parameters cell and the docs' parameter table are written by `python -m convlab.study.parameters`, and it then
runs through the pipeline that `make report` calls, is checked before anything runs, and joins the report."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import nbformat
import pytest

from convlab.study import paths

TOY_FILES = {
    "notebooks/13_toy.ipynb": "the notebook (its parameters cell written by python -m convlab.study.parameters cells)",
    "convlab/study/manifest.py": "its entry: parameters, what it writes, its figure",
    "convlab/study/parameters.py": "its own parameter: type, default, help, check, make variable, smoke value",
    "convlab/analysis/toy.py": "its analysis module",
    "convlab/figures/captions.py": "its figure's caption",
    "docs/running.md": "the parameter table, as python -m convlab.study.parameters table prints it",
    "tests/test_toy.py": "its tests",
}
ENTRY = """    Notebook(
        "13_toy",
        (*WHERE, "toy_value", *OUTPUTS),
        writes=("results/toy-seed*.json",),
        figures=("toy_doubled",),
    ),
"""
PARAMETER = """    Parameter("toy_value", "int", 3, "the toy's value", _checked_int("toy_value", 1), make="TOY_VALUE", smoke="2"),
"""
CAPTION = """    "toy_doubled": Caption("The toy's value, doubled.", "One bar."),
"""
ANALYSIS = '''"""The toy study's analysis."""


def doubled(value: int) -> int:
    return 2 * value
'''
TEST = """from convlab.analysis import toy


def test_doubled():
    assert toy.doubled(2) == 4
"""
CODE = """import json
from pathlib import Path

import matplotlib.pyplot as plt

from convlab.analysis import toy
from convlab.figures import plots
from convlab.study import config

value = toy.doubled(config.as_int("toy_value", toy_value, 1))
results = Path(output_dir) / "results"
results.mkdir(parents=True, exist_ok=True)
(results / "toy-seed0.json").write_text(json.dumps({"value": value}))
figure, axis = plt.subplots()
axis.bar([0], [value])
plots.save(figure, Path(images_dir) / dataset / "13_toy", "toy_doubled")
print(value)"""


def insert_before(path, anchor: str, text: str) -> None:
    source = path.read_text(encoding="utf-8")
    assert source.count(anchor) == 1, anchor
    path.write_text(source.replace(anchor, text + anchor), encoding="utf-8")


@pytest.fixture(scope="module")
def toy_repository(tmp_path_factory):
    """A copy of the repository's tracked files, committed, with the toy study added to it."""
    copy = tmp_path_factory.mktemp("repository")
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=paths.PROJECT_DIR, capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        source, target = paths.PROJECT_DIR / name, copy / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        elif source.is_file():
            shutil.copy2(source, target)
    git = ["git", "-c", "user.name=toy", "-c", "user.email=toy@example.invalid"]
    subprocess.run([*git, "init", "-q"], cwd=copy, check=True)
    subprocess.run([*git, "add", "-A"], cwd=copy, check=True)
    subprocess.run([*git, "commit", "-qm", "before the toy study"], cwd=copy, check=True)

    insert_before(copy / "convlab/study/manifest.py", '    Notebook(\n        "10_dataset_comparison",', ENTRY)
    insert_before(copy / "convlab/study/parameters.py", ")  # fmt: skip\nBY_NAME", PARAMETER)
    insert_before(copy / "convlab/figures/captions.py", '    "protocol_trajectories": Caption(', CAPTION)
    (copy / "convlab/analysis/toy.py").write_text(ANALYSIS, encoding="utf-8")
    (copy / "tests/test_toy.py").write_text(TEST, encoding="utf-8")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# 13 · Toy"), nbformat.v4.new_code_cell(""), nbformat.v4.new_code_cell(CODE)]
    notebook.cells[1].metadata["tags"] = ["parameters"]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, copy / "notebooks/13_toy.ipynb")
    in_copy(copy, "-m", "convlab.study.parameters", "cells")
    table = in_copy(copy, "-m", "convlab.study.parameters", "table").stdout.strip()
    docs = copy / "docs/running.md"
    text = docs.read_text(encoding="utf-8")
    start = text.index("| make variable | notebook parameter (notebooks) |")
    docs.write_text(text[:start] + table + text[text.index("\n\nMake variables of the run itself:") :], encoding="utf-8")
    return copy


def in_copy(copy, *arguments: str, check: bool = True) -> subprocess.CompletedProcess:
    """Python run in the copy, which it imports convlab from."""
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, *arguments], cwd=copy, env=environment, capture_output=True, text=True, timeout=600, check=check
    )


def test_the_toy_study_touches_only_its_own_files(toy_repository):
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"], cwd=toy_repository, capture_output=True, text=True, check=True
    ).stdout
    touched = {line[3:] for line in status.splitlines()}
    assert touched == set(TOY_FILES), "\n".join(f"{name}: {why}" for name, why in TOY_FILES.items())


@pytest.mark.slow  # about 20 s: a pipeline, a kernel and pytest in the copy (tests/test_manifest.py runs new notebooks fast)
def test_the_toy_study_is_declared_made_checked_and_run(toy_repository, tmp_path):
    made = subprocess.run(["make", "-n", "report", "TOY_VALUE=4"], cwd=toy_repository, capture_output=True, text=True)
    assert '-p toy_value "4"' in made.stdout, made.stdout + made.stderr
    arguments = ["-m", "convlab.run.pipeline", "--datasets", "mnist", "--notebooks", "13_toy", "--no-progress"]
    arguments += ["--output-root", str(tmp_path / "reports"), "-p", "images_dir", str(tmp_path / "images")]
    refused = in_copy(toy_repository, *arguments, "-p", "toy_value", "0", check=False)
    assert refused.returncode == 1 and "toy_value" in refused.stderr and not (tmp_path / "reports").exists()
    ran = in_copy(toy_repository, *arguments, "-p", "toy_value", "5", check=False)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert json.loads((tmp_path / "reports/mnist/results/toy-seed0.json").read_text()) == {"value": 10}
    assert (tmp_path / "images/mnist/13_toy/toy_doubled.png").is_file()
    suites = ["tests/test_toy.py", "tests/test_parameters.py", "-k", "toy or cell or docs or declared"]
    tests = in_copy(toy_repository, "-m", "pytest", "-q", "-p", "no:cacheprovider", *suites, check=False)
    assert tests.returncode == 0, tests.stdout[-3000:]
