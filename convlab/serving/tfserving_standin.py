"""A stand-in for the TensorFlow Serving process: its REST API (v1), answered by the artifact's SavedModel.

`python tfserving_standin.py <model folder> <port> <model name>` (run by `container.py` in TensorFlow of the serving
image's version) loads the highest numbered version, as TF Serving does, and serves on 127.0.0.1, through werkzeug,
`GET /v1/models/<name>[/versions/<n>]` and `POST .../:predict` with `instances` or `inputs`, read as TF Serving's
`util/json_tensor.cc` reads them: JSON as rapidjson parses it (at any depth; NaN and Infinity taken; a number too big
for a double refused), instances held to the first one's size and shape, values to the input's dtype."""

import contextlib
import itertools
import json
import math
import re
import sys
from http import HTTPStatus
from pathlib import Path

import numpy as np
import tensorflow as tf

READY = "tfserving-standin ready:"
DEFAULT_SIGNATURE = "serving_default"
DEBUG_BYTES = 256  # json_tensor.cc's kMaxJsonDebugStringBytes: a value quoted in a message is cut there
MAX_DIMENSIONS = 254  # TensorShape::MaxDimensions(): a deeper tensor does not parse
TYPE_NAMES = {"float32": "float", "float64": "double", "float16": "half"}  # DataTypeString


class RequestError(Exception):
    """A request TF Serving would refuse: its HTTP status and message."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def _float(text: str) -> float:
    if math.isinf(value := float(text)):
        raise OverflowError("Number too big to be stored in double.")  # rapidjson's kParseErrorNumberTooBig
    return value


def _int(text: str):  # rapidjson keeps an integer that fits int64 or uint64; a larger one becomes a double
    value = int(text) if len(text) <= 21 else None
    return value if value is not None and -(2**63) <= value < 2**64 else _float(text)


_SUSPECT = re.compile(rb"[0-9]{20}|[eE]\+?[0-9]{3}")  # a number that Python's decoder and rapidjson may read apart
_NUMBER = re.compile(rb"-?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]+|(?!\.))(?:[eE][+-]?[0-9]+|(?![eE]))|NaN|Inf(?:inity|(?!i)))")
_STRING = rb'"((?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*)'
_SPACE, _OPENS, _CLOSES = re.compile(rb"[ \t\n\r]*"), re.compile(rb"\[+"), re.compile(rb"\]+")
_NAME, _VALUE = "Missing a name for object member.", "Invalid value."
_STATE_ERRORS = {"start": "The document is empty.", "object": _NAME, "member_delimiter": _NAME, "array": _VALUE}
_STATE_ERRORS |= {"element_delimiter": _VALUE, "key_delimiter": _VALUE, "key": "Missing a colon after a name of object member."}
_STATE_ERRORS["member"] = "Missing a comma or '}' after an object member."
_STATE_ERRORS["element"] = "Missing a comma or ']' after an array element."
_VALUE_STATES = {"start", "array", "element_delimiter", "key_delimiter"}


def _parse_error(message: str, offset: int) -> RequestError:
    return RequestError(f"JSON Parse error: {message} at offset: {offset}")


def parse_document(body: bytes):
    """The request's JSON, as rapidjson reads it: Python's decoder where the two agree, else the parser below."""
    if not body:
        raise RequestError("JSON Parse error: The document is empty")
    with contextlib.suppress(ValueError, RecursionError):  # a syntax error, a depth Python's decoder refuses, a NUL byte
        text = body.decode("utf-8").removeprefix("\ufeff")
        document = json.JSONDecoder().raw_decode(text, len(text) - len(text.lstrip(" \t\n\r")))[0]  # what follows is left
        if isinstance(document, dict) and not _SUSPECT.search(body):
            return document
    return _parse_iteratively(body.split(b"\0", 1)[0])


def _parse_iteratively(data: bytes):
    """rapidjson's iterative parser (its states, messages and offsets): no recursion, whatever the depth."""
    pos, stack, state, key, root = (3 if data.startswith(b"\xef\xbb\xbf") else 0), [], "start", None, None
    while True:
        pos = _SPACE.match(data, pos).end()
        if pos >= len(data):
            raise _parse_error(_STATE_ERRORS[state], pos)
        char = data[pos : pos + 1]
        if state in _VALUE_STATES and char not in (b"]", b"}", b",", b":"):
            for _ in range((_OPENS.match(data, pos).end() - pos) if char == b"[" else 1):  # a run of "[" at once
                value, pos = ([], pos + 1) if char == b"[" else ({}, pos + 1) if char == b"{" else _scalar(data, pos)
                if not stack:
                    root = value
                elif isinstance(stack[-1], list):
                    stack[-1].append(value)
                else:
                    stack[-1][key] = value
                if char in (b"[", b"{"):
                    stack.append(value)
                    state = "array" if char == b"[" else "object"
            if char in (b"[", b"{"):
                continue
        elif (state in ("array", "element") and char == b"]") or (state in ("object", "member") and char == b"}"):
            for index in range((_CLOSES.match(data, pos).end() - pos) if char == b"]" else 1):
                if index and not isinstance(stack[-1], list):
                    raise _parse_error(_STATE_ERRORS["member"], pos)
                stack.pop()
                pos += 1
                if not stack:
                    return root
        elif state in ("object", "member_delimiter") and char == b'"':
            key, pos = _scalar(data, pos)
            state = "key"
            continue
        elif (state, char) in (("key", b":"), ("element", b","), ("member", b",")):
            pos, state = pos + 1, {"key": "key_delimiter", "element": "element_delimiter"}.get(state, "member_delimiter")
            continue
        else:
            raise _parse_error(_STATE_ERRORS[state], pos)
        if not stack:  # the document is complete: rapidjson stops there (kParseStopWhenDoneFlag)
            return root
        state = "element" if isinstance(stack[-1], list) else "member"


