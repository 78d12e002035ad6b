"""Hand-made result records for the known-answer tests of `stats`, `tables` and `curves`."""

from __future__ import annotations


def record(accuracy: float, seed: int = 0, name: str = "m", **fields) -> dict:
    """A result record with the fields the tables read; `fields` replaces top-level entries (e.g. model=...)."""
    return {
        "seed": seed,
        "test": {"accuracy": accuracy, "loss": 0.25 + 0.05 * seed, "predictions": [0, 1, 2]},
        "model": {"name": name, "kind": "cnn", "kernel_sizes": [3, 3], "parameters": 1000},
        "macs_per_image": 5000,
        "epochs_run": 6 + seed,
        "best_epoch": 4,
        "timing": {"train_seconds": 10.0 + seed, "seconds_per_epoch": 2.0, "inference_ms_per_image": 0.5},
        "history": {
            "loss": [0.9, 0.5, 0.4, 0.3, 0.3, 0.2],
            "val_loss": [1.0, 0.6, 0.5, 0.45, 0.5, 0.55],
            "accuracy": [0.6, 0.8, 0.85, 0.9, 0.9, 0.93],
            "val_accuracy": [0.55, 0.75, 0.8, 0.84, 0.83, 0.82],
        },
    } | fields


def group(*accuracies: float, **fields) -> list[dict]:
    """One record per accuracy, seeds 0, 1, 2, …"""
    return [record(accuracy, seed, **fields) for seed, accuracy in enumerate(accuracies)]
