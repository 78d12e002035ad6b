"""Run the notebooks in order with papermill and render them to HTML with nbconvert.

    python -m convlab.pipeline --datasets fashion_mnist mnist -p epochs 15 -p seeds 0

Each notebook executes into a temporary file that replaces the executed copy
only on success: a failing notebook stops the run with its error, leaves the
earlier outputs as they were, and keeps the failed copy as `<name>.failed.ipynb`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from convlab import config, records

KERNEL_NAME = "convlab"
COMPARISON_FOLDER = "comparison"  # executed cross-dataset notebooks, beside the per-dataset folders


class NotebookFailed(RuntimeError):
    """A notebook raised an error while executing."""


def kernel_name() -> str | None:
    """The project's kernel if `make setup` installed it, else the notebook's own kernel."""
    from jupyter_client.kernelspec import KernelSpecManager

    return KERNEL_NAME if KERNEL_NAME in KernelSpecManager().find_kernel_specs() else None


def notebook_parameters(notebook: Path) -> set[str]:
    """Names declared in a notebook's `parameters` cell."""
    import papermill

    return set(papermill.inspect_notebook(str(notebook)))


def execute(notebook: str, parameters: dict, output_dir: Path, *, progress: bool = True) -> Path:
    """Execute one notebook into `<output_dir>/<notebook>.ipynb`, atomically."""
    import papermill

    source = config.NOTEBOOKS_DIR / f"{notebook}.ipynb"
    if not source.is_file():
        raise FileNotFoundError(f"No notebook {source}; choose from {', '.join(config.ALL_NOTEBOOKS)}.")
    # Kernels inherit this: TensorFlow's C++ start-up notices would otherwise fill the executed notebooks.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    declared = notebook_parameters(source)
    executed = output_dir / f"{notebook}.ipynb"
    failed = output_dir / f"{notebook}.failed.ipynb"
    with records.atomic_path(executed) as temporary:
        try:
            papermill.execute_notebook(
                str(source),
                str(temporary),
                parameters={key: value for key, value in parameters.items() if key in declared},
                kernel_name=kernel_name(),
                cwd=str(config.NOTEBOOKS_DIR),
                progress_bar=progress,
                log_output=False,
                stdout_file=sys.stdout,
                stderr_file=sys.stderr,
            )
        except papermill.PapermillExecutionError as error:
            shutil.copyfile(temporary, failed)
            raise NotebookFailed(
                f"{notebook} failed in cell {error.exec_count}: {error.ename}: {error.evalue}\n"
                f"The failed notebook is kept at {failed}; earlier outputs are untouched."
            ) from None
    failed.unlink(missing_ok=True)
    return executed


def render_html(executed: Path) -> Path:
    """Render an executed notebook to HTML beside it, atomically."""
    import nbconvert
    import nbformat

    notebook = nbformat.read(executed, as_version=4)
    body, _ = nbconvert.HTMLExporter().from_notebook_node(notebook)
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
) -> list[Path]:
    """Execute and render every notebook for every dataset, then the cross-dataset ones; return the HTML files."""
    root = output_root or config.REPORTS_DIR
    per_dataset = [notebook for notebook in notebooks if notebook not in config.CROSS_DATASET_NOTEBOOKS]
    across = [notebook for notebook in notebooks if notebook in config.CROSS_DATASET_NOTEBOOKS]
    rendered = []
    for dataset in datasets if per_dataset else ():
        output_dir = root / dataset
        rendered += _run_in_order(
            per_dataset, parameters | {"dataset": dataset, "output_dir": str(output_dir)}, output_dir, dataset, progress
        )
    if across and len(set(datasets)) < 2:
        print(f"\nSkipping {', '.join(across)}: it compares datasets, and this run has only {', '.join(datasets)}.")
    elif across:
        values = parameters | {"datasets": ",".join(datasets), "reports_dir": str(root)}
        rendered += _run_in_order(across, values, root / COMPARISON_FOLDER, "all datasets", progress)
    return rendered


def _run_in_order(notebooks: Sequence[str], parameters: dict, output_dir: Path, label: str, progress: bool) -> list[Path]:
    """Execute and render `notebooks` into `output_dir`; their wall times go to `pipeline.json` there."""
    output_dir.mkdir(parents=True, exist_ok=True)
    rendered, timings = [], {}
    for notebook in notebooks:
        print(f"\n=== {notebook} on {label} ===", flush=True)
        started = time.perf_counter()
        executed = execute(notebook, parameters, output_dir, progress=progress)
        rendered.append(render_html(executed))
        timings[notebook] = round(time.perf_counter() - started, 1)
        print(f"=== {notebook} on {label}: {timings[notebook]} s ===", flush=True)
    _record_timings(output_dir / "pipeline.json", parameters, timings)
    return rendered


def _record_timings(path: Path, parameters: dict, timings: dict) -> None:
    """Merge this run's notebook times into `pipeline.json` (a partial run keeps the others' times)."""
    try:
        earlier = records.read_json(path)
    except records.MissingResultError:
        earlier = {}
    runs = earlier.get("runs", {})
    runs.update({notebook: {"seconds": seconds, "parameters": parameters} for notebook, seconds in timings.items()})
    notebook_seconds = earlier.get("notebook_seconds", {}) | timings
    records.write_json(path, {"parameters": parameters, "notebook_seconds": notebook_seconds, "runs": runs})


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
    args = parser.parse_args(argv)
    parameters = {name: value for name, value in args.parameter if value != ""}
    try:
        html = run(args.datasets, args.notebooks, parameters, args.output_root, progress=not args.no_progress)
    except NotebookFailed as error:
        print(f"\nERROR: {error}", file=sys.stderr)
        return 1
    print("\nRendered:\n" + "\n".join(f"  {path}" for path in html))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