def _scalar(data: bytes, pos: int):
    """A string, literal or number at `pos` and the offset after it, or rapidjson's error where it is malformed."""
    if match := re.compile(_STRING + rb'"').match(data, pos):
        text = match.group(1).decode("utf-8", "replace")  # bytes that are not UTF-8 pass, as rapidjson passes them
        return (json.loads(f'"{text}"') if "\\" in text else text), match.end()
    if data[pos : pos + 1] == b'"':  # rapidjson stops where the string stops being valid
        end = re.compile(_STRING).match(data, pos).end()
        if end == len(data):
            raise _parse_error("Missing a closing quotation mark in string.", end)
        hexes = data[end + 1 : end + 2] == b"u"
        escape = "Incorrect hex digit after \\u escape in string." if hexes else "Invalid escape character in string."
        raise _parse_error("Invalid encoding in string." if data[end] < 0x20 else escape, end)
    start = pos + (data[pos : pos + 1] == b"-")
    words = {b"t": (b"true", True), b"f": (b"false", False), b"n": (b"null", None), b"N": (b"NaN",), b"I": (b"Infinity",)}
    if (word := words.get(data[start : start + 1])) and len(word) == 2 and start == pos and data.startswith(word[0], pos):
        return word[1], pos + len(word[0])
    if not (match := _NUMBER.match(data, pos)):
        if word:  # a literal cut short: rapidjson reports the first character that differs
            length = next(i for i in range(len(word[0]) + 1) if data[start + i : start + i + 1] != word[0][i : i + 1])
            raise _parse_error(_VALUE, start + length)
        if not (whole := re.compile(rb"0|[1-9][0-9]*").match(data, start)):
            raise _parse_error(_VALUE, start)
        if data[whole.end() : whole.end() + 1] == b"." and not data[whole.end() + 1 : whole.end() + 2].isdigit():
            raise _parse_error("Miss fraction part in number.", whole.end() + 1)
        raise _parse_error("Miss exponent in number.", re.compile(rb"[0-9.]*[eE][+-]?").match(data, start).end())
    text = match.group().decode()
    if text.lstrip("-")[0] in "NI":
        return float(text.replace("Infinity", "inf").replace("Inf", "inf")), match.end()
    try:
        return (_int(text) if text.lstrip("-").isdigit() else _float(text)), match.end()
    except OverflowError as error:
        raise _parse_error(str(error), pos) from None


def _scalar_text(value) -> str | None:
    """rapidjson's Writer for one value; None for NaN and the infinities, which it refuses to write."""
    if not isinstance(value, float):
        return json.dumps(value, ensure_ascii=False)
    mantissa, _, exponent = repr(value).partition("e")  # its dtoa writes 1e300 and 1.5e-7 ("e+300" and "e-07" here)
    return mantissa + (f"e{int(exponent)}" if exponent else "") if math.isfinite(value) else None


def debug_text(value, limit: int = DEBUG_BYTES) -> str:
    """A JSON value as TF Serving quotes it in a message: the text of each call rapidjson's PrettyWriter (single-line
    arrays) gets while fewer than 256 bytes are out, written without recursion; it stops before a NaN."""
    out, size, levels, rest = [], 0, [], iter([value])  # a level: [is an array, values written, the values to come]
    while size < limit:
        if (item := next(rest, out)) is out:  # the innermost container ends
            if not levels:
                break
            is_array, count, _ = levels.pop()
            rest = levels[-1][2] if levels else iter(())
            text = "]" if is_array else "}" if not count else "\n" + "    " * len(levels) + "}"
        else:
            prefix = ""
            if levels:
                is_array, count, _ = level = levels[-1]
                indent = ("," if count else "") + "\n" + "    " * len(levels)
                prefix, level[1] = (", " if count else "") if is_array else ": " if count % 2 else indent, count + 1
            if isinstance(item, dict | list):
                rest = iter(item) if isinstance(item, list) else itertools.chain.from_iterable(item.items())
                levels.append([isinstance(item, list), 0, rest])
                text = prefix + ("[" if isinstance(item, list) else "{")
            elif (scalar := _scalar_text(item)) is None:  # the writer fails there: the text ends
                return "".join(out) + prefix
            else:
                text = prefix + scalar
        out.append(text)
        size += len(text.encode("utf-8", "surrogatepass"))
    return "".join(out)


