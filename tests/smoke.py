"""The notebook smoke run: its parameters, which notebooks run on which dataset, and the processes running them.

Every notebook runs on both datasets except 09 (on Fashion-MNIST), 06 (SageMaker, mode local)
and 08 (on MNIST) (their code does not depend on the dataset; splitting them
balances the two parallel runs), then the cross-dataset notebook 10 on the records of both.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from convlab.study import config, manifest, parameters

SMOKE = parameters.smoke_values()  # each parameter's smoke value, declared with it
ON_ONE_DATASET = {
    "06_sagemaker_deploy": "mnist",
    "08_pixel_permutation": "mnist",
    "09_efficiency": "fashion_mnist",
}
SMOKE_NOTEBOOKS = {
    dataset: tuple(notebook for notebook in manifest.per_dataset() if ON_ONE_DATASET.get(notebook, dataset) == dataset)
    for dataset in config.DATASETS
}


def pipeline_process(*arguments: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "convlab.run.pipeline", *arguments], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def parameter_arguments(root: Path, data_dir: Path) -> list[str]:
    """The smoke run's `-p NAME VALUE` arguments (figures under `root/images`)."""
    arguments = [argument for name, value in SMOKE.items() for argument in ("-p", name, value)]
    return arguments + ["-p", "data_dir", str(data_dir), "-p", "images_dir", str(root / "images")]


# Where a finished smoke run may be kept for a later pytest session of the same sources and interpreter (CI's slow
# tier after `make test`): a folder per fingerprint under this one. Unset: every session runs its own.
REUSE_ENV = "CONVLAB_SMOKE_CACHE"
STAMP = "smoke-finished.json"


def fingerprint(data_dir: Path) -> str:
    """What a smoke run's outputs depend on: the package, the notebooks, the test code (conftest sets the run's
    environment), the smoke parameters, the data folder, the interpreter, every package installed beside it and
    every CONVLAB_ setting of the environment."""
    project = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    sources = [*(project / "convlab").rglob("*"), *(project / "notebooks").glob("*.ipynb"), *(project / "tests").glob("*.py")]
    for path in sorted(sources):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(project).as_posix().encode() + b"\0" + path.read_bytes())
    versions = sorted(f"{dist.metadata['Name']}=={dist.version}" for dist in metadata.distributions())
    settings = {name: value for name, value in os.environ.items() if name.startswith("CONVLAB_") and name != REUSE_ENV}
    digest.update(json.dumps([SMOKE, str(data_dir), sys.prefix, versions, settings], sort_keys=True).encode())
    return digest.hexdigest()[:16]


def reusable_root(cache: Path, data_dir: Path) -> tuple[Path, bool]:
    """This session's folder under `cache`, and whether a finished smoke run of the same fingerprint is already there
    (a folder without the stamp, left by a run that did not finish, is emptied)."""
    root = cache / fingerprint(data_dir)
    if (root / STAMP).is_file():
        return root, True
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    return root, False


class FinishedSmokeRun:
    """A smoke run an earlier session of the same fingerprint finished (`reusable_root`)."""

    def __init__(self, root: Path):
        self.root = root

    def wait(self) -> Path:
        return self.root

    def stop(self) -> None:
        pass


class SmokeRun:
    """Starts both datasets' pipelines at once; `wait` finishes them and runs the cross-dataset notebook."""

    def __init__(self, root: Path, data_dir: Path, stamp: bool = False):
        self.root, self.stamp = root, stamp
        self.arguments = parameter_arguments(root, data_dir)
        self.arguments += ["--output-root", str(root / "reports"), "--no-progress"]
        self.processes = {
            dataset: pipeline_process("--datasets", dataset, "--notebooks", *SMOKE_NOTEBOOKS[dataset], *self.arguments)
            for dataset in config.DATASETS
        }
        self.failure: str | None = None
        self.finished = False

    def wait(self) -> Path:
        if not self.finished:
            self.finished = True
            for dataset, process in self.processes.items():
                output, _ = process.communicate(timeout=900)
                if process.returncode != 0 and self.failure is None:
                    self.failure = f"the {dataset} smoke run failed:\n{output[-5000:]}"
            if self.failure is None:
                across = pipeline_process(
                    "--datasets", *config.DATASETS, "--notebooks", *manifest.across_datasets(), *self.arguments
                )
                output, _ = across.communicate(timeout=300)
                if across.returncode != 0:
                    self.failure = f"the cross-dataset smoke run failed:\n{output[-5000:]}"
        if self.failure:
            raise AssertionError(self.failure)
        if self.stamp and not (self.root / STAMP).is_file():
            (self.root / STAMP).write_text(json.dumps({"finished": True}), encoding="utf-8")
        return self.root

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.communicate()
