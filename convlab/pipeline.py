"""Run the notebooks in order with papermill and render them to HTML with nbconvert.

    python -m convlab.pipeline --datasets fashion_mnist mnist -p epochs 15 -p seeds 0

Each notebook executes into a temporary file that replaces the executed copy
only on success: a failing notebook stops the run with its error, leaves the
earlier outputs as they were, and keeps the failed copy as `<name>.failed.ipynb`.
A run stopped by SIGTERM or Ctrl-C ends its notebook kernels and exits with 143 or 130; stopped in any
way (SIGKILL too), it leaves only complete files behind, and the same command goes on from there: the
notebooks that had finished are not executed again, and the trainings that had finished are reused.

The notebooks of one run share a kernel (`SharedKernel`): it starts once, and before each notebook its
variables and Keras's global state are cleared, so a notebook sees no variable of the one before it, but
TensorFlow and the other libraries are imported once per run instead of once per notebook.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import json
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from convlab import config, locking, records

KERNEL_NAME = "convlab"
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
FOLDER_PARAMETERS = ("data_dir", "images_dir")  # the run sets output_dir and reports_dir itself
NOT_IMPORTED_BY_NOTEBOOKS = ("pipeline.py", "report.py", "cache.py", "locking.py")  # they run notebooks or read their outputs


class NotebookFailed(RuntimeError):
    """A notebook raised an error while executing."""


class Stopped(KeyboardInterrupt):
    """The run was asked to stop (SIGTERM; Ctrl-C raises KeyboardInterrupt itself)."""


def _stop_on_signal(signum: int, frame) -> None:
    raise Stopped(signal.Signals(signum).name)


def stop_kernels(timeout: float = 5.0) -> int:
    """Terminate this process's children (notebook kernels, in sessions of their own, and what they started), then
    kill those still alive after `timeout` seconds; return how many there were (papermill may have ended them already)."""
    import psutil

    children = psutil.Process().children(recursive=True)
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.terminate()
    _, alive = psutil.wait_procs(children, timeout=timeout)
    for child in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    psutil.wait_procs(alive, timeout=timeout)
    return len(children)


def kernel_name() -> str | None:
    """The project's kernel when it runs this very interpreter, else None: the notebook's own kernel (`python3`).

    `python3` is ipykernel's native kernel, which runs the interpreter that starts it, so a run always
    executes its notebooks in the environment it was started from (the locked `.venv`, or a Studio image).
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    except NoSuchKernel:
        return None
    same = os.path.abspath(spec.argv[0]) == os.path.abspath(sys.executable)  # not resolved: venvs share a base binary
    return KERNEL_NAME if same else None


# Run in the shared kernel before every notebook but the first: it leaves the state of a fresh kernel that has
# imported libraries (no user variables, Keras's layer names and global state reset, cells numbered from 1).
# Figures need nothing: the inline backend closes each at the end of the cell that drew it.
RESET_CODE = """\
if "keras" in __import__("sys").modules:
    __import__("keras").backend.clear_session()
get_ipython().reset(new_session=True)
__import__("gc").collect()
"""


class SharedKernel:
    """One notebook kernel for a whole run, handed to papermill for each notebook.

    `prepare()` readies it for the next notebook: on first use it is started by papermill as usual
    (same kernel, environment and working directory); later, `RESET_CODE` clears what the previous
    notebook left. `close()` shuts it down.
    """

    def __init__(self, name: str | None):
        from jupyter_client.manager import AsyncKernelManager

        class Manager(AsyncKernelManager):
            def client(self, **kwargs):  # papermill opens a client per notebook; `prepare` closes the last one
                opened = super().client(**kwargs)
                self.opened.append(opened)
                return opened

        self.manager = Manager(kernel_name=name or "python3")
        self.manager.opened = []
        self.resetter = None  # a client of our own that sends `RESET_CODE`

    def prepare(self) -> None:
        """Close the previous notebook's client and, if the kernel has run a notebook, reset its state."""
        while self.manager.opened:
            self.manager.opened.pop().stop_channels()
        if not self.manager.has_kernel:  # papermill starts it for the first notebook
            return
        if self.resetter is None:
            from jupyter_client.blocking import BlockingKernelClient

            self.resetter = BlockingKernelClient()
            self.resetter.load_connection_info(self.manager.get_connection_info())
            self.resetter.start_channels()
            self.resetter.wait_for_ready(timeout=60)
        reply = self.resetter.execute_interactive(RESET_CODE, store_history=False, timeout=120, output_hook=lambda message: None)
        content = reply["content"]
        if content["status"] != "ok":
            raise NotebookFailed(f"Clearing the kernel between notebooks failed: {content.get('ename')}: {content.get('evalue')}")

    def close(self) -> None:
        """Shut the kernel down (at once: the run is over)."""
        from jupyter_core.utils import run_sync

        while self.manager.opened:
            self.manager.opened.pop().stop_channels()
        if self.resetter is not None:
            self.resetter.stop_channels()
        if self.manager.has_kernel:
            run_sync(self.manager.shutdown_kernel)(now=True)


