"""Deterministic training, result records, reuse of stored runs, and saved models."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import tensorflow as tf

from convlab.datasets import data
from convlab.store import records
from convlab.study import config, paths, profiles
from convlab.training import fit, models, precision, saved, workers

SETTINGS = fit.TrainingConfig(epochs=2, batch_size=64)


@pytest.fixture(scope="module")
def tiny(fashion) -> data.Dataset:
    return data.subset(fashion, train_size=600, test_size=200, seed=0)


def run_params(tmp_path, **overrides):
    values = {
        "notebook": "02_fc_baseline",
        "dataset": "fashion_mnist",
        "epochs": 2,
        "batch_size": 64,
        "output_dir": str(tmp_path / "out"),
        "images_dir": str(tmp_path / "images"),
    }
    return config.RunParameters.from_notebook(**(values | overrides))


def without_timings(record: dict) -> dict:
    """A result record less what measures time (durations, per-epoch seconds, the creation stamp)."""
    kept = {key: value for key, value in record.items() if key not in ("timing", "created")}
    return kept | {"history": {key: value for key, value in record["history"].items() if key != "epoch_seconds"}}


def test_same_seed_same_record_and_weights_other_seed_other_weights(tiny):
    model_config = models.cnn_config("fashion_mnist")
    settings = fit.TrainingConfig(epochs=2, batch_size=64)
    first_model, first = fit.fit(model_config, tiny, 7, settings, verbose=0)
    second_model, second = fit.fit(model_config, tiny, 7, settings, verbose=0)
    other_model, other = fit.fit(model_config, tiny, 8, settings, verbose=0)
    assert set(first) - set(without_timings(first)) == {"timing", "created"}
    assert without_timings(first) == without_timings(second), "the whole record, metrics, predictions and environment alike"
    assert first["timing"] != second["timing"], "timings are measured, not copied"
    first_weights, second_weights = first_model.get_weights(), second_model.get_weights()
    assert len(first_weights) == len(second_weights) == 8
    assert all(a.tobytes() == b.tobytes() for a, b in zip(first_weights, second_weights)), "bit-identical weights"
    assert not any(np.array_equal(a, b) for a, b in zip(first_weights, other_model.get_weights())), "every tensor differs"
    assert without_timings(first)["history"] != without_timings(other)["history"]


def test_record_holds_what_the_report_needs(tiny, tmp_path):
    record = fit.train_or_reuse(models.fc_baseline_config("fashion_mnist"), tiny, 0, run_params(tmp_path))
    stored = json.loads((tmp_path / "out" / "results" / "fc_baseline-seed0.json").read_text())
    assert stored == json.loads(json.dumps(record))
    assert stored["model"]["parameters"] == 109_386
    assert stored["macs_per_image"] == 109_184
    assert stored["dataset"]["train_size"] == 600 and stored["parameters"]["validation_size"] == 60
    assert len(stored["history"]["val_loss"]) == stored["epochs_run"] == 2
    assert 1 <= stored["best_epoch"] <= 2
    assert 0.5 < stored["test"]["accuracy"] <= 1 and stored["test"]["loss"] > 0
    assert len(stored["test"]["predictions"]) == 200
    assert stored["environment"]["packages"]["keras"]
    assert not list((tmp_path / "out").rglob("*.tmp*")), "no temporary files are left behind"


def test_saved_model_reproduces_the_recorded_predictions(tiny, tmp_path):
    params = run_params(tmp_path)
    record = fit.train_or_reuse(models.cnn_config("fashion_mnist"), tiny, 1, params)
    model = saved.load_trained_model(record, params.models_dir)
    predictions = model.predict(data.scale_images(tiny.x_test), verbose=0).argmax(axis=1)
    assert np.array_equal(predictions, record["test"]["predictions"])


def test_identical_run_is_reused_changed_run_is_retrained(tiny, tmp_path, monkeypatch):
    params = run_params(tmp_path)
    model_config = models.fc_baseline_config("fashion_mnist")
    first = fit.train_or_reuse(model_config, tiny, 0, params)
    calls = []
    real_fit = fit.fit

    def counting_fit(*args, **kwargs):
        calls.append(args)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(fit, "fit", counting_fit)
    assert fit.train_or_reuse(model_config, tiny, 0, params) == first
    assert calls == []
    fit.train_or_reuse(model_config, tiny, 0, run_params(tmp_path, epochs=1))
    assert len(calls) == 1, "a change of epochs retrains"


@pytest.mark.parametrize("damage", ["truncated record", "missing model", "other schema", "changed model", "truncated model"])
def test_damaged_entry_is_retrained(damage, tiny, tmp_path, monkeypatch):
    params = run_params(tmp_path)
    model_config = models.fc_baseline_config("fashion_mnist")
    fit.train_or_reuse(model_config, tiny, 0, params)
    record_file = records.record_path(params.results_dir, "fc_baseline", 0)
    if damage == "truncated record":
        record_file.write_text(record_file.read_text()[:100])
    elif damage == "missing model":
        records.model_path(params.models_dir, "fc_baseline", 0).unlink()
    elif damage == "other schema":
        record_file.write_text(json.dumps(json.loads(record_file.read_text()) | {"schema_version": 0}))
    else:
        model_file = records.model_path(params.models_dir, "fc_baseline", 0)
        content = model_file.read_bytes()
        flipped = content[:-1] + bytes([content[-1] ^ 1])
        model_file.write_bytes(content[: len(content) // 2] if damage == "truncated model" else flipped)

    def refuse_to_train(*args, **kwargs):
        raise RuntimeError("training was attempted")

    monkeypatch.setattr(fit, "fit", refuse_to_train)
    with pytest.raises(RuntimeError, match="training was attempted"):
        fit.train_or_reuse(model_config, tiny, 0, params)


def test_a_run_read_for_its_record_alone_is_reused_without_its_model_file(tiny, tmp_path, monkeypatch):
    """The protocol's runs (`needs_model=False`) carry to another machine as records: the model file may be gone."""
    params = run_params(tmp_path)
    model_config = models.fc_baseline_config("fashion_mnist")
    first = fit.train_or_reuse(model_config, tiny, 0, params, subfolder="protocol", needs_model=False)
    records.model_path(params.models_dir / "protocol", "fc_baseline", 0).unlink()

    def refuse_to_train(*args, **kwargs):
        raise RuntimeError("training was attempted")

    monkeypatch.setattr(fit, "fit", refuse_to_train)
    assert fit.train_or_reuse(model_config, tiny, 0, params, subfolder="protocol", needs_model=False) == first
    task = workers.Task(model_config, tiny, 0, subfolder="protocol", needs_model=False)
    assert fit.stored_task(task, params) == first
    with pytest.raises(RuntimeError, match="training was attempted"):
        fit.train_or_reuse(model_config, tiny, 0, params, subfolder="protocol")


