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
