"""Training slots shared by every process on the machine: a training holds one while it runs, so that trainings
never outnumber the cores, whichever notebooks, datasets and worker processes run at once.

A slot is a lock file (`flock`) in one folder per user (`CONVLAB_SLOTS_DIR`, else under the system's temporary
folder); there are as many as the cores this process may use (`CONVLAB_SLOTS` overrides). The operating system
drops a lock when its holder ends, however it ends, so a killed run frees its slot. While a training runs, a thread
counts the slots held every few seconds: the largest count is the number of trainings that ran at once, which the
training's record keeps (`timing.trainings_at_once`), so that a timing can be quoted only from a run that had its
core alone.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from convlab.study import paths

SLOTS_ENV = "CONVLAB_SLOTS"
FOLDER_ENV = "CONVLAB_SLOTS_DIR"


def slot_count(environment=os.environ) -> int:
    """`CONVLAB_SLOTS`, else the number of cores this process may run on."""
    value = environment.get(SLOTS_ENV, "").strip()
    if not value:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if not value.isdigit() or int(value) < 1:
        raise paths.ParameterError(f"{SLOTS_ENV}={value!r} is not a number of trainings: use a whole number ≥ 1.")
    return int(value)


def folder(environment=os.environ) -> Path:
    chosen = environment.get(FOLDER_ENV, "").strip()
    path = Path(chosen) if chosen else Path(tempfile.gettempdir()) / f"convlab-training-slots-{os.getuid()}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def held(count: int | None = None, where: Path | None = None) -> int:
    """How many of the slots are held now (by any process)."""
    count, where = count or slot_count(), where or folder()
    busy = 0
    for index in range(count):
        with open(where / f"slot-{index}", "a+b") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                busy += 1
            else:
                fcntl.flock(handle, fcntl.LOCK_UN)
    return busy


@dataclass
class Slot:
    """A slot held: its number, the slots there are, and the most trainings seen running at once while held."""

    index: int
    slots: int
    most: int = 1
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)


@contextmanager
def training_slot(count: int | None = None, where: Path | None = None, poll: float = 0.5, every: float = 5.0) -> Iterator[Slot]:
    """Wait for a free slot and hold it while the block runs, counting the trainings that run meanwhile."""
    count, where = count or slot_count(), where or folder()
    announced = False
    while True:
        for index in range(count):
            handle = open(where / f"slot-{index}", "a+b")  # noqa: SIM115  (held open as long as the lock)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            slot = Slot(index, count, most=held(count, where))
            watcher = threading.Thread(target=_watch, args=(slot, where, every), daemon=True)
            watcher.start()
            try:
                yield slot
            finally:
                slot._stop.set()
                watcher.join()
                slot.most = max(slot.most, held(count, where))
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
            return
        if not announced:
            print(f"All {count} training slots are busy (one per core): waiting for one.", flush=True)
            announced = True
        time.sleep(poll)


def _watch(slot: Slot, where: Path, every: float) -> None:
    while not slot._stop.wait(every):
        slot.most = max(slot.most, held(slot.slots, where))
