"""Profiles: the seeds and training settings a run uses unless a parameter overrides them."""

from __future__ import annotations

from dataclasses import dataclass

from convlab.paths import ParameterError


@dataclass(frozen=True)
class Profile:
    """The seeds and training settings that a run uses unless a parameter overrides them.

    Every run trains until `patience` epochs pass without a lower validation loss, and keeps the weights
    of its best epoch; `epochs` (FC networks) and `cnn_epochs` (CNNs) are caps set high enough that
    early stopping, not the cap, ends a run (the report lists any run the cap ended). `batch_size` is
    the CNNs' batch and `fc_batch_size` the FC networks'. The two profiles differ in their seeds only,
    so no model family's result depends on the profile (`experiments.settings_by_family`).
    """

    name: str
    seeds: tuple[int, ...]
    epochs: int
    cnn_epochs: int
    batch_size: int
    fc_batch_size: int
    patience: int
    purpose: str


PROFILES = {
    "cpu": Profile(
        "cpu",
        seeds=(0, 1, 2),
        epochs=40,
        cnn_epochs=40,
        batch_size=32,
        fc_batch_size=32,
        patience=2,
        purpose="three seeds: the full report on two CPU cores",
    ),
    "paper": Profile(
        "paper",
        seeds=(0, 1, 2, 3, 4),
        epochs=40,
        cnn_epochs=40,
        batch_size=32,
        fc_batch_size=32,
        patience=2,
        purpose="the studies' batch size and five seeds, for a machine with a GPU",
    ),
}


AUTO = "auto"


def gpu_available() -> bool:
    """Whether TensorFlow sees a GPU (imports TensorFlow)."""
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def resolve_profile(value: object = AUTO) -> Profile:
    """A profile by name; "auto" (or empty) picks "paper" when TensorFlow sees a GPU, else "cpu"."""
    name = str(value).strip().lower() or AUTO
    if name == AUTO:
        name = "paper" if gpu_available() else "cpu"
    if name not in PROFILES:
        raise ParameterError(f"profile={value!r} is not a profile: use {AUTO!r}, {', '.join(repr(p) for p in PROFILES)}.")
    return PROFILES[name]


def or_profile(value: object, fallback: object) -> object:
    """`fallback` when a parameter is left at "auto" (or empty), else the value itself."""
    return fallback if value is None or str(value).strip().lower() in {"", AUTO} else value
