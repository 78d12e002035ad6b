"""The project's folders and the rules for folders given as parameters: where data, reports and figures go.

Importing this module does no I/O: every path is derived from the package's own location or from the
environment when a function is called.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # this file is convlab/study/paths.py


PROJECT_DIR = PACKAGE_DIR.parent


NOTEBOOKS_DIR = PROJECT_DIR / "notebooks"


DEFAULT_DATA_DIR = PROJECT_DIR / "data"


REPORTS_DIR = PROJECT_DIR / "reports"


IMAGES_DIR = PROJECT_DIR / "images"


DEBIAN_DATASETS_DIR = Path("/usr/share/datasets")


DATA_DIR_ENV = "CONVLAB_DATA_DIR"


OFFLINE_ENV = "CONVLAB_OFFLINE"

SOURCE_FOLDERS = ("convlab", "notebooks", "tests", ".git")  # the project's source: no run writes into them


class ParameterError(ValueError):
    """A run parameter has a value that cannot be used."""


class UnsafePath(ParameterError):
    """A path from a parameter or a stored record leads out of its folder, or an output folder lies in the source."""


def confined(folder: str | Path, name: object, what: str) -> Path:
    """`folder / name`, refused unless it lies inside `folder` once resolved (no `..` out, no absolute path, no symlink out)."""
    text = str(name)
    base = Path(folder).resolve()
    target = (base / text).resolve()
    if not text or Path(text).is_absolute() or target == base or not target.is_relative_to(base):
        raise UnsafePath(f"{what} {text!r} leads outside {folder}: only a name inside that folder is accepted.")
    return Path(folder) / text


def output_folder(value: object, name: str, default: Path) -> Path:
    """An output folder parameter as an absolute path (`~` expanded, symlinks resolved; empty: `default`).

    It may point anywhere the user chooses except into the project's source folders (`SOURCE_FOLDERS`).
    """
    folder = Path(str(value)).expanduser().resolve() if value else default
    for source in SOURCE_FOLDERS:
        protected = (PROJECT_DIR / source).resolve()
        if folder.is_relative_to(protected):
            raise UnsafePath(
                f"{name}={str(value)!r} resolves to {folder}, inside the project's source folder {source}/; "
                f"choose a folder outside {', '.join(f'{item}/' for item in SOURCE_FOLDERS)} (empty: {default})."
            )
    return folder


def resolve_data_dir(override: str | Path | None = None) -> Path:
    """The data folder: the explicit override, else $CONVLAB_DATA_DIR, else `data/`."""
    if override:
        return Path(override).expanduser().resolve()
    from_env = os.environ.get(DATA_DIR_ENV)
    if from_env:
        return Path(from_env).expanduser().resolve()
    return DEFAULT_DATA_DIR


def keras_cache_dir() -> Path:
    """Where the Keras loaders keep downloaded datasets ($KERAS_HOME or ~/.keras)."""
    keras_home = os.environ.get("KERAS_HOME") or Path.home() / ".keras"
    return Path(keras_home) / "datasets"


def downloads_allowed() -> bool:
    """False when $CONVLAB_OFFLINE is set to a true value (1, true, yes)."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in {"1", "true", "yes", "on"}


def reports_root(value: object = "") -> Path:
    """The folder that holds every dataset's report folder (reports/ unless given)."""
    return output_folder(value, "reports_dir", REPORTS_DIR)


def shown(path: str | Path) -> str:
    """A path as messages print it: relative to the repository when inside it or beside it ("../shared/..."), so a
    report names no folder of the machine that built it."""
    path, project = Path(os.path.abspath(path)), Path(os.path.abspath(PROJECT_DIR))  # symbolic links kept as named
    for base, prefix in ((project, ""), (project.parent, "../")):
        try:
            return prefix + path.relative_to(base).as_posix()
        except ValueError:
            continue
    return str(path)


def without_folders(text: str) -> str:
    """Text with every absolute path cut to its last part ("IDX files: /a/b/mnist" → "IDX files: mnist"): for text
    written by another machine, such as a record's data source, where `shown` would keep that machine's folders."""
    return re.sub(r"(?:/[^\s/:]+)+/([^\s/:]+)", r"\1", text)
