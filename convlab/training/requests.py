"""A training as a request that another machine can run, and the plan of a run: the trainings it still lacks.

With `CONVLAB_TRAIN_PLAN` set to a folder, `workers.train_all` trains nothing: it writes each missing training
of its call there as a request (`write_plan`) and raises `PlanRecorded`, which ends the notebook. A request
holds everything that decides the result: the model and training settings, the seed, the cache key this run
looks the result up by, and the exact images and labels (one `.npz` per distinct dataset, named by its
digest), so the machine that trains it needs no dataset of its own and trains on the same bytes.
`run_request` trains one request there; `convlab.serving.jobs` sends requests to SageMaker training jobs and
brings their results back into the store; `convlab.run.remote` plans a whole run.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import fields
from pathlib import Path

import numpy as np

from convlab.datasets import data
from convlab.store import records
from convlab.study import config
from convlab.training import models

PLAN_ENV = "CONVLAB_TRAIN_PLAN"


class PlanRecorded(Exception):
    """A notebook reached trainings that are not stored; in plan mode they are written down instead of trained."""


def plan_folder(environment=os.environ) -> Path | None:
    value = environment.get(PLAN_ENV, "").strip()
    return Path(value) if value else None


def dataset_bytes(dataset: data.Dataset) -> tuple[str, bytes]:
    """A dataset's arrays as `.npz` bytes and their digest (the same images give the same name)."""
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        x_train=dataset.x_train,
        y_train=dataset.y_train,
        x_test=dataset.x_test,
        y_test=dataset.y_test,
        class_names=np.array(dataset.class_names),
    )
    digest = hashlib.sha256()
    for array in (dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16], buffer.getvalue()


def request_of(task, params: config.RunParameters, expected_seconds: float | None = None) -> dict:
    """The request for one `workers.Task` of a run: what to train, and where its result goes in this run's store."""
    from convlab.training import fit

    settings = task.settings or fit.training_config_for(params, task.model_config)
    digest, _ = dataset_bytes(task.dataset)
    return {
        "model": task.model_config.to_dict(),
        "seed": task.seed,
        "settings": settings.to_dict(),
        "dataset": {"name": task.dataset.name, "source": task.dataset.source, "file": f"{digest}.npz"},
        "key": fit.cache_key(task.model_config, task.dataset, task.seed, settings),
        "results_dir": str(params.results_dir / task.subfolder),
        "models_dir": str(params.models_dir / task.subfolder),
        "expected_seconds": expected_seconds,  # an earlier run's training time, where one is stored
    }


def write_plan(tasks, params: config.RunParameters, folder: Path, expected_seconds=None) -> list[Path]:
    """Each task's request as `<folder>/requests/<key>.json` and its data as `<folder>/data/<digest>.npz` (atomic)."""
    written = []
    for task, seconds in zip(tasks, expected_seconds or [None] * len(tasks)):
        request = request_of(task, params, seconds)
        data_file = folder / "data" / request["dataset"]["file"]
        if not data_file.is_file():
            data_file.parent.mkdir(parents=True, exist_ok=True)
            with records.atomic_path(data_file) as temporary:
                temporary.write_bytes(dataset_bytes(task.dataset)[1])
        written.append(records.write_json(folder / "requests" / f"{request['key']}.json", request))
    return written


def read_plan(folder: Path) -> list[dict]:
    """The requests written under `folder`, in a stable order (one per cache key)."""
    return [records.read_json(path) for path in sorted(records.committed((folder / "requests").glob("*.json")))]


def _as_fields(cls, payload: dict):
    """A frozen dataclass from its `to_dict()` (JSON lists back to the tuples the class declares)."""
    names = {field.name for field in fields(cls)}
    return cls(**{name: tuple(value) if isinstance(value, list) else value for name, value in payload.items() if name in names})


def load_request_dataset(request: dict, data_dir: Path) -> data.Dataset:
    with np.load(data_dir / request["dataset"]["file"], allow_pickle=False) as arrays:
        return data.Dataset(
            name=request["dataset"]["name"],
            x_train=arrays["x_train"],
            y_train=arrays["y_train"],
            x_test=arrays["x_test"],
            y_test=arrays["y_test"],
            class_names=tuple(str(name) for name in arrays["class_names"]),
            source=request["dataset"]["source"],
        )


def run_request(request: dict, data_dir: Path, output_dir: Path) -> dict:
    """Train one request here; write its model and record under `<output_dir>/<key>/`. The record's cache key is
    the one computed here, which equals the request's only where code, versions and settings are the same."""
    from convlab.training import fit, saved

    model_config = _as_fields(models.ModelConfig, request["model"])
    settings = _as_fields(fit.TrainingConfig, request["settings"])
    dataset = load_request_dataset(request, data_dir)
    key = fit.cache_key(model_config, dataset, request["seed"], settings)
    folder = output_dir / request["key"]
    print(f"Training {model_config.name} (seed {request['seed']}) on {len(dataset.y_train)} images.", flush=True)
    model, record = fit.fit(model_config, dataset, request["seed"], settings)
    return saved.store_run(model, record, key, folder, folder)


def main(argv: list[str] | None = None) -> int:
    """Train every request in a folder (`requests/*.json`, `data/`) into an output folder: what a job does."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("plan", type=Path)
    parser.add_argument("output", type=Path)
    args = parser.parse_args(argv)
    for request in read_plan(args.plan):
        record = run_request(request, args.plan / "data", args.output)
        print(json.dumps({"model": record["model"]["name"], "seed": record["seed"], "accuracy": record["test"]["accuracy"]}))
    return 0
