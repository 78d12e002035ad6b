"""Every notebook parameter is declared once (`convlab.study.parameters`); the notebooks' cells, the Makefile, the
up-front check, the smoke run and docs/running.md follow from the declarations, and these tests hold them equal."""

from __future__ import annotations

import re

import nbformat
import pytest
from test_makefile import make

from convlab.study import config, manifest, parameters, paths


def parameters_cell_of(name: str) -> str:
    cells = nbformat.read(manifest.entry(name).path, as_version=4).cells
    (cell,) = [cell for cell in cells if "parameters" in cell.metadata.get("tags", [])]
    return cell.source


@pytest.mark.parametrize("name", manifest.names())
def test_each_notebook_s_parameters_cell_is_the_declared_one(name):
    assert parameters_cell_of(name) == parameters.parameters_cell(name), (
        f"{name}'s parameters cell differs from its declarations: run python -m convlab.study.parameters cells"
    )


def test_every_parameter_a_notebook_takes_is_declared_and_every_declared_one_is_taken():
    taken = {name for entry in manifest.STUDY for name in entry.parameters}
    assert taken == set(parameters.BY_NAME)
    assert len(parameters.BY_NAME) == len(parameters.PARAMETERS), "one declaration per name"


def test_the_docs_table_is_the_declarations():
    text = (paths.PROJECT_DIR / "docs" / "running.md").read_text(encoding="utf-8")
    assert parameters.markdown_table() in text, "run python -m convlab.study.parameters table and paste it into docs/running.md"


def make_dry_run(*variables: str) -> str:
    completed = make("report", *variables)  # `make -n` as typed in a shell (tests/test_makefile.py)
    return completed.stdout + completed.stderr


def test_make_passes_each_declared_variable_to_the_notebooks_and_only_those_that_are_set():
    variables = parameters.make_variables()
    assert {"EPOCHS", "SEEDS", "TRAIN_SIZE", "KERNELS", "DATA_DIR"} <= set(variables)
    output = make_dry_run(*(f"{variable}=v{index}" for index, variable in enumerate(variables)))
    passed = dict(re.findall(r'-p (\w+) "([^"]*)"', output))
    assert passed == {name: f"v{index}" for index, name in enumerate(variables.values())}
    assert re.findall(r'-p (\w+) "', make_dry_run("EPOCHS=2")) == ["epochs"], "a variable left empty is not passed"


def test_make_refuses_a_misspelt_variable_naming_the_declared_ones():
    output = make_dry_run("EPOCH=2")
    assert "Unknown variable(s) EPOCH" in output and all(variable in output for variable in parameters.make_variables())


def test_the_smoke_values_and_the_defaults_pass_the_up_front_check():
    parameters.validate_upfront(parameters.smoke_values())
    parameters.validate_upfront({p.name: p.default for p in parameters.PARAMETERS if p.name not in ("dataset", "datasets")})


BAD_VALUES = {
    "epochs": "0", "seeds": "1,1", "train_size": "5", "test_size": "-1", "batch_size": "zero", "profile": "fast",
"sweep_seeds": "x", "kernels": "4", "variant_seeds": "-2", "probe_seeds": "0,0",
    "max_shift": "28", "probe_images": "-1", "augmentation_shift": "9", "permutation_seed": "a", "curve_sizes": "5",
    "check_settings": "maybe", "latency_repeats": "0", "mode": "cloud", "model": "resnet", "seed": "-1",
    "evaluation_images": "0", "aws_sweep": "perhaps", "datasets": "mnist",
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(BAD_VALUES))
def test_a_bad_value_of_any_checked_parameter_is_refused_before_any_notebook_runs(name):
    with pytest.raises(config.ParameterError, match=f"^{name}"):
        parameters.validate_upfront({name: BAD_VALUES[name]})


def test_every_parameter_with_a_value_to_check_is_covered_by_a_bad_value():
    unchecked = {"dataset", "output_dir", "images_dir", "reports_dir", "aws_region", "role_arn", "aws_bucket"}
    unchecked |= {"data_dir"}  # checked when the data load, file by file, each problem named with its fix
    unchecked |= {"training_instance", "inference_instance", "training_version", "serving_version"}
    assert set(BAD_VALUES) | unchecked == set(parameters.BY_NAME)


def test_a_name_no_notebook_takes_is_refused_with_the_list():
    with pytest.raises(config.ParameterError, match="Unknown parameter 'epoch': the notebooks take .*epochs"):
        parameters.validate_upfront({"epoch": "2"})
