"""What the SageMaker training job ships and produces: its source folder, its hyperparameters, its `model.tar.gz`.

`stage_source` writes the folder a training job ships: the entry script and handlers of `sagemaker_entry/`,
and the convlab modules the entry script imports (`shipped_modules`, the closure of its imports), nothing else;
`run_training_locally` runs `sagemaker_entry/train.py` in a subprocess with the `SM_*` environment of a training
job; `pack_model` writes `model.tar.gz` in the layout the TensorFlow Serving container expects (`1/` SavedModel,
`code/inference.py`).

The images: training in TensorFlow 2.21 (`TRAINING_IMAGE_VERSION`, the version of the local pins, so a
job trains what the notebooks train) and serving in TF Serving 2.20 (`SERVING_IMAGE_VERSION`, the newest
serving image; it keeps a handler's 4xx statuses). A SavedModel written by TF 2.21 loads in TF Serving 2.20
when every op of its graphs is registered in 2.20 with no attribute 2.20 does not know: TensorFlow writes a
SavedModel with default-valued attributes stripped for exactly this forward compatibility, and the graphs
of these models use long-standing ops only. The tests check the rule itself: the TF Serving stand-in loads
the exported SavedModel in TensorFlow 2.20 and must predict what TF 2.21 predicts.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from convlab.store import records
from convlab.study import config, paths

ENTRY_DIR = paths.PACKAGE_DIR / "serving" / "sagemaker_entry"
TRAINING_IMAGE_VERSION = "2.21"
SERVING_IMAGE_VERSION = "2.20"


def module_file(name: str) -> Path | None:
    """The file of a convlab module or subpackage given by its dotted name below the package ("study.config",
    "study"), or None where there is none."""
    base = paths.PACKAGE_DIR.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _imported_modules(source: Path) -> set[str]:
    """The convlab modules a file imports by name (`import convlab.x.y`, `from convlab.x import y`,
    `from convlab.x.y import z`), at module level or inside a function, with the subpackages above them (Python
    imports those first), as dotted names below the package."""
    found = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.startswith("convlab"):
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            parts = name.split(".")[1:] if name.startswith("convlab.") else []
            found |= {".".join(parts[:end]) for end in range(1, len(parts) + 1)}
    return {name for name in found if module_file(name) is not None}


def shipped_modules() -> list[str]:
    """The convlab modules the entry scripts import, directly or through each other, by dotted name below the
    package, sorted (the package's `__init__` aside)."""
    shipped: set[str] = set()
    pending = set().union(*(_imported_modules(script) for script in ENTRY_DIR.glob("*.py")))
    while pending:
        name = pending.pop()
        shipped.add(name)
        pending |= _imported_modules(module_file(name)) - shipped
    return sorted(shipped)


def shipped_files() -> list[str]:
    """The staged copy's convlab files, relative to the package (its `__init__.py` first)."""
    return ["__init__.py", *(module_file(name).relative_to(paths.PACKAGE_DIR).as_posix() for name in shipped_modules())]


def stage_source(target: Path) -> Path:
    """A folder that ships to SageMaker on its own: the entry script, the handlers and the convlab modules they import."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(ENTRY_DIR, target, ignore=shutil.ignore_patterns("__pycache__"))
    for relative in shipped_files():
        (target / "convlab" / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(paths.PACKAGE_DIR / relative, target / "convlab" / relative)
    return target


def hyperparameters(params: config.RunParameters, model: str = "cnn", seed: int = 0) -> dict:
    """The entry script's command-line hyperparameters for a notebook run's settings.

    The epochs are the cap this model gets in the run (`cnn_epochs` for a CNN), so the job trains
    exactly what the notebooks train, under the same cache key.
    """
    return {
        "dataset": params.dataset,
        "model": model,
        "seed": seed,
        "profile": params.profile,
        "epochs": params.cnn_epochs if model == "cnn" else params.epochs,
        "batch-size": params.batch_size if model == "cnn" else params.fc_batch_size,
        "train-size": params.train_size,
        "test-size": params.test_size,
    }


def run_training_locally(work_dir: Path, data_dir: Path, hyperparameters: dict, *, timeout: int = 3600) -> dict:
    """Run the entry script as a SageMaker training job would (subprocess, `SM_*` environment); return its paths.

    A `reuse-from` hyperparameter names a report folder whose identical stored run is exported instead of retrained.
    Like a training job, each run starts from empty model and output folders (the job's own scratch space under
    `work_dir`), so what it returns is what this run wrote.
    """
    source = stage_source(work_dir / "source")
    model_dir, output_dir = work_dir / "model", work_dir / "output"
    for folder in (model_dir, output_dir):
        shutil.rmtree(folder, ignore_errors=True)
    environment = os.environ | {
        "SM_MODEL_DIR": str(model_dir),
        "SM_OUTPUT_DATA_DIR": str(output_dir),
        "SM_CHANNEL_TRAIN": str(data_dir),
        "SM_HPS": json.dumps(hyperparameters, default=str),
        "SM_NUM_CPUS": str(os.cpu_count()),
        "SM_NUM_GPUS": "0",
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    arguments = [item for name, value in hyperparameters.items() for item in (f"--{name}", str(value))]
    completed = subprocess.run(
        [sys.executable, str(source / "train.py"), *arguments],
        env=environment,
        cwd=work_dir,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"The training entry script failed (exit {completed.returncode}):\n{completed.stderr[-4000:]}")
    (record_file,) = records.committed(output_dir.glob("*-seed*.json"))  # a job trains exactly one configuration
    record = records.read_record(record_file)
    return {"model_dir": model_dir, "output_dir": output_dir, "record": record, "log": completed.stdout}


def pack_model(model_dir: Path, tarball: Path) -> Path:
    """`model.tar.gz` with `1/…` (SavedModel) and `code/…` (handlers) at its root, written atomically."""
    if not (model_dir / "1" / "saved_model.pb").is_file():
        raise FileNotFoundError(f"No SavedModel at {model_dir / '1'}; run the training entry script first.")
    with records.atomic_path(tarball) as temporary, tarfile.open(temporary, "w:gz") as archive:
        for entry in ("1", "code"):
            archive.add(model_dir / entry, arcname=entry)
    return tarball


def artifact_listing(tarball: Path):
    """The files of a `model.tar.gz` and their sizes."""
    import pandas as pd

    with tarfile.open(tarball) as archive:
        rows = [{"path": member.name, "bytes": member.size} for member in archive.getmembers() if member.isfile()]
    return pd.DataFrame(rows).set_index("path")
