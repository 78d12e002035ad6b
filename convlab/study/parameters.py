"""Every notebook parameter, declared once: its type and default as a notebook's parameters cell writes them, its
help, the check that parses it, the make variable that sets it, and its value in the smoke run.

What derives from these declarations: `validate_upfront` (every parameter a run is given is checked before any
notebook runs, and a name no notebook takes is refused), the Makefile's report recipe and its list of variables
(`python -m convlab.study.parameters make`), the smoke suite's parameters (`smoke_values`), the parameter table of
docs/running.md (`markdown_table`) and each notebook's parameters cell (`parameters_cell`, which
`python -m convlab.study.parameters cells` writes into the notebooks). Which notebook takes which parameter is
its manifest entry's (`convlab.study.manifest`). Standard library only: the Makefile runs it with any Python.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from convlab.study import config, identities, manifest
from convlab.study.paths import ParameterError
from convlab.study.profiles import PROFILES


@dataclass(frozen=True)
class Parameter:
    """One notebook parameter. `check(value, profile)` parses a given value (None: checked with the run's fields by
    `config.RunParameters`, or set by the pipeline itself); `make` is the make variable that sets it ("" for none);
    `smoke` its value in the smoke run (None: the default); `heading` a comment line a parameters cell puts above it."""

    name: str
    type: str
    default: object
    help: str
    check: Callable[[object, str], object] | None = None
    make: str = ""
    smoke: str | None = None
    heading: str = ""

    def cell_line(self) -> str:
        value = json.dumps(self.default) if isinstance(self.default, str) else repr(self.default)
        return f"{self.name}: {self.type} = {value}  # {self.help}"


def _checked_int(name: str, minimum: int) -> Callable[[object, str], int]:
    return lambda value, _profile: config.as_int(name, value, minimum)


def _flag(name: str) -> Callable[[object, str], bool]:
    return lambda value, _profile: config.parse_flag(name, value)


_QUICK, _FULL, _GPU = PROFILES["quick"], PROFILES["full"], PROFILES["gpu"]
_SEEDS_HELP = 'training seeds, comma-separated, e.g. "0,1,2"; auto: the profile\'s'
_PROFILE_HELP = (
    f'"quick" ({len(_QUICK.seeds)} seed), "full" ({len(_FULL.seeds)} seeds) or "gpu" ({len(_GPU.seeds)} seeds); '
    "auto: gpu when a GPU is present, else quick"
)
_EPOCHS_HELP = (
    f"most epochs per training run, CNNs included; auto: the profile's cap ({_FULL.epochs}); "
    f"early stopping (patience {_FULL.patience}) ends a run sooner"
)
_BATCH_HELP = f"mini-batch size; auto: the profile's ({_FULL.batch_size}, the studies' batch)"
PARAMETERS: tuple[Parameter, ...] = (
    Parameter("dataset", "str", "fashion_mnist", '"fashion_mnist" (first study) or "mnist" (second study)'),
    Parameter("data_dir", "str", "", "folder with the dataset files; empty: $CONVLAB_DATA_DIR, else data/", make="DATA_DIR"),
    Parameter("profile", "str", "auto", _PROFILE_HELP, make="PROFILE"),
    Parameter("epochs", "str", "auto", _EPOCHS_HELP, make="EPOCHS", smoke="1"),
    Parameter("seeds", "str", "auto", _SEEDS_HELP, make="SEEDS", smoke="0"),
    Parameter("mode", "str", "local", '"local" (offline, the default) or "aws" (costs money; needs role_arn and region)',
              lambda value, _profile: config.parse_mode(value)),
    Parameter("model", "str", "cnn", f'the configuration to train and serve: "{identities.CNN}" or "{identities.FC}"',
              lambda value, _profile: config.parse_model_name(value)),
    Parameter("seed", "int", 0, "training seed", _checked_int("seed", 0)),
    Parameter("sweep_seeds", "str", "auto", "seeds per kernel size in the sweep (06: one training job each); auto: the profile's",
              lambda value, profile: config.seeds_or_profile(value, profile), make="SWEEP_SEEDS", smoke="0,1"),
    Parameter("kernels", "str", "3,5,7", "first-layer kernel sizes compared in the sweep (odd)",
              lambda value, _profile: config.parse_kernel_sizes(value), make="KERNELS", smoke="3,5"),
    Parameter(
        "variant_seeds", "str", "auto",
        "seeds for the variant with both kernels changed (exploratory); auto: the profile's first 3 (none in quick); "
        "\"none\": sizes and costs only",
        lambda value, profile: config.parse_variant_seeds(value, profile), make="VARIANT_SEEDS", smoke="0",
    ),
    Parameter("probe_seeds", "str", "auto", "seeds per probed model; auto: the profile's",
              lambda value, profile: config.seeds_or_profile(value, profile), make="PROBE_SEEDS", smoke="0"),
    Parameter("max_shift", "int", 8, "test shifts run from 0 to this many pixels",
              lambda value, _profile: config.parse_max_shift(value), make="MAX_SHIFT", smoke="2"),
    Parameter("probe_images", "int", 1000, "test images per shifted copy (stratified); 0 uses the whole test set",
              _checked_int("probe_images", 0)),
    Parameter("augmentation_shift", "int", 4, "largest random shift (pixels) of the augmented training runs",
              lambda value, _profile: config.parse_augmentation_shift(value), make="AUGMENTATION_SHIFT"),
    Parameter("permutation_seed", "int", 0, "seed of the one fixed pixel permutation",
              lambda value, _profile: config.parse_seeds(value)),
    Parameter("curve_sizes", "str", "auto",
              'training-set sizes below the full set, e.g. "300,1000,3000"; auto: 300, 1000, 3000, 10000, 30000',
              lambda value, _profile: config.parse_curve_sizes(value), make="CURVE_SIZES", smoke="300,1000"),
    Parameter("train_size", "int", 0, "stratified training subset; 0 keeps all 60000 images", make="TRAIN_SIZE", smoke="2000"),
    Parameter("test_size", "int", 0, "stratified test subset; 0 keeps all 10000 images", make="TEST_SIZE", smoke="500"),
    Parameter("batch_size", "str", "auto", _BATCH_HELP, make="BATCH_SIZE", smoke="32"),
    Parameter("check_settings", "bool", False,
              "also train FC and CNN with the gpu profile's settings (same seeds, into results/reference/) and compare",
              _flag("check_settings"), make="CHECK_SETTINGS", smoke="True"),
    Parameter("latency_repeats", "int", 200, "single-image requests (06) or forward passes (09) timed",
              _checked_int("latency_repeats", 1), smoke="20"),
    Parameter("datasets", "str", "fashion_mnist,mnist", "the datasets compared, comma-separated",
              lambda value, _profile: config.parse_datasets(value)),
    Parameter("reports_dir", "str", "", "folder holding each dataset's report folder; empty: reports/"),
    Parameter("output_dir", "str", "", "result records, models and other outputs; empty: reports/<dataset>"),
    Parameter("images_dir", "str", "", "PNG figures go to <images_dir>/<dataset or comparison>/<notebook>/; empty: images/"),
    Parameter("aws_region", "str", "", 'e.g. "eu-west-1"',
              heading="Mode aws only (each run costs money: a training job, an endpoint for a few minutes)"),
    Parameter("role_arn", "str", "", "SageMaker execution role, arn:aws:iam::<account>:role/<name>"),
    Parameter("aws_bucket", "str", "", "S3 bucket for data, code and artifacts; empty: the SageMaker default bucket"),
    Parameter("training_instance", "str", "ml.m5.large", "CPU instance for the training jobs"),
    Parameter("inference_instance", "str", "ml.m5.large", "CPU instance for the endpoint"),
    Parameter("training_version", "str", "2.21", "TensorFlow version of the AWS training image (that of requirements.txt)"),
    Parameter("serving_version", "str", "2.20",
              "TF Serving version of the AWS serving image; mode local serves with its front-end too"),
    Parameter("evaluation_images", "int", 1000, "test images classified through the real endpoint",
              _checked_int("evaluation_images", 1)),
    Parameter("aws_sweep", "bool", False, "also run the kernel-size sweep as parallel training jobs", _flag("aws_sweep")),
)  # fmt: skip
BY_NAME = {parameter.name: parameter for parameter in PARAMETERS}
# What `config.RunParameters.from_notebook` takes (a notebook's seeds come from the parameter its entry names)
RUN_FIELDS = ("dataset", "data_dir", "profile", "epochs", "train_size", "test_size", "batch_size", "output_dir", "images_dir")


def declared(name: str) -> Parameter:
    if name not in BY_NAME:
        raise ParameterError(f"Unknown parameter {name!r}: the notebooks take {', '.join(sorted(BY_NAME))}.")
    return BY_NAME[name]


def of_notebook(notebook: str) -> tuple[Parameter, ...]:
    """The parameters a notebook takes, in the order its parameters cell lists them (its manifest entry's)."""
    return tuple(declared(name) for name in manifest.entry(notebook).parameters)


def parameters_cell(notebook: str) -> str:
    """The notebook's parameters cell, as the declarations write it."""
    lines = []
    for parameter in of_notebook(notebook):
        if parameter.heading:
            lines.append(f"# {parameter.heading}")
        lines.append(parameter.cell_line())
    return "\n".join(lines)


def validate_upfront(parameters: dict) -> None:
    """Check every parameter a run was given as the notebooks would, before any notebook runs, whichever notebooks
    are selected: a bad value (epochs=0, kernels=4) or a name no notebook takes is refused at once."""
    for name in parameters:
        declared(name)
    given = {name: value for name, value in parameters.items() if name in (*RUN_FIELDS, "seeds") and name != "dataset"}
    chosen = config.RunParameters.from_notebook(notebook="02_fc_baseline", dataset=config.DATASETS[0], **given)
    for name, value in parameters.items():
        check = BY_NAME[name].check
        try:
            if check is not None:
                check(value, chosen.profile)
        except ParameterError as error:
            if not str(error).startswith(name):
                raise ParameterError(f"{name}={value!r}: {error}") from None
            raise


def make_variables() -> dict[str, str]:
    """Each make variable that sets a parameter, and the parameter it sets."""
    return {parameter.make: parameter.name for parameter in PARAMETERS if parameter.make}


def smoke_values() -> dict[str, str]:
    """The smoke run's `-p` values: each parameter that has one."""
    return {parameter.name: parameter.smoke for parameter in PARAMETERS if parameter.smoke is not None}


def _takers(name: str) -> str:
    """The notebooks that take a parameter, by number ("all per dataset" for those every per-dataset one takes)."""
    takers = {entry.name for entry in manifest.STUDY if name in entry.parameters}
    if takers >= {entry.name for entry in manifest.STUDY if entry.per_dataset}:
        return "all per dataset"
    return ", ".join(sorted(taker[:2] for taker in takers))


def markdown_table() -> str:
    """The parameter table of docs/running.md."""
    rows = ["| make variable | notebook parameter (notebooks) | default | meaning |", "|---|---|---|---|"]
    for parameter in sorted(PARAMETERS, key=lambda p: (not p.make, p.name)):
        variable = f"`{parameter.make}`" if parameter.make else "—"
        default = json.dumps(parameter.default) if isinstance(parameter.default, str) else repr(parameter.default)
        meaning = parameter.help.replace("<", "\\<")  # Markdown would read <dataset> as a tag
        rows.append(f"| {variable} | `{parameter.name}` ({_takers(parameter.name)}) | `{default}` | {meaning} |")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("make", "table", "cells"), help="make: VARIABLE=parameter pairs for the Makefile; "
                        "table: the docs' parameter table; cells: write each notebook's parameters cell")  # fmt: skip
    args = parser.parse_args(argv)
    if args.what == "make":
        print(" ".join(f"{variable}={name}" for variable, name in make_variables().items()))
    elif args.what == "table":
        print(markdown_table())
    else:
        write_cells()
    return 0


def write_cells() -> None:
    """Rewrite each notebook's parameters cell from the declarations (nothing else of the notebook changes)."""
    import nbformat  # only here: the rest of this module is read by the Makefile with any Python

    for entry in manifest.STUDY:
        text = entry.path.read_text(encoding="utf-8")
        notebook = nbformat.reads(text, as_version=4)
        for cell in notebook.cells:
            if "parameters" in cell.metadata.get("tags", []):
                cell.source = parameters_cell(entry.name)
        rewritten = nbformat.writes(notebook) + "\n"
        if rewritten != text:
            entry.path.write_text(rewritten, encoding="utf-8")
            print(f"wrote {entry.path.name}")


if __name__ == "__main__":
    raise SystemExit(main())
