"""Seeded, deterministic training that writes a result record and keeps the model.

`train_or_reuse` is the one entry point the notebooks use: a configuration that
was already trained with identical inputs (same data, model, seed, settings,
code and library versions) is loaded from its record instead of trained again.
"""

from __future__ import annotations

import ast
import hashlib
import os
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # as convlab/__init__.py sets it, for a direct import of this file

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from convlab.datasets import data  # noqa: E402
from convlab.store import cache, records
from convlab.study import config, paths, profiles
from convlab.training import models, precision, saved, slots

# The functions and classes whose behaviour decides a training result; the cache key hashes their source.
# The loaders are not listed: every split they return is verified against its sha256, which the key holds.
# The keys are the names the modules had when the stored runs were keyed (the key hashes them), mapped to their files
# by `RESULT_CODE_FILES`: moving a module keeps every stored run valid, changing what it does retrains.
RESULT_CODE = {
    "data": ("load_for_run", "subset", "stratified_indices", "split_validation", "scale_images"),
    "models": ("ModelConfig", "PixelPermutation", "LocallyConnected2D", "build_model"),
    "training": ("TrainingConfig", "seed_everything", "fit", "test_metrics", "StoppingAfter", "TestEachEpoch"),
    "precision": ("policy", "as_float32"),
    "transforms": ("pixel_permutation",),
}
RESULT_CODE_FILES = {
    "data": "datasets/data.py",
    "models": "training/models.py",
    "training": "training/fit.py",
    "precision": "training/precision.py",
    "transforms": "datasets/transforms.py",
}
INFERENCE_BATCH = 1000  # images per call when evaluating, validating and predicting
IMAGES_PER_EXECUTION = 512  # training steps run back to back in one graph call (same result, less Python per step)


@dataclass(frozen=True)
class TrainingConfig:
    """Everything about training that can change its result.

    `patience` epochs without a better `monitor` ("val_loss": lower; "val_accuracy": higher) stop training early, but
    never before `min_epochs`; the weights of the epoch with the best monitor are restored either way.
    `validation_fraction` 0 fits every training image, holds none out and stops at no rule: all `epochs` run and the
    last epoch's weights are kept (the studies' own protocol). `test_each_epoch` records the
    test loss and accuracy after every epoch (the reference runs: their first 15 epochs are the studies' protocol).
    `precision` is the arithmetic of training (`precision.training_precision`); the stored model is float32.
    """

    epochs: int = 15
    batch_size: int = 32
    learning_rate: float = 1e-3
    validation_fraction: float = 0.1
    patience: int = 3
    split_seed: int = 0
    precision: str = precision.FLOAT32
    min_epochs: int = 0
    test_each_epoch: bool = False
    monitor: str = "val_loss"
    also_wait_for: str = ""  # a long-patience run: nor stop while this (e.g. val_accuracy) improved within `patience`

    def to_dict(self) -> dict:
        return asdict(self)


def training_config_for(params: config.RunParameters, model_config: models.ModelConfig) -> TrainingConfig:
    """The training settings a notebook run asks for, for this model (CNN and FC epochs and batch sizes may differ).

    Every family stops by the protocol's rule (`profiles.MONITOR`, the run's patience) and learns at the studies' rate,
    Adam's 1e-3, unless its head has a rate of its own chosen on validation data (`profiles.HEAD_LEARNING_RATES`).
    A shift-augmented model stops by the long-patience runs' rule instead (`profiles.AUGMENTED_PATIENCE`, waiting for
    the validation accuracy too).
    """
    learning_rate = profiles.HEAD_LEARNING_RATES.get(model_config.head, TrainingConfig.learning_rate)
    augmented = model_config.shift_augmentation > 0
    rule = {
        "patience": profiles.AUGMENTED_PATIENCE if augmented else params.patience,
        "monitor": profiles.MONITOR,
        "also_wait_for": "val_accuracy" if augmented else "",
    }
    if model_config.kind == "cnn":  # bfloat16 pays for convolutions only: an FC epoch took as long as in float32
        return TrainingConfig(
            epochs=params.cnn_epochs,
            batch_size=params.batch_size,
            learning_rate=learning_rate,
            precision=precision.training_precision(),
            **rule,
        )
    return TrainingConfig(epochs=params.epochs, batch_size=params.fc_batch_size, learning_rate=learning_rate, **rule)


class EpochTimer(keras.callbacks.Callback):
    """Records the wall time of every epoch."""

    def on_train_begin(self, logs=None):
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


