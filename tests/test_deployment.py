"""The SageMaker path offline: entry script under a faked SM_* environment, artifact layout, local serving."""

from __future__ import annotations

import json
import tarfile

import keras
import numpy as np
import pytest

from convlab import data, deployment, records


@pytest.fixture(scope="module")
def endpoint(tarball):
    with deployment.LocalEndpoint(tarball, max_body_bytes=1_000_000) as served:
        yield served


@pytest.fixture(scope="module")
def test_images(fashion):
    return data.subset(fashion, train_size=600, test_size=200, seed=0)


def test_entry_script_writes_the_record_the_model_and_the_servable(trained):
    record = trained["record"]
    assert record["model"]["parameters"] == 220_234
    assert record["dataset"]["train_size"] == 600 and record["epochs_run"] == 1
    assert record["test"]["accuracy"] > 0.3
    assert (trained["output_dir"] / "cnn-seed0.keras").is_file()
    assert (trained["model_dir"] / "1" / "saved_model.pb").is_file()
    labels = json.loads((trained["model_dir"] / "code" / "labels.json").read_text())
    assert labels["class_names"][0] == "T-shirt/top" and len(labels["class_names"]) == 10


def test_artifact_has_the_layout_the_container_expects(tarball):
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
    assert {"1/saved_model.pb", "1/variables/variables.index", "code/inference.py", "code/labels.json"} <= names
    assert all(name.split("/")[0] in {"1", "code"} for name in names), "nothing else at the root"


def test_served_predictions_equal_in_process_keras(endpoint, trained, test_images):
    model = keras.models.load_model(trained["output_dir"] / "cnn-seed0.keras")
    local = model.predict(data.scale_images(test_images.x_test), verbose=0)
    served = deployment.serve_predictions(endpoint.url, test_images.x_test, batch_size=64)
    assert served.shape == local.shape
    assert np.array_equal(served.argmax(axis=1), local.argmax(axis=1))
    assert np.abs(served - local).max() < 1e-5
    accuracy = float(np.mean(served.argmax(axis=1) == test_images.y_test))
    assert accuracy == pytest.approx(trained["record"]["test"]["accuracy"], abs=1e-6)


def test_csv_and_unit_range_give_the_same_answer(endpoint, test_images):
    images = test_images.x_test[:3]
    _, from_json = deployment.invoke(endpoint.url, deployment.json_body(images))
    csv = "\n".join(",".join(str(int(value)) for value in image.ravel()) for image in images).encode()
    _, from_csv = deployment.invoke(endpoint.url, csv, "text/csv")
    unit = json.dumps({"instances": (images / 255.0).tolist(), "value_range": "0-1"}).encode()
    _, from_unit = deployment.invoke(endpoint.url, unit)
    assert [p["label"] for p in from_json["predictions"]] == [p["label"] for p in from_csv["predictions"]]
    probabilities = [[p["probabilities"] for p in answer["predictions"]] for answer in (from_json, from_unit)]
    assert np.allclose(*probabilities)
    assert from_json["predictions"][0]["class_name"] in from_json["class_names"]


def test_server_listens_on_loopback_only(endpoint):
    import os
    import socket

    import psutil

    host, port = endpoint.address
    assert host == "127.0.0.1" and endpoint.url == f"http://127.0.0.1:{port}"
    listening = [
        connection
        for connection in psutil.Process(os.getpid()).net_connections(kind="inet")
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port
    ]
    assert [(connection.family, connection.laddr.ip) for connection in listening] == [(socket.AF_INET, "127.0.0.1")]


def test_body_size_cap_defaults_to_sagemakers_limit(tarball):
    with deployment.LocalEndpoint(tarball) as served:
        assert served.max_body_bytes == deployment.MAX_BODY_BYTES == 6 * 1024 * 1024
        status, answer = deployment.invoke(served.url, b"0" * (deployment.MAX_BODY_BYTES + 1))
    assert status == 413 and f"the limit is {deployment.MAX_BODY_BYTES}" in answer["error"]


def test_the_fallback_is_used_and_says_why_when_the_reference_is_absent(tarball, tmp_path, monkeypatch):
    from convlab import container

    monkeypatch.setenv(container.REFERENCE_ENV, str(tmp_path / "absent"))
    with deployment.serve(tarball) as served:
        assert isinstance(served, deployment.LocalEndpoint)
        assert "fallback" in served.front_end and str(tmp_path / "absent") in served.fallback_reason
        status, answer = deployment.invoke(served.url, b'{"images": []}')
    assert status == 400 and answer["title"] == "400 Bad Request" and 'no "instances" key' in answer["description"]


def test_serving_benchmark_reports_latency_and_throughput(endpoint, test_images):
    figures = deployment.measure_serving(endpoint.url, test_images.x_test, repeats=20, batch_repeats=2)
    assert 0 < figures["single_p50_ms"] <= figures["single_p99_ms"]
    assert figures["batch_images_per_second"] > 0


def test_packing_without_a_savedmodel_is_refused_and_writes_nothing(tmp_path):
    with pytest.raises(FileNotFoundError, match="run the training entry script first"):
        deployment.pack_model(tmp_path / "empty", tmp_path / "model.tar.gz")
    assert not list(tmp_path.iterdir())


def test_records_from_the_entry_script_read_back_in_the_report_format(trained):
    path = trained["output_dir"] / "cnn-seed0.json"
    assert records.read_record(path)["model_file"] == "cnn-seed0.keras"
