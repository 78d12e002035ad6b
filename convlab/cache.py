"""The training cache: the stored runs (result records and models) that later notebooks and reruns reuse.

    python -m convlab.cache clear            # every dataset folder under reports/
    python -m convlab.cache clear --root DIR # a report tree elsewhere

A run is reused only when its cache key (see `training.cache_key`) and its model's sha256
match; clearing forces every configuration to train again on the next run.
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Sequence
from pathlib import Path

from convlab import config, locking

CACHED_FOLDERS = ("results", "models", "sagemaker")  # per dataset: records (probes, serving), models, 06's job


def cached_folders(root: Path) -> list[Path]:
    """The cache's folders under a report tree, dataset by dataset."""
    return [root / name / folder for name in config.DATASETS for folder in CACHED_FOLDERS if (root / name / folder).exists()]


def clear(root: Path | None = None) -> list[Path]:
    """Delete every stored run under `root` (reports/ unless given); return what was removed.

    Raises `locking.FolderLocked` while a run works in one of its report folders.
    """
    root = root or config.REPORTS_DIR
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
        removed = clear(config.output_folder(args.root or "", "--root", config.REPORTS_DIR))
    except (locking.FolderLocked, config.ParameterError) as error:
        print(f"ERROR: {error}")
        return 1
    print("\n".join(f"removed {folder}" for folder in removed) or "The cache was already empty.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
