"""Run the notebooks in order with papermill and render them to HTML with nbconvert.

    python -m convlab.run.pipeline --datasets fashion_mnist mnist -p epochs 15 -p seeds 0

Each notebook executes into a temporary file that replaces the executed copy
only on success: a failing notebook stops the run with its error, leaves the
earlier outputs as they were, and keeps the failed copy as `<name>.failed.ipynb`.
A run stopped by SIGTERM or Ctrl-C ends its notebook kernels and exits with 143 or 130; stopped in any
way (SIGKILL too), it leaves only complete files behind, and the same command goes on from there: the
notebooks that had finished are not executed again, and the trainings that had finished are reused.

The notebooks and their order come from `convlab.study.manifest`: each runs after the notebooks it reads. A notebook
is executed again only when it is stale: its code, its parameters, the convlab source or the package versions
changed, or the results of a notebook it reads, or its own results (`staleness.notebook_stamp`). The notebooks of a run
share one kernel, reset between them (`convlab.run.jupyter_kernels`).
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from convlab.run import staleness
from convlab.run.jupyter_kernels import (
    NotebookFailed,
    SharedKernel,
    kernel_name,
    quiet_dead_kernel_tasks,
    shared_kernel,
    stop_kernels,
)
from convlab.store import cache, locking, records, runlog
from convlab.study import config, manifest, paths, profiles
from convlab.study import parameters as study_parameters

INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
FOLDER_PARAMETERS = ("data_dir", "images_dir")  # the run sets output_dir and reports_dir itself


class Stopped(KeyboardInterrupt):
    """The run was asked to stop (SIGTERM; Ctrl-C raises KeyboardInterrupt itself)."""


def _stop_on_signal(signum: int, frame) -> None:
    raise Stopped(signal.Signals(signum).name)


def execute(
    notebook: str, parameters: dict, output_dir: Path, *, progress: bool = True, kernel: SharedKernel | None = None
) -> Path:
    """Execute one notebook into `<output_dir>/<notebook>.ipynb`, atomically (in `kernel`, else in a kernel of its own)."""
    import papermill

    source = paths.confined(paths.NOTEBOOKS_DIR, f"{notebook}.ipynb", "The notebook")
    if not source.is_file():
        raise FileNotFoundError(f"No notebook {source}; choose from {', '.join(manifest.names())}.")
    # Kernels inherit these: TensorFlow's C++ start-up notices would otherwise fill the executed notebooks,
    # and figures are shown inline even where the caller's environment picks another backend (MPLBACKEND=Agg in CI).
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ["MPLBACKEND"] = INLINE_BACKEND
    declared = staleness.notebook_parameters(source)
    executed = output_dir / f"{notebook}.ipynb"
    failed = output_dir / f"{notebook}.failed.ipynb"
    shared = {}
    if kernel is not None:
        kernel.prepare()
        shared = {"km": kernel.manager}
    with records.atomic_path(executed) as temporary:
        try:
            papermill.execute_notebook(
                str(source),
                str(temporary),
                parameters={key: value for key, value in parameters.items() if key in declared},
                kernel_name=kernel.manager.kernel_name if kernel else kernel_name(),
                cwd=str(paths.NOTEBOOKS_DIR),
                progress_bar=progress,
                log_output=False,
                stdout_file=sys.stdout,
                stderr_file=sys.stderr,
                request_save_on_cell_execute=False,  # written once at the end (a temporary file: no one reads it before)
                **shared,
            )
        except papermill.PapermillExecutionError as error:
            shutil.copyfile(temporary, failed)
            raise NotebookFailed(
                f"{notebook} failed in cell {error.exec_count}: {error.ename}: {error.evalue}\n"
                f"The failed notebook is kept at {failed}; earlier outputs are untouched."
            ) from None
    failed.unlink(missing_ok=True)
    return executed


@functools.cache
def html_exporter():
    """nbconvert's HTML exporter, made once per process (it loads its templates when made)."""
    import nbconvert

    return nbconvert.HTMLExporter()


def render_html(executed: Path) -> Path:
    """Render an executed notebook to HTML beside it, atomically."""
    import nbformat

    notebook = nbformat.read(executed, as_version=4)
    body, _ = html_exporter().from_notebook_node(notebook)
    target = executed.with_suffix(".html")
    with records.atomic_path(target) as temporary:
        temporary.write_text(body, encoding="utf-8")
    return target