def test_changed_model_file_is_refused_with_the_fix(tiny, tmp_path):
    params = run_params(tmp_path)
    record = fit.train_or_reuse(models.fc_baseline_config("fashion_mnist"), tiny, 0, params)
    model_file = records.model_path(params.models_dir, "fc_baseline", 0)
    model_file.write_bytes(model_file.read_bytes() + b"\0")
    with pytest.raises(records.MissingResultError, match="differs from the one the record was written with; rerun"):
        saved.load_trained_model(record, params.models_dir)
    model_file.unlink()
    with pytest.raises(records.MissingResultError, match="is missing; rerun"):
        saved.load_trained_model(record, params.models_dir)


def test_cache_key_covers_settings_kernels_and_profile(tiny, monkeypatch):
    model_config = models.cnn_config("fashion_mnist")
    key = fit.cache_key(model_config, tiny, 0, SETTINGS)
    assert fit.cache_key(model_config, tiny, 0, fit.TrainingConfig(epochs=2, batch_size=64, patience=2)) != key
    assert fit.cache_key(model_config, tiny, 1, SETTINGS) != key
    assert fit.cache_key(models.cnn_config("fashion_mnist", 5), tiny, 0, SETTINGS) != key
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "2")
    assert fit.cache_key(model_config, tiny, 0, SETTINGS) != key, "a CNN rounds differently with two threads"
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "1")
    assert fit.cache_key(model_config, tiny, 0, SETTINGS) == key
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    assert fit.cache_key(model_config, tiny, 0, SETTINGS) != key, "the kernels TensorFlow uses decide round-off"


