"""What is reused, and by one rule: a stored product is valid while the key of its inputs is unchanged.

Every stored product (a training run, a probe, an executed notebook, the report) is saved with `fingerprint`
of its inputs and reused only when `is_current` holds: the same key, and every file of the product in place.
The keys: `fit.cache_key` (a run), `probes.probe_key` (a probe of a run), `staleness.notebook_stamp`
(an executed notebook) and `report.inputs_key` (the document).

    python -m convlab.store.cache clear            # every dataset folder under reports/
    python -m convlab.store.cache clear --root DIR # a report tree elsewhere

Clearing forces every configuration to train (and every probe to be measured) again on the next run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

from convlab.store import locking
from convlab.study import config, paths


def fingerprint(inputs: object) -> str:
    """sha256 of `inputs` (anything JSON can write) as canonical JSON: the key a stored product is saved with."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def files_digest(files: Iterable[Path], relative_to: Path | None = None) -> str:
    """sha256 over files' names and bytes, in the order given (an absent file counts as such)."""
    digest = hashlib.sha256()
    for path in files:
        name = path.relative_to(relative_to).as_posix() if relative_to else str(path)
        digest.update(f"{name}\n".encode() + (path.read_bytes() if path.is_file() else b"absent"))
    return digest.hexdigest()


def is_current(stored_key: object, key: str, products: Iterable[Path] = ()) -> bool:
    """The rule: a stored product is still valid when it was saved with this key and all its files exist."""
    return stored_key == key and all(Path(path).is_file() for path in products)


CACHED_FOLDERS = ("results", "models", "sagemaker")  # per dataset: records (probes, serving), models, 06's job


def cached_folders(root: Path) -> list[Path]:
    """The cache's folders under a report tree, dataset by dataset."""
    return [root / name / folder for name in config.DATASETS for folder in CACHED_FOLDERS if (root / name / folder).exists()]


def clear(root: Path | None = None) -> list[Path]:
    """Delete every stored run under `root` (reports/ unless given); return what was removed.

    Raises `locking.FolderLocked` while a run works in one of its report folders.
    """
    root = root or paths.REPORTS_DIR
    folders = [root / name for name in config.DATASETS if (root / name).is_dir()]
    with locking.hold(folders):  # never under a run that is writing them
        removed = cached_folders(root)
        for folder in removed:
            shutil.rmtree(folder)
    return removed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("clear",))
    parser.add_argument("--root", type=Path, default=None, help="the report tree (default: reports/)")
    args = parser.parse_args(argv)
    try:
        removed = clear(paths.output_folder(args.root or "", "--root", paths.REPORTS_DIR))
    except (locking.FolderLocked, config.ParameterError) as error:
        print(f"ERROR: {error}")
        return 1
    print("\n".join(f"removed {folder}" for folder in removed) or "The cache was already empty.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
