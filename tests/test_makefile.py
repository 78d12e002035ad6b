"""The Makefile refuses a variable that no target reads, naming the valid ones, before it runs anything."""

import os
import subprocess
from pathlib import Path

from convlab.study import paths

# What an outer make passes to the make it runs (`make test DATA_DIR=...` would hand DATA_DIR to every case here)
OUTER_MAKE = ("MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES", "MAKELEVEL", "DATA_DIR")


def make(*arguments: str) -> subprocess.CompletedProcess:
    """`make -n` as typed in a shell: nothing inherited from a make that runs these tests."""
    environment = {key: value for key, value in os.environ.items() if key not in OUTER_MAKE}
    return subprocess.run(
        ["make", "-n", *arguments], cwd=paths.PROJECT_DIR, capture_output=True, text=True, timeout=60, env=environment
    )


def test_a_misspelt_variable_is_refused_with_the_valid_ones():
    result = make("report", "EPOCH=2")
    assert result.returncode != 0
    assert "Unknown variable(s) EPOCH:" in result.stderr and " EPOCHS " in result.stderr
    assert "convlab.run.pipeline" not in result.stdout, "nothing would run"


def test_known_variables_pass():
    result = make("report", "EPOCHS=2", "PROFILE=full", "PDF=off", "FORCE=1", "DATA_DIR=../shared/data")
    assert result.returncode == 0, result.stderr
    assert '-p epochs "2"' in result.stdout and '-p profile "full"' in result.stdout


def pipeline_command(result: subprocess.CompletedProcess) -> str:
    """The pipeline's command in `make -n report` output, its continued lines joined."""
    assert result.returncode == 0, result.stderr
    joined = " ".join(result.stdout.replace("\\\n", " ").split())
    return next(line for line in joined.split(" PDF=") if "-m convlab.run.pipeline" in line)


def test_values_with_spaces_pass_whole():
    """NOTEBOOKS="02_fc_baseline 03_cnn", SEEDS="0 1" and DATASET="fashion_mnist mnist": one variable each, its
    whole value carried into the command make runs (a word of a value is no variable name)."""
    command = pipeline_command(make("report", "NOTEBOOKS=02_fc_baseline 03_cnn", "SEEDS=0 1", "DATASET=fashion_mnist mnist"))
    assert "--notebooks 02_fc_baseline 03_cnn " in command
    assert '-p seeds "0 1"' in command
    assert "--datasets fashion_mnist mnist " in command


def test_an_unknown_variable_with_spaces_is_still_refused():
    result = make("report", "NOTEBOOK=02_fc_baseline 03_cnn", "SEEDS=0 1")
    assert result.returncode != 0
    assert "Unknown variable(s) NOTEBOOK:" in result.stderr, result.stderr
    assert "03_cnn" not in result.stderr.split(":")[1], "a word of the value is not named as a variable"


def test_the_explorers_training_command_runs_as_printed():
    """The explorer (and docs/explorer.md) tells a student to type this command: make takes it as printed."""
    import shlex

    from convlab.explorer import answers

    printed = answers.train_command("mnist")
    assert printed in (paths.PROJECT_DIR / "docs" / "explorer.md").read_text(encoding="utf-8").replace("<dataset>", "mnist")
    words = shlex.split(printed)
    assert words[:2] == ["make", "report"]
    command = pipeline_command(make(*words[1:]))
    assert "--datasets mnist " in command and "--notebooks 02_fc_baseline 03_cnn " in command
    assert '-p profile "quick"' in command


def test_every_parameter_is_checked_before_any_notebook_runs(tmp_path, capsys):
    """EPOCHS=0 with only the EDA selected (which trains nothing) is still refused, at once."""
    from convlab.run import pipeline

    for name, value, expected in (
        ("epochs", "0", "epochs must be at least 1"),
        ("kernels", "4", "Kernel size 4 is invalid"),
        ("probe_seeds", "1,1", "seeds has duplicates"),
        ("max_shift", "40", "max_shift=40"),
        ("check_settings", "maybe", "is not a yes/no value"),
    ):
        code = pipeline.main(["--datasets", "mnist", "--notebooks", "01_eda", "--output-root", str(tmp_path), "-p", name, value])
        assert code == 1 and expected in capsys.readouterr().err, name
        assert not (tmp_path / "mnist").exists(), "nothing ran"