@contextlib.contextmanager
def shared_kernel():
    """A `SharedKernel` on the project's kernel (see `kernel_name`), shut down when the block ends."""
    kernel = SharedKernel(kernel_name())
    try:
        yield kernel
    finally:
        kernel.close()


def notebook_parameters(notebook: Path) -> set[str]:
    """Names declared in a notebook's `parameters` cell."""
    import papermill

    return set(papermill.inspect_notebook(str(notebook)))


def execute(
    notebook: str, parameters: dict, output_dir: Path, *, progress: bool = True, kernel: SharedKernel | None = None
) -> Path:
    """Execute one notebook into `<output_dir>/<notebook>.ipynb`, atomically (in `kernel`, else in a kernel of its own)."""
    import papermill

    source = config.confined(config.NOTEBOOKS_DIR, f"{notebook}.ipynb", "The notebook")
    if not source.is_file():
        raise FileNotFoundError(f"No notebook {source}; choose from {', '.join(config.ALL_NOTEBOOKS)}.")
    # Kernels inherit these: TensorFlow's C++ start-up notices would otherwise fill the executed notebooks,
    # and figures are shown inline even where the caller's environment picks another backend (MPLBACKEND=Agg in CI).
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ["MPLBACKEND"] = INLINE_BACKEND
    declared = notebook_parameters(source)
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
                cwd=str(config.NOTEBOOKS_DIR),
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
) -> list[Path]:
    """Execute and render every notebook for every dataset, then the cross-dataset ones; return the HTML files.

    A notebook whose code, parameters, convlab source, package versions and stored results are what
    they were when it last ran is not executed again: its executed copy takes the source's markdown
    and is rendered anew (`force` executes every notebook regardless).
    """
    datasets, notebooks = config.dataset_names(datasets), config.notebook_names(notebooks)
    root = config.output_folder(output_root or "", "--output-root", config.REPORTS_DIR)
    per_dataset = [notebook for notebook in notebooks if notebook not in config.CROSS_DATASET_NOTEBOOKS]
    across = [notebook for notebook in notebooks if notebook in config.CROSS_DATASET_NOTEBOOKS]
    with (
        locking.hold(locked_folders(root, datasets, per_dataset, across), "pass another --output-root to run beside it"),
        shared_kernel() as kernel,
    ):
        return _run_locked(root, datasets, per_dataset, across, parameters, progress, force, kernel)


def locked_folders(root: Path, datasets: Sequence[str], per_dataset: Sequence[str], across: Sequence[str]) -> list[Path]:
    """The report folders a run writes or reads: each dataset's, and the comparison's when it compares two."""
    compares = bool(across) and len(set(datasets)) >= 2
    folders = [root / dataset for dataset in datasets] if per_dataset or compares else []
    return folders + ([root / config.COMPARISON_FOLDER] if compares else [])


def _run_locked(
    root: Path,
    datasets: Sequence[str],
    per_dataset: Sequence[str],
    across: Sequence[str],
    parameters: dict,
    progress: bool,
    force: bool,
    kernel: SharedKernel | None = None,
) -> list[Path]:
    cold = not any(stored_records(root / dataset) for dataset in datasets)
    rendered = []
    for dataset in datasets if per_dataset else ():
        output_dir = root / dataset
        values = parameters | {"dataset": dataset, "output_dir": str(output_dir)}
        rendered += _run_in_order(per_dataset, values, output_dir, [output_dir], dataset, progress, cold, force, kernel=kernel)
    if across and len(set(datasets)) < 2:
        print(f"\nSkipping {', '.join(across)}: it compares datasets, and this run has only {', '.join(datasets)}.")
    elif across:
        values = parameters | {"datasets": ",".join(datasets), "reports_dir": str(root)}
        sources = [root / dataset for dataset in datasets]
        bench_file = [root / "bench.json"]  # 10's appendix shows the latest bench
        rendered += _run_in_order(
            across, values, root / config.COMPARISON_FOLDER, sources, "all datasets", progress, cold, force, bench_file, kernel
        )
    return rendered


