"""One writer per report folder: a second run that would write the same folder at once is refused, naming the first.

Each report folder (`reports/<dataset>/`, `reports/comparison/`, the report tree itself for the report's pages)
holds a `.pipeline.lock` file. A run takes an exclusive `flock` on it for as long as it works there and writes
its pid, start time and command line into it. The operating system releases the lock when its holder exits,
however it ends (SIGKILL included), so the lock of a dead run never blocks: only a live holder does.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

LOCK_FILE = ".pipeline.lock"


class FolderLocked(RuntimeError):
    """Another live run holds the lock of a report folder."""


@contextmanager
def hold(folders: Iterable[str | Path], fix: str = "") -> Iterator[list[Path]]:
    """Hold the lock of every folder (created if missing) until the block ends; yield the lock files.

    Raises `FolderLocked` at once, without waiting, when another live process holds one of them; `fix`
    completes its message ("pass another --output-root to run beside it"). Folders whose lock file exists are locked before
    any missing one is created, so a refused run usually leaves the tree exactly as it found it.
    """
    ordered = sorted({Path(folder).expanduser().resolve() for folder in folders})
    existing = [folder for folder in ordered if (folder / LOCK_FILE).is_file()]
    with ExitStack() as stack:
        held = [stack.enter_context(_locked(folder, fix)) for folder in existing]
        held += [stack.enter_context(_locked(folder, fix)) for folder in ordered if folder not in existing]
        yield held


@contextmanager
def _locked(folder: Path, fix: str) -> Iterator[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by child processes (PEP 446)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderLocked(refusal(folder, holder(path), fix)) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, json.dumps(this_process()).encode(), 0)
        yield path
    finally:
        os.close(descriptor)  # releases the lock


def this_process() -> dict:
    """What a lock file says about its holder."""
    return {"pid": os.getpid(), "started": datetime.now(UTC).isoformat(timespec="seconds"), "command": " ".join(sys.argv)}


def holder(path: Path) -> dict:
    """The holder a lock file names ({} when it is being rewritten or unreadable)."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return payload if isinstance(payload, dict) else {}


def refusal(folder: Path, who: dict, fix: str) -> str:
    """The message of a refused run: the folder, the run that holds it, and the fix."""
    if who:
        other = f"process {who.get('pid')}, started {who.get('started')} UTC ({who.get('command')})"
    else:
        other = "another process"
    return f"{folder} is in use by another run: {other}. Wait for it to finish" + (f", or {fix}." if fix else ".")