class StoppingAfter(keras.callbacks.EarlyStopping):
    """Keras's early stopping on the validation loss, which never stops before `min_epochs` epochs have run, nor while
    `also_wait_for` (a second monitor, higher is better) has improved within the last `patience` epochs."""

    def __init__(self, min_epochs: int, also_wait_for: str = "", **kwargs):
        super().__init__(**kwargs)
        self.min_epochs, self.also_wait_for = min_epochs, also_wait_for
        self.other_best, self.other_best_epoch = -float("inf"), 0

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        if self.also_wait_for:
            value = (logs or {}).get(self.also_wait_for)
            if value is not None and value > self.other_best:
                self.other_best, self.other_best_epoch = value, epoch
            if epoch - self.other_best_epoch < self.patience:
                self.model.stop_training = False
        if epoch + 1 < self.min_epochs:
            self.model.stop_training = False


class TestEachEpoch(keras.callbacks.Callback):
    """The test loss and accuracy of the weights after every epoch, computed in float32 by a twin of the model."""

    def __init__(self, build, x_test: np.ndarray, y_test: np.ndarray):
        super().__init__()
        self.build, self.x_test, self.y_test = build, x_test, y_test
        self.loss: list[float] = []
        self.accuracy: list[float] = []

    def on_train_begin(self, logs=None):
        with precision.policy(precision.FLOAT32):
            self.twin = self.build()

    def on_epoch_end(self, epoch, logs=None):
        self.twin.set_weights(self.model.get_weights())
        probabilities = self.twin.predict(self.x_test, batch_size=INFERENCE_BATCH, verbose=0)
        loss, accuracy = test_metrics(probabilities, self.y_test)
        self.loss.append(loss)
        self.accuracy.append(accuracy)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow and make TensorFlow's kernels deterministic."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def test_metrics(probabilities: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Cross-entropy and accuracy from predicted probabilities (Keras's clipping), without a second pass over the data."""
    chosen = np.clip(probabilities[np.arange(len(labels)), labels].astype(np.float64), 1e-7, 1.0)
    return float(-np.log(chosen).mean()), float(np.mean(np.argmax(probabilities, axis=1) == labels))


def steps_per_execution(batch_size: int) -> int:
    """Training steps per graph call: about `IMAGES_PER_EXECUTION` images (the weights are bit-for-bit the same)."""
    return max(1, IMAGES_PER_EXECUTION // batch_size)


def code_fingerprint() -> str:
    """sha256 over the syntax trees of the code that decides a training result (`RESULT_CODE`).

    The source is parsed from the files at call time, so any change to what that
    code does retrains, while reformatting, comments and edits elsewhere (error
    messages, reuse logic, tables) keep stored runs valid.
    """
    digest = hashlib.sha256()
    for module_name, names in RESULT_CODE.items():
        definitions = _top_level_definitions(paths.PACKAGE_DIR / RESULT_CODE_FILES[module_name])
        for name in names:
            digest.update(f"{module_name}.{name}\n{definitions[name]}\n".encode())
    return digest.hexdigest()


def _top_level_definitions(path: Path) -> dict[str, str]:
    """A formatting-independent dump of every top-level function and class of a module, by name."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name: ast.dump(node) for node in tree.body if isinstance(node, ast.FunctionDef | ast.ClassDef)}


def cache_key(model_config: models.ModelConfig, dataset: data.Dataset, seed: int, settings: TrainingConfig) -> str:
    """A hash of every input that affects a training result."""
    inputs = {
        "dataset": dataset.describe() | {"source": None},
        "model": model_config.to_dict(),
        "seed": seed,
        "training": settings.to_dict(),
        "code": code_fingerprint(),
        "versions": {name: records.package_versions().get(name) for name in ("tensorflow", "tensorflow-cpu", "keras", "numpy")},
        "onednn": records.onednn_setting(),
        "threads": records.thread_setting(),
    }
    return cache.fingerprint(inputs)


