"""Serving a `model.tar.gz` locally, on 127.0.0.1, with the routes of the TF Serving container.

`serve` serves the tarball through the TF Serving container's own front-end (`container.ContainerEndpoint`)
when its reference code and the image's environment are here, and otherwise through `LocalEndpoint`, a
fallback with the container's routes (`GET /ping`, `POST /invocations`) that runs the artifact's own
`inference.py` in front of the SavedModel. Talking to either is `client`'s.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import socket
import sys
import tarfile
import tempfile
import threading
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from convlab.serving.artifact import SERVING_IMAGE_VERSION

MAX_BODY_BYTES = 6 * 1024 * 1024  # SageMaker Runtime's limit for a real-time invocation payload
READ_TIMEOUT = 2.0  # seconds a read may wait for the rest of a body: well under a client's usual 10-s timeout
ROUTES = {"/ping": "GET", "/invocations": "POST"}


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

    front_end = "convlab's fallback endpoint (endpoint.LocalEndpoint), not the container's code"

    def __init__(self, tarball: Path, port: int = 0, max_body_bytes: int = MAX_BODY_BYTES, read_timeout: float = READ_TIMEOUT):
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
        self._address = self._server.socket.getsockname()[:2]  # kept: the url still names the endpoint once it is stopped
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        """The host and port the listening socket is bound to, as the operating system reported them."""
        host, port = self._address
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
                        f"The body ended after {received} of the {length} bytes its Content-Length announced "
                        f"(waited {endpoint.read_timeout:g} s for the rest); send the whole body, or the right Content-Length.",
                    )
                    return None
                return b"".join(chunks)

            def _error(self, status: int, message: str, headers: dict | None = None) -> None:
                body = json.dumps({"error": message}).encode()
                try:
                    self.send_response(status)
                    for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except ConnectionError:
                    self.close_connection = True

            def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
                """http.server's own refusals (a garbled request line, an unknown method, a header too long) in JSON,
                always with a status line, where the base class writes an HTML page (and none for an HTTP/0.9 line)."""
                if self.request_version == "HTTP/0.9" or not getattr(self, "request_version", None):
                    self.request_version = "HTTP/1.0"  # an HTTP/0.9 request would get no status line
                self.close_connection = True
                if code == HTTPStatus.NOT_IMPLEMENTED:  # a method no route takes
                    allowed = "GET, POST"
                    self._error(
                        405, f"Method {self.command} is not allowed; use GET /ping or POST /invocations.", {"Allow": allowed}
                    )
                    return
                reason = message or HTTPStatus(code).phrase
                self._error(code, f"{reason}; send an HTTP/1.1 request: POST /invocations with a JSON or CSV body.")

            def _wrong_method(self) -> bool:
                """405 with Allow for a known route asked with another method (True when answered)."""
                allowed = ROUTES.get(self.path)
                if allowed is None or allowed == self.command:
                    return False
                self._error(405, f"{self.path} takes {allowed}, not {self.command}.", {"Allow": allowed})
                return True

            def _refused(self, error) -> None:
                title = f"{error.status} {HTTPStatus(error.status).phrase}"
                self._answer(error.status, json.dumps({"title": title, "description": error.message}).encode())

            def do_GET(self):
                if self._wrong_method():
                    return
                if self.path == "/ping":
                    self._answer(200, b"{}")
                else:
                    self._error(404, f"No route GET {self.path}; use GET /ping or POST /invocations.")

            def _other_method(self):
                if not self._wrong_method():
                    self._error(404, f"No route {self.command} {self.path}; use GET /ping or POST /invocations.")

            do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _other_method

            def do_POST(self):
                if self._wrong_method():
                    return
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


class _Body:
    """The request stream the handlers read (`data.read()`)."""

    def __init__(self, content: bytes):
        self._content = content

    def read(self) -> bytes:
        return self._content


def serve(tarball: Path, version: str = SERVING_IMAGE_VERSION):
    """An endpoint for the artifact: the container's own front-end of that version where it can run, else the fallback.

    The endpoint's `front_end` says which one answered; `fallback_reason` why the container's did not.
    """
    from convlab.serving import container

    try:
        return container.ContainerEndpoint(tarball, version)
    except FileNotFoundError as missing:
        endpoint = LocalEndpoint(tarball)
        endpoint.fallback_reason = str(missing)
        print(
            f"The TF Serving {version} container's front end was not found, so the local fallback endpoint serves "
            f"instead (it answers TF Serving's contract, not the container's own handler): {missing}",
            flush=True,
        )
        return endpoint


def answers(url: str) -> bool:
    """Whether anything accepts a connection at an endpoint's address."""
    address = urlsplit(url)
    try:
        with socket.create_connection((address.hostname, address.port), timeout=2):
            return True
    except OSError:
        return False


def clean_up(served, aws_deletions: list[dict] | None = None) -> str:
    """What a notebook ends with, as the SageMaker examples end with `predictor.delete_endpoint()`: stop the local
    endpoint (stopping one already stopped changes nothing), check that nothing answers at its address any more, and
    list what mode aws deleted (`aws_endpoint.clean_up`'s outcomes; None: mode local, nothing was created in AWS)."""
    served.stop()
    state = "still answers: stop the process that listens there" if answers(served.url) else "stopped, nothing answers there"
    lines = [f"Local endpoint {served.url}: {state}."]
    if aws_deletions is None:
        lines.append("AWS: nothing was created (mode local).")
    for outcome in aws_deletions or ():
        what = f"AWS {outcome['resource'].replace('_', ' ')} {outcome['name']}"
        if outcome["deleted"]:
            lines.append(f"{what}: deleted.")
        else:
            lines.append(f"{what}: NOT deleted ({outcome['error']}); delete it with `{outcome['delete it with']}`.")
    return "\n".join(lines)
