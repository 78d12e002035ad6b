"""What the training job ships and produces: the staged source, the entry script under a faked SM_* environment, the artifact."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tarfile

import pytest

from convlab.serving import artifact
from convlab.store import records

ENTRY_FILES = {"train.py", "train_requests.py", "inference.py"}


def staged_files(source) -> set[str]:
    return {path.relative_to(source).as_posix() for path in source.rglob("*") if path.is_file()}


def test_entry_script_writes_the_record_the_model_and_the_servable(trained):
    record = trained["record"]
    assert record["model"]["parameters"] == 220_234
    assert record["dataset"]["train_size"] == 600 and record["epochs_run"] == 1
    assert record["test"]["accuracy"] > 0.3
    assert (trained["output_dir"] / "cnn-seed0.keras").is_file()
    assert (trained["model_dir"] / "1" / "saved_model.pb").is_file()
    labels = json.loads((trained["model_dir"] / "code" / "labels.json").read_text())
    assert labels["class_names"][0] == "T-shirt/top" and len(labels["class_names"]) == 10


def test_artifact_has_the_layout_the_container_expects(tarball):
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
    assert {"1/saved_model.pb", "1/variables/variables.index", "code/inference.py", "code/labels.json"} <= names
    assert all(name.split("/")[0] in {"1", "code"} for name in names), "nothing else at the root"


def test_packing_without_a_savedmodel_is_refused_and_writes_nothing(tmp_path):
    with pytest.raises(FileNotFoundError, match="run the training entry script first"):
        artifact.pack_model(tmp_path / "empty", tmp_path / "model.tar.gz")
    assert not list(tmp_path.iterdir())


def test_records_from_the_entry_script_read_back_in_the_report_format(trained):
    path = trained["output_dir"] / "cnn-seed0.json"
    assert records.read_record(path)["model_file"] == "cnn-seed0.keras"


def test_the_staged_source_holds_the_entry_scripts_and_the_modules_they_import_only(tmp_path):
    from convlab.training import fit

    source = artifact.stage_source(tmp_path / "source")
    shipped = artifact.shipped_modules()
    assert staged_files(source) == ENTRY_FILES | {f"convlab/{relative}" for relative in artifact.shipped_files()}
    what_train_imports = {"study.config", "datasets.data", "training.models", "store.records", "training.fit"}
    assert what_train_imports | {"datasets.transforms", "study", "training"} <= set(shipped)
    left_out = {"serving.artifact", "serving.aws_endpoint", "tools.bench", "serving.client", "serving.cloud", "analysis.eda"}
    left_out |= {"experiments.plans", "experiments.filters", "run.jupyter_kernels", "run.pipeline", "figures.plots"}
    left_out |= {"experiments.probes", "report.report", "analysis.stats", "analysis.tables", "serving.summary"}
    assert not left_out & set(shipped), "the notebooks', the report's and the SageMaker path's own modules stay behind"
    assert {f"convlab/{path}" for path in fit.RESULT_CODE_FILES.values()} <= staged_files(source), "code_fingerprint reads them"


@pytest.mark.slow  # about 10 s: a fresh interpreter imports the staged copy
def test_the_shipped_modules_are_those_the_entry_script_loads_from_its_staged_copy(tmp_path):
    """A fresh interpreter runs the entry scripts' convlab imports from the staged folder: every module they load is
    shipped and comes from there, and every module shipped is loaded."""
    source = artifact.stage_source(tmp_path / "source")
    imports = [
        ast.unparse(node)
        for script in ("train.py", "train_requests.py")
        for node in ast.walk(ast.parse((source / script).read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("convlab")
    ]
    assert len(imports) >= 2, "both entry scripts import convlab modules"
    program = "\n".join(
        [
            "import json, sys",
            f"sys.path.insert(0, {str(source)!r})",
            *imports,
            "loaded = {name: module.__file__ for name, module in sys.modules.items() if name.startswith('convlab.')}",
            "print(json.dumps(loaded))",
        ]
    )
    completed = subprocess.run([sys.executable, "-c", program], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-4000:]
    loaded = json.loads(completed.stdout.strip().splitlines()[-1])
    assert sorted(name.removeprefix("convlab.") for name in loaded) == artifact.shipped_modules()
    assert all(path.startswith(str(source / "convlab")) for path in loaded.values()), loaded


def test_shipped_modules_follow_every_form_of_import_through_the_package(tmp_path, monkeypatch):
    """A hand-made package: imports at module level and in functions, of modules and of names, in a cycle, and unused."""
    package, entry = tmp_path / "convlab", tmp_path / "entry"
    files = {
        entry / "train.py": "import os\nimport convlab\nfrom convlab import alpha, __version__\n\n"
        "def main():\n    from convlab.delta import thing\n",
        entry / "inference.py": "import json\nfrom . import sibling\n",
        package / "alpha.py": "from convlab import beta\n",
        package / "beta.py": "def f():\n    import convlab.gamma\n",
        package / "gamma.py": "from convlab.alpha import x\nfrom convlab import no_such_module\n",
        package / "delta.py": "thing = 1\n",
        package / "unused.py": "from convlab import alpha\n",
    }
    for path, text in files.items():
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    monkeypatch.setattr(artifact, "ENTRY_DIR", entry)
    monkeypatch.setattr(artifact.paths, "PACKAGE_DIR", package)
    assert artifact.shipped_modules() == ["alpha", "beta", "delta", "gamma"]
