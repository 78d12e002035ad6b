"""Request and response handlers for the SageMaker TensorFlow Serving container (`code/inference.py`).

This file ships inside `model.tar.gz`. The container imports it when its server starts, so it may import
only what every supported serving image installs: the standard library, and falcon (which runs the
container's front-end). It imports no numpy: the TF 2.19 serving image has none, and an import that
fails there means an endpoint that never passes its health check.

Requests (each image is 28×28 pixels):
- `application/json`: `{"instances": [image, ...]}` where an image is 784 numbers, 28 rows of 28, or
  28×28×1; optional `"value_range": "0-255"` (default, the datasets' bytes) or `"0-1"`.
- `text/csv`: one image per line, 784 comma-separated values in 0–255.
At most `MAX_INSTANCES` images per request. The answer (`application/json`) holds, per image, the class
probabilities, the predicted label and its class name.

A bad request raises `RequestError`, a `falcon.HTTPError` with the status it deserves (400, 413 or 415)
and a description naming the problem and the fix; nothing is sent to the model. How the client sees it
depends on the image: TF 2.20 and later keep a `falcon.HTTPError`'s status and answer
`{"title": ..., "description": ...}`; TF 2.19 answers every handler exception with 500 `{"error": ...}`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

try:
    import falcon
except ImportError:  # outside the serving container: the fallback endpoint and the unit tests
    falcon = None

SIDE = 28
PIXELS = SIDE * SIDE
MAX_INSTANCES = 256
VALUE_RANGES = {"0-255": 255.0, "0-1": 1.0}
LABELS_FILE = Path(__file__).resolve().parent / "labels.json"
_TITLES = {400: "400 Bad Request", 406: "406 Not Acceptable", 413: "413 Payload Too Large", 415: "415 Unsupported Media Type"}
ANSWERS = ("application/json", "application/*", "*/*")  # media ranges the JSON answer satisfies


class RequestError(falcon.HTTPError if falcon else Exception):
    """A request the endpoint refuses; `status` is its HTTP status and `str()` the message."""

    def __init__(self, message: str, status: int = 400):
        if falcon:
            super().__init__(falcon.code_to_http_status(status), title=_TITLES[status], description=message)
        else:
            super().__init__(message)
        self.status = status
        self.message = message

    def __str__(self) -> str:
        return self.message


def class_names() -> list[str]:
    return json.loads(LABELS_FILE.read_text(encoding="utf-8"))["class_names"]


def _content_type(context) -> str:
    value = getattr(context, "request_content_type", None) or "application/json"
    return value.split(";")[0].strip().lower()


def _kind(value) -> str:
    """A JSON value's type in JSON's words."""
    names = {bool: "a boolean", str: "a string", dict: "an object", list: "a list", type(None): "null"}
    return names.get(type(value), "a number")


def _shape(value) -> str:
    """The nesting of a list as 'a×b×…', following first elements."""
    sizes = []
    while isinstance(value, list):
        sizes.append(str(len(value)))
        value = value[0] if value else None
    return "×".join(sizes) or "a single value"


def _from_json(body: bytes) -> tuple[list, float]:
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RequestError(f'The body is not valid JSON ({error}); send {{"instances": [[784 numbers], ...]}}.') from None
    except RecursionError:
        raise RequestError(
            'The JSON body is nested too deeply; an image is at most 28×28×1: send {"instances": [...]}.'
        ) from None
    if not isinstance(payload, dict) or "instances" not in payload:
        raise RequestError('The JSON body has no "instances" key; send {"instances": [image, ...]}.')
    value_range = payload.get("value_range", "0-255")
    if not isinstance(value_range, str) or value_range not in VALUE_RANGES:
        shown = repr(value_range) if isinstance(value_range, str) else _kind(value_range)
        raise RequestError(f'"value_range" is {shown}; use the string "0-255" (default) or "0-1".')
    instances = payload["instances"]
    if not isinstance(instances, list):
        raise RequestError(f'"instances" is {_kind(instances)}; send a list of images: {{"instances": [image, ...]}}.')
    return instances, VALUE_RANGES[value_range]


def _from_csv(body: bytes) -> tuple[list, float]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError("The CSV body is not UTF-8 text; send one image per line, 784 values in 0-255.") from None
    rows = []
    for number, line in enumerate((line for line in text.splitlines() if line.strip()), start=1):
        try:
            rows.append([float(value) for value in line.split(",")])
        except ValueError:
            raise RequestError(f"CSV line {number} holds a value that is not a number; send 784 numbers per line.") from None
    return rows, 255.0


def _flat_pixels(image, index: int) -> list:
    """One image as its 784 values, from 784 numbers, 28 rows of 28 or 28×28×1."""
    if not isinstance(image, list):
        raise RequestError(f"Image {index} is {_kind(image)}; send each image as 784 numbers or 28 rows of 28.")
    values = image
    if len(image) == SIDE and all(isinstance(row, list) and len(row) == SIDE for row in image):
        values = [value for row in image for value in row]
        if all(isinstance(value, list) and len(value) == 1 for value in values):
            values = [value[0] for value in values]
    if len(values) != PIXELS or any(isinstance(value, list) for value in values):
        raise RequestError(f"Image {index} has shape {_shape(image)}; each image must be 28×28 (or 784 numbers).")
    return values


def parse_images(body: bytes, content_type: str) -> list[list[float]]:
    """The request's images as rows of 784 pixel values in 0-255, or a `RequestError` naming what is wrong."""
    if not body or not body.strip():
        raise RequestError("The request body is empty; send at least one 28×28 image.")
    if content_type == "application/json":
        instances, scale = _from_json(body)
    elif content_type == "text/csv":
        instances, scale = _from_csv(body)
    else:
        raise RequestError(f"Content type {content_type!r} is not supported; use application/json or text/csv.", status=415)
    if not instances:
        raise RequestError("No images in the request; send a non-empty list of 28×28 images.")
    if len(instances) > MAX_INSTANCES:
        raise RequestError(f"{len(instances)} images in one request; the limit is {MAX_INSTANCES}: split the batch.", status=413)
    rows = [_flat_pixels(image, index) for index, image in enumerate(instances)]
    low, high = math.inf, -math.inf
    for index, row in enumerate(rows):
        for value in row:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise RequestError(f"Image {index} holds {_kind(value)} where a pixel value belongs; send numbers only.")
            if not math.isfinite(value):
                raise RequestError("The images contain NaN or infinite values; send finite pixel values.")
        low, high = min(low, *row), max(high, *row)
    if low < 0 or high > scale:
        raise RequestError(
            f"Pixel values span {low:g} to {high:g}, outside 0-{scale:g}; "
            f'scale them, or declare "value_range" ("0-255" or "0-1").'
        )
    if scale != 255.0:
        rows = [[value * (255.0 / scale) for value in row] for row in rows]
    return rows


