"""Profiles: the seeds and training settings a run uses unless a parameter overrides them."""

from __future__ import annotations

from dataclasses import dataclass

from convlab.study.paths import ParameterError

# The stopping rule every family trains with: the cheapest patience whose premature stops on the reference runs
# are at most 5% (`convlab.experiments.protocol`; the report checks the choice on every run that has reference runs).
PATIENCE = 3
MONITOR = "val_loss"  # what the rule watches: "val_loss" (lower is better) or "val_accuracy" (`stopping.MONITORS`)
# A head that learns too slowly at the studies' 1e-3 trains at its own rate, chosen on validation data from the
# long-patience runs at each candidate rate (`protocol.learning_rate_table`); a head not named here keeps 1e-3.
HEAD_LEARNING_RATES: dict[str, float] = {}
# The shift-augmented models train with the long-patience runs' own rule: this patience, stopping only once neither
# the validation loss nor the validation accuracy improved (`protocol.LONG_RULE_FAMILIES` says why).
AUGMENTED_PATIENCE = 10
EPOCH_CAP = 120  # set high enough that early stopping, not the cap, ends a run (the report lists any the cap ended)
BATCH_SIZE = 32  # the studies' batch, for every family
# Exploratory families (those no primary hypothesis names, `hypotheses.PRIMARY`) train on the first this many of a
# run's seeds: their estimates are read with their intervals, not decided, so they are not planned by power.
EXPLORATORY_SEEDS = 3

# The two studies' own experiments: what a newcomer runs first (the quick profile).
STUDIES_NOTEBOOKS = (
    "01_eda",
    "02_fc_baseline",
    "03_cnn",
    "04_kernel_size_sweep",
    "05_filter_visualisation",
    "06_sagemaker_deploy",
)


@dataclass(frozen=True)
class Profile:
    """The seeds, training settings and notebooks that a run uses unless a parameter overrides them.

    Every run trains until `patience` epochs pass without a lower validation loss, and keeps the weights
    of its best epoch; `epochs` (FC networks) and `cnn_epochs` (CNNs) are caps. `batch_size` is the CNNs'
    batch and `fc_batch_size` the FC networks'. The profiles differ in their seeds and notebooks only, so no
    model family's result depends on the profile (`plans.settings_by_family`). `notebooks` empty: all.
    """

    name: str
    seeds: tuple[int, ...]
    epochs: int
    cnn_epochs: int
    batch_size: int
    fc_batch_size: int
    patience: int
    purpose: str
    notebooks: tuple[str, ...] = ()
    by_power: bool = True  # a primary model trains on the seeds the power plan gives it (`hypotheses.seeds_for_model`)

    @property
    def every_notebook(self) -> bool:
        return not self.notebooks


def _profile(name: str, seeds: tuple[int, ...], purpose: str, notebooks: tuple[str, ...] = (), by_power: bool = True) -> Profile:
    return Profile(name, seeds, EPOCH_CAP, EPOCH_CAP, BATCH_SIZE, BATCH_SIZE, PATIENCE, purpose, notebooks, by_power)


PROFILES = {
    "quick": _profile("quick", (0,), "the two studies' experiments, one seed: a first run on two CPU cores", STUDIES_NOTEBOOKS),
    "full": _profile(
        "full",
        tuple(range(7)),
        "every experiment: five to seven seeds for the models of the primary hypotheses (as many as the power plan "
        "gives each), three for the exploratory ones, the protocol's runs included: the published report",
    ),
    "gpu": _profile(
        "gpu",
        tuple(range(10)),
        "every experiment at ten seeds for the primary models (three for the exploratory ones), for a GPU",
        by_power=False,
    ),
}
FULL_PROFILES = ("full", "gpu")  # the profiles that run every notebook (a publishable run)


AUTO = "auto"


def exploratory_seeds(seeds: tuple[int, ...]) -> tuple[int, ...]:
    """The seeds an exploratory family trains on: the first `EXPLORATORY_SEEDS` of the run's."""
    return tuple(seeds[:EXPLORATORY_SEEDS])


def gpu_available() -> bool:
    """Whether TensorFlow sees a GPU (imports TensorFlow)."""
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def resolve_profile(value: object = AUTO) -> Profile:
    """A profile by name; "auto" (or empty) picks "gpu" when TensorFlow sees a GPU, else "quick"."""
    name = str(value).strip().lower() or AUTO
    if name == AUTO:
        name = "gpu" if gpu_available() else "quick"
    if name not in PROFILES:
        raise ParameterError(f"profile={value!r} is not a profile: use {AUTO!r}, {', '.join(repr(p) for p in PROFILES)}.")
    return PROFILES[name]


def or_profile(value: object, fallback: object) -> object:
    """`fallback` when a parameter is left at "auto" (or empty), else the value itself."""
    return fallback if value is None or str(value).strip().lower() in {"", AUTO} else value