def fit(
    model_config: models.ModelConfig, dataset: data.Dataset, seed: int, settings: TrainingConfig, *, verbose: int = 2
) -> tuple[keras.Model, dict]:
    """Train one configuration with one seed; return the model and its result record."""
    seed_everything(seed)
    held_out = settings.validation_fraction > 0
    if held_out:
        x_fit, y_fit, x_val, y_val = data.split_validation(
            dataset.x_train, dataset.y_train, settings.validation_fraction, seed=settings.split_seed
        )
    else:
        x_fit, y_fit, x_val, y_val = dataset.x_train, dataset.y_train, dataset.x_train[:0], dataset.y_train[:0]
    x_fit, x_val, x_test = data.scale_images(x_fit), data.scale_images(x_val), data.scale_images(dataset.x_test)
    with precision.policy(settings.precision):
        model = models.build_model(model_config)
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=settings.learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            steps_per_execution=steps_per_execution(settings.batch_size),
        )
        timer = EpochTimer()
        stopper = StoppingAfter(
            settings.min_epochs,
            settings.also_wait_for,
            monitor=settings.monitor,
            patience=settings.patience or settings.epochs,
            restore_best_weights=True,
        )
        callbacks = [timer, stopper] if held_out else [timer]
        if settings.test_each_epoch:
            tester = TestEachEpoch(lambda: models.build_model(model_config), x_test, dataset.y_test)
            callbacks.append(tester)
        started = time.perf_counter()
        history = model.fit(
            x_fit,
            y_fit,
            validation_data=(x_val, y_val) if held_out else None,
            validation_batch_size=INFERENCE_BATCH,
            epochs=settings.epochs,
            batch_size=settings.batch_size,
            callbacks=callbacks,
            verbose=verbose,
        )
        train_seconds = time.perf_counter() - started
    model = precision.as_float32(model, lambda: models.build_model(model_config))  # evaluated and stored in float32
    started = time.perf_counter()
    probabilities = model.predict(x_test, batch_size=INFERENCE_BATCH, verbose=0)
    inference_seconds = time.perf_counter() - started
    test_loss, test_accuracy = test_metrics(probabilities, dataset.y_test)
    record = {
        "schema_version": records.SCHEMA_VERSION,
        "dataset": dataset.describe(),
        "model": model_config.to_dict() | {"parameters": int(model.count_params())},
        "seed": seed,
        "parameters": settings.to_dict() | {"fit_size": int(len(y_fit)), "validation_size": int(len(y_val))},
        "macs_per_image": models.macs_per_image(model),
        "history": {key: [float(value) for value in values] for key, values in history.history.items()}
        | {"epoch_seconds": timer.seconds}
        | ({"test_loss": tester.loss, "test_accuracy": tester.accuracy} if settings.test_each_epoch else {}),
        "epochs_run": len(timer.seconds),
        "best_epoch": int(stopper.best_epoch) + 1 if held_out else len(timer.seconds),  # without a held-out set: the last
        "test": {
            "accuracy": float(test_accuracy),
            "loss": float(test_loss),
            "predictions": [int(label) for label in np.argmax(probabilities, axis=1)],
        },
        "timing": {
            "train_seconds": train_seconds,
            "seconds_per_epoch": float(np.mean(timer.seconds)),
            "inference_ms_per_image": 1000 * inference_seconds / len(x_test),
        },
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": records.environment_stamp(),
    }
    return model, record


def train_or_reuse(
    model_config: models.ModelConfig,
    dataset: data.Dataset,
    seed: int,
    params: config.RunParameters,
    settings: TrainingConfig | None = None,
    *,
    subfolder: str = "",
    needs_model: bool = True,
) -> dict:
    """The result record of a configuration: reused when an identical run is stored, else trained now.

    The model is written before the record, both atomically, so a record on disk always points at a
    complete model. `subfolder` keeps runs apart from the report's own (e.g. those of another profile);
    `needs_model` False reuses a stored record without its model file (`saved.stored_run`).
    """
    saved.quiet_retracing_notice()
    settings = settings or training_config_for(params, model_config)
    key = cache_key(model_config, dataset, seed, settings)
    results_dir, models_dir = params.results_dir / subfolder, params.models_dir / subfolder
    stored = saved.stored_run(model_config.name, seed, key, results_dir, models_dir, needs_model=needs_model)
    if stored:
        print_reuse(stored, subfolder, params)
        return stored
    with slots.training_slot() as slot:  # never more trainings than cores, across processes
        print(f"Training {model_config.name} (seed {seed}) on {dataset.describe()['train_size']} images.", flush=True)
        model, record = fit(model_config, dataset, seed, settings)
    record["timing"] |= {"trainings_at_once": slot.most, "slots": slot.slots}
    return saved.store_run(model, record, key, results_dir, models_dir)


def stored_task(task, params: config.RunParameters) -> dict | None:
    """The stored record of a training task (`workers.Task`) under the run's folders, or None when it must train."""
    settings = task.settings or training_config_for(params, task.model_config)
    key = cache_key(task.model_config, task.dataset, task.seed, settings)
    name, folder = task.model_config.name, task.subfolder
    results, models = params.results_dir / folder, params.models_dir / folder
    return saved.stored_run(name, task.seed, key, results, models, needs_model=task.needs_model)


def print_reuse(record: records.ResultRecord, subfolder: str, params: config.RunParameters) -> None:
    """The note that a run is reused: where its record is stored (relative to the report folder)."""
    name, seed = record["model"]["name"], record["seed"]
    where = records.record_path(params.results_dir / subfolder, name, seed).relative_to(params.output_dir).as_posix()
    print(f"Reusing {name} (seed {seed}): an identical run is stored in {where}.{other_machine(record)}")


def other_machine(record: records.ResultRecord) -> str:
    """A note when a record was trained on another machine: results are bit-identical only on the same one."""
    here, there = records.machine_of(records.environment_stamp()), records.machine_of(record.get("environment", {}))
    if here == there:
        return ""
    return (
        f" It was trained on {there}, not on this machine ({here}): retrained here, it would agree within seed noise, "
        "not bit for bit."
    )
