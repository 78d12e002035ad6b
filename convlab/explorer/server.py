"""`make explore`: the explorer's page and its small JSON API, served by werkzeug on the loopback address only.

    GET  /                      the page (page.html: its script and style inline, nothing fetched from elsewhere)
    GET  /api/info              dataset, class names, models, test images, the permutation, the shift curves
    GET  /api/image/<index>     one test image: 784 pixel values 0-255, row by row, and its label
    POST /api/predict           {"pixels": [784 integers 0-255], "permuted": false} → each model's probabilities,
                                its top three, and the CNN's first-layer maps

A bad request gets a 4xx with a JSON body that names the problem; any other method gets 405 with `Allow`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from convlab.explorer import answers
from convlab.study import config, paths

HOST = "127.0.0.1"  # the loopback address only: the page is for the student at this machine
MAX_BODY = 64 * 1024
PAGE = Path(__file__).with_name("page.html")
ROUTES = Map(
    [
        Rule("/", endpoint="page", methods=["GET"]),
        Rule("/api/info", endpoint="info", methods=["GET"]),
        Rule("/api/image/<int(signed=True):index>", endpoint="image", methods=["GET"]),
        Rule("/api/predict", endpoint="predict", methods=["POST"]),
    ]
)


class BadRequest(ValueError):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def error(status: int, message: str, headers: dict | None = None) -> Response:
    return Response(json.dumps({"error": message}), status=status, mimetype="application/json", headers=headers)


def parse_pixels(body: bytes) -> tuple[np.ndarray, bool]:
    """The request's image as 28×28 uint8 and its permutation flag, or `BadRequest` naming what is wrong."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest('The body is not JSON: send {"pixels": [784 integers 0-255], "permuted": false}.') from None
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
            "models": {kind: model.label for kind, model in explorer.models.items()},
            "permuted_models": {kind: model.label for kind, model in explorer.permuted.items()},
            "permutation": explorer.permutation,
            "curves": explorer.curves,
            "max_shift": answers.MAX_SHIFT,
        }

    def respond(request: Request) -> Response:
        adapter = ROUTES.bind_to_environ(request.environ)
        try:
            endpoint, arguments = adapter.match()
        except MethodNotAllowed as refused:
            allowed = ", ".join(sorted(refused.valid_methods or []))
            return error(405, f"{request.method} is not allowed on {request.path}; use {allowed}.", {"Allow": allowed})
        except NotFound:
            return error(404, f"No {request.path} here: the page is at /, its API under /api/ (info, image/<n>, predict).")
        except HTTPException as other:
            return error(other.code or 400, other.description or "Bad request.")
        if endpoint == "page":
            return Response(PAGE.read_bytes(), mimetype="text/html", headers={"Cache-Control": "no-store"})
        if endpoint == "info":
            return Response(json.dumps(info()), mimetype="application/json")
        if endpoint == "image":
            index, count = arguments["index"], len(explorer.dataset.y_test)
            if not 0 <= index < count:
                return error(404, f"No test image {index}: there are {count}, numbered 0 to {count - 1}.")
            pixels = explorer.dataset.x_test[index].reshape(-1).tolist()
            label = int(explorer.dataset.y_test[index])
            return Response(json.dumps({"index": index, "pixels": pixels, "label": label}), mimetype="application/json")
        if request.mimetype != "application/json":
            return error(415, f"Send the image as application/json, not {request.mimetype or 'no content type'}.")
        if (request.content_length or 0) > MAX_BODY:
            return error(413, f"The body is {request.content_length} bytes; an image needs less than {MAX_BODY}.")
        try:
            pixels, permuted = parse_pixels(request.get_data(cache=False))
            return Response(json.dumps(explorer.answer(pixels, permuted)), mimetype="application/json")
        except BadRequest as refused:
            return error(refused.status, str(refused))
        except LookupError as missing:
            return error(409, str(missing))

    def app(environ, start_response):
        return respond(Request(environ))(environ, start_response)

    return app


def serve(explorer: answers.Explorer, port: int = 8765, *, say=None) -> int:
    """Serve until Ctrl-C (or SIGTERM); returns 0 once the server has closed its socket."""
    import signal

    from werkzeug.serving import make_server

    server = make_server(HOST, port, application(explorer), threaded=True)
    say = say or (lambda line: print(line, flush=True))
    say(f"The explorer of {explorer.dataset.name} is at http://{HOST}:{server.port}/ (Ctrl-C stops it).")

    def stop(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    interrupt = signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C even where started with it ignored
    try:
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
        return serve(explorer, args.port)
    except OSError as busy:
        print(f"ERROR: cannot listen on {HOST}:{args.port} ({busy.strerror}); choose another with PORT=<n>.", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
