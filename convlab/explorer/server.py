"""`make explore`: the explorer's page and its small JSON API, served by werkzeug on the loopback address only.

    GET  /                      the page (page.html: its script and style inline, nothing fetched from elsewhere)
    GET  /api/info              dataset, class names, the models' titles and labels, test images, the permutation
                                and who answers the scrambled image
    GET  /api/curves            accuracy against shift: the run's probe records, or computed from its models (once)
    GET  /api/image/<index>     one test image: 784 pixel values 0-255, row by row, and its label
    POST /api/predict           {"pixels": [784 integers 0-255], "permuted": false} → each model's probabilities,
                                its top three, and the CNN's first-layer maps

A bad request gets a 4xx with a JSON body that names the problem; any other method gets 405 with `Allow`. The
server (`make_server`: werkzeug's, with `Handler`) answers only requests addressed to it by name (`Host`
127.0.0.1:<port> or localhost:<port>: a page on the loopback address is otherwise open to DNS rebinding), answers
everything that is not such a request in JSON too, waits at most `READ_TIMEOUT` for a stalled client, and closes
the connection after each answer.
"""

from __future__ import annotations

import argparse
import json
import select
import socket
import sys
import time
import traceback
from http import HTTPStatus
from pathlib import Path

import numpy as np
from werkzeug.exceptions import ClientDisconnected, HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge
from werkzeug.routing import Map, Rule
from werkzeug.serving import WSGIRequestHandler
from werkzeug.wrappers import Request, Response

from convlab.explorer import answers
from convlab.study import config, paths

HOST = "127.0.0.1"  # the loopback address only: the page is for the student at this machine
MAX_BODY = 64 * 1024
MAX_LINE = 65536  # the request line's limit (http.server's): a longer one gets 414
READ_TIMEOUT = 0.5  # seconds a client may pause mid-request (the socket timeout): then 408, or a silent close if it sent none
LINGER = 0.5  # after answering, what the client still sends is read and dropped for at most this long, then the socket closes
PAGE = Path(__file__).with_name("page.html")
ROUTES = Map(
    [
        Rule("/", endpoint="page", methods=["GET"]),
        Rule("/api/info", endpoint="info", methods=["GET"]),
        Rule("/api/curves", endpoint="curves", methods=["GET"]),
        Rule("/api/image/<int(signed=True):index>", endpoint="image", methods=["GET"]),
        Rule("/api/predict", endpoint="predict", methods=["POST"]),
    ]
)


class BadRequest(ValueError):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class ApiRequest(Request):
    # werkzeug refuses a Content-Length over it (RequestEntityTooLarge) and reads a chunked body no further than it
    max_content_length = MAX_BODY


def error(status: int, message: str, headers: dict | None = None) -> Response:
    return Response(json.dumps({"error": message}), status=status, mimetype="application/json", headers=headers)


def foreign_host(environ) -> str | None:
    """Why the request's `Host` (or its absolute URL's host, which werkzeug puts there) is not this server's, or None.

    Only 127.0.0.1:<port> and localhost:<port> (and [::1]:<port> when bound there) are this server's names: a page
    on the loopback address that answered any name could be read and driven by any website through DNS rebinding.
    werkzeug's `trusted_hosts` ignores the port, so the names are compared here, exactly."""
    port, bound = environ.get("SERVER_PORT", ""), environ.get("SERVER_NAME", HOST)
    names = ["127.0.0.1", "localhost"] + (["[::1]"] if ":" in bound else [])
    accepted = {f"{name}:{port}" for name in names} | (set(names) if port == "80" else set())
    host, here = environ.get("HTTP_HOST"), f"open http://{HOST}:{port}/"
    if host is None or not host.strip():
        return f"The request has no Host header; {here}"
    if "," in host:  # werkzeug joins repeated headers with commas
        return f"The request has {host.count(',') + 1} Host headers; send one. {here}"
    if host.lower() not in accepted:
        return f"Host {host!r} is not this server's: {here}"
    return None