def test_convlab_gives_tensorflow_one_thread_per_pool():
    """Set on import, before TensorFlow starts (the test process imports convlab first, as notebooks do)."""
    import tensorflow as tf

    assert records.thread_setting() == "TF_NUM_INTRAOP_THREADS=1, TF_NUM_INTEROP_THREADS=1"
    assert tf.config.threading.get_intra_op_parallelism_threads() in (0, 1)  # 0: TensorFlow took it from the variable
    assert records.environment_stamp()["threads"] == records.thread_setting()


def test_profile_settings_of_cnn_fc_and_gap_head():
    params = config.RunParameters.from_notebook(notebook="03_cnn", dataset="mnist", profile="full")
    cnn, arithmetic = models.cnn_config("mnist"), precision.training_precision()
    cap, patience = profiles.EPOCH_CAP, profiles.PATIENCE
    assert fit.training_config_for(params, cnn) == fit.TrainingConfig(epochs=cap, patience=patience, precision=arithmetic)
    assert fit.training_config_for(params, models.fc_baseline_config("mnist")) == fit.TrainingConfig(
        epochs=cap, batch_size=32, patience=patience, precision="float32"
    )
    gap = fit.training_config_for(params, models.variant(cnn, head="gap"))
    assert gap == fit.TrainingConfig(epochs=cap, patience=patience, precision=arithmetic), "one learning rate for all"
    assert gap.learning_rate == 1e-3


def test_test_metrics_match_keras_evaluate(tiny):
    model, record = fit.fit(models.fc_baseline_config("fashion_mnist"), tiny, 0, SETTINGS, verbose=0)
    loss, accuracy = model.evaluate(data.scale_images(tiny.x_test), tiny.y_test, verbose=0)
    assert record["test"]["accuracy"] == pytest.approx(accuracy, abs=1e-6)
    assert record["test"]["loss"] == pytest.approx(loss, rel=1e-5)


def test_steps_per_execution_leave_the_weights_unchanged(tiny):
    """Several training steps per graph call is a speed-up only: the weights are bit-for-bit those of one step per call."""
    import keras

    x, y = data.scale_images(tiny.x_train[:512]), tiny.y_train[:512]
    weights = []
    for steps in (1, fit.steps_per_execution(32)):
        fit.seed_everything(0)
        model = models.build_model(models.cnn_config("fashion_mnist"))
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", steps_per_execution=steps)
        model.fit(x, y, batch_size=32, epochs=1, verbose=0)
        weights.append(model.get_weights())
    assert fit.steps_per_execution(32) == 16
    assert all(np.array_equal(a, b) for a, b in zip(*weights))


def test_clearing_the_cache_retrains(tiny, tmp_path, monkeypatch):
    from convlab.store import cache

    params = run_params(tmp_path, output_dir=str(tmp_path / "reports" / "fashion_mnist"))
    fit.train_or_reuse(models.fc_baseline_config("fashion_mnist"), tiny, 0, params)
    (tmp_path / "reports" / "fashion_mnist" / "03_cnn.ipynb").write_text("{}")
    assert cache.main(["clear", "--root", str(tmp_path / "reports")]) == 0
    assert not params.results_dir.exists() and not params.models_dir.exists()
    assert (tmp_path / "reports" / "fashion_mnist" / "03_cnn.ipynb").exists(), "executed notebooks stay"
    assert cache.clear(tmp_path / "reports") == []

    def refuse_to_train(*args, **kwargs):
        raise RuntimeError("training was attempted")

    monkeypatch.setattr(fit, "fit", refuse_to_train)
    with pytest.raises(RuntimeError, match="training was attempted"):
        fit.train_or_reuse(models.fc_baseline_config("fashion_mnist"), tiny, 0, params)


