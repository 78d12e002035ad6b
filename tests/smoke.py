"""The notebook smoke run: its parameters, which notebooks run on which dataset, and the processes running them.

Every notebook runs on both datasets except 09 (on Fashion-MNIST), 06 (SageMaker, mode local)
and 08 (on MNIST) (their code does not depend on the dataset; splitting them
balances the two parallel runs), then the cross-dataset notebook 10 on the records of both.
"""

from __future__ import annotations

import subprocess
import sys
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


class SmokeRun:
    """Starts both datasets' pipelines at once; `wait` finishes them and runs the cross-dataset notebook."""

    def __init__(self, root: Path, data_dir: Path):
        self.root = root
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
        return self.root

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.communicate()