def parse_pixels(body: bytes) -> tuple[np.ndarray, bool]:
    """The request's image as 28×28 uint8 and its permutation flag, or `BadRequest` naming what is wrong."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest('The body is not JSON: send {"pixels": [784 integers 0-255], "permuted": false}.') from None
    except RecursionError:
        raise BadRequest('The JSON is nested too deep: send {"pixels": [784 integers 0-255], "permuted": false}.') from None
    if not isinstance(payload, dict) or "pixels" not in payload:
        raise BadRequest('The body must be a JSON object with "pixels": [784 integers 0-255].')
    unknown = set(payload) - {"pixels", "permuted"}
    if unknown:
        raise BadRequest(f"Unknown field(s) {', '.join(sorted(unknown))}: the body takes pixels and permuted.")
    pixels, permuted = payload["pixels"], payload.get("permuted", False)
    if not isinstance(permuted, bool):
        raise BadRequest(f'"permuted" must be true or false, not {json.dumps(permuted)}.')
    if not isinstance(pixels, list) or len(pixels) != 28 * 28:
        count = len(pixels) if isinstance(pixels, list) else type(pixels).__name__
        raise BadRequest(f'"pixels" must be a list of 784 values (28 rows of 28), got {count}.')
    if not all(type(value) is int and 0 <= value <= 255 for value in pixels):
        bad = next(value for value in pixels if not (type(value) is int and 0 <= value <= 255))
        raise BadRequest(f'"pixels" must be integers from 0 to 255; found {json.dumps(bad)}.')
    return np.array(pixels, dtype=np.uint8).reshape(28, 28), permuted


def application(explorer: answers.Explorer):
    """The WSGI app over one loaded explorer."""

    def info() -> dict:
        return {
            "dataset": explorer.dataset.name,
            "class_names": list(explorer.dataset.class_names),
            "test_images": int(len(explorer.dataset.y_test)),
            "titles": answers.TITLES,
            "models": {kind: model.label for kind, model in explorer.models.items()},
            "permuted_models": {kind: model.label for kind, model in explorer.permuted.items()},
            "permutation": explorer.permutation,
            "scramble": explorer.scramble,
            "max_shift": answers.MAX_SHIFT,
        }

    def respond(request: Request) -> Response:
        refused = foreign_host(request.environ)
        if refused:
            return error(400, refused)
        adapter = ROUTES.bind_to_environ(request.environ)
        try:
            endpoint, arguments = adapter.match()
        except MethodNotAllowed as refused:
            allowed = ", ".join(sorted(refused.valid_methods or []))
            return error(405, f"{request.method} is not allowed on {request.path}; use {allowed}.", {"Allow": allowed})
        except NotFound:
            return error(
                404, f"No {request.path} here: the page is at /, its API under /api/ (info, curves, image/<n>, predict)."
            )
        except HTTPException as other:
            return error(other.code or 400, other.description or "Bad request.")
        if endpoint == "page":
            return Response(PAGE.read_bytes(), mimetype="text/html", headers={"Cache-Control": "no-store"})
        if endpoint == "info":
            return Response(json.dumps(info()), mimetype="application/json")
        if endpoint == "curves":
            return Response(json.dumps(explorer.measure()), mimetype="application/json")
        if endpoint == "image":
            index, count = arguments["index"], len(explorer.dataset.y_test)
            if not 0 <= index < count:
                return error(404, f"No test image {index}: there are {count}, numbered 0 to {count - 1}.")
            pixels = explorer.dataset.x_test[index].reshape(-1).tolist()
            label = int(explorer.dataset.y_test[index])
            return Response(json.dumps({"index": index, "pixels": pixels, "label": label}), mimetype="application/json")
        if request.mimetype != "application/json":
            return error(415, f"Send the image as application/json, not {request.mimetype or 'no content type'}.")
        framing = "chunked" if request.content_length is None else f"Content-Length {request.content_length}"
        too_large = error(413, f"The body ({framing}) is over the limit; an image needs less than {MAX_BODY} bytes.")
        try:
            body = request.get_data(cache=False)
        except RequestEntityTooLarge:  # a Content-Length over the limit: nothing is read
            return too_large
        except ClientDisconnected as cut:  # werkzeug's answer to a read that failed or ended early
            if isinstance(cut.__context__, TimeoutError):
                return error(408, f"The body stalled: nothing more came for {READ_TIMEOUT} s ({framing}).")
            return error(400, f"The body ended early or its chunks are malformed ({framing}).")
        if len(body) >= MAX_BODY:  # werkzeug stops a chunked body at the limit without saying whether more followed
            return too_large
        try:
            pixels, permuted = parse_pixels(body)
            return Response(json.dumps(explorer.answer(pixels, permuted)), mimetype="application/json")
        except BadRequest as refused:
            return error(refused.status, str(refused))
        except LookupError as missing:
            return error(409, str(missing))

    def app(environ, start_response):
        try:
            response = respond(ApiRequest(environ))
        except Exception as failure:  # a JSON 500 rather than werkzeug's HTML one; the traceback goes to the terminal
            traceback.print_exc()
            response = error(500, f"The explorer failed on this request ({type(failure).__name__}); its terminal shows why.")
        return response(environ, start_response)

    return app


class _Drained:
    """`self.rfile` while werkzeug runs the app: after answering, werkzeug reads what is left of the request in
    10 MB reads until 10 GB or the end, so a client that keeps its socket open holds the connection until it gives
    up. This stand-in reports the end at once; `Handler.finish` reads what is left instead, for at most LINGER."""

    def __init__(self, rfile):
        self.rfile = rfile

    def read(self, size: int = -1) -> bytes:
        return b""

    def close(self) -> None:
        self.rfile.close()


class Handler(WSGIRequestHandler):
    """werkzeug's request handler with JSON errors, a read timeout, and one request per connection, closed promptly.

    http.server answers a malformed request (a garbage or HTTP/0.9 request line, a TLS handshake, a request line
    over 64 KiB, too many headers) with an HTML page, or not at all; here each gets a JSON 4xx naming the problem."""

    protocol_version = "HTTP/1.1"
    timeout = READ_TIMEOUT  # socketserver sets it on each connection's socket

    def handle_one_request(self) -> None:
        # http.server's, but a request that stalls gets 408 where that closes silently, and a TLS handshake, an empty
        # or an HTTP/0.9 request line (which that would answer with a bare body, or not at all) get 400.
        self.close_connection = True  # werkzeug closes after every answer anyway (Connection: close)
        self.command, self.request_version, self.requestline = "", "", ""
        try:
            first = self.rfile.peek(1)[:1]
        except TimeoutError:
            return  # a connection that sent nothing (a browser's spare one): closed without an answer
        if not first:
            return
        here = f"http://{HOST}:{self.server.port}/"
        try:
            if first == b"\x16":  # a TLS record: a handshake
                self.send_error(HTTPStatus.BAD_REQUEST, f"This server speaks plain HTTP, not HTTPS: open {here}")
                return
            self.raw_requestline = self.rfile.readline(MAX_LINE + 1)
            if len(self.raw_requestline) > MAX_LINE:
                self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG, f"The request line is over {MAX_LINE} bytes.")
                return
            if not self.raw_requestline.strip():
                self.send_error(HTTPStatus.BAD_REQUEST, f"The request line is empty; send an HTTP/1.1 request to {here}")
                return
            if self.raw_requestline.split()[0] == b"GET" and len(self.raw_requestline.split()) == 2:  # "GET /"
                self.send_error(HTTPStatus.BAD_REQUEST, f"HTTP/0.9 is not served; send HTTP/1.1 to {here}")
                return
            if self.parse_request():  # else it has answered
                self.run_wsgi()
        except TimeoutError:
            self.send_error(HTTPStatus.REQUEST_TIMEOUT, f"The request stalled: nothing more came for {READ_TIMEOUT} s.")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's error answer as JSON: {"error": message}, then the connection closes."""
        phrase = HTTPStatus(code).phrase
        text = f"{message or phrase}: {explain}" if explain else message or phrase
        self.log_error("code %d, message %s", code, text)
        if self.request_version == "HTTP/0.9":  # http.server would send the body alone, without a status line
            self.request_version = ""
        body = json.dumps({"error": text}).encode()
        self.send_response(code, phrase)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.close_connection = True

    def run_wsgi(self) -> None:
        rfile = self.rfile
        try:
            super().run_wsgi()
        finally:
            self.rfile, self.close_connection = rfile, True

    def make_environ(self):
        environ = super().make_environ()  # its wsgi.input reads the real stream
        self.rfile = _Drained(self.rfile)
        return environ

    def finish(self) -> None:
        """After the answer: end our side (the client sees the end at once), read and drop what the client still
        sends until it pauses, closes, or LINGER has passed, so that closing does not reset the connection under the
        answer; socketserver then closes the socket."""
        super().finish()
        try:
            self.connection.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + LINGER
            while (left := deadline - time.monotonic()) > 0:
                if not select.select([self.connection], [], [], min(left, 0.05))[0] or not self.connection.recv(65536):
                    break
        except OSError:
            pass