def test_fingerprint_follows_the_code_that_decides_results(tmp_path, monkeypatch):
    copy = tmp_path / "convlab"
    copy.mkdir()
    for relative in fit.RESULT_CODE_FILES.values():
        (copy / relative).parent.mkdir(parents=True, exist_ok=True)
        (copy / relative).write_text((paths.PACKAGE_DIR / relative).read_text())
    monkeypatch.setattr(paths, "PACKAGE_DIR", copy)
    original = fit.code_fingerprint()
    models_file = copy / fit.RESULT_CODE_FILES["models"]
    models_source = models_file.read_text()
    models_file.write_text(models_source.replace("def cost_table(", "def cost_table_renamed("))
    assert fit.code_fingerprint() == original, "a function outside RESULT_CODE does not decide results"
    models_file.write_text(models_source.replace("def build_model(", "# a comment\ndef build_model(  "))
    assert fit.code_fingerprint() == original, "comments and formatting do not decide results"
    models_file.write_text(models_source.replace('name="dense_1"', 'name="dense_one"'))
    assert fit.code_fingerprint() != original, "build_model decides results"


def test_a_model_file_carrying_python_code_is_refused(tmp_path):
    """A .keras file whose Lambda layer holds Python bytecode is not deserialised (safe mode), even with a valid record."""
    import keras

    inputs = keras.Input(shape=(28, 28, 1))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2.0)(inputs))
    model_file = tmp_path / "cnn-seed0.keras"
    model.save(model_file)
    record = {"model": {"name": "cnn"}, "seed": 0, "model_file": model_file.name, "model_sha256": records.file_sha256(model_file)}
    with pytest.raises(ValueError, match="safe_mode"):
        saved.load_trained_model(record, tmp_path)


def test_only_the_retracing_notice_is_dropped_from_tensorflow_warnings():
    logger, seen = tf.get_logger(), []
    handler = logging.Handler(level=logging.WARNING)
    handler.emit = seen.append
    logger.addHandler(handler)
    try:
        logger.warning("5 out of the last 5 calls to <function f> %s. Tracing is expensive.", saved.RETRACING_NOTICE)
        logger.warning("another TensorFlow warning")
    finally:
        logger.removeHandler(handler)
    assert [record.getMessage() for record in seen] == ["another TensorFlow warning"]


def test_every_family_trains_alike_under_both_profiles():
    """The profiles differ in seeds only, so no family needs reference runs; an explicit batch size makes them differ."""
    from convlab.experiments import design, plans

    params = config.RunParameters.from_notebook(notebook="03_cnn", dataset="mnist", profile="full")
    table = plans.settings_by_family(params)
    assert len(table) == 10 and table[design.SAME_SETTINGS].all()
    cap, patience, arithmetic = profiles.EPOCH_CAP, profiles.PATIENCE, precision.training_precision()
    gap_settings = f"batch 32, ≤{cap} epochs, patience {patience}, learning rate 0.001, {arithmetic}"
    assert table.loc[design.CNN_GAP, "this run (full)"] == gap_settings
    explicit = config.RunParameters.from_notebook(notebook="03_cnn", dataset="mnist", profile="full", batch_size=64)
    assert not plans.settings_by_family(explicit)[design.SAME_SETTINGS].any()
    configs = {design.FC_BASELINE: models.fc_baseline_config("mnist"), design.CNN: models.cnn_config("mnist")}
    assert plans.settings_reference(configs, None, params, train=True) is None, "nothing to compare: nothing trained"


