"""The notebooks of a run share one kernel, but none of them sees what the one before it left behind."""

from __future__ import annotations

import json
import os

import nbformat
import psutil
import pytest

from convlab.run import jupyter_kernels, pipeline
from convlab.study import paths

FIRST = [
    "import os\nprint(os.getpid())",
    "import keras\nleft_behind = 'a variable of the first notebook'\nprint(*(keras.layers.Dense(1).name for _ in range(2)))",
]
SECOND = [
    "import os\nprint(os.getpid())",
    "import json, keras\nprint(json.dumps({'variable': 'left_behind' in globals(), 'layer': keras.layers.Dense(1).name}))",
]


def write_notebook(folder, name: str, cells: list[str]) -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, folder / f"{name}.ipynb")


def printed(executed, index: int) -> str:
    cell = [cell for cell in nbformat.read(executed, as_version=4).cells if cell.cell_type == "code"][index]
    return "".join(output.get("text", "") for output in cell.outputs).strip()


def notebooks(tmp_path, monkeypatch):
    sources, output = tmp_path / "notebooks", tmp_path / "out"
    sources.mkdir(), output.mkdir()
    write_notebook(sources, "first", FIRST)
    write_notebook(sources, "second", SECOND)
    monkeypatch.setattr(paths, "NOTEBOOKS_DIR", sources)
    return output


def test_notebooks_share_a_kernel_and_start_clean(tmp_path, monkeypatch, capfd):
    output = notebooks(tmp_path, monkeypatch)
    with jupyter_kernels.shared_kernel() as kernel:
        first = pipeline.execute("first", {}, output, progress=False, kernel=kernel)
        second = pipeline.execute("second", {}, output, progress=False, kernel=kernel)
        kernel_pid = int(printed(first, 0))
        assert psutil.pid_exists(kernel_pid)
        assert kernel.manager.get_connection_info()["transport"] == "ipc", "no TCP port is opened"
        sockets = kernel.sockets.name
    assert "without encryption" not in capfd.readouterr().err, "the kernel has nothing to warn about"
    assert not os.path.exists(sockets), "its socket folder is removed with it"

    assert int(printed(second, 0)) == kernel_pid  # one kernel process ran both
    assert printed(first, 1) == "dense dense_1"
    # No variable of the first notebook, and Keras names layers as in a fresh kernel.
    assert json.loads(printed(second, 1)) == {"variable": False, "layer": "dense"}
    assert [cell.execution_count for cell in nbformat.read(second, as_version=4).cells] == [1, 2]
    assert not psutil.pid_exists(kernel_pid) or psutil.Process(kernel_pid).status() == psutil.STATUS_ZOMBIE  # shut down


@pytest.mark.slow  # about 10–18 s: two kernels start
def test_a_notebook_run_alone_gets_a_kernel_of_its_own(tmp_path, monkeypatch):
    output = notebooks(tmp_path, monkeypatch)
    first = int(printed(pipeline.execute("first", {}, output, progress=False), 0))
    second = int(printed(pipeline.execute("second", {}, output, progress=False), 0))
    assert first != second
