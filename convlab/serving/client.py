"""Talking to a served model over HTTP: requests, predictions, timings, bad requests, and the record of what it measured.

Works with any endpoint that has the TF Serving container's routes (`endpoint.serve`'s, on 127.0.0.1):
`invoke` sends one body to `POST /invocations`; `serve_predictions`, `compare_with_keras`, `measure_serving`
and `bad_request_table` build on it; `save_serving_record` keeps the measurements with the training run's key.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from convlab.store import records
from convlab.study import config, paths


def invoke(url: str, body: bytes, content_type: str = "application/json", timeout: float = 60) -> tuple[int, dict]:
    """POST a body to `<url>/invocations`; return the status and the decoded JSON answer."""
    request = urllib.request.Request(f"{url}/invocations", data=body, headers={"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def json_body(images: np.ndarray) -> bytes:
    """A JSON request for uint8 images (N×28×28, values 0–255)."""
    return json.dumps({"instances": np.asarray(images).astype(int).tolist()}).encode()


def serve_predictions(url: str, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Class probabilities of the served model for uint8 images, requested in batches."""
    rows = []
    for start in range(0, len(images), batch_size):
        status, answer = invoke(url, json_body(images[start : start + batch_size]))
        if status != 200:
            raise RuntimeError(f"The endpoint answered {status}: {answer}")
        rows += [prediction["probabilities"] for prediction in answer["predictions"]]
    return np.asarray(rows)


def measure_serving(url: str, images: np.ndarray, repeats: int = 200, batch_size: int = 256, batch_repeats: int = 10) -> dict:
    """Single-image request latency (p50, p99 in ms) and batch throughput (images/s) over HTTP on loopback.

    Every request must succeed (status 200); any other answer stops the measurement with the endpoint's message.
    """

    def timed(body: bytes) -> float:
        started = time.perf_counter()
        status, answer = invoke(url, body)
        if status != 200:
            raise RuntimeError(f"The endpoint answered {status} to a valid request: {answer}")
        return time.perf_counter() - started

    single = [json_body(images[index % len(images)][np.newaxis]) for index in range(repeats)]
    timed(single[0])  # warm-up
    times = [1000 * timed(body) for body in single]
    batch = json_body(np.resize(images, (batch_size, *images.shape[1:])))
    seconds = sum(timed(batch) for _ in range(batch_repeats))
    return {
        "single_p50_ms": float(np.percentile(times, 50)),
        "single_p99_ms": float(np.percentile(times, 99)),
        "batch_size": batch_size,
        "batch_images_per_second": batch_size * batch_repeats / seconds,
        "repeats": repeats,
    }


BAD_REQUEST_EXAMPLES = {  # case → (body, content type, status under TF Serving 2.20): what a user might send by mistake
    "not JSON": (b"{instances: oops", "application/json", 400),
    "no instances key": (b'{"images": []}', "application/json", 400),
    "instances not a list": (b'{"instances": "image.png"}', "application/json", 400),
    "value_range not a string": (b'{"instances": [[0]], "value_range": [0, 1]}', "application/json", 400),
    "nested too deeply": (b'{"instances": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "application/json", 400),
    "wrong shape": (b'{"instances": [[1, 2, 3]]}', "application/json", 400),
    "non-numeric": (json.dumps({"instances": [[["a"] * 28] * 28]}).encode(), "application/json", 400),
    "booleans as pixels": (json.dumps({"instances": [[True] * 784]}).encode(), "application/json", 400),
    "NaN": (b'{"instances": [[' + b",".join([b"NaN"] * 784) + b"]]}", "application/json", 400),
    "infinite": (b'{"instances": [[' + b",".join([b"Infinity"] * 784) + b"]]}", "application/json", 400),
    "out of range": (json.dumps({"instances": [[[300] * 28] * 28]}).encode(), "application/json", 400),
    "empty body": (b"", "application/json", 400),
    "too many images": (json.dumps({"instances": [[0] * 784] * 257}, separators=(",", ":")).encode(), "application/json", 413),
    "unsupported content type": (b"\x89PNG", "image/png", 415),
    "CSV with text": (b"a,b,c", "text/csv", 400),
}


def error_message(answer: dict) -> str:
    """The message of an error body: falcon's `description` (TF 2.20 and later) or the front-end's `error`."""
    return str(answer.get("description") or answer.get("error") or answer.get("title") or "")


def through_invoke_endpoint(status: int) -> str:
    """What a client of the real endpoint gets for a container answer with this status (`invoke_endpoint`)."""
    if status == 200:
        return "the answer"
    return f"ModelError, OriginalStatusCode {status}, OriginalMessage: the body"


def bad_request_table(url: str):
    """Each example bad request sent to the endpoint: the status and message it answered, and what a client sees.

    A body over SageMaker Runtime's 6 MB payload limit never reaches the container: the runtime refuses it
    with a ValidationError, so it is not sent here.
    """
    import pandas as pd

    rows = []
    for case, (body, content_type, _) in BAD_REQUEST_EXAMPLES.items():
        status, answer = invoke(url, body, content_type)
        rows.append(
            {
                "request": case,
                "content type": content_type,
                "status": status,
                "message": error_message(answer),
                "through invoke_endpoint": through_invoke_endpoint(status),
            }
        )
    return pd.DataFrame(rows).set_index("request")


def compare_with_keras(url: str, model, dataset) -> dict:
    """Served and in-process predictions on the same test images: accuracies and the largest difference."""
    from convlab.datasets import data

    served = serve_predictions(url, dataset.x_test)
    local = model.predict(data.scale_images(dataset.x_test), batch_size=1000, verbose=0)
    return {
        "images": int(len(dataset.y_test)),
        "served accuracy (%)": float(100 * np.mean(served.argmax(axis=1) == dataset.y_test)),
        "in-process accuracy (%)": float(100 * np.mean(local.argmax(axis=1) == dataset.y_test)),
        "same predicted class for every image": bool(np.array_equal(served.argmax(axis=1), local.argmax(axis=1))),
        "largest probability difference": float(np.abs(served - local).max()),
    }


def serving_record_path(params: config.RunParameters, model_name: str, seed: int, mode: str = "local") -> Path:
    """Where a served model's measurements are kept: `results/serving/<model>-seed<s>-<mode>.json`."""
    name = f"{model_name}-seed{seed}-{mode}.json"
    return paths.confined(params.results_dir / "serving", name, "The serving record's file name")


def save_serving_record(params: config.RunParameters, training_record: dict, mode: str, **measurements) -> Path:
    """Write what the served model measured (JSON-safe), tied to its training run's cache key; return the path."""
    import pandas as pd

    def plain(value):
        if isinstance(value, pd.DataFrame):
            return value.reset_index().to_dict(orient="records")
        return value

    content = {
        "model": training_record["model"]["name"],
        "seed": training_record["seed"],
        "cache_key": training_record["cache_key"],
        "test_accuracy_in_training": training_record["test"]["accuracy"],
        "mode": mode,
        "environment": records.environment_stamp(),
    } | {name: plain(value) for name, value in measurements.items()}
    path = serving_record_path(params, content["model"], content["seed"], mode)
    records.write_json(path, content)
    return path