def json_type(value) -> str:  # the JSON type's name as TF Serving's messages print it
    return {type(None): "Null", bool: str(value), dict: "Object", list: "Array", str: "String"}.get(type(value), "Number")


def format_error(value, text: str) -> RequestError:
    return RequestError(f"JSON Value: {debug_text(value)} {text}")


def type_error(value, dtype: tf.DType) -> RequestError:
    name = TYPE_NAMES.get(dtype.name, dtype.name)
    return RequestError(f"JSON Value: {debug_text(value)} Type: {json_type(value)} is not of expected type: {name}")


def accepts(dtype: tf.DType):
    """AddValueToTensor's check of one value (rapidjson's IsNumber, IsInt, IsInt64, IsUint, IsBool, IsString)."""
    if dtype.is_floating:
        return lambda value: type(value) in (int, float)
    if dtype.is_integer:  # an integer narrower than 32 bits takes what IsInt() takes
        info = np.iinfo(np.int32 if dtype.size < 4 else dtype.as_numpy_dtype)
        return lambda value: type(value) is int and info.min <= value <= info.max
    return lambda value: type(value) is {"bool": bool, "string": str}.get(dtype.name)


def is_base64(value) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("b64"), str)


def dense_shape(value) -> list[int]:  # GetDenseTensorShape: the sizes of the first elements, down to a non-list
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        value = value[0] if value else None
    return shape


def fill(value, shape: list[int], dtype: tf.DType) -> list:
    """FillTensorProto, depth first and left to right without recursion: the values, or TF Serving's first refusal."""
    check, rank, values, stack = accepts(dtype), len(shape), [], [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, list):
            if level >= rank:
                raise RequestError(f"Encountered list at unexpected level: {level} expected < {rank}")
            if len(item) != shape[level]:
                raise RequestError(
                    f"Encountered list at unexpected size: {len(item)} at level: {level} expected size: {shape[level]}"
                )
            if level == rank - 1 and dtype.is_floating and set(map(type, item)) <= {int, float}:
                values.extend(item)  # the common case, checked at once
            else:
                stack.extend((inner, level + 1) for inner in reversed(item))
        elif level != rank:
            raise format_error(item, f"found at incorrect level: {level + 1} in the JSON DOM. Expected at level: {rank}")
        elif isinstance(item, dict) or not check(item):  # base64 strings ({"b64": ...}) are not served
            raise type_error(item, dtype)
        else:
            values.append(item)
    return values


def to_array(values: list, shape: list[int], dtype: tf.DType, name: str) -> np.ndarray:
    if len(shape) > MAX_DIMENSIONS:
        raise RequestError(f"tensor parsing error: {name}")
    with np.errstate(over="ignore"):  # a double past a float's range becomes an infinity, as GetFloat() makes it
        return np.array(values, dtype=object if dtype == tf.string else dtype.as_numpy_dtype).reshape(shape)


