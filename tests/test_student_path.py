"""The notebooks as a student runs them: from any working directory, with their defaults, and told what to run first."""

from __future__ import annotations

from pathlib import Path

import pytest

from convlab.run import jupyter_kernels, staleness
from convlab.study import manifest, paths


def execute(notebook: str, parameters: dict, cwd: Path, executed: Path) -> None:
    """Run a source notebook with papermill from `cwd` (not notebooks/), as Jupyter started elsewhere would."""
    import papermill

    source = paths.NOTEBOOKS_DIR / f"{notebook}.ipynb"
    declared = staleness.notebook_parameters(source)
    papermill.execute_notebook(
        str(source),
        str(executed),
        parameters={name: value for name, value in parameters.items() if name in declared},
        kernel_name=jupyter_kernels.kernel_name(),
        cwd=str(cwd),
        progress_bar=False,
    )


@pytest.fixture
def elsewhere(tmp_path) -> Path:
    """An empty working directory that is neither the project nor notebooks/."""
    folder = tmp_path / "somewhere" / "else"
    folder.mkdir(parents=True)
    return folder


@pytest.mark.smoke
@pytest.mark.slow  # about 7–12 s: a notebook run end to end
def test_a_notebook_runs_with_its_defaults_from_another_working_directory(shared_data, elsewhere, tmp_path, monkeypatch):
    """01_eda with its default data folder ($CONVLAB_DATA_DIR) and outputs moved to tmp only: no path depends on the cwd."""
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(shared_data))
    outputs = {"output_dir": str(tmp_path / "report"), "images_dir": str(tmp_path / "images")}
    execute("01_eda", {"dataset": "mnist", "train_size": 600, "test_size": 200} | outputs, elsewhere, tmp_path / "01_eda.ipynb")
    assert (tmp_path / "images" / "mnist" / "01_eda" / "samples.png").is_file()
    assert list(elsewhere.iterdir()) == [], "nothing is written relative to the working directory"


MISSING_PREREQUISITES = [  # notebook, the message naming what to run first (each checks before any training)
    pytest.param("03_cnn", "Run 02_fc_baseline first", id="03_cnn"),
    pytest.param("05_filter_visualisation", "Run 03_cnn first", marks=pytest.mark.slow, id="05_filter_visualisation"),
    pytest.param("09_efficiency", "Run 02_fc_baseline and 03_cnn first", marks=pytest.mark.slow, id="09_efficiency"),
    pytest.param("10_dataset_comparison", "Run 02_fc_baseline on fashion_mnist first", id="10_dataset_comparison"),
]


@pytest.mark.smoke
@pytest.mark.parametrize("notebook, message", MISSING_PREREQUISITES)  # two of them in the slow tier
def test_a_notebook_run_too_early_names_the_notebook_to_run_first(notebook, message, shared_data, elsewhere, tmp_path):
    import papermill

    reports = tmp_path / "reports"
    if not manifest.entry(notebook).per_dataset:
        parameters = {"reports_dir": str(reports), "images_dir": str(tmp_path / "images")}
    else:
        parameters = {"dataset": "mnist", "data_dir": str(shared_data), "train_size": 600, "test_size": 200, "seeds": "0"}
        parameters |= {"output_dir": str(reports / "mnist"), "images_dir": str(tmp_path / "images")}
    with pytest.raises(papermill.PapermillExecutionError) as caught:
        execute(notebook, parameters, elsewhere, tmp_path / f"{notebook}.ipynb")
    assert caught.value.ename == "MissingResultError"
    assert message in caught.value.evalue
    assert not (reports / "mnist" / "models").exists(), "it stopped before training anything"


def import_check(notebook: Path) -> str:
    """The notebook's first code cell: the check that the kernel can import convlab."""
    import nbformat

    return next(cell.source for cell in nbformat.read(notebook, as_version=4).cells if cell.cell_type == "code")


