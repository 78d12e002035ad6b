"""TensorFlow in `.venv-studio` as SageMaker Studio's image has it: a CPU build, distributed under the name `tensorflow`.

Studio's image installs conda's `tensorflow` (with `tensorflow-base`): a CPU build whose installed metadata names it
`tensorflow` (`importlib.metadata.version("tensorflow")` works there, `"tensorflow-cpu"` raises). PyPI has no such
wheel: its Linux `tensorflow` is the CUDA build (`tf.sysconfig.get_build_info()["is_cuda_build"]` is True), and its
CPU build of the same code is named `tensorflow-cpu`. So `requirements/studio.txt` installs `tensorflow-cpu` at the
image's version, and then this renames that distribution, as the Makefile's `.venv-studio/.installed` recipe does:

    .venv-studio/bin/python -m convlab.tools.studio_env

The installed package (the `tensorflow` module, the CPU build) is left as it is; only its distribution metadata
changes: the folder `tensorflow_cpu-<version>.dist-info` becomes `tensorflow-<version>.dist-info`, METADATA's
`Name:` becomes `tensorflow`, and RECORD lists the renamed folder's files with the new hash and size of METADATA (so
`pip uninstall tensorflow` still removes every file). Run it in the interpreter whose environment is to change; a
second run finds `tensorflow` already and changes nothing. Standard library only: it runs before convlab is installed.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import importlib.metadata
import io
import re
import sys
from collections.abc import Sequence
from pathlib import Path

PYPI_NAME = "tensorflow-cpu"  # what PyPI calls its CPU build
STUDIO_NAME = "tensorflow"  # what Studio's conda package is called once installed


def _installed(name: str, path: list[str] | None = None) -> importlib.metadata.Distribution | None:
    """The distribution `name` that this interpreter imports (the first on `path`, default sys.path), or None."""
    return next(iter(importlib.metadata.distributions(name=name, path=path if path is not None else sys.path)), None)


def _dist_info(distribution: importlib.metadata.Distribution) -> Path:
    """The distribution's `*.dist-info` folder, found through its own RECORD."""
    for file in distribution.files or []:
        if file.name == "METADATA" and file.parent.name.endswith(".dist-info"):
            return Path(distribution.locate_file(file)).parent
    raise RuntimeError(f"{distribution.metadata['Name']} {distribution.version} has no *.dist-info/METADATA in its RECORD")


def _record_hash(content: bytes) -> str:
    """RECORD's form of a file's hash (the wheel spec: urlsafe base64 of the sha256, without padding)."""
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode("ascii")


def renamed_metadata(text: str, name: str) -> str:
    """METADATA with its (first, header) `Name:` field set to `name`."""
    renamed, count = re.subn(r"^Name: .*$", f"Name: {name}", text, count=1, flags=re.MULTILINE)
    if not count:
        raise ValueError("METADATA has no Name: field")
    return renamed


def renamed_record(text: str, old_folder: str, new_folder: str, metadata: bytes) -> str:
    """RECORD with the dist-info folder's files under `new_folder`, METADATA's hash and size those of `metadata`."""
    rows = []
    for row in csv.reader(io.StringIO(text)):
        if not row:
            continue
        path = row[0]
        if path.startswith(f"{old_folder}/"):
            path = f"{new_folder}/{path[len(old_folder) + 1 :]}"
            if path == f"{new_folder}/METADATA":
                row[1:3] = [_record_hash(metadata), str(len(metadata))]
        rows.append([path, *row[1:]])
    written = io.StringIO()
    csv.writer(written, lineterminator="\n").writerows(rows)
    return written.getvalue()


def rename(old: str = PYPI_NAME, new: str = STUDIO_NAME, path: list[str] | None = None) -> str:
    """Rename the installed distribution `old` to `new` in this interpreter's environment (or the folders `path`);
    say what was done."""
    existing, installed = _installed(new, path), _installed(old, path)
    if installed is None:
        if existing is not None:
            return f"{new} {existing.version} is installed under that name already: nothing to rename"
        raise RuntimeError(f"neither {old} nor {new} is installed in {sys.prefix}")
    if existing is not None:
        raise RuntimeError(f"both {old} {installed.version} and {new} {existing.version} are installed in {sys.prefix}")
    folder, version = _dist_info(installed), installed.version
    new_folder = folder.with_name(f"{new.replace('-', '_')}-{version}.dist-info")
    metadata = renamed_metadata((folder / "METADATA").read_text(encoding="utf-8"), new).encode("utf-8")
    record = renamed_record((folder / "RECORD").read_text(encoding="utf-8"), folder.name, new_folder.name, metadata)
    (folder / "METADATA").write_bytes(metadata)
    (folder / "RECORD").write_text(record, encoding="utf-8")
    folder.rename(new_folder)
    importlib.invalidate_caches()
    return f"{old} {version} is now distributed as {new} ({new_folder})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args(argv)
    print(rename())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