def test_a_reference_run_trains_its_minimum_epochs_and_is_tested_after_each(tiny):
    """patience 1 would stop at once on a plateau; min_epochs holds it to 4 epochs, each one tested, and the record's
    last test accuracy per epoch is that of the weights after that epoch (the final test is of the best epoch's)."""
    model_config = models.fc_baseline_config("fashion_mnist")
    settings = fit.TrainingConfig(epochs=6, batch_size=64, patience=1, min_epochs=4, test_each_epoch=True)
    model, record = fit.fit(model_config, tiny, 0, settings, verbose=0)
    history = record["history"]
    assert record["epochs_run"] >= 4 and len(history["test_accuracy"]) == len(history["test_loss"]) == record["epochs_run"]
    assert history["test_accuracy"][record["best_epoch"] - 1] == pytest.approx(record["test"]["accuracy"])
    plain = fit.TrainingConfig(epochs=6, batch_size=64, patience=1)
    _, without = fit.fit(model_config, tiny, 0, plain, verbose=0)
    assert "test_accuracy" not in without["history"]
    assert without["history"]["val_loss"] == history["val_loss"][: without["epochs_run"]], "testing changes no trajectory"


def test_stopping_after_a_minimum_never_stops_before_it():
    class Model:
        stop_training = False

    stopper = fit.StoppingAfter(5, monitor="val_loss", patience=1)
    stopper.set_model(Model())
    stopper.on_train_begin()
    for epoch, loss in enumerate([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]):
        stopper.on_epoch_end(epoch, {"val_loss": loss})
        assert stopper.model.stop_training == (epoch + 1 >= 5), epoch


FIT_IN_A_FRESH_PROCESS = """
import sys
from convlab.datasets import data
from convlab.training import fit, models, saved
ds = data.subset(data.load_dataset("fashion_mnist", sys.argv[1]), 600, 200, seed=0)
model, record = fit.fit(models.fc_baseline_config("fashion_mnist"), ds, 0, fit.TrainingConfig(epochs=1, patience=1))
print("accuracy", record["test"]["accuracy"])
"""


@pytest.mark.smoke  # `make test-studio` runs it under the Studio image's TensorFlow 2.19, where the NodeDef line appears
def test_a_fit_prints_no_tensorflow_c_plus_plus_log_lines(shared_data):
    """What a student sees running a notebook: no error line from TensorFlow's C++ log, which a reader takes for a
    failure (TF 2.19 logs "E ... NodeDef mentions attribute use_unbounded_threadpool" for every fit). TF 2.21's
    "I0000 ... oneDNN custom operations are on" notice comes before TensorFlow reads its log level, and stays."""
    import re
    import subprocess
    import sys

    environment = {key: value for key, value in __import__("os").environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run(
        [sys.executable, "-c", FIT_IN_A_FRESH_PROCESS, str(shared_data)],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "accuracy" in done.stdout
    cpp_errors = re.compile(r"^(?:[EF]\d{4} |\d{4}-\d\d-\d\d [\d:.]+: [EF] )", re.MULTILINE)
    assert cpp_errors.findall(done.stdout + done.stderr) == [], (done.stdout + done.stderr)[-2000:]


def test_a_long_patience_run_waits_until_validation_accuracy_stalls_too():
    """The reference runs go on while validation accuracy still improves, so that a rule watching it can be replayed."""

    class Model:
        stop_training = False

        def get_weights(self):
            return []

    def stopped_at(also_wait_for: str) -> int:
        stopper = fit.StoppingAfter(0, also_wait_for, monitor="val_loss", patience=2, restore_best_weights=False)
        stopper.set_model(Model())
        stopper.on_train_begin()
        losses, accuracies = [1.0, 0.9, 0.95, 0.96, 0.97, 0.98, 0.99], [0.5, 0.6, 0.61, 0.62, 0.62, 0.62, 0.62]
        for epoch, (loss, accuracy) in enumerate(zip(losses, accuracies, strict=True)):
            stopper.on_epoch_end(epoch, {"val_loss": loss, "val_accuracy": accuracy})
            if stopper.model.stop_training:
                return epoch + 1
        return len(losses)

    assert stopped_at("") == 4, "the loss's best is epoch 2; patience 2 stops after epoch 4"
    assert stopped_at("val_accuracy") == 6, "accuracy last improved at epoch 4; two more epochs without"