def _check_accept(context) -> None:
    """The answer is JSON: a client whose Accept header rules JSON out is told so (406) before any work is done."""
    accept = (getattr(context, "accept_header", None) or "").strip()
    if not accept:
        return
    ranges = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    if not any(media in ANSWERS for media in ranges):
        raise RequestError(
            f"The answer is application/json, which Accept: {accept} rules out; send Accept: application/json or omit it.",
            406,
        )


def input_handler(data, context) -> str:
    """Validate a request and turn it into TF Serving's REST body: one row of 784 pixel values (0-255) per image.

    The served model reshapes and scales them itself; whole values go as integers, which keeps the body
    small and fast to write and to parse.
    """
    _check_accept(context)
    rows = parse_images(data.read(), _content_type(context))
    whole = [[int(value) if value == int(value) else value for value in row] for row in rows]
    return json.dumps({"instances": whole}, separators=(",", ":"))


def output_handler(response, context) -> tuple[bytes, str]:
    """Turn TF Serving's answer into probabilities, labels and class names."""
    if response.status_code != 200:
        raise RuntimeError(f"The model server answered {response.status_code}: {response.content.decode('utf-8', 'replace')}")
    probabilities = json.loads(response.content)["predictions"]
    names = class_names()
    predictions = []
    for row in probabilities:
        label = max(range(len(row)), key=row.__getitem__)
        predictions.append({"label": label, "class_name": names[label], "probabilities": [float(p) for p in row]})
    return json.dumps({"predictions": predictions, "class_names": names}).encode("utf-8"), "application/json"
