"""The TF Serving stand-in keeps TensorFlow Serving's REST contract (its documented API and the wording of its
`util/json_tensor.cc` errors), case by case, and answers bursts of concurrent clients without a failure."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np
import pytest

from convlab.serving import container
from convlab.study import paths

NAME = container.MODEL_NAME


@contextmanager
def running_standin(tarball, folder, python: str = sys.executable):
    """The stand-in serving the artifact's SavedModel in `python`'s TensorFlow; yields its URL."""
    with tarfile.open(tarball) as archive:
        archive.extractall(folder, filter="data")
    port = container._free_ports(1)[0]
    log = folder / "standin.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [python, str(paths.PACKAGE_DIR / "serving" / "tfserving_standin.py"), str(folder), str(port), NAME],
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    try:
        container._wait_for(f"http://127.0.0.1:{port}/v1/models/{NAME}", process, "The TF Serving stand-in", log)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def standin(tarball, tmp_path_factory):
    """The stand-in serving the artifact's SavedModel, in this environment's TensorFlow."""
    with running_standin(tarball, tmp_path_factory.mktemp("standin")) as url:
        yield url


def call(url: str, body, method: str = "POST", path: str = f"/v1/models/{NAME}:predict") -> tuple[int, dict]:
    """The status and JSON answer; an answer that is not JSON comes back as {"error": its text}."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data if method == "POST" else None, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            status, text = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, {"error": text.decode("utf-8", "replace")}


IMAGE = np.zeros((28, 28, 1)).tolist()
ROW, INPUT = [0] * 784, "pixels"  # the served signature: one float input, "pixels", of shape [-1, 784]


def input_name(url: str) -> str:
    """The signature's one input name, as the model's metadata would give it (read from a refusal that names it)."""
    status, answer = call(url, {"instances": [{}]})
    assert status == 400
    return answer["error"].rsplit("keys must be equal to: ", 1)[1]


def test_row_format_is_answered_with_predictions(standin):
    status, answer = call(standin, {"instances": [IMAGE, IMAGE]})
    assert status == 200 and list(answer) == ["predictions"]
    assert np.asarray(answer["predictions"]).shape == (2, 10)
    assert np.allclose(np.sum(answer["predictions"], axis=1), 1, atol=1e-5)


def test_columnar_format_is_answered_with_outputs(standin):
    status, answer = call(standin, {"inputs": [IMAGE]})
    assert status == 200 and list(answer) == ["outputs"] and np.asarray(answer["outputs"]).shape == (1, 10)
    _, rows = call(standin, {"instances": [IMAGE]})
    assert answer["outputs"] == rows["predictions"], "the two formats run the same model"


