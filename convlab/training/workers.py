"""Independent trainings run side by side in worker processes, so that a run keeps every core busy.

One training process uses about one core (convlab sets one TensorFlow thread per pool, `records.thread_setting`).
`train_all` reuses every stored run, then trains the missing ones in up to `worker_count()` processes at once,
the longest first. Each worker trains exactly as the notebook's own process would (`fit.train_or_reuse`:
same code, same thread setting, same seed), so the records and model files are the ones a sequential run
writes (`tests/test_workers.py` checks it). `CONVLAB_WORKERS` sets the number of processes (1: train in this
process, one run after the other); its default is the number of cores.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import TYPE_CHECKING

from convlab.datasets import data
from convlab.study import config, paths
from convlab.training import models, requests

if TYPE_CHECKING:  # training imports TensorFlow, which this module leaves to the processes that train
    from convlab.training.fit import TrainingConfig

WORKERS_ENV = "CONVLAB_WORKERS"


@dataclass(frozen=True)
class Task:
    """One training: a configuration, its data and seed, its settings (None: the run's) and its results subfolder."""

    model_config: models.ModelConfig
    dataset: data.Dataset
    seed: int
    settings: TrainingConfig | None = None  # None: the run's settings
    subfolder: str = ""
    needs_model: bool = True  # False: read for its record alone, reused without its model file (`saved.stored_run`)

    @property
    def cost(self) -> int:
        """A rough relative cost, used only to order the trainings of equal earlier times (`longest_first`)."""
        return len(self.dataset.y_train) * (10 if self.model_config.kind == "cnn" else 1)


def worker_count(environment=os.environ) -> int:
    """The trainings run at once: `CONVLAB_WORKERS`, else the number of cores."""
    value = environment.get(WORKERS_ENV, "").strip()
    if not value:
        return os.cpu_count() or 1
    if not value.isdigit() or int(value) < 1:
        raise paths.ParameterError(
            f"{WORKERS_ENV}={value!r} is not a number of processes: use a whole number ≥ 1 (1 trains in this process)."
        )
    return int(value)


def train_seeds(model_config: models.ModelConfig, dataset: data.Dataset, params: config.RunParameters) -> list[dict]:
    """One record per seed the run gives this model (`params.seeds_of`), each trained at most once (side by side,
    `train_all`)."""
    return train_all([Task(model_config, dataset, seed) for seed in params.seeds_of(model_config.name)], params)


def train_all(tasks: Sequence[Task], params: config.RunParameters, workers: int | None = None) -> list[dict]:
    """The record of every task, in order: stored runs reused, the others trained (in worker processes when several)."""
    from convlab.training import fit

    workers = worker_count() if workers is None else workers
    found = [fit.stored_task(task, params) for task in tasks]
    missing = [index for index, record in enumerate(found) if record is None]
    plan = requests.plan_folder()
    if plan is not None and missing:  # plan mode (`requests`): write the missing trainings down, train nothing
        lacking = [tasks[index] for index in missing]
        requests.write_plan(lacking, params, plan, [earlier_seconds(task, params) for task in lacking])
        raise requests.PlanRecorded(f"{len(missing)} trainings written to the plan in {plan}.")
    if workers < 2 or len(missing) < 2:
        return [_train(*_arguments(task, params)) for task in tasks]
    for record, task in zip(found, tasks):
        if record is not None:
            fit.print_reuse(record, task.subfolder, params)
    processes = min(workers, len(missing))
    print(f"Training {len(missing)} runs in {processes} worker processes, the longest first.", flush=True)
    progress = Progress([tasks[index] for index in missing], params, processes)
    order = longest_first([tasks[index] for index in missing], progress.expected, missing)
    context = multiprocessing.get_context("spawn")  # never fork a process that has TensorFlow loaded
    _interactive_main_spec()
    with ProcessPoolExecutor(max_workers=processes, mp_context=context, initializer=_end_with_parent) as pool:
        futures = {pool.submit(_train, *_arguments(tasks[index], params)): index for index in order}
        for future in as_completed(futures):
            found[futures[future]] = future.result()
            progress.done(tasks[futures[future]])
    print(f"Trained {len(missing)} runs in {time.perf_counter() - progress.started:.0f} s.", flush=True)
    return found


def longest_first(tasks: Sequence[Task], expected: dict[int, float | None], indices: Sequence[int]) -> list[int]:
    """`indices` (those of `tasks`) ordered so that the longest trainings start first and none is left to run alone at
    the end: by the time an earlier run of the same model took (`expected`, by `id(task)`), a run with no earlier time
    first (it may be the longest), then by `Task.cost`."""
    def length(position: int) -> tuple[float, int]:
        seconds = expected.get(id(tasks[position]))
        return (float("inf") if seconds is None else seconds, tasks[position].cost)

    ranked = sorted(range(len(tasks)), key=length, reverse=True)
    return [indices[position] for position in ranked]


class Progress:
    """Runs done of those to train, and an estimate of the time left from the times earlier runs of the same
    models took (their records, where the folders still hold one), shared among the worker processes."""

    def __init__(self, tasks: Sequence[Task], params: config.RunParameters, processes: int):
        self.total, self.processes, self.started = len(tasks), processes, time.perf_counter()
        self.count = 0
        self.expected = {id(task): earlier_seconds(task, params) for task in tasks}

    def done(self, task: Task) -> str:
        self.count += 1
        self.expected.pop(id(task), None)
        known = [seconds for seconds in self.expected.values() if seconds is not None]
        left = ""
        if self.expected and len(known) == len(self.expected):
            left = f"; about {sum(known) / self.processes / 60:.0f} min left, from earlier runs' times"
        elapsed = (time.perf_counter() - self.started) / 60
        line = (
            f"Trained {self.count} of {self.total} runs ({task.model_config.name}, seed {task.seed}) in {elapsed:.1f} min{left}."
        )
        print(line, flush=True)
        return line


def earlier_seconds(task: Task, params: config.RunParameters) -> float | None:
    """How long an earlier run of this model, seed and subfolder trained, from a record still in the run's folder
    (of any settings or code version), else from the published run's records, or None."""
    import json

    name = f"{task.model_config.name}-seed{task.seed}.json"
    published = paths.REPORTS_DIR / "published" / params.dataset / "results"
    for folder in (params.results_dir, published):
        try:
            return float(json.loads((folder / task.subfolder / name).read_text(encoding="utf-8"))["timing"]["train_seconds"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return None


def _arguments(task: Task, params: config.RunParameters) -> tuple:
    return task.model_config, task.dataset, task.seed, params, task.settings, task.subfolder, task.needs_model


def _train(model_config, dataset, seed, params, settings, subfolder, needs_model=True) -> dict:
    """A worker's training: `fit.train_or_reuse`, its epoch log going to the run's terminal."""
    from convlab.training import fit

    return fit.train_or_reuse(model_config, dataset, seed, params, settings, subfolder=subfolder, needs_model=needs_model)


def _interactive_main_spec() -> None:
    """Give a notebook kernel's `__main__` the `__spec__` that spawning reads (a kernel reset between notebooks
    removes it; None says that the workers import nothing from `__main__`)."""
    main = sys.modules["__main__"]
    if not hasattr(main, "__spec__"):
        main.__spec__ = None


def _end_with_parent() -> None:
    """A worker ends when the process that started it ends (Linux), so that a stopped run leaves no training behind."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