def make_server(explorer: answers.Explorer, port: int = 8765):
    """werkzeug's threaded server on HOST:port (0: any free one) with `Handler`; `.port` is the port it got."""
    from werkzeug.serving import make_server as werkzeug_server

    return werkzeug_server(HOST, port, application(explorer), threaded=True, request_handler=Handler)


def serve(explorer: answers.Explorer, port: int = 8765, *, say=None) -> int:
    """Serve until Ctrl-C (or SIGTERM); returns 0 once the server has closed its socket."""
    import signal

    server = make_server(explorer, port)
    say = say or (lambda line: print(line, flush=True))

    def stop(signum, frame):
        raise KeyboardInterrupt

    # The handlers are in place before the address is announced: a Ctrl-C the moment it shows still closes cleanly.
    previous = signal.signal(signal.SIGTERM, stop)
    interrupt = signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C even where started with it ignored
    try:
        say(f"The explorer of {explorer.dataset.name} is at http://{HOST}:{server.port}/ (Ctrl-C stops it).")
        server.serve_forever()  # werkzeug's returns on Ctrl-C (it catches KeyboardInterrupt itself)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, interrupt)
    say("\nStopped: the explorer has closed its port.")
    return 0


def offer_training(dataset: str, message: str, *, ask=input, interactive: bool | None = None) -> bool:
    """Say which command trains the pair; at a terminal, offer to run it now (quick profile, with its progress)."""
    import subprocess

    print(message, file=sys.stderr)
    interactive = sys.stdin.isatty() if interactive is None else interactive
    if not interactive or ask("Train the quick pair now (a few minutes on two cores)? [y/N] ").strip().lower() not in (
        "y",
        "yes",
    ):
        return False
    command = [sys.executable, "-m", "convlab.run.pipeline", "--datasets", dataset, "--notebooks", "02_fc_baseline", "03_cnn"]
    return subprocess.run([*command, "-p", "profile", "quick"], check=False).returncode == 0