def test_nothing_a_run_writes_is_tracked():
    """Every folder a default run writes into is ignored by git, so `make report` leaves `git status` clean."""
    from convlab.study import config, manifest

    written = [f"images/{dataset}/{name}/figure.png" for dataset in config.DATASETS for name in manifest.names()]
    written += [f"reports/{dataset}/results/cnn-seed0.json" for dataset in config.DATASETS]
    written += ["images/comparison/10_dataset_comparison/figure.png", "reports/report.html", "reports/report.pdf"]
    ignored = subprocess.run(["git", "check-ignore", *written], cwd=paths.PROJECT_DIR, capture_output=True, text=True)
    assert sorted(ignored.stdout.split()) == sorted(written)
    tracked = subprocess.run(["git", "ls-files", "images", "reports"], cwd=paths.PROJECT_DIR, capture_output=True, text=True)
    kept = ("reports/published/", "reports/reference/", "reports/carried/")  # copies made on purpose, never by a run
    outputs = [path for path in tracked.stdout.split() if not path.startswith(kept)]
    assert outputs == ["images/README.md", "reports/README.md"]


def test_make_test_reads_the_data_where_make_report_does(monkeypatch):
    """One lookup order: DATA_DIR (make) or $CONVLAB_DATA_DIR, else data/, for the notebooks and the tests alike."""
    import importlib.util

    def pytest_line(*arguments: str) -> str:
        ran = make(*arguments)
        assert ran.returncode == 0, ran.stderr
        return next(line for line in ran.stdout.splitlines() if "-m pytest" in line)

    assert pytest_line("test", "DATA_DIR=/srv/idx").startswith('CONVLAB_DATA_DIR="/srv/idx" ')
    assert "CONVLAB_DATA_DIR" not in pytest_line("test"), "without DATA_DIR the environment decides"

    def tests_data_folder():
        spec = importlib.util.spec_from_file_location("conftest_copy", paths.PROJECT_DIR / "tests" / "conftest.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.SHARED_DATA

    monkeypatch.setenv(paths.DATA_DIR_ENV, "/srv/idx")
    assert tests_data_folder() == paths.resolve_data_dir() == Path("/srv/idx")
    monkeypatch.delenv(paths.DATA_DIR_ENV)
    assert tests_data_folder() == paths.resolve_data_dir() == paths.PROJECT_DIR / "data"


def test_image_python_runs_the_report_with_that_interpreter_and_installs_nothing():
    """SageMaker Studio's switch: `make report IMAGE_PYTHON=python` uses the image's interpreter as it is."""
    import sys

    result = make("report", f"IMAGE_PYTHON={sys.executable}", "TRAIN_SIZE=100")
    assert result.returncode == 0, result.stderr
    assert (
        f"{sys.executable} -m convlab.run.pipeline" in result.stdout
        and f"{sys.executable} -m convlab.report.report" in result.stdout
    )
    assert not any(word in result.stdout for word in ("-m venv", "pip install", "uv pip", "ipykernel install")), result.stdout
    assert "Running with" in result.stdout, "it checks that the interpreter holds the packages"
    smoke = make("smoke", f"IMAGE_PYTHON={sys.executable}")
    assert f'{sys.executable} -m pytest -m "smoke and not slow"' in smoke.stdout and "-m venv" not in smoke.stdout, smoke.stdout


def test_image_python_that_is_no_interpreter_is_refused_with_the_fix():
    result = make("report", "IMAGE_PYTHON=no-such-python")
    assert result.returncode != 0 and "IMAGE_PYTHON=no-such-python is no interpreter" in result.stderr