@pytest.mark.parametrize("notebook", sorted(paths.NOTEBOOKS_DIR.glob("*.ipynb")), ids=lambda path: path.stem)
def test_the_first_cell_finds_convlab_from_notebooks_and_says_what_to_run_elsewhere(notebook, tmp_path):
    """Without site-packages (`-S`: convlab not installed), from notebooks/ the link finds it; elsewhere the cell
    stops with the offline install command."""
    import subprocess
    import sys

    check = import_check(notebook)
    found = subprocess.run([sys.executable, "-S", "-c", check], cwd=paths.NOTEBOOKS_DIR, capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    missing = subprocess.run([sys.executable, "-S", "-c", check], cwd=tmp_path, capture_output=True, text=True)
    assert missing.returncode == 1
    assert "ModuleNotFoundError: This kernel cannot import convlab" in missing.stderr
    assert "python -m pip install --no-deps --no-build-isolation -e ." in missing.stderr


def test_the_link_in_notebooks_is_the_package_itself():
    link = paths.NOTEBOOKS_DIR / "convlab"
    assert link.is_symlink() and link.resolve() == paths.PACKAGE_DIR


def test_the_declared_dependencies_accept_studios_image_and_name_no_tensorflow_distribution():
    """The ranges hold the image's versions (SageMaker Distribution 4.4.1), and only the extra names tensorflow-cpu."""
    import tomllib

    from packaging.requirements import Requirement

    project = tomllib.loads((paths.PROJECT_DIR / "pyproject.toml").read_text())["project"]
    image = {"keras": "3.15.1", "numpy": "1.26.4", "pandas": "2.3.3", "scipy": "1.16.3", "matplotlib": "3.10.9",
             "seaborn": "0.13.2", "papermill": "2.7.0", "nbconvert": "7.17.1", "ipykernel": "7.3.0",
             "jupyter_client": "8.9.1", "nbformat": "5.11.1", "psutil": "7.1.3"}  # fmt: skip
    requirements = [Requirement(text) for text in project["dependencies"]]
    assert not [r.name for r in requirements if "tensorflow" in r.name]
    assert {r.name: r.specifier.contains(image[r.name]) for r in requirements} == {name: True for name in image}
    assert Requirement(project["optional-dependencies"]["tensorflow"][0]).name == "tensorflow-cpu"
    assert Requirement(f"python{project['requires-python']}").specifier.contains("3.12")


STUDIO_PACKAGES = Path(
    paths.PROJECT_DIR.parent / "shared" / "reference" / "sagemaker-distribution" / "v4.4.1-cpu-conda-packages.txt"
)


@pytest.mark.skipif(not STUDIO_PACKAGES.is_file(), reason=f"the image's package list is not at {STUDIO_PACKAGES}")
def test_the_studio_lock_holds_the_images_versions():
    from convlab.tools import pins

    image = pins.pins(STUDIO_PACKAGES)
    studio = pins.pins(paths.PROJECT_DIR / "requirements" / "studio.txt")
    named = pins.pins(paths.PROJECT_DIR / "requirements" / "studio.in")
    renamed = {"tensorflow-cpu": "tensorflow", "sagemaker": "sagemaker-python-sdk"}
    for name, version in named.items():
        if name == "moto":
            continue
        assert image[renamed.get(name, name)] == version == studio[name], name


@pytest.mark.skipif(not STUDIO_PACKAGES.is_file(), reason=f"the image's package list is not at {STUDIO_PACKAGES}")
def test_every_studio_pin_is_the_images_version_or_named_as_one_pypi_could_not_give():
    """requirements/studio.txt comes from the image's own list (`make lock-studio`): a package the image has is at
    the image's version, or its header names it with the reason."""
    from packaging.utils import canonicalize_name

    from convlab.tools import studio_lock

    image = studio_lock.image_versions(STUDIO_PACKAGES)
    lines = (paths.PROJECT_DIR / "requirements" / "studio.txt").read_text(encoding="utf-8").splitlines()
    pinned = {
        canonicalize_name(line.split("==")[0]): line.split("==")[1] for line in lines if "==" in line and not line.startswith("#")
    }
    named = {canonicalize_name(line.split()[1]) for line in lines if line.startswith("#   ") and "(the image's " in line}
    differing = {name for name, version in pinned.items() if name in image and not studio_lock.same_version(image[name], version)}
    assert differing == named, "each image version not pinned is named in the header, and only those"
    assert sum(name in image for name in pinned) > 200 and pinned["tensorflow-cpu"] == image["tensorflow-cpu"] == "2.19.1"


def test_the_aws_extra_accepts_studios_sdk_and_the_locked_one_and_pulls_no_s3fs():
    """`pip install -e .[aws]` in Studio keeps the image's SageMaker SDK, boto3 and botocore (aiobotocore pins botocore,
    s3fs pins aiobotocore); the locked versions (requirements/aws.txt) are accepted too, and mode aws is tested in both."""
    import tomllib

    from packaging.requirements import Requirement

    from convlab.tools import pins

    extra = tomllib.loads((paths.PROJECT_DIR / "pyproject.toml").read_text())["project"]["optional-dependencies"]["aws"]
    requirements = {requirement.name: requirement.specifier for requirement in map(Requirement, extra)}
    studio = pins.pins(paths.PROJECT_DIR / "requirements" / "studio.txt")
    locked = pins.pins(paths.PROJECT_DIR / "requirements" / "aws.txt")
    assert set(requirements) == {"sagemaker", "boto3", "botocore"}, "botocore: convlab imports it itself; no s3fs"
    for name, specifier in requirements.items():
        assert specifier.contains(studio[name]) and specifier.contains(locked[name]), (name, studio[name], locked[name])


def test_the_studio_tensorflow_renaming_keeps_every_file_listed(tmp_path):
    """studio_env.rename on a folder holding a tensorflow-cpu dist-info: the folder, METADATA's Name and RECORD
    become tensorflow's, and a second run changes nothing."""
    import base64
    import hashlib
    import importlib.metadata

    from convlab.tools import studio_env

    old = tmp_path / "tensorflow_cpu-2.19.1.dist-info"
    old.mkdir()
    (old / "METADATA").write_text("Metadata-Version: 2.1\nName: tensorflow-cpu\nVersion: 2.19.1\n\nName: in the body\n")
    (old / "WHEEL").write_text("Wheel-Version: 1.0\n")
    (old / "RECORD").write_text(
        "tensorflow/__init__.py,sha256=abc,10\n"
        "tensorflow_cpu-2.19.1.dist-info/METADATA,sha256=old,60\n"
        "tensorflow_cpu-2.19.1.dist-info/WHEEL,sha256=wheel,20\n"
        "tensorflow_cpu-2.19.1.dist-info/RECORD,,\n"
    )
    assert "is now distributed as tensorflow" in studio_env.rename(path=[str(tmp_path)])
    new = tmp_path / "tensorflow-2.19.1.dist-info"
    assert not old.exists() and new.is_dir()
    metadata = (new / "METADATA").read_bytes()
    assert metadata == b"Metadata-Version: 2.1\nName: tensorflow\nVersion: 2.19.1\n\nName: in the body\n"
    digest = base64.urlsafe_b64encode(hashlib.sha256(metadata).digest()).rstrip(b"=").decode()
    assert (new / "RECORD").read_text().splitlines() == [
        "tensorflow/__init__.py,sha256=abc,10",
        f"tensorflow-2.19.1.dist-info/METADATA,sha256={digest},{len(metadata)}",
        "tensorflow-2.19.1.dist-info/WHEEL,sha256=wheel,20",
        "tensorflow-2.19.1.dist-info/RECORD,,",
    ]
    found = {dist.metadata["Name"]: dist.version for dist in importlib.metadata.distributions(path=[str(tmp_path)])}
    assert found == {"tensorflow": "2.19.1"}
    assert "already" in studio_env.rename(path=[str(tmp_path)])


# SageMaker Studio's package set, built by `make .venv-studio/.installed` (CI builds it before `make test-studio`,
# which runs these tests in it; `make test` runs them too wherever .venv-studio is built)
STUDIO_VENV = paths.PROJECT_DIR / ".venv-studio"
STUDIO_PYTHON = STUDIO_VENV / "bin" / "python"
needs_studio_venv = pytest.mark.skipif(
    not (STUDIO_VENV / ".installed").is_file(),
    reason=f"{STUDIO_VENV} is not built (make .venv-studio/.installed; CI builds it before make test-studio)",
)


def studio_run(*arguments: str, **options):
    """A command in .venv-studio's interpreter, pip's configuration (indexes, find-links, constraints) left out."""
    import os
    import subprocess

    environment = {name: value for name, value in os.environ.items() if not name.startswith("PIP_")}
    environment |= {"PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    return subprocess.run([str(STUDIO_PYTHON), *arguments], capture_output=True, text=True, env=environment, **options)


@needs_studio_venv
def test_studios_tensorflow_is_a_cpu_build_distributed_under_the_name_tensorflow():
    """As conda installs it in the image: `tensorflow` at the image's version, a CPU build, and no `tensorflow-cpu`
    (`.venv-studio` installs PyPI's tensorflow-cpu and renames it: convlab/tools/studio_env.py)."""
    import json

    from convlab.tools import pins

    check = (
        "import importlib.metadata as m, json, tensorflow as tf\n"
        "def version(name):\n"
        "    try:\n"
        "        return m.version(name)\n"
        "    except m.PackageNotFoundError:\n"
        "        return None\n"
        "print(json.dumps({'tensorflow': version('tensorflow'), 'tensorflow-cpu': version('tensorflow-cpu'),\n"
        "    'module': tf.__version__, 'cuda': tf.sysconfig.get_build_info().get('is_cuda_build')}))\n"
    )
    result = studio_run("-c", check)
    assert result.returncode == 0, result.stderr[-3000:]
    image = pins.pins(paths.PROJECT_DIR / "requirements" / "studio.in")["tensorflow-cpu"]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found == {"tensorflow": image, "tensorflow-cpu": None, "module": image, "cuda": False}


@needs_studio_venv
def test_installing_the_aws_extra_in_studio_changes_none_of_its_packages(tmp_path):
    """`pip install -e .[aws]` resolved against Studio's packages (.venv-studio) from them alone (`--no-index`:
    offline, as `make test-studio` runs in CI): it succeeds only if every requirement of convlab[aws], all the way
    down, is met by a version already installed, so the dry run installs convlab and nothing else."""
    import json

    from packaging.utils import canonicalize_name

    from convlab.tools import pins

    listed = studio_run("-m", "pip", "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr[-3000:]
    installed = {canonicalize_name(item["name"]): item["version"] for item in json.loads(listed.stdout)}
    report = tmp_path / "report.json"
    command = ["install", "--dry-run", "--no-index", "--no-build-isolation", "--quiet", "--report", str(report)]
    result = studio_run("-m", "pip", *command, "-e", f"{paths.PROJECT_DIR}[aws]", cwd=tmp_path)
    assert result.returncode == 0, (
        f"convlab[aws] needs what Studio's packages do not hold (the same dry run without --no-index lists every "
        f"package it would install or change):\n{result.stderr[-3000:]}"
    )
    install = {canonicalize_name(item["metadata"]["name"]): item for item in json.loads(report.read_text())["install"]}
    assert install.pop("convlab")["requested_extras"] == ["aws"]
    changed = {name: (installed[name], item["metadata"]["version"]) for name, item in install.items() if name in installed}
    new = {name: item["metadata"]["version"] for name, item in install.items() if name not in installed}
    assert (changed, new) == ({}, {}), "(Studio's version, the one pip would install) and packages Studio lacks"
    studio = pins.pins(paths.PROJECT_DIR / "requirements" / "studio.txt")
    kept = ("sagemaker", "boto3", "botocore", "aiobotocore", "s3fs")
    assert {name: installed[name] for name in kept} == {name: studio[name] for name in kept}, "the environment is Studio's"
