"""Talking to a served model: predictions against in-process Keras, request formats, timings, and the serving summary."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from convlab.datasets import data
from convlab.serving import client, endpoint, summary


@pytest.fixture(scope="module")
def served(tarball):
    with endpoint.LocalEndpoint(tarball, max_body_bytes=1_000_000) as local:
        yield local


@pytest.fixture(scope="module")
def test_images(fashion):
    return data.subset(fashion, train_size=600, test_size=200, seed=0)


def test_served_predictions_equal_in_process_keras(served, trained, test_images):
    model = keras.models.load_model(trained["output_dir"] / "cnn-seed0.keras")
    local = model.predict(data.scale_images(test_images.x_test), verbose=0)
    predictions = client.serve_predictions(served.url, test_images.x_test, batch_size=64)
    assert predictions.shape == local.shape
    assert np.array_equal(predictions.argmax(axis=1), local.argmax(axis=1))
    assert np.abs(predictions - local).max() < 1e-5
    accuracy = float(np.mean(predictions.argmax(axis=1) == test_images.y_test))
    assert accuracy == pytest.approx(trained["record"]["test"]["accuracy"], abs=1e-6)


def test_csv_and_unit_range_give_the_same_answer(served, test_images):
    images = test_images.x_test[:3]
    _, from_json = client.invoke(served.url, client.json_body(images))
    csv = "\n".join(",".join(str(int(value)) for value in image.ravel()) for image in images).encode()
    _, from_csv = client.invoke(served.url, csv, "text/csv")
    unit = json.dumps({"instances": (images / 255.0).tolist(), "value_range": "0-1"}).encode()
    _, from_unit = client.invoke(served.url, unit)
    assert [p["label"] for p in from_json["predictions"]] == [p["label"] for p in from_csv["predictions"]]
    probabilities = [[p["probabilities"] for p in answer["predictions"]] for answer in (from_json, from_unit)]
    assert np.allclose(*probabilities)
    assert from_json["predictions"][0]["class_name"] in from_json["class_names"]


def test_serving_benchmark_reports_latency_and_throughput(served, test_images):
    figures = client.measure_serving(served.url, test_images.x_test, repeats=20, batch_repeats=2)
    assert 0 < figures["single_p50_ms"] <= figures["single_p99_ms"]
    assert figures["batch_images_per_second"] > 0


SERVING_RECORD = {
    "comparison": {
        "images": 200,
        "served accuracy (%)": 85.5,
        "in-process accuracy (%)": 85.5,
        "same predicted class for every image": True,
        "largest probability difference": 2.5e-7,
    },
    "serving": {
        "single_p50_ms": 3.21,
        "single_p99_ms": 7.89,
        "repeats": 20,
        "batch_size": 256,
        "batch_images_per_second": 1234.4,
    },
    "bad_requests": [{"status": 400}, {"status": 415}, {"status": 400}],
}
TIMINGS = {
    "single image, median (ms)": 3.21,
    "single image, 99th percentile (ms)": 7.89,
    "single-image requests timed": 20,
    "images per second in batches of 256": 1234.4,
}
SERVING_CASES = [  # case, what changes in the record, the summary
    (
        "front-end named, same classes, all refused",
        {"front_end": "the TF Serving 2.20 container's front-end"},
        {"served by": "the TF Serving 2.20 container's front-end", "test images": 200, "served accuracy (%)": 85.5}
        | {"accuracy in memory (%)": 85.5, "same class for every image": "yes", "largest probability difference": "2.5e-07"}
        | TIMINGS
        | {"bad requests refused with a 4xx status": "3 of 3 (400, 415)"},
    ),
    (
        "no front-end, classes differ, one not refused",
        {
            "comparison": SERVING_RECORD["comparison"]
            | {"served accuracy (%)": 85.0, "same predicted class for every image": False, "largest probability difference": 0.3},
            "bad_requests": [{"status": 400}, {"status": 500}],
        },
        {"test images": 200, "served accuracy (%)": 85.0, "accuracy in memory (%)": 85.5}
        | {"same class for every image": "no", "largest probability difference": "3.0e-01"}
        | TIMINGS
        | {"bad requests refused with a 4xx status": "1 of 2 (400)"},
    ),
]


@pytest.mark.parametrize("case, changed, expected", SERVING_CASES, ids=[row[0] for row in SERVING_CASES])
def test_the_serving_summary_follows_the_numbers_of_the_record(case, changed, expected):
    assert summary.local_run(SERVING_RECORD | changed) == expected
