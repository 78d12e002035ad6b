"""When an executed notebook is stale: what it is valid for (`notebook_stamp`: its code, its declared parameters,
the convlab source it can import, the package versions, and the results it reads and writes), and its markdown
refreshed without executing it again (`refresh_markdown`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from convlab.store import cache, records
from convlab.study import manifest, paths

# They run notebooks or read their outputs
NOT_IMPORTED_BY_NOTEBOOKS = (  # relative to the package
    "run/pipeline.py",
    "run/jupyter_kernels.py",
    "store/runlog.py",
    "report/report.py",
    "analysis/findings.py",
    "report/doccheck.py",
    "report/publish.py",
)


NOT_IMPORTED_FOLDERS = ("paper",)  # the paper is built from the records after the notebooks ran
# A notebook imports this one from them: the findings paragraph it shows is rendered again from the finished run
# when the report is built (the supplement replaces the notebook's output), so a change to it needs no new execution.
RENDERED_AGAIN = ("paper.notebook_findings",)


def notebook_parameters(notebook: Path) -> set[str]:
    """Names declared in a notebook's `parameters` cell."""
    import papermill

    return set(papermill.inspect_notebook(str(notebook)))


def declared_results(notebook: str, folders: Sequence[Path]) -> list[Path]:
    """The stored result files of a notebook in these report folders: those matching its manifest `writes`."""
    entry = manifest.entry(notebook)
    found = []
    for folder in folders:
        candidates = records.committed((folder / "results").rglob("*.json"))
        found += sorted(path for path in candidates if entry.writes_file(path.relative_to(folder).as_posix()))
    return found


def notebook_stamp(notebook: str, parameters: dict, output_dir: Path, sources: Sequence[Path], root: Path) -> str:
    """What an executed notebook is valid for: `notebook_key`, the results of each notebook it reads (in the
    `sources` report folders), its declared files under the reports `root`, and its own results (in `output_dir`)."""
    entry = manifest.entry(notebook)
    reads = {source: cache.files_digest(declared_results(source, sources), root) for source in entry.reads}
    files = cache.files_digest([root / name for name in entry.reads_files], root)
    own = cache.files_digest(declared_results(notebook, [output_dir]), root)
    return cache.fingerprint({"key": notebook_key(notebook, parameters), "reads": reads, "files": files, "own": own})


def notebook_key(notebook: str, parameters: dict) -> str:
    """sha256 of what decides a notebook's outputs, stored results aside: its code, the parameters it declares,
    the convlab source it can import (`NOT_IMPORTED_BY_NOTEBOOKS` aside) and the package versions."""
    import nbformat

    path = manifest.entry(notebook).path
    source = nbformat.read(path, as_version=4)
    digest = hashlib.sha256()
    digest.update("\n\0".join(cell.source for cell in source.cells if cell.cell_type == "code").encode())
    implied = ("output_dir", "reports_dir")  # the folder that holds the executed copy, and its parent
    declared = {key: value for key, value in parameters.items() if key in notebook_parameters(path) and key not in implied}
    digest.update(json.dumps(declared, sort_keys=True).encode())
    for module in sorted(paths.PACKAGE_DIR.rglob("*.py")):
        relative = module.relative_to(paths.PACKAGE_DIR)
        if relative.as_posix() not in NOT_IMPORTED_BY_NOTEBOOKS and relative.parts[0] not in NOT_IMPORTED_FOLDERS:
            digest.update(module.relative_to(paths.PACKAGE_DIR).as_posix().encode() + module.read_bytes())
    digest.update(json.dumps(records.package_versions(), sort_keys=True).encode())
    return digest.hexdigest()


def refresh_markdown(notebook: str, executed: Path) -> bool:
    """Give an executed notebook the source's current markdown, keeping every code cell's outputs.

    Returns whether the markdown had changed (the file is left untouched if not)."""
    import nbformat

    source = nbformat.read(paths.NOTEBOOKS_DIR / f"{notebook}.ipynb", as_version=4)
    old = nbformat.read(executed, as_version=4)
    injected = [cell for cell in old.cells if "injected-parameters" in cell.metadata.get("tags", [])]
    executed_code = iter(cell for cell in old.cells if cell.cell_type == "code" and cell not in injected)
    cells = []
    for cell in source.cells:
        cells.append(next(executed_code) if cell.cell_type == "code" else cell)
        if "parameters" in cell.metadata.get("tags", []):
            cells += injected
    changed = [cell.source for cell in cells if cell.cell_type == "markdown"] != [
        cell.source for cell in old.cells if cell.cell_type == "markdown"
    ]
    if changed:
        old.cells = cells
        with records.atomic_path(executed) as temporary:
            nbformat.write(old, temporary)
    return changed
