"""A stand-in for the TensorFlow Serving process: its REST API (v1), answered by the artifact's SavedModel.

Run by `container.py` in an environment with TensorFlow of the serving image's version (or this one's):
`python tfserving_standin.py <model folder> <port> <model name>`. It loads `<model folder>/<version>/`
(the highest numbered version folder, as TF Serving does) and serves, on 127.0.0.1, through werkzeug's
threaded WSGI server (TensorFlow's own dependency, so nothing is added to the image's package set):

- `GET /v1/models/<name>[/versions/<n>]`: the model's status, `AVAILABLE` once loaded;
- `POST /v1/models/<name>[/versions/<n>]:predict`, as TF Serving's REST API documents it: a JSON object with an
  optional string `signature_name` (default `serving_default`) and exactly one of `instances` (the row format,
  answered `{"predictions": ...}`) or `inputs` (the columnar format, answered `{"outputs": ...}`); rows are plain
  values or objects keyed by the signature's input names; values are checked against the input's dtype.

A request it cannot run is answered 400 with `{"error": ...}`, in the wording of TF Serving's
`util/json_tensor.cc`; an unknown model, version or path 404. docs/sagemaker.md lists what still differs.
"""

import json
import re
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

READY = "tfserving-standin ready:"
DEFAULT_SIGNATURE = "serving_default"


class RequestError(Exception):
    """A request TF Serving would refuse: its HTTP status and message."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def json_type(value) -> str:
    """The JSON type's name as TF Serving's messages print it."""
    if value is None:
        return "Null"
    if value is True:
        return "True"
    if value is False:
        return "False"
    return {dict: "Object", list: "Array", str: "String"}.get(type(value), "Number")


def json_text(value) -> str:
    return json.dumps(value, separators=(",", ":"))


def type_error(value, dtype: tf.DType) -> RequestError:
    return RequestError(f"JSON Value: {json_text(value)} Type: {json_type(value)} is not of expected type: {dtype.name}")


def check_values(value, dtype: tf.DType) -> None:
    """Every leaf of a nested list must be a value of the input's dtype: a number (not a boolean) for a float."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif dtype.is_floating or dtype.is_integer:
            if isinstance(item, bool) or not isinstance(item, int | float):
                raise type_error(item, dtype)
            if dtype.is_integer and isinstance(item, float):
                raise type_error(item, dtype)
        elif dtype == tf.bool and not isinstance(item, bool):
            raise type_error(item, dtype)
        elif dtype == tf.string and not isinstance(item, str):
            raise type_error(item, dtype)


def dense(value, dtype: tf.DType, where: str) -> np.ndarray:
    """A nested list as an array of the input's dtype; a ragged list is refused, as TF Serving refuses it."""
    check_values(value, dtype)
    try:
        return np.asarray(value, dtype=dtype.as_numpy_dtype)
    except ValueError:
        raise RequestError(f"{where}: Encountered list at unexpected size: the list is ragged") from None