def measure(explorer: answers.Explorer, *, say=None) -> dict:
    """Compute, before serving, what the run lacks (`answers.Explorer.measure`), saying what and how long it took."""
    say = say or (lambda line: print(line, flush=True))
    if not explorer.probed:
        say(
            f"This run has no translation probe records (notebook 07): computing accuracy against shift from its "
            f"{answers.TITLES['fc']} and {answers.TITLES['cnn']} on {answers.CURVE_IMAGES} test images..."
        )
    measured = explorer.measure()
    if measured["source"] == "computed":
        say(f"Computed in {measured['seconds']:.1f} s.")
    if measured["scrambled"]:
        accuracy = ", ".join(f"{answers.TITLES[kind]} {value:.1f}%" for kind, value in measured["scrambled"].items())
        say(
            f"No models trained on scrambled pixels (notebook 08): the scramble toggle shows this run's own models, "
            f"right on {accuracy} of {measured['scrambled_images']} scrambled test images."
        )
    return measured


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="The explorer: move, draw or scramble a digit and watch the FC network and the CNN."
    )
    parser.add_argument("--dataset", default="mnist", choices=config.DATASETS)
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any free one)")
    parser.add_argument("--reports", type=Path, default=paths.REPORTS_DIR, help="the reports root of the run (default reports/)")
    parser.add_argument("--data-dir", default="", help="folder with the dataset files; empty: $CONVLAB_DATA_DIR, else data/")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port}: use 0 to 65535.")
    report_dir = args.reports / args.dataset
    try:
        explorer = answers.load(report_dir, args.dataset, args.data_dir or None)
    except answers.NothingTrained as missing:
        if not offer_training(args.dataset, f"ERROR: {missing}"):
            return 1
        explorer = answers.load(report_dir, args.dataset, args.data_dir or None)
    except (FileNotFoundError, ValueError) as problem:
        print(f"ERROR: {problem}", file=sys.stderr)
        return 1
    try:
        measure(explorer)
    except KeyboardInterrupt:
        print("\nStopped before serving.", file=sys.stderr)
        return 130
    try:
        return serve(explorer, args.port)
    except OSError as busy:
        print(f"ERROR: cannot listen on {HOST}:{args.port} ({busy.strerror}); choose another with PORT=<n>.", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
