"""Probes of trained models: accuracy on shifted test images, and measured inference latency.

Each probe result is a record under `<results>/probes/`, tied to the training
record it measured by that record's cache key: a rerun reads it back instead of
measuring again, and a retrained model is measured afresh.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from convlab.datasets import data, transforms
from convlab.store import cache, records
from convlab.study import config, paths
from convlab.training import fit, saved, slots

SHIFT_DIRECTIONS = {"horizontal": (0, 1), "vertical": (1, 0), "diagonal": (1, 1)}  # (rows down, columns right) per step
PROBE_IMAGES = 1000  # test images per shifted copy, stratified: a standard error of at most 1.6 points per accuracy


def probe_path(results_dir: str | Path, probe: str, record: records.ResultRecord) -> Path:
    name = f"{probe}_{record['model']['name']}-seed{record['seed']}.json"
    return paths.confined(Path(results_dir) / "probes", name, "The probe record's file name")


def probe_key(record: records.ResultRecord, inputs: dict) -> str:
    """The key a probe result is stored with: the probe format, the training run it measured, and its inputs."""
    inputs_of_the_probe = {"schema_version": records.PROBE_SCHEMA_VERSION, "for_cache_key": record["cache_key"], "inputs": inputs}
    return cache.fingerprint(inputs_of_the_probe)


def _stored_probe(path: Path, record: records.ResultRecord, inputs: dict) -> dict | None:
    """The stored probe result if it measured this very training run with these inputs, else None."""
    try:
        stored = records.read_probe(path)
    except records.MissingResultError:
        return None
    return stored if cache.is_current(stored.get("key"), probe_key(record, inputs)) else None


def _write_probe(path: Path, probe: str, record: records.ResultRecord, inputs: dict, result: dict) -> dict:
    payload = {
        "schema_version": records.PROBE_SCHEMA_VERSION,
        "probe": probe,
        "model": record["model"]["name"],
        "seed": record["seed"],
        "for_cache_key": record["cache_key"],
        "inputs": inputs,
        "key": probe_key(record, inputs),
        "result": result,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": records.environment_stamp(),
    }
    records.write_json(path, payload)
    return records.read_probe(path)


def shifted_accuracy(
    model, images: np.ndarray, labels: np.ndarray, shifts: tuple[int, ...], directions: tuple[str, ...] = tuple(SHIFT_DIRECTIONS)
) -> list[dict]:
    """Accuracy on `images` (uint8, N×28×28) moved by each shift along each direction (all of SHIFT_DIRECTIONS unless
    `directions` names fewer), zero-filled.

    Every shifted copy goes through one `predict` call (a call per copy costs about 50 ms of set-up each);
    the unshifted images are predicted once, however many directions list shift 0.
    """
    steps = {direction: SHIFT_DIRECTIONS[direction] for direction in directions}
    moves = sorted({(down * shift, right * shift) for down, right in steps.values() for shift in shifts})
    stacked = np.concatenate([transforms.shift_images(images, rows, columns) for rows, columns in moves])
    probabilities = model.predict(data.scale_images(stacked), batch_size=fit.INFERENCE_BATCH, verbose=0)
    correct = (np.argmax(probabilities, axis=1) == np.tile(labels, len(moves))).reshape(len(moves), len(labels))
    accuracy = dict(zip(moves, correct.mean(axis=1).tolist(), strict=True))
    return [
        {"direction": direction, "shift": int(shift), "accuracy": accuracy[(down * shift, right * shift)]}
        for direction, (down, right) in steps.items()
        for shift in shifts
    ]


def probe_indices(labels: np.ndarray, images: int) -> np.ndarray:
    """The test images a probe uses: a seeded, class-stratified subset of `images` (all when 0 or more than there are)."""
    if not images or images >= len(labels):
        return np.arange(len(labels))
    return np.sort(data.stratified_indices(labels, images, np.random.default_rng(0)))


class TrainedModels:
    """The trained model of each record, one Keras model per configuration: the weights of its other seeds are
    loaded into it in turn, so Keras traces its prediction function once, not once per seed."""

    def __init__(self, models_dir: str | Path):
        self.models_dir = models_dir
        self.loaded: dict[str, object] = {}

    def __call__(self, record: records.ResultRecord):
        name = record["model"]["name"]
        if name not in self.loaded:
            self.loaded[name] = saved.load_trained_model(record, self.models_dir)
            return self.loaded[name]
        return saved.load_trained_weights(self.loaded[name], record, self.models_dir)


def translation_probe(
    record: records.ResultRecord,
    dataset: data.Dataset,
    params: config.RunParameters,
    shifts: tuple[int, ...],
    images: int = PROBE_IMAGES,
    trained_models: TrainedModels | None = None,
) -> dict:
    """The trained model's accuracy on `images` test images at every shift and direction (stored, or measured now)."""
    chosen = probe_indices(dataset.y_test, images)
    inputs = {
        "shifts": list(shifts),
        "directions": {key: list(step) for key, step in SHIFT_DIRECTIONS.items()},
        "test_images": int(len(chosen)),
    }
    path = probe_path(params.results_dir, "translation", record)
    stored = _stored_probe(path, record, inputs)
    if stored:
        return stored
    model = (trained_models or TrainedModels(params.models_dir))(record)
    rows = shifted_accuracy(model, dataset.x_test[chosen], dataset.y_test[chosen], shifts)
    return _write_probe(path, "translation", record, inputs, {"rows": rows})


