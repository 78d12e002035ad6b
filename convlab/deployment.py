"""The SageMaker path, offline: run the entry script as SageMaker would, pack the artifact, serve it locally.

`run_training_locally` runs `sagemaker_entry/train.py` in a subprocess with the `SM_*`
environment of a training job; `pack_model` writes `model.tar.gz` in the layout the
TensorFlow Serving container expects (`1/` SavedModel, `code/inference.py`);
`serve` serves that tarball on 127.0.0.1 through the TF Serving container's own front-end
(`container.ContainerEndpoint`) when its reference code and the image's environment are here,
and otherwise through `LocalEndpoint`, a fallback with the container's routes (`GET /ping`,
`POST /invocations`) that runs the artifact's own `inference.py` in front of the SavedModel.

The images: training in TensorFlow 2.21 (`TRAINING_IMAGE_VERSION`, the version of the local pins, so a
job trains what the notebooks train) and serving in TF Serving 2.20 (`SERVING_IMAGE_VERSION`, the newest
serving image; it keeps a handler's 4xx statuses). A SavedModel written by TF 2.21 loads in TF Serving 2.20
when every op of its graphs is registered in 2.20 with no attribute 2.20 does not know: TensorFlow writes a
SavedModel with default-valued attributes stripped for exactly this forward compatibility, and the graphs
of these models use long-standing ops only. The tests check the rule itself: the TF Serving stand-in loads
the exported SavedModel in TensorFlow 2.20 and must predict what TF 2.21 predicts.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

from convlab import config, records

ENTRY_DIR = config.PACKAGE_DIR / "sagemaker_entry"
MAX_BODY_BYTES = 6 * 1024 * 1024  # SageMaker Runtime's limit for a real-time invocation payload
TRAINING_IMAGE_VERSION = "2.21"
SERVING_IMAGE_VERSION = "2.20"


def stage_source(target: Path) -> Path:
    """A folder that ships to SageMaker on its own: the entry script, the handlers and a copy of convlab."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(ENTRY_DIR, target, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(config.PACKAGE_DIR, target / "convlab", ignore=shutil.ignore_patterns("__pycache__", "sagemaker_entry"))
    return target


def hyperparameters(params: config.RunParameters, model: str = "cnn", seed: int = 0) -> dict:
    """The entry script's command-line hyperparameters for a notebook run's settings.

    The epochs are the cap this model gets in the run (`cnn_epochs` for a CNN), so the job trains
    exactly what the notebooks train, under the same cache key.
    """
    return {
        "dataset": params.dataset,
        "model": model,
        "seed": seed,
        "profile": params.profile,
        "epochs": params.cnn_epochs if model == "cnn" else params.epochs,
        "batch-size": params.batch_size if model == "cnn" else params.fc_batch_size,
        "train-size": params.train_size,
        "test-size": params.test_size,
    }