def test_named_inputs_in_either_format(standin):
    name = input_name(standin)
    status, rows = call(standin, {"instances": [{name: IMAGE}]})
    assert status == 200 and np.asarray(rows["predictions"]).shape == (1, 10)
    status, columns = call(standin, {"inputs": {name: [IMAGE]}})
    assert status == 200 and columns["outputs"] == rows["predictions"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"instances": [IMAGE], "inputs": [IMAGE]},
            "Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist",
        ),
        ({"signature_name": "nope", "instances": [IMAGE]}, 'Serving signature name: "nope" not found in signature def'),
        ({"signature_name": 3, "instances": [IMAGE]}, "'signature_name' key must be a string value."),
        ({"instances": [[[[True]] * 28] * 28]}, "JSON Value: true Type: True is not of expected type: float"),
        ({"instances": [[[["0.5"]] * 28] * 28]}, 'JSON Value: "0.5" Type: String is not of expected type: float'),
        (
            {"instances": "not a list"},
            'JSON Value: {\n    "instances": "not a list"\n} Expecting \'instances\' to be an list/array',
        ),
        ({"instances": []}, "No values in 'instances' array"),
        ({"something": 1}, "Missing 'inputs' or 'instances' key"),
        (b"", "JSON Parse error: The document is empty"),
        (b"{not json", "JSON Parse error: Missing a name for object member. at offset: 1"),
        (b'{"instances": [1e400]}', "JSON Parse error: Number too big to be stored in double. at offset: 15"),
        (b'{"instances": [' + b"9" * 400 + b"]}", "JSON Parse error: Number too big to be stored in double. at offset: 15"),
        (b'{"instances": [1.]}', "JSON Parse error: Miss fraction part in number. at offset: 17"),
        (b'{"instances": ["ab]}', "JSON Parse error: Missing a closing quotation mark in string. at offset: 20"),
        (b'{"instances": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", f"tensor parsing error: {INPUT}"),
        ({"signature_name": list(range(1000))}, 'JSON Value: {\n    "signature_name": [0, 1, 2,'),
        ([1, 2], "Is not object"),
        ({"inputs": {"nope": [IMAGE]}}, "Missing named input:"),
        (
            {"instances": [{"nope": ROW}]},
            "Failed to process element: 0 key: nope of 'instances' list. Error: INVALID_ARGUMENT: "
            "JSON object: does not have named input: nope",
        ),
        (
            {"instances": [{}]},
            f"Failed to process element: 0 of 'instances' list. JSON object: {{}} keys must be equal to: {INPUT}",
        ),
        ({"instances": [IMAGE, {"x": 1}]}, "Expecting value/list but got object at item 1 of input list"),
        (
            {"instances": [[[0.0, 0.0], [0.0]]]},
            "Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: "
            "Encountered list at unexpected size: 1 at level: 1 expected size: 2",
        ),
        (
            {"instances": [[[0.0]], ROW]},
            "Failed to process element: 1 of 'instances' list. Error: INVALID_ARGUMENT: Expecting tensor size: 1 but got: 784",
        ),
        ({"instances": [[[0.0], 0.0]]}, "JSON Value: 0.0 found at incorrect level: 2 in the JSON DOM. Expected at level: 2"),
        ({"instances": [[0.0, [0.0]]]}, "Encountered list at unexpected level: 1 expected < 1"),
    ],
)
def test_a_request_tf_serving_refuses_is_refused_with_its_message(standin, body, message):
    status, answer = call(standin, body)
    assert status == 400 and list(answer) == ["error"] and message in answer["error"], answer


def test_what_rapidjson_takes_is_taken(standin):
    """NaN, Inf and Infinity (kParseNanAndInfFlag), a number past a float's range (a float infinity, as GetFloat() makes
    it), and text after the object (kParseStopWhenDoneFlag) are served, as TF Serving serves them."""
    rows = ", ".join(["[NaN, -Inf, Infinity" + ", 0" * 781 + "]", "[3.5e38" + ", 0" * 783 + "]"])
    for body in (f'{{"instances": [{rows}]}}', f'{{"instances": [{rows}]}} and then some text'):
        status, answer = call(standin, body.encode())
        assert status == 200 and len(answer["predictions"]) == 2, answer


def test_status_routes_and_methods(standin):
    status, answer = call(standin, None, method="GET", path=f"/v1/models/{NAME}")
    assert status == 200 and answer["model_version_status"][0]["state"] == "AVAILABLE"
    version = answer["model_version_status"][0]["version"]
    assert call(standin, {"instances": [IMAGE]}, path=f"/v1/models/{NAME}/versions/{version}:predict")[0] == 200
    assert call(standin, {"instances": [IMAGE]}, path=f"/v1/models/{NAME}/versions/999:predict")[0] == 404
    assert call(standin, {"instances": [IMAGE]}, path="/v1/models/other:predict")[0] == 404
    assert call(standin, None, method="GET")[0] == 405, "predict takes POST"


def test_bursts_of_64_concurrent_clients_all_succeed(standin):
    body = {"instances": [IMAGE]}

    def one(_) -> str:
        try:
            return str(call(standin, body)[0])
        except OSError as error:  # a reset or refused connection is a failure too
            return type(error).__name__

    failures = []
    with ThreadPoolExecutor(max_workers=64) as pool:
        for _ in range(5):
            failures.append([outcome for outcome in pool.map(one, range(64)) if outcome != "200"])
    assert failures == [[]] * 5