def translation_frame(
    groups: records.RecordGroups, dataset: data.Dataset, params, shifts: tuple[int, ...], images: int = PROBE_IMAGES
) -> pd.DataFrame:
    """Long table (model, seed, direction, shift, accuracy in %) over every model and seed of `groups`."""
    rows, trained_models = [], TrainedModels(params.models_dir)
    for label, runs in groups.items():
        for record in runs:
            probe = translation_probe(record, dataset, params, shifts, images, trained_models)
            rows += [row | {"model": label, "seed": record["seed"]} for row in probe["result"]["rows"]]
    frame = pd.DataFrame(rows)
    frame["accuracy"] *= 100
    return frame[["model", "seed", "direction", "shift", "accuracy"]]


def measure_latency(model, images: np.ndarray, repeats: int = 200, batch_size: int = 256, batch_repeats: int = 10) -> dict:
    """Single-image latency (p50, p99 in ms) and batched throughput (images/s) of a compiled forward pass."""
    import tensorflow as tf

    forward = tf.function(lambda batch: model(batch, training=False), reduce_retracing=True)
    single = tf.constant(images[:1])
    batch = tf.constant(np.resize(images, (batch_size, *images.shape[1:])))
    forward(single), forward(batch)  # trace both shapes before timing
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        forward(single).numpy()
        times.append(1000 * (time.perf_counter() - started))
    started = time.perf_counter()
    for _ in range(batch_repeats):
        forward(batch).numpy()
    seconds = time.perf_counter() - started
    return {
        "single_p50_ms": float(np.percentile(times, 50)),
        "single_p99_ms": float(np.percentile(times, 99)),
        "batch_size": batch_size,
        "batch_images_per_second": batch_size * batch_repeats / seconds,
    }


def latency_probe(record: records.ResultRecord, dataset: data.Dataset, params: config.RunParameters, repeats: int = 200) -> dict:
    """Inference latency of a trained model on this machine's CPU (stored, or measured now)."""
    inputs = {"repeats": repeats, "cpu": records.cpu_model(), "cpu_count": records.environment_stamp()["cpu_count"]}
    path = probe_path(params.results_dir, "latency", record)
    stored = _stored_probe(path, record, inputs)
    if stored:
        return stored
    model = saved.load_trained_model(record, params.models_dir)
    with slots.training_slot() as slot:  # a core of its own, and a count of what ran beside it
        result = measure_latency(model, data.scale_images(dataset.x_test[:512]), repeats=repeats)
    result |= {"trainings_at_once": slot.most, "slots": slot.slots}
    return _write_probe(path, "latency", record, inputs, result)


def latency_for_groups(groups: records.RecordGroups, dataset: data.Dataset, params, repeats: int = 200) -> dict[str, dict]:
    """The latency probe of each model's first seed (a model's seeds share its architecture, hence its cost)."""
    return {name: latency_probe(group[0], dataset, params, repeats) for name, group in groups.items()}


def shift_examples(image: np.ndarray, shifts: tuple[int, ...]) -> tuple[np.ndarray, list[str]]:
    """One uint8 image moved by each shift in each direction, with captions, for a figure."""
    images, titles = [], []
    for direction, (down, right) in SHIFT_DIRECTIONS.items():
        for shift in shifts:
            images.append(transforms.shift_images(image[np.newaxis], down * shift, right * shift)[0])
            titles.append(f"{direction}, {shift} px")
    return np.stack(images), titles


def permutation_examples(dataset: data.Dataset, permutation: np.ndarray, count: int = 8) -> tuple[np.ndarray, list[str]]:
    """The first test image of `count` classes, then the same images with their pixels permuted."""
    first = [int(np.flatnonzero(dataset.y_test == label)[0]) for label in range(min(count, dataset.num_classes))]
    originals = dataset.x_test[first]
    names = [dataset.class_names[label] for label in dataset.y_test[first]]
    shuffled = transforms.permute_pixels(originals, permutation)
    return np.concatenate([originals, shuffled]), names + [f"{name}, permuted" for name in names]