def run_training_locally(work_dir: Path, data_dir: Path, hyperparameters: dict, *, timeout: int = 3600) -> dict:
    """Run the entry script as a SageMaker training job would (subprocess, `SM_*` environment); return its paths.

    A `reuse-from` hyperparameter names a report folder whose identical stored run is exported instead of retrained.
    Like a training job, each run starts from empty model and output folders (the job's own scratch space under
    `work_dir`), so what it returns is what this run wrote.
    """
    source = stage_source(work_dir / "source")
    model_dir, output_dir = work_dir / "model", work_dir / "output"
    for folder in (model_dir, output_dir):
        shutil.rmtree(folder, ignore_errors=True)
    environment = os.environ | {
        "SM_MODEL_DIR": str(model_dir),
        "SM_OUTPUT_DATA_DIR": str(output_dir),
        "SM_CHANNEL_TRAIN": str(data_dir),
        "SM_HPS": json.dumps(hyperparameters, default=str),
        "SM_NUM_CPUS": str(os.cpu_count()),
        "SM_NUM_GPUS": "0",
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    arguments = [item for name, value in hyperparameters.items() for item in (f"--{name}", str(value))]
    completed = subprocess.run(
        [sys.executable, str(source / "train.py"), *arguments],
        env=environment,
        cwd=work_dir,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"The training entry script failed (exit {completed.returncode}):\n{completed.stderr[-4000:]}")
    (record_file,) = records.committed(output_dir.glob("*-seed*.json"))  # a job trains exactly one configuration
    record = records.read_record(record_file)
    return {"model_dir": model_dir, "output_dir": output_dir, "record": record, "log": completed.stdout}


def pack_model(model_dir: Path, tarball: Path) -> Path:
    """`model.tar.gz` with `1/…` (SavedModel) and `code/…` (handlers) at its root, written atomically."""
    if not (model_dir / "1" / "saved_model.pb").is_file():
        raise FileNotFoundError(f"No SavedModel at {model_dir / '1'}; run the training entry script first.")
    with records.atomic_path(tarball) as temporary, tarfile.open(temporary, "w:gz") as archive:
        for entry in ("1", "code"):
            archive.add(model_dir / entry, arcname=entry)
    return tarball


@dataclass
class _Context:
    """The fields of the container's request context that the handlers use."""

    request_content_type: str
    accept_header: str
    rest_uri: str = "local"


@dataclass
class _ServingResponse:
    """What the handlers see of TensorFlow Serving's answer (status and body)."""

    status_code: int
    content: bytes


class LocalEndpoint:
    """The fallback: serve a `model.tar.gz` on 127.0.0.1 with the container's routes and the artifact's own handlers.

    Used where the container's own front-end cannot run (no `../shared/reference`, or no environment with the
    serving image's packages). A handler's `RequestError` answers with its status and falcon's body
    (`{"title", "description"}`), as TF Serving 2.20's front-end does; any other exception answers 500.
    """

    front_end = "convlab's fallback endpoint (deployment.LocalEndpoint), not the container's code"

    def __init__(self, tarball: Path, port: int = 0, max_body_bytes: int = MAX_BODY_BYTES, read_timeout: float = 10.0):
        import tensorflow as tf

        self._folder = Path(tempfile.mkdtemp(prefix="convlab-endpoint-"))
        with tarfile.open(tarball) as archive:
            archive.extractall(self._folder, filter="data")
        self._signature = tf.saved_model.load(str(self._folder / "1")).signatures["serving_default"]
        self._input_name = next(iter(self._signature.structured_input_signature[1]))
        spec = importlib.util.spec_from_file_location("convlab_served_inference", self._folder / "code" / "inference.py")
        self.handlers = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(self.handlers)
        self.max_body_bytes = max_body_bytes
        self.read_timeout = read_timeout
        self._server = _QuietServer(("127.0.0.1", port), self._request_handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        """The host and port the listening socket is bound to, as the operating system reports them."""
        host, port = self._server.socket.getsockname()[:2]
        return host, port

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}"

    def predict(self, rest_body: str) -> _ServingResponse:
        """TensorFlow Serving's REST predict: `{"instances": ...}` in, `{"predictions": ...}` out."""
        try:
            instances = np.asarray(json.loads(rest_body)["instances"], dtype=np.float32)
            outputs = self._signature(**{self._input_name: instances})
            predictions = next(iter(outputs.values())).numpy().tolist()
        except Exception as error:  # TF Serving answers malformed input with 400
            return _ServingResponse(400, json.dumps({"error": str(error)}).encode())
        return _ServingResponse(200, json.dumps({"predictions": predictions}).encode())

    def _request_handler(self):
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the notebook output clean
                pass

            timeout = endpoint.read_timeout  # seconds a read may wait: a body shorter than announced cannot hold a thread

            def _answer(self, status: int, body: bytes, content_type: str = "application/json") -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except ConnectionError:  # the client hung up: nobody is left to answer
                    self.close_connection = True

            def _content_length(self) -> int | None:
                """The announced body length, or None once a framing error has been answered."""
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    self.close_connection = True
                    self._error(411, "A chunked body is not supported; send the body whole, with a Content-Length header.")
                    return None
                text = (self.headers.get("Content-Length") or "0").strip()
                if not text.isdigit():
                    self.close_connection = True
                    self._error(400, f"Content-Length {text!r} is not a byte count; send the body's length in bytes (0 or more).")
                    return None
                return int(text)

            def _body(self, length: int) -> bytes | None:
                """The whole body, or None once a body that ended early has been answered."""
                chunks, received = [], 0
                try:
                    while received < length and (chunk := self.rfile.read1(min(1 << 16, length - received))):
                        chunks.append(chunk)
                        received += len(chunk)
                except TimeoutError:
                    pass
                if received < length:
                    self.close_connection = True
                    self._error(
                        408,
                        f"The body ended after {received} of the {length} bytes its Content-Length announced; "
                        "send the whole body, or the right Content-Length.",
                    )
                    return None
                return b"".join(chunks)

            def _error(self, status: int, message: str) -> None:
                self._answer(status, json.dumps({"error": message}).encode())

            def _refused(self, error) -> None:
                title = f"{error.status} {HTTPStatus(error.status).phrase}"
                self._answer(error.status, json.dumps({"title": title, "description": error.message}).encode())

            def do_GET(self):
                if self.path == "/ping":
                    self._answer(200, b"{}")
                else:
                    self._error(404, f"No route GET {self.path}; use GET /ping or POST /invocations.")

            def do_POST(self):
                if self.path != "/invocations":
                    self._error(404, f"No route POST {self.path}; use POST /invocations.")
                    return
                length = self._content_length()
                if length is None:
                    return
                if length > endpoint.max_body_bytes:
                    self.close_connection = True
                    if length <= 4 * endpoint.max_body_bytes:  # drain it, so that the client can read the answer
                        remaining = length
                        while remaining > 0 and (chunk := self.rfile.read(min(1 << 16, remaining))):
                            remaining -= len(chunk)
                    self._error(413, f"The body has {length} bytes; the limit is {endpoint.max_body_bytes}: split the batch.")
                    return
                body = self._body(length)
                if body is None:
                    return
                context = _Context(
                    request_content_type=self.headers.get("Content-Type", "application/json"),
                    accept_header=self.headers.get("Accept", "application/json"),
                )
                try:
                    request = endpoint.handlers.input_handler(_Body(body), context)
                    answer, content_type = endpoint.handlers.output_handler(endpoint.predict(request), context)
                except endpoint.handlers.RequestError as error:
                    self._refused(error)
                except Exception as error:  # the container's behaviour: 500 with the message
                    self._error(500, str(error))
                else:
                    self._answer(200, answer, content_type)

        return Handler

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        shutil.rmtree(self._folder, ignore_errors=True)

    def __enter__(self) -> LocalEndpoint:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class _QuietServer(ThreadingHTTPServer):
    """A server that lets a client hang up without a traceback; other errors are reported as usual."""

    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


def serve(tarball: Path, version: str = SERVING_IMAGE_VERSION):
    """An endpoint for the artifact: the container's own front-end of that version where it can run, else the fallback.

    The endpoint's `front_end` says which one answered; `fallback_reason` why the container's did not.
    """
    from convlab import container

    try:
        return container.ContainerEndpoint(tarball, version)
    except FileNotFoundError as missing:
        endpoint = LocalEndpoint(tarball)
        endpoint.fallback_reason = str(missing)
        return endpoint


def describe_front_end(endpoint) -> str:
    """Which front-end answered, and why the container's did not where the fallback did."""
    reason = getattr(endpoint, "fallback_reason", "")
    return f"Served by {endpoint.front_end}." + (f" The container's front-end did not run here: {reason}" if reason else "")


class _Body:
    """The request stream the handlers read (`data.read()`)."""

    def __init__(self, content: bytes):
        self._content = content

    def read(self) -> bytes:
        return self._content


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
    from convlab import data

    served = serve_predictions(url, dataset.x_test)
    local = model.predict(data.scale_images(dataset.x_test), batch_size=1000, verbose=0)
    return {
        "images": int(len(dataset.y_test)),
        "served accuracy (%)": float(100 * np.mean(served.argmax(axis=1) == dataset.y_test)),
        "in-process accuracy (%)": float(100 * np.mean(local.argmax(axis=1) == dataset.y_test)),
        "same predicted class for every image": bool(np.array_equal(served.argmax(axis=1), local.argmax(axis=1))),
        "largest probability difference": float(np.abs(served - local).max()),
    }


def artifact_listing(tarball: Path):
    """The files of a `model.tar.gz` and their sizes."""
    import pandas as pd

    with tarfile.open(tarball) as archive:
        rows = [{"path": member.name, "bytes": member.size} for member in archive.getmembers() if member.isfile()]
    return pd.DataFrame(rows).set_index("path")


def serving_record_path(params: config.RunParameters, model_name: str, seed: int, mode: str = "local") -> Path:
    """Where a served model's measurements are kept: `results/serving/<model>-seed<s>-<mode>.json`."""
    name = f"{model_name}-seed{seed}-{mode}.json"
    return config.confined(params.results_dir / "serving", name, "The serving record's file name")


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


def describe_serving(record: dict) -> str:
    """What the local serving run showed, in a few sentences that follow its numbers."""
    comparison, serving = record["comparison"], record["serving"]
    same = comparison["same predicted class for every image"]
    statuses = sorted({row["status"] for row in record["bad_requests"]})
    all_refused = all(400 <= row["status"] < 500 for row in record["bad_requests"])
    served_by = f"Front-end: {record['front_end']}. " if record.get("front_end") else ""
    return served_by + (
        f"Served over HTTP, the model classified {comparison['images']} test images with accuracy "
        f"{comparison['served accuracy (%)']:.2f}% against {comparison['in-process accuracy (%)']:.2f}% in this process; "
        + ("it predicted the same class for every image" if same else "**the predicted classes differ for some images**")
        + f" (largest probability difference {comparison['largest probability difference']:.1e}). "
        f"Single-image requests took {serving['single_p50_ms']:.1f} ms (median) and {serving['single_p99_ms']:.1f} ms "
        f"(99th percentile) over {serving['repeats']} requests; batches of {serving['batch_size']} went through at "
        f"{serving['batch_images_per_second']:.0f} images/s. "
        + (
            f"All {len(record['bad_requests'])} bad requests were refused with a 4xx status "
            f"({', '.join(map(str, statuses))}), and the endpoint kept serving: the timings above were taken after them."
            if all_refused
            else "**Some bad requests were not refused with a 4xx status**: see the table above."
        )
    )