def stored_records(output_dir: Path) -> list[Path]:
    """The training records stored in a report folder, the reference runs of `03_cnn` included (see `convlab.cache`)."""
    results = output_dir / "results"
    return records.committed([*results.glob("*.json"), *(results / "reference").glob("*.json")])


def record_versions(output_dir: Path) -> dict[Path, int]:
    """Every stored training record of a report folder with its modification time (ns)."""
    return {path: path.stat().st_mtime_ns for path in stored_records(output_dir)}


def trained_since(output_dir: Path, before: dict[Path, int]) -> list[dict]:
    """Records of the runs trained in this report folder since `before` (`record_versions` then) was taken.

    Training writes a record; reusing a run leaves its record untouched. Comparing files, not the
    records' `created` times (whole seconds), keeps a run trained at the end of one notebook from
    counting for the next one too.
    """
    trained = []
    for path, version in record_versions(output_dir).items():
        if before.get(path) == version:
            continue
        try:
            trained.append(records.read_record(path))
        except records.MissingResultError:
            continue
    return trained


def startup_seconds(executed: Path, started: datetime) -> float | None:
    """Seconds from the start of a notebook's run to the end of its first cell after the parameters (imports, data)."""
    import nbformat

    cells = [cell for cell in nbformat.read(executed, as_version=4).cells if cell.cell_type == "code"]
    tags = ("parameters", "injected-parameters")
    tagged = [index for index, cell in enumerate(cells) if set(tags) & set(cell.metadata.get("tags", []))]
    setup = cells[tagged[-1] + 1] if tagged and tagged[-1] + 1 < len(cells) else None
    end = setup and setup.metadata.get("papermill", {}).get("end_time")
    return round((datetime.fromisoformat(end) - started).total_seconds(), 1) if end else None


def results_state(folders: Sequence[Path], files: Sequence[Path] = (), *, before: float | None = None) -> str:
    """sha256 over every stored result under these report folders (serving records aside: only 06 writes them).

    `before` (a time.time() value) leaves out the results written since then: those of a notebook that was stopped.
    """
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.read_bytes() if path.is_file() else b"absent")
    for folder in folders:
        for path in records.committed((folder / "results").rglob("*.json")):
            if "serving" in path.relative_to(folder / "results").parts or (before and path.stat().st_mtime >= before):
                continue
            digest.update(f"{path.relative_to(folder)}\n".encode() + path.read_bytes())
    return digest.hexdigest()


def notebook_key(notebook: str, parameters: dict) -> str:
    """sha256 of what decides a notebook's outputs, stored results aside: its code, the parameters it declares,
    the convlab source it can import (`NOT_IMPORTED_BY_NOTEBOOKS` aside) and the package versions."""
    import nbformat

    path = config.NOTEBOOKS_DIR / f"{notebook}.ipynb"
    source = nbformat.read(path, as_version=4)
    digest = hashlib.sha256()
    digest.update("\n\0".join(cell.source for cell in source.cells if cell.cell_type == "code").encode())
    implied = ("output_dir", "reports_dir")  # the folder that holds the executed copy, and its parent
    declared = {key: value for key, value in parameters.items() if key in notebook_parameters(path) and key not in implied}
    digest.update(json.dumps(declared, sort_keys=True).encode())
    for module in sorted(config.PACKAGE_DIR.rglob("*.py")):
        if module.name not in NOT_IMPORTED_BY_NOTEBOOKS:
            digest.update(module.relative_to(config.PACKAGE_DIR).as_posix().encode() + module.read_bytes())
    digest.update(json.dumps(records.package_versions(), sort_keys=True).encode())
    return digest.hexdigest()


