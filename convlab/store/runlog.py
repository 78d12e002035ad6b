"""`pipeline.json`, one per report folder: which notebook is running, each notebook's stamp and its run times.

The pipeline writes it (`mark`, `record`); the report, the publish check and the bench read it (`read`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from convlab.store import records

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
    or "warm" one (it executed notebooks but trained nothing), which `convlab.tools.bench` reads.
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
    """The training records stored in a report folder: the reference runs of `03_cnn` (see `convlab.store.cache`), those
    of `12_training_protocol` (`results/protocol/`) and the learning-curve runs (`results/curves/n<size>/`) included."""
    results = output_dir / "results"
    found = [*results.glob("*.json"), *(results / "reference").glob("*.json"), *(results / "curves").glob("n*/*.json")]
    found += (results / "protocol").glob("*.json")
    return records.committed(found)


def whole_run(root: Path, folders: Sequence[str], kind: str) -> dict | None:
    """The latest `kind` run ("cold" or "warm") over these report folders, or None.

    `elapsed_seconds` runs from the first executed notebook's start to the last one's end (folders that ran
    side by side overlap); `notebook_seconds` is summed over notebooks. The training figures come from the
    stored records whose training ended within the run: `training_seconds` summed over the training processes,
    `training_wall_seconds` the time in which at least one model was training (the union of their training
    intervals), and `outside_training_seconds` the rest of the elapsed time.
    """
    runs = [run for run in (read(root / folder).get(kind) for folder in folders) if run]
    executed = [timing for run in runs for timing in run["notebooks"].values() if timing.get("executed", True)]
    spans = [_span(timing) for timing in executed if timing.get("finished")]
    if not executed or not spans:
        return None
    start, end = min(begin for begin, _ in spans), max(finish for _, finish in spans)
    intervals = _training_ended_within([root / folder for folder in folders], start, end)
    training_wall = _union_length(intervals)
    return {
        "finished": max(run["finished"] for run in runs),
        "notebooks": len(executed),
        "elapsed_seconds": round((end - start).total_seconds(), 1),
        "notebook_seconds": round(sum(timing["seconds"] for timing in executed), 1),
        "training_seconds": round(sum(finish - begin for begin, finish in intervals), 1),
        "training_wall_seconds": round(training_wall, 1),
        "outside_training_seconds": round(max(0.0, (end - start).total_seconds() - training_wall), 1),
    }


def trained_during(folder: Path, timing: dict) -> tuple[int, float, float]:
    """The runs stored in a report folder whose training ended while this notebook `timing` ran: how many, their
    training seconds summed over processes, and the seconds in which at least one of them trained. Read from the
    records, so it holds for runs logged before the learning-curve runs were counted as trained (`stored_records`)."""
    if not timing.get("finished"):
        seconds = timing.get("training_seconds", 0.0)
        return timing.get("trained", 0), seconds, seconds
    ended = _training_ended_within([folder], *_span(timing))
    return len(ended), round(sum(finish - begin for begin, finish in ended), 1), round(_union_length(ended), 1)


def _span(timing: dict) -> tuple[datetime, datetime]:
    finished = datetime.fromisoformat(timing["finished"])
    return finished - timedelta(seconds=timing["seconds"]), finished


def _training_ended_within(folders: Sequence[Path], start: datetime, end: datetime) -> list[tuple[float, float]]:
    """Sorted (start, end) training intervals of the stored runs of these folders whose training ended after `start`
    and by `end` (plus the second that records' whole-second times can lag)."""
    low, high = start.timestamp(), end.timestamp() + 1
    return sorted(interval for folder in folders for interval in _training_intervals(folder) if low < interval[1] <= high)


def _training_intervals(folder: Path) -> list[tuple[float, float]]:
    """(start, end) in epoch seconds of every stored training run of a report folder, from its record."""
    intervals = []
    for path in stored_records(folder):
        try:
            record = records.read_record(path)
        except records.MissingResultError:
            continue
        if record.get("created"):
            end = datetime.fromisoformat(record["created"]).timestamp()
            intervals.append((end - record["timing"]["train_seconds"], end))
    return intervals


def _union_length(intervals: list[tuple[float, float]]) -> float:
    """Total length covered by sorted (start, end) intervals, overlaps counted once."""
    total, reach = 0.0, float("-inf")
    for begin, finish in intervals:
        begin = max(begin, reach)
        if finish > begin:
            total += finish - begin
            reach = finish
    return total


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
