"""Stored trainings: a run's model and record written together, an identical stored run found again, and a trained
model loaded back, each refused when its file is missing or was changed since the record was written.
"""

from __future__ import annotations

import logging
from pathlib import Path

import keras
import tensorflow as tf

from convlab.store import cache, records
from convlab.study import paths

RETRACING_NOTICE = "triggered tf.function retracing"


class _WithoutRetracingNotice(logging.Filter):
    """Drops TensorFlow's warning that a function "triggered tf.function retracing".

    Every model trained or loaded here traces its own prediction function once. TensorFlow counts
    those tracings across models (they share the function's code) and, after five in a process,
    warns of a retracing loop that is not there; the notebooks of a report run share a process.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return RETRACING_NOTICE not in record.getMessage()


def quiet_retracing_notice() -> None:
    """Install `_WithoutRetracingNotice` on TensorFlow's logger, once (called before training or loading a model)."""
    logger = tf.get_logger()
    if not any(isinstance(existing, _WithoutRetracingNotice) for existing in logger.filters):
        logger.addFilter(_WithoutRetracingNotice())


def stored_run(
    model_name: str, seed: int, key: str, results_dir: str | Path, models_dir: str | Path, *, needs_model: bool = True
) -> dict | None:
    """The record of an identical run (same cache key) stored in these folders with its intact model, or None.

    A record that is partial, corrupt or of another schema, a missing model file, or one whose
    bytes differ from those the record was written with, all count as "not stored": the run trains again.
    `needs_model` False: a run read for its record alone (the training protocol's), reused without its model file,
    so that its records alone carry it to another machine.
    """
    try:
        stored = records.read_record(records.record_path(results_dir, model_name, seed))
    except records.MissingResultError:
        return None
    if not cache.is_current(stored["cache_key"], key):
        return None
    return stored if not needs_model or _model_intact(stored, models_dir) else None


def _model_intact(record: records.ResultRecord, models_dir: str | Path) -> bool:
    """The model file a record names exists and has the bytes it was written with."""
    if not record.get("model_file"):
        return False
    model_file = model_file_of(record, models_dir)
    return model_file.is_file() and records.file_sha256(model_file) == record.get("model_sha256")


def model_file_of(record: records.ResultRecord, models_dir: str | Path) -> Path:
    """The model file a record names, refused (`paths.UnsafePath`) unless it lies inside `models_dir`."""
    what = f"The result record of {record['model']['name']} (seed {record['seed']}) names the model file"
    return paths.confined(models_dir, record.get("model_file", ""), what)


def store_run(
    model: keras.Model, record: records.ResultRecord, key: str, results_dir: str | Path, models_dir: str | Path
) -> dict:
    """Write the model, then its record with the model's sha256 (both atomically: a record always names a complete model)."""
    name, seed = record["model"]["name"], record["seed"]
    model_file = records.model_path(models_dir, name, seed)
    with records.atomic_path(model_file) as temporary:
        model.save(temporary)
    record = record | {"cache_key": key, "model_file": model_file.name, "model_sha256": records.file_sha256(model_file)}
    record_file = records.record_path(results_dir, name, seed)
    records.write_json(record_file, record)
    return records.read_record(record_file)


def load_trained_model(record: records.ResultRecord, models_dir: str | Path) -> keras.Model:
    """The Keras model that a result record describes (refused if its file is missing or was changed)."""
    quiet_retracing_notice()
    return keras.models.load_model(_intact_model_file(record, models_dir), safe_mode=True)  # never runs code stored in the file


def load_trained_weights(model: keras.Model, record: records.ResultRecord, models_dir: str | Path) -> keras.Model:
    """`model`, a model of the same configuration, with the weights of the run a record describes (checked as above).

    Cheaper than loading a model: the model is not rebuilt, and functions Keras has traced for it stay valid.
    """
    model.load_weights(_intact_model_file(record, models_dir))
    return model


def _intact_model_file(record: records.ResultRecord, models_dir: str | Path) -> Path:
    path = model_file_of(record, models_dir)
    if not _model_intact(record, models_dir):
        state = "differs from the one the record was written with" if path.is_file() else "is missing"
        raise records.MissingResultError(
            f"The model file {path} named by the result record {state}; rerun the notebook that trains it "
            f"(it trains the model again)."
        )
    return path