def refresh_markdown(notebook: str, executed: Path) -> bool:
    """Give an executed notebook the source's current markdown, keeping every code cell's outputs.

    Returns whether the markdown had changed (the file is left untouched if not)."""
    import nbformat

    source = nbformat.read(config.NOTEBOOKS_DIR / f"{notebook}.ipynb", as_version=4)
    old = nbformat.read(executed, as_version=4)
    injected = [cell for cell in old.cells if "injected-parameters" in cell.metadata.get("tags", [])]
    executed_code = iter(cell for cell in old.cells if cell.cell_type == "code" and cell not in injected)
    cells = []
    for cell in source.cells:
        cells.append(next(executed_code) if cell.cell_type == "code" else cell)
        if "parameters" in cell.metadata.get("tags", []):
            cells += injected
    changed = [cell.source for cell in cells if cell.cell_type == "markdown"] != [
        cell.source for cell in old.cells if cell.cell_type == "markdown"
    ]
    if changed:
        old.cells = cells
        with records.atomic_path(executed) as temporary:
            nbformat.write(old, temporary)
    return changed


def _run_in_order(
    notebooks: Sequence[str],
    parameters: dict,
    output_dir: Path,
    sources: Sequence[Path],
    label: str,
    progress: bool,
    cold: bool,
    force: bool,
    files: Sequence[Path] = (),
    kernel: SharedKernel | None = None,
) -> list[Path]:
    """Execute (or refresh) and render `notebooks` into `output_dir`; their times go to `pipeline.json` there.

    `sources` are the report folders whose stored results the notebooks read, `files` further inputs.
    Each notebook is recorded in `pipeline.json` as it starts ("running") and as it ends ("executed"), so a
    run that is stopped (a signal, SIGKILL included) keeps what it finished: the next run skips the notebooks
    that had ended, setting aside for that check what the stopped notebook had written (it runs again).
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    records.remove_temporaries(output_dir)  # left by a stopped run (this run holds the folder's lock)
    for folder in (output_dir / "results", output_dir / "models"):
        records.remove_temporaries(folder, recursive=True)
    stored = _stored_timings(output_dir / "pipeline.json")
    last_runs, stopped = stored.get("executed", {}), stored.get("running")
    rendered, timings, keys = [], {}, {}
    for notebook in notebooks:
        started, clock = datetime.now(UTC), time.perf_counter()
        keys[notebook] = notebook_key(notebook, parameters)
        executed = output_dir / f"{notebook}.ipynb"
        before = stopped["since"] if stopped and stopped["notebook"] != notebook else None
        unchanged = last_runs.get(notebook) == {"key": keys[notebook], "results": results_state(sources, files, before=before)}
        if stopped and stopped["notebook"] == notebook:
            stopped = None  # from the stopped notebook on, everything it wrote counts
        if unchanged and executed.is_file() and not force:
            refreshed = refresh_markdown(notebook, executed)
            if refreshed or not executed.with_suffix(".html").is_file():
                render_html(executed)
            rendered.append(executed.with_suffix(".html"))
            print(f"=== {notebook} on {label}: unchanged since it last ran{'; markdown refreshed' if refreshed else ''} ===")
            timings[notebook] = {"seconds": round(time.perf_counter() - clock, 1), "executed": False, "trained": 0}
            continue
        print(f"\n=== {notebook} on {label} ===", flush=True)
        stopped = None
        _mark(output_dir / "pipeline.json", running={"notebook": notebook, "since": time.time()})
        before = record_versions(output_dir)
        execute(notebook, parameters, output_dir, progress=progress, kernel=kernel)
        rendered.append(render_html(executed))
        finished = {notebook: {"key": keys[notebook], "results": results_state(sources, files)}}
        _mark(output_dir / "pipeline.json", running=None, executed=finished)
        trained = trained_since(output_dir, before)
        timings[notebook] = {
            "seconds": round(time.perf_counter() - clock, 1),
            "training_seconds": round(sum(record["timing"]["train_seconds"] for record in trained), 1),
            "trained": len(trained),
            "executed": True,
            "startup_seconds": startup_seconds(executed, started),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        print(f"=== {notebook} on {label}: {timings[notebook]['seconds']} s ===", flush=True)
    state = results_state(sources, files)
    executed_runs = {notebook: {"key": key, "results": state} for notebook, key in keys.items()}
    _record_timings(output_dir / "pipeline.json", parameters, timings, cold=cold, executed=executed_runs)
    return rendered


def _mark(path: Path, *, running: dict | None, executed: dict | None = None) -> None:
    """Record in `pipeline.json` the notebook now executing (None: none), and notebooks that have just ended."""
    stored = _stored_timings(path)
    stored["executed"] = stored.get("executed", {}) | (executed or {})
    previous = stored.get("running")
    if running and previous and previous["notebook"] == running["notebook"]:
        running = previous  # stopped before: everything it wrote since it first started stays set aside
    stored["running"] = running
    records.write_json(path, {key: value for key, value in stored.items() if value is not None})


def _stored_timings(path: Path) -> dict:
    try:
        return records.read_json(path)
    except records.MissingResultError:
        return {}


def _record_timings(path: Path, parameters: dict, timings: dict, *, cold: bool = False, executed: dict | None = None) -> None:
    """Merge this run's notebook times into `pipeline.json`.

    `runs` keeps, per notebook, its last execution (a partial run, or a notebook left unchanged, keeps the
    earlier entry). The run itself is kept as "last", and as the latest "cold" one (it started with no stored runs)
    or "warm" one (it executed notebooks but trained nothing), which `convlab.bench` reads.
    """
    earlier = _stored_timings(path)
    runs = earlier.get("runs", {})
    runs.update(
        {
            notebook: timing | {"parameters": parameters}
            for notebook, timing in timings.items()
            if timing["executed"] or notebook not in runs
        }
    )
    stored = earlier | {"parameters": parameters, "runs": runs}
    stored.pop("notebook_seconds", None)  # superseded by runs
    stored["executed"] = earlier.get("executed", {}) | (executed or {})
    stored.pop("running", None)  # every notebook of the run has ended
    this_run = {"finished": datetime.now(UTC).isoformat(timespec="seconds"), "parameters": parameters, "notebooks": timings}
    stored["last"] = this_run
    if cold:
        stored["cold"] = this_run
    elif any(timing["executed"] for timing in timings.values()) and not any(timing["trained"] for timing in timings.values()):
        stored["warm"] = this_run
    records.write_json(path, stored)


def absolute_folders(parameters: dict) -> dict:
    """The folder parameters resolved against the caller's working directory (kernels run in notebooks/)."""
    resolved = {name: str(Path(str(parameters[name])).expanduser().resolve()) for name in FOLDER_PARAMETERS if name in parameters}
    if "images_dir" in resolved:
        config.output_folder(resolved["images_dir"], "images_dir", config.IMAGES_DIR)
    return parameters | resolved


