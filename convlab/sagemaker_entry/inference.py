"""Request and response handlers for the SageMaker TensorFlow Serving container (`code/inference.py`).

This file ships inside `model.tar.gz` and runs in the serving container, which has
numpy but not convlab: it depends on the standard library and numpy only.

Requests (each image is 28×28 pixels):
- `application/json`: `{"instances": [image, ...]}` where an image is a 28×28 nested list
  (or 784 numbers); optional `"value_range": "0-255"` (default, the datasets' bytes) or `"0-1"`.
- `text/csv`: one image per line, 784 comma-separated values in 0–255.
At most `MAX_INSTANCES` images per request. The answer (`application/json`) holds, per image,
the class probabilities, the predicted label and its class name.

A bad request raises `RequestError` with the HTTP status it deserves (400, 413 or 415) and a
message naming the problem and the fix; nothing is sent to the model and the endpoint keeps serving.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SIDE = 28
MAX_INSTANCES = 256
VALUE_RANGES = {"0-255": 255.0, "0-1": 1.0}
LABELS_FILE = Path(__file__).resolve().parent / "labels.json"


class RequestError(ValueError):
    """A request the endpoint refuses; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def class_names() -> list[str]:
    return json.loads(LABELS_FILE.read_text(encoding="utf-8"))["class_names"]


def _content_type(context) -> str:
    value = getattr(context, "request_content_type", None) or "application/json"
    return value.split(";")[0].strip().lower()


def _from_json(body: bytes) -> tuple[list, float]:
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RequestError(f'The body is not valid JSON ({error}); send {{"instances": [[28×28 numbers], ...]}}.') from None
    if not isinstance(payload, dict) or "instances" not in payload:
        raise RequestError('The JSON body has no "instances" key; send {"instances": [image, ...]}.')
    value_range = payload.get("value_range", "0-255")
    if value_range not in VALUE_RANGES:
        raise RequestError(f'value_range {value_range!r} is not supported; use "0-255" (default) or "0-1".')
    return payload["instances"], VALUE_RANGES[value_range]


def _from_csv(body: bytes) -> tuple[list, float]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError("The CSV body is not UTF-8 text; send one image per line, 784 values in 0-255.") from None
    rows = [line.split(",") for line in text.splitlines() if line.strip()]
    return rows, 255.0


def parse_images(body: bytes, content_type: str) -> np.ndarray:
    """The request's images as N×784 pixel values in 0-255 (row-major), or a `RequestError` naming what is wrong."""
    if not body or not body.strip():
        raise RequestError("The request body is empty; send at least one 28×28 image.")
    if content_type == "application/json":
        instances, scale = _from_json(body)
    elif content_type == "text/csv":
        instances, scale = _from_csv(body)
    else:
        raise RequestError(f"Content type {content_type!r} is not supported; use application/json or text/csv.", status=415)
    if not isinstance(instances, list) or not instances:
        raise RequestError("No images in the request; send a non-empty list of 28×28 images.")
    if len(instances) > MAX_INSTANCES:
        raise RequestError(f"{len(instances)} images in one request; the limit is {MAX_INSTANCES}: split the batch.", status=413)
    try:
        images = np.asarray(instances, dtype=np.float64)
    except (ValueError, TypeError):
        raise RequestError("The images are not all numeric or not all the same shape; send 784 numbers per image.") from None
    if images.ndim == 2 and images.shape[1] == SIDE * SIDE:
        images = images.reshape(-1, SIDE, SIDE)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3 or images.shape[1:] != (SIDE, SIDE):
        raise RequestError(f"Images of shape {images.shape[1:]} cannot be read; each image must be 28×28 (or 784 numbers).")
    if not np.isfinite(images).all():
        raise RequestError("The images contain NaN or infinite values; send finite pixel values.")
    if images.min() < 0 or images.max() > scale:
        raise RequestError(
            f"Pixel values span {images.min():g} to {images.max():g}, outside 0-{scale:g}; "
            f'scale them, or declare "value_range" ("0-255" or "0-1").'
        )
    return (images * (255.0 / scale)).reshape(len(images), SIDE * SIDE)


def input_handler(data, context) -> str:
    """Validate a request and turn it into TF Serving's REST body: one row of 784 pixel values (0-255) per image.

    The served model reshapes and scales them itself; whole values go as integers, which keeps the body
    small and fast to write and to parse.
    """
    images = parse_images(data.read(), _content_type(context))
    whole = np.array_equal(images, np.round(images))
    return json.dumps({"instances": (images.astype(np.int64) if whole else images).tolist()})


def output_handler(response, context) -> tuple[bytes, str]:
    """Turn TF Serving's answer into probabilities, labels and class names."""
    if response.status_code != 200:
        raise RuntimeError(f"The model server answered {response.status_code}: {response.content.decode('utf-8', 'replace')}")
    probabilities = np.asarray(json.loads(response.content)["predictions"], dtype=np.float64)
    names = class_names()
    labels = probabilities.argmax(axis=1)
    body = {
        "predictions": [
            {"label": int(label), "class_name": names[label], "probabilities": [float(p) for p in row]}
            for label, row in zip(labels, probabilities)
        ],
        "class_names": names,
    }
    return json.dumps(body).encode("utf-8"), "application/json"