class Model:
    """The SavedModel's signatures, and TF Serving's predict over them."""

    def __init__(self, folder: Path, name: str):
        self.name = name
        self.version = max(int(path.name) for path in folder.iterdir() if path.is_dir() and path.name.isdigit())
        self.loaded = tf.saved_model.load(str(folder / str(self.version)))
        self.signatures = dict(self.loaded.signatures)

    def inputs_of(self, signature_name: str) -> dict[str, tf.TensorSpec]:
        if signature_name not in self.signatures:
            raise RequestError(f'Serving signature name: "{signature_name}" not found in signature def')
        return dict(self.signatures[signature_name].structured_input_signature[1])

    def predict(self, body: bytes) -> dict:
        if not body:
            raise RequestError("JSON Parse error: The document is empty")
        try:
            document = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            message, offset = (error.msg, error.pos) if isinstance(error, json.JSONDecodeError) else (str(error), 0)
            raise RequestError(f"JSON Parse error: {message} at offset: {offset}") from None
        if not isinstance(document, dict):
            raise RequestError(f"JSON Value: {json_text(document)} Is not object")
        signature_name = document.get("signature_name", DEFAULT_SIGNATURE)
        if not isinstance(signature_name, str):
            raise RequestError(
                f"JSON Value: {json_text(document)} not formatted correctly. 'signature_name' key must be a string value."
            )
        specs = self.inputs_of(signature_name or DEFAULT_SIGNATURE)
        if "instances" in document and "inputs" in document:
            raise RequestError(
                f"JSON Value: {json_text(document)} Not formatted correctly expecting only one of 'inputs' or "
                "'instances' keys to exist "
            )
        if "instances" in document:
            tensors = self._rows(document["instances"], specs, document)
            return {"predictions": self._run(signature_name or DEFAULT_SIGNATURE, tensors, rows=True)}
        if "inputs" in document:
            tensors = self._columns(document["inputs"], specs)
            return {"outputs": self._run(signature_name or DEFAULT_SIGNATURE, tensors, rows=False)}
        raise RequestError("Missing 'inputs' or 'instances' key")

    def _rows(self, instances, specs: dict[str, tf.TensorSpec], document: dict) -> dict[str, np.ndarray]:
        if not isinstance(instances, list):
            raise RequestError(f"JSON Value: {json_text(document)} Excepting 'instances' to be an list/array")
        if not instances:
            raise RequestError(f"JSON Value: {json_text(document)} No values in 'instances' array")
        named = isinstance(instances[0], dict)
        if not named and len(specs) > 1:
            raise RequestError(
                "instances is a plain list, but expecting list of objects as multiple input tensors required as per "
                "tensorinfo_map"
            )
        if not named:
            for index, item in enumerate(instances):
                if isinstance(item, dict):
                    raise RequestError(f"Expecting value/list but got object at item {index} of input list")
            name = next(iter(specs))
            return {name: dense(instances, specs[name].dtype, "Failed to process element of 'instances' list")}
        columns: dict[str, list] = {name: [] for name in specs}
        for index, item in enumerate(instances):
            if not isinstance(item, dict):
                raise RequestError(f"Expecting object but got list at item {index} of input list")
            if set(item) != set(specs):
                raise RequestError(
                    f"Failed to process element: {index} of 'instances' list. JSON object: {json_text(item)} must only "
                    f"have keys: {','.join(sorted(specs))}"
                )
            for name, value in item.items():
                columns[name].append(value)
        return {name: dense(values, specs[name].dtype, f"key: {name} of 'instances' list") for name, values in columns.items()}

    def _columns(self, inputs, specs: dict[str, tf.TensorSpec]) -> dict[str, np.ndarray]:
        if not isinstance(inputs, dict):
            if len(specs) > 1:
                raise RequestError(
                    "inputs is a plain value/list, but expecting an object as multiple input tensors required as per "
                    "tensorinfo_map"
                )
            name = next(iter(specs))
            return {name: dense(inputs, specs[name].dtype, "inputs")}
        found = {}
        for name, spec in specs.items():
            if name not in inputs:
                raise RequestError(f"Missing named input: {name} in 'inputs' object.")
            found[name] = dense(inputs[name], spec.dtype, f"inputs[{name}]")
        return found

    def _run(self, signature_name: str, tensors: dict[str, np.ndarray], *, rows: bool):
        try:
            outputs = self.signatures[signature_name](**{name: tf.constant(value) for name, value in tensors.items()})
        except (tf.errors.InvalidArgumentError, ValueError, TypeError) as error:
            raise RequestError(str(error).strip().splitlines()[0]) from None
        values = {name: tensor.numpy().tolist() for name, tensor in outputs.items()}
        if len(values) == 1:
            return next(iter(values.values()))
        if not rows:
            return values
        count = len(next(iter(values.values())))
        return [{name: column[index] for name, column in values.items()} for index in range(count)]


def application(model: Model):
    """The WSGI application: routes, statuses and JSON bodies as TF Serving's REST server answers them."""
    path_pattern = re.compile(rf"^/v1/models/{re.escape(model.name)}(?:/versions/(\d+))?(:predict)?$")

    def answer(start_response, status: int, content: dict):
        body = json.dumps(content).encode()
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}[status]
        start_response(f"{status} {reason}", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def app(environ, start_response):
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        match = path_pattern.match(path)
        if not match or (match.group(1) and int(match.group(1)) != model.version):
            return answer(start_response, 404, {"error": f"Servable not found for request: {method} {path}"})
        if match.group(2):
            if method != "POST":
                return answer(start_response, 405, {"error": f"Malformed request: {method} {path}"})
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            try:
                return answer(start_response, 200, model.predict(body))
            except RequestError as error:
                return answer(start_response, error.status, {"error": str(error)})
        if method != "GET":
            return answer(start_response, 405, {"error": f"Malformed request: {method} {path}"})
        status = {"version": str(model.version), "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
        return answer(start_response, 200, {"model_version_status": [status]})

    return app


def main() -> None:
    from werkzeug.serving import WSGIRequestHandler, make_server

    folder, port, name = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    model = Model(folder, name)

    class QuietHandler(WSGIRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as TF Serving's server: the front end reuses its connections

        def log_request(self, *args, **kwargs):
            pass

    server = make_server("127.0.0.1", port, application(model), threaded=True, request_handler=QuietHandler)
    server.socket.listen(1024)  # a burst of clients waits in the queue rather than being reset
    print(f"{READY} TensorFlow {tf.__version__} serving {folder / str(model.version)} on port {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