def run(
    datasets: Sequence[str],
    notebooks: Sequence[str],
    parameters: dict,
    output_root: Path | None = None,
    *,
    progress: bool = True,
    force: bool = False,
    jobs: int = 1,
) -> list[Path]:
    """Execute and render every notebook for every dataset, then the cross-dataset ones; return the HTML files.

    The notebooks run in the manifest's order. One that is not stale (`notebook_stamp` as when it last ran)
    is not executed again: its executed copy takes the source's markdown and is rendered anew (`force`
    executes every notebook regardless). With `jobs` > 1 the datasets' notebooks run side by side, each
    dataset in a pipeline process of its own (`run_side_by_side`).
    """
    datasets, notebooks = config.dataset_names(datasets), manifest.in_order(notebooks)
    root = paths.output_folder(output_root or "", "--output-root", paths.REPORTS_DIR)
    per_dataset = [name for name in notebooks if manifest.entry(name).per_dataset]
    across = [name for name in notebooks if not manifest.entry(name).per_dataset]
    side_by_side = []
    if jobs > 1 and len(datasets) > 1 and per_dataset:
        side_by_side = run_side_by_side(datasets, per_dataset, parameters, root, progress=progress, force=force, jobs=jobs)
        per_dataset = []
    with (
        locking.hold(locked_folders(root, datasets, per_dataset, across), "pass another --output-root to run beside it"),
        shared_kernel() as kernel,
    ):
        cold = not any(runlog.stored_records(root / dataset) for dataset in datasets)
        rendered = []
        for dataset in datasets if per_dataset else ():
            values = parameters | {"dataset": dataset, "output_dir": str(root / dataset)}
            folder = root / dataset
            rendered += _run_in_order(per_dataset, values, folder, [folder], root, dataset, progress, cold, force, kernel)
        if across and len(set(datasets)) < 2:
            print(f"\nSkipping {', '.join(across)}: it compares datasets, and this run has only {', '.join(datasets)}.")
        elif across:
            values = parameters | {"datasets": ",".join(datasets), "reports_dir": str(root)}
            sources = [root / dataset for dataset in datasets]
            folder = root / manifest.COMPARISON_FOLDER
            rendered += _run_in_order(across, values, folder, sources, root, "all datasets", progress, cold, force, kernel)
        return side_by_side + rendered


def run_side_by_side(
    datasets: Sequence[str], notebooks: Sequence[str], parameters: dict, root: Path, *, progress: bool, force: bool, jobs: int
) -> list[Path]:
    """Each dataset's notebooks in a pipeline process of its own, `jobs` processes at a time; their HTML files.

    Training results do not depend on it: every training process uses the same number of threads
    (`records.thread_setting`), so a run side by side writes the records a sequential run writes.
    """
    import subprocess

    command = [sys.executable, "-m", "convlab.run.pipeline", "--notebooks", *notebooks, "--output-root", str(root), "--jobs", "1"]
    command += [item for name, value in parameters.items() for item in ("-p", name, str(value))]
    command += ([] if progress else ["--no-progress"]) + (["--force"] if force else [])
    pending, running, failed = list(datasets), {}, []
    while pending or running:
        while pending and len(running) < jobs:
            dataset = pending.pop(0)
            running[dataset] = subprocess.Popen([*command, "--datasets", dataset])
        for dataset, process in list(running.items()):
            if process.poll() is not None:
                del running[dataset]
                if process.returncode:
                    failed.append(f"{dataset} (exit {process.returncode})")
        time.sleep(0.2)
    if failed:
        raise NotebookFailed(
            f"The notebooks of {', '.join(failed)} failed: their error is printed above. The other datasets' outputs "
            "are complete; the same command goes on from there."
        )
    return [root / dataset / f"{name}.html" for dataset in datasets for name in notebooks]


def locked_folders(root: Path, datasets: Sequence[str], per_dataset: Sequence[str], across: Sequence[str]) -> list[Path]:
    """The report folders a run writes or reads: each dataset's, and the comparison's when it compares two."""
    compares = bool(across) and len(set(datasets)) >= 2
    folders = [root / dataset for dataset in datasets] if per_dataset or compares else []
    return folders + ([root / manifest.COMPARISON_FOLDER] if compares else [])


