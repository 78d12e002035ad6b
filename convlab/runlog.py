"""`pipeline.json`, one per report folder: which notebook is running, each notebook's stamp and its run times.

The pipeline writes it (`mark`, `record`); the report, the publish check and the bench read it (`read`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from convlab import records

FILE = "pipeline.json"


def path_of(folder: Path) -> Path:
    return folder / FILE


def read(folder: Path) -> dict:
    """A report folder's run log; empty when no run has written one."""
    return records.read_json_if_present(path_of(folder))


def mark(folder: Path, *, running: dict | None, executed: dict | None = None) -> None:
    """Record the notebook now executing (None: none), and the stamps of notebooks that have just ended."""
    stored = read(folder)
    stored["executed"] = stored.get("executed", {}) | (executed or {})
    stored["running"] = running
    records.write_json(path_of(folder), {key: value for key, value in stored.items() if value is not None})


def record(folder: Path, parameters: dict, timings: dict, *, cold: bool = False) -> None:
    """Merge a run's notebook times into the log.

    `runs` keeps, per notebook, its last execution (a partial run, or a notebook left unchanged, keeps the
    earlier entry). The run itself is kept as "last", and as the latest "cold" one (it started with no stored runs)
    or "warm" one (it executed notebooks but trained nothing), which `convlab.bench` reads.
    """
    earlier = read(folder)
    runs = earlier.get("runs", {})
    runs.update(
        {
            notebook: timing | {"parameters": parameters}
            for notebook, timing in timings.items()
            if timing["executed"] or notebook not in runs
        }
    )
    stored = earlier | {"parameters": parameters, "runs": runs}
    stored.pop("running", None)  # every notebook of the run has ended
    this_run = {"finished": datetime.now(UTC).isoformat(timespec="seconds"), "parameters": parameters, "notebooks": timings}
    stored["last"] = this_run
    if cold:
        stored["cold"] = this_run
    elif any(timing["executed"] for timing in timings.values()) and not any(timing["trained"] for timing in timings.values()):
        stored["warm"] = this_run
    records.write_json(path_of(folder), stored)


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