class Model:
    """The SavedModel's signatures, and TF Serving's predict over them."""

    def __init__(self, folder: Path, name: str):
        self.name = name
        self.version = max(int(path.name) for path in folder.iterdir() if path.is_dir() and path.name.isdigit())
        self.signatures = dict(tf.saved_model.load(str(folder / str(self.version))).signatures)

    def inputs_of(self, signature_name: str) -> dict[str, tf.TensorSpec]:
        if signature_name not in self.signatures:
            raise RequestError(f'Serving signature name: "{signature_name}" not found in signature def')
        return dict(sorted(self.signatures[signature_name].structured_input_signature[1].items()))

    def predict(self, body: bytes) -> dict:
        """FillPredictRequestFromJson, then the signature run on its tensors."""
        if not isinstance(document := parse_document(body), dict):
            raise format_error(document, "Is not object")
        if not isinstance(signature_name := document.get("signature_name", DEFAULT_SIGNATURE), str):
            raise format_error(document, "not formatted correctly. 'signature_name' key must be a string value.")
        specs = self.inputs_of(signature_name := signature_name or DEFAULT_SIGNATURE)
        if "instances" in document and "inputs" in document:
            raise format_error(document, "Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist ")
        if "instances" in document:
            if not isinstance(instances := document["instances"], list):
                raise format_error(document, "Expecting 'instances' to be an list/array")
            if not instances:
                raise format_error(document, "No values in 'instances' array")
            return {"predictions": self._run(signature_name, self._rows(instances, specs), rows=True)}
        if "inputs" in document:
            return {"outputs": self._run(signature_name, self._columns(document["inputs"], specs), rows=False)}
        raise RequestError("Missing 'inputs' or 'instances' key")

    def _rows(self, instances: list, specs: dict[str, tf.TensorSpec]) -> dict[str, np.ndarray]:
        """FillTensorMapFromInstancesList and AddInstanceItem: each instance of the first one's size and shape."""
        if not isinstance(instances[0], dict) and len(specs) > 1:
            raise RequestError(
                "instances is a plain list, but expecting list of objects as multiple input tensors required as per "
                "tensorinfo_map"
            )
        objects, sizes, shapes, columns = isinstance(instances[0], dict) and not is_base64(instances[0]), {}, {}, {}
        for index, element in enumerate(instances):
            if objects != (isinstance(element, dict) and not is_base64(element)):
                expected = "object but got list" if objects else "value/list but got object"
                raise RequestError(f"Expecting {expected} at item {index} of input list")
            for name, item in element.items() if objects else [(next(iter(specs)), element)]:
                try:
                    if name not in specs:
                        raise RequestError(f"JSON object: does not have named input: {name}")
                    values = fill(item, shape := dense_shape(item), specs[name].dtype)
                    if sizes.setdefault(name, len(values)) != len(values):
                        raise RequestError(f"Expecting tensor size: {sizes[name]} but got: {len(values)}")
                    if shapes.setdefault(name, shape) != shape:
                        shown = ["[" + ",".join(map(str, dims)) + "]" for dims in (shapes[name], shape)]
                        raise RequestError(f"Expecting shape {shown[0]} but got: {shown[1]}")
                except RequestError as error:
                    where = f"{index} key: {name}" if objects else index
                    raise RequestError(
                        f"Failed to process element: {where} of 'instances' list. Error: INVALID_ARGUMENT: {error}"
                    ) from None
                columns.setdefault(name, []).extend(values)
            if objects and set(element) != set(specs):
                raise RequestError(
                    f"Failed to process element: {index} of 'instances' list. JSON object: {debug_text(element)} "
                    f"keys must be equal to: {','.join(specs)}"
                )
        return {name: to_array(columns[name], [len(instances), *shapes[name]], spec.dtype, name) for name, spec in specs.items()}

    def _columns(self, inputs, specs: dict[str, tf.TensorSpec]) -> dict[str, np.ndarray]:
        """FillTensorMapFromInputsMap: one value for a single input, else an object of them by name."""
        if not isinstance(inputs, dict) or is_base64(inputs):
            if len(specs) > 1:
                raise RequestError(
                    "inputs is a plain value/list, but expecting an object as multiple input tensors required as per "
                    "tensorinfo_map"
                )
            inputs = {next(iter(specs)): inputs}
        found = {}
        for name, spec in specs.items():
            if name not in inputs:
                raise RequestError(f"Missing named input: {name} in 'inputs' object.")
            found[name] = to_array(fill(inputs[name], shape := dense_shape(inputs[name]), spec.dtype), shape, spec.dtype, name)
        return found

    def _run(self, signature_name: str, tensors: dict[str, np.ndarray], *, rows: bool):
        try:
            outputs = self.signatures[signature_name](**{name: tf.constant(value) for name, value in tensors.items()})
        except (tf.errors.InvalidArgumentError, ValueError, TypeError) as error:
            raise RequestError(str(error).strip().splitlines()[0]) from None
        values = {name: tensor.numpy().tolist() for name, tensor in outputs.items()}
        if len(values) == 1 or not rows:
            return next(iter(values.values())) if len(values) == 1 else values
        return [dict(zip(values, row, strict=True)) for row in zip(*values.values(), strict=True)]


def application(model: Model):
    """The WSGI application: routes, statuses and JSON bodies as TF Serving's REST server answers them."""
    path_pattern = re.compile(rf"^/v1/models/{re.escape(model.name)}(?:/versions/(\d+))?(:predict)?$")

    def answer(start_response, status: int, content: dict):
        body = json.dumps(content).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        return [body]

    def app(environ, start_response):
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        match = path_pattern.match(path)
        if not match or (match.group(1) and int(match.group(1)) != model.version):
            return answer(start_response, 404, {"error": f"Servable not found for request: {method} {path}"})
        if method != ("POST" if match.group(2) else "GET"):
            return answer(start_response, 405, {"error": f"Malformed request: {method} {path}"})
        if match.group(2):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                return answer(start_response, 200, model.predict(environ["wsgi.input"].read(length) if length else b""))
            except RequestError as error:
                return answer(start_response, error.status, {"error": str(error)})
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