def _run_in_order(
    notebooks: Sequence[str],
    parameters: dict,
    output_dir: Path,
    sources: Sequence[Path],
    root: Path,
    label: str,
    progress: bool,
    cold: bool,
    force: bool,
    kernel: SharedKernel | None = None,
) -> list[Path]:
    """Execute (or refresh) and render `notebooks` into `output_dir`; their stamps and times go to its run log.

    `sources` are the report folders whose results the notebooks read. Each notebook is logged as it starts
    ("running") and, with its stamp, as it ends, so a run that is stopped (SIGKILL included) keeps what it
    finished; the stopped notebook and those that read its results are stale on the next run.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    records.remove_temporaries(output_dir)  # left by a stopped run (this run holds the folder's lock)
    for folder in (output_dir / "results", output_dir / "models"):
        records.remove_temporaries(folder, recursive=True)
    stamps = runlog.read(output_dir).get("executed", {})
    rendered, timings = [], {}
    for number, notebook in enumerate(notebooks, start=1):
        started, clock = datetime.now(UTC), time.perf_counter()
        executed = output_dir / f"{notebook}.ipynb"
        stamp = staleness.notebook_stamp(notebook, parameters, output_dir, sources, root)
        if not force and cache.is_current(stamps.get(notebook), stamp, [executed]):
            refreshed = staleness.refresh_markdown(notebook, executed)
            if refreshed or not executed.with_suffix(".html").is_file():
                render_html(executed)
            rendered.append(executed.with_suffix(".html"))
            print(f"=== {notebook} on {label}: unchanged since it last ran{'; markdown refreshed' if refreshed else ''} ===")
            timings[notebook] = {"seconds": round(time.perf_counter() - clock, 1), "executed": False, "trained": 0}
            continue
        print(f"\n=== {notebook} on {label} (notebook {number} of {len(notebooks)}) ===", flush=True)
        runlog.mark(output_dir, running={"notebook": notebook, "since": time.time()})
        before = runlog.record_versions(output_dir)
        execute(notebook, parameters, output_dir, progress=progress, kernel=kernel)
        rendered.append(render_html(executed))
        stamp = staleness.notebook_stamp(notebook, parameters, output_dir, sources, root)  # with the results it has written
        runlog.mark(output_dir, running=None, executed={notebook: stamp})
        trained = runlog.trained_since(output_dir, before)
        timings[notebook] = {
            "seconds": round(time.perf_counter() - clock, 1),
            "training_seconds": round(sum(record["timing"]["train_seconds"] for record in trained), 1),
            "trained": len(trained),
            "executed": True,
            "startup_seconds": runlog.startup_seconds(executed, started),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        print(f"=== {notebook} on {label}: {timings[notebook]['seconds']} s ===", flush=True)
    runlog.record(output_dir, parameters, timings, cold=cold)
    return rendered


def absolute_folders(parameters: dict) -> dict:
    """The folder parameters resolved against the caller's working directory (kernels run in notebooks/)."""
    resolved = {name: str(Path(str(parameters[name])).expanduser().resolve()) for name in FOLDER_PARAMETERS if name in parameters}
    if "images_dir" in resolved:
        paths.output_folder(resolved["images_dir"], "images_dir", paths.IMAGES_DIR)
    return parameters | resolved


FOLDER_VARIABLES = (paths.DATA_DIR_ENV, "CONVLAB_REFERENCE_DIR")  # environment variables that name folders


def absolute_environment(environment=os.environ) -> None:
    """Folder variables given relative to the caller's working directory, made absolute (kernels run in notebooks/)."""
    for name in FOLDER_VARIABLES:
        value = environment.get(name, "")
        if value and not Path(value).expanduser().is_absolute():
            environment[name] = str(Path(value).expanduser().resolve())


def profile_notebooks(profile: object) -> tuple[str, ...]:
    """The notebooks a profile runs when none are named: the quick profile's studies, else every one."""
    chosen = profiles.resolve_profile(profile)
    return manifest.in_order(chosen.notebooks) if chosen.notebooks else manifest.names()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=list(config.DATASETS), choices=config.DATASETS)
    parser.add_argument(
        "--notebooks", nargs="+", default=None, choices=manifest.names(), help="default: those of the run's profile"
    )
    parser.add_argument("--output-root", type=Path, default=None, help="default: reports/")
    parser.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="a notebook parameter, passed as text and validated by the notebook",
    )
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--force", action="store_true", help="execute every notebook, even those unchanged since they last ran")
    parser.add_argument("--jobs", type=int, default=1, help="datasets run side by side, each in a process of its own")
    args = parser.parse_args(argv)
    parameters = {name: value for name, value in args.parameter if value != ""}
    in_main_thread = threading.current_thread() is threading.main_thread()  # only there can a handler be set
    previous = signal.signal(signal.SIGTERM, _stop_on_signal) if in_main_thread else None
    try:
        parameters = absolute_folders(parameters)
        study_parameters.validate_upfront(parameters)
        absolute_environment()
        html = run(
            args.datasets,
            args.notebooks or profile_notebooks(parameters.get("profile", profiles.AUTO)),
            parameters,
            args.output_root,
            progress=not args.no_progress,
            force=args.force,
            jobs=args.jobs,
        )
    except (NotebookFailed, locking.FolderLocked, config.ParameterError) as error:
        print(f"\nERROR: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as stop:
        quiet_dead_kernel_tasks()
        stop_kernels()
        print(
            f"\nStopped ({stop or 'interrupted'}): the notebook kernel is ended. Finished notebooks and stored trainings "
            "are kept, nothing half-written is: run the same command again to go on from there.",
            file=sys.stderr,
        )
        return 128 + (signal.SIGTERM if isinstance(stop, Stopped) else signal.SIGINT)
    finally:
        if in_main_thread and previous is not None:  # None: the earlier handler was not set from Python
            signal.signal(signal.SIGTERM, previous)
    print("\nRendered:\n" + "\n".join(f"  {path}" for path in html))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
