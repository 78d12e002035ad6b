"""The SageMaker path offline: entry script under a faked SM_* environment, artifact layout, local serving."""

from __future__ import annotations

import json
import tarfile
import urllib.request

import keras
import numpy as np
import pytest

from convlab import data, deployment, records

HYPERPARAMETERS = {"dataset": "fashion_mnist", "model": "cnn", "epochs": 1, "train-size": 600, "test-size": 200, "seed": 0}


@pytest.fixture(scope="module")
def trained(shared_data, tmp_path_factory):
    """One run of the entry script as a SageMaker training job would run it."""
    return deployment.run_training_locally(tmp_path_factory.mktemp("job"), shared_data, HYPERPARAMETERS)


@pytest.fixture(scope="module")
def tarball(trained, tmp_path_factory):
    return deployment.pack_model(trained["model_dir"], tmp_path_factory.mktemp("artifact") / "model.tar.gz")


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


IMAGE = [[0] * 28 for _ in range(28)]
BAD_REQUESTS = [  # (case, body, content type, status, words the message must contain)
    ("not JSON", b"{instances: oops", "application/json", 400, "not valid JSON"),
    ("no instances key", b'{"images": []}', "application/json", 400, '"instances"'),
    ("wrong shape", json.dumps({"instances": [[1, 2, 3]]}).encode(), "application/json", 400, "28×28"),
    ("ragged images", json.dumps({"instances": [IMAGE, [[0] * 27] * 28]}).encode(), "application/json", 400, "same shape"),
    ("non-numeric", json.dumps({"instances": [[["a"] * 28] * 28]}).encode(), "application/json", 400, "numeric"),
    ("NaN", b'{"instances": [[' + b",".join([b"NaN"] * 784) + b"]]}", "application/json", 400, "NaN or infinite"),
    ("infinite", b'{"instances": [[' + b",".join([b"Infinity"] * 784) + b"]]}", "application/json", 400, "NaN or infinite"),
    ("out of range", json.dumps({"instances": [[[300] * 28] * 28]}).encode(), "application/json", 400, "outside 0-255"),
    ("negative", json.dumps({"instances": [[[-1] * 28] * 28]}).encode(), "application/json", 400, "outside 0-255"),
    (
        "over 1 in unit range",
        json.dumps({"instances": [IMAGE], "value_range": "0-1"}).encode().replace(b"0]", b"2]", 1),
        "application/json",
        400,
        "outside 0-1",
    ),
    (
        "unknown value range",
        json.dumps({"instances": [IMAGE], "value_range": "0-100"}).encode(),
        "application/json",
        400,
        "value_range",
    ),
    ("empty body", b"", "application/json", 400, "empty"),
    ("empty list", b'{"instances": []}', "application/json", 400, "non-empty"),
    ("too many images", json.dumps({"instances": [[0] * 784] * 257}).encode(), "application/json", 413, "limit is 256"),
    ("unsupported content type", b"\x89PNG", "image/png", 415, "not supported"),
    ("CSV with text", b"a,b,c", "text/csv", 400, "numeric"),
    ("body over the size cap", b"0" * 1_100_000, "application/json", 413, "limit is 1000000"),
]


@pytest.mark.parametrize("case, body, content_type, status, words", BAD_REQUESTS, ids=[row[0] for row in BAD_REQUESTS])
def test_bad_request_gets_a_4xx_that_names_the_problem(endpoint, case, body, content_type, status, words):
    answer_status, answer = deployment.invoke(endpoint.url, body, content_type)
    assert answer_status == status, answer
    assert words in answer["error"]
    assert urllib.request.urlopen(f"{endpoint.url}/ping").status == 200, "the endpoint keeps serving"
    good_status, _ = deployment.invoke(endpoint.url, deployment.json_body(np.zeros((1, 28, 28))))
    assert good_status == 200


def test_unknown_route_is_404(endpoint):
    request = urllib.request.Request(f"{endpoint.url}/predict", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request)
    assert caught.value.code == 404


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