def quiet_dead_kernel_tasks() -> None:
    """After a stop, the cell that was running ends with "Kernel died" in a task nobody awaits any more; asyncio
    would print it as "Task exception was never retrieved" with a traceback. That one message is dropped."""
    import logging

    from nbclient.exceptions import DeadKernelError

    def keep(record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not (record.getMessage().startswith("Task exception was never retrieved") and isinstance(error, DeadKernelError))

    logging.getLogger("asyncio").addFilter(keep)


FOLDER_VARIABLES = (config.DATA_DIR_ENV, "CONVLAB_REFERENCE_DIR")  # environment variables that name folders


def absolute_environment(environment=os.environ) -> None:
    """Folder variables given relative to the caller's working directory, made absolute (kernels run in notebooks/)."""
    for name in FOLDER_VARIABLES:
        value = environment.get(name, "")
        if value and not Path(value).expanduser().is_absolute():
            environment[name] = str(Path(value).expanduser().resolve())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=list(config.DATASETS), choices=config.DATASETS)
    parser.add_argument("--notebooks", nargs="+", default=list(config.ALL_NOTEBOOKS), choices=config.ALL_NOTEBOOKS)
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
    args = parser.parse_args(argv)
    parameters = {name: value for name, value in args.parameter if value != ""}
    in_main_thread = threading.current_thread() is threading.main_thread()  # only there can a handler be set
    previous = signal.signal(signal.SIGTERM, _stop_on_signal) if in_main_thread else None
    try:
        parameters = absolute_folders(parameters)
        absolute_environment()
        html = run(args.datasets, args.notebooks, parameters, args.output_root, progress=not args.no_progress, force=args.force)
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
