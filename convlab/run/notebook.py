"""What every notebook does first: `setup`, which validates its parameters and loads the data.

    params, ds = notebook.setup("03_cnn", globals())        # a notebook per dataset
    names, root, figures_dir = notebook.setup_comparison("10_dataset_comparison", globals())  # across datasets

`setup` reads the parameters the manifest declares for the notebook from the namespace of its parameters
cell, so the call is the same in every notebook, and a parameter added to the manifest reaches it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from convlab.study import config, manifest, paths
from convlab.study.parameters import RUN_FIELDS


def parameters_of(name: str, namespace: Mapping[str, object]) -> dict:
    """The values of the parameters the manifest declares for a notebook, taken from its namespace."""
    declared = manifest.entry(name).parameters
    missing = [parameter for parameter in declared if parameter not in namespace]
    if missing:
        raise config.ParameterError(
            f"{name}'s parameters cell does not define {', '.join(missing)}: restore the cell from the repository "
            "(it must define every parameter convlab.study.manifest declares for the notebook)."
        )
    return {parameter: namespace[parameter] for parameter in declared}


def run_parameters(name: str, namespace: Mapping[str, object]) -> config.RunParameters:
    """A per-dataset notebook's validated `RunParameters`; its seeds come from the parameter the manifest names."""
    values = parameters_of(name, namespace)
    chosen = {field: values[field] for field in RUN_FIELDS if field in values}
    seeds = manifest.entry(name).seeds
    if seeds:
        chosen["seeds"] = values[seeds]
    return config.RunParameters.from_notebook(notebook=name, **chosen)


def setup(name: str, namespace: Mapping[str, object]):
    """Validate a per-dataset notebook's parameters and load its dataset: (`RunParameters`, `data.Dataset`)."""
    from convlab.datasets import data
    from convlab.figures import plots

    plots.use_theme()
    show_tables_plainly()
    params = run_parameters(name, namespace)
    ds = data.load_for_run(params)
    origin = ds.source.split(":")[0]
    print(f"{config.DATASET_TITLES[params.dataset]}: {len(ds.y_train):,} training and {len(ds.y_test):,} test images ({origin}).")
    return params, ds


def setup_comparison(name: str, namespace: Mapping[str, object]) -> tuple[tuple[str, ...], Path, Path]:
    """Validate a cross-dataset notebook's parameters: (the datasets compared, the reports root, its figures folder)."""
    from convlab.figures import plots

    plots.use_theme()
    show_tables_plainly()
    values = parameters_of(name, namespace)
    names = config.parse_datasets(values["datasets"])
    return names, paths.reports_root(values["reports_dir"]), config.comparison_images_dir(values["images_dir"], name)


def show_tables_plainly() -> None:
    """In a notebook kernel, tables (and dicts, as two-column tables) display as `reader_table_html` writes them
    (elsewhere nothing changes)."""
    import pandas as pd
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        html_formatter = shell.display_formatter.formatters["text/html"]
        html_formatter.for_type(pd.DataFrame, reader_table_html)
        html_formatter.for_type(dict, lambda values: reader_table_html(pd.Series(values, dtype=object).to_frame("value")))


def reader_table_html(frame) -> str:
    """A table as a reader wants it: its index as ordinary columns (no index rows), numbers to at most four
    significant digits (thousands with separators), missing values as "—"."""
    import numpy as np
    import pandas as pd

    unnamed_range = isinstance(frame.index, pd.RangeIndex) and frame.index.name is None
    shown = frame if unnamed_range else frame.reset_index().rename(columns={"index": ""})
    shown = shown.map(lambda value: reader_number(value) if isinstance(value, float | np.floating) else value)
    return shown.to_html(index=False, border=0, na_rep="—")


def reader_number(value: float) -> str:
    """12345.6 → "12,346", 38.18049 → "38.18", 0.000123 → "0.000123", 3.0 → "3", NaN → "—"."""
    if value != value:
        return "—"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"
