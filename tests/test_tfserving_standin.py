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

import numpy as np
import pytest

from convlab.serving import container
from convlab.study import paths

NAME = container.MODEL_NAME


@pytest.fixture(scope="module")
def standin(tarball, tmp_path_factory):
    """The stand-in serving the artifact's SavedModel, in this environment's TensorFlow."""
    folder = tmp_path_factory.mktemp("standin")
    with tarfile.open(tarball) as archive:
        archive.extractall(folder, filter="data")
    port = container._free_ports(1)[0]
    log = folder / "standin.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, str(paths.PACKAGE_DIR / "serving" / "tfserving_standin.py"), str(folder), str(port), NAME],
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    try:
        container._wait_for(f"http://127.0.0.1:{port}/v1/models/{NAME}", process, "The TF Serving stand-in", log)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def call(url: str, body, method: str = "POST", path: str = f"/v1/models/{NAME}:predict") -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data if method == "POST" else None, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


IMAGE = np.zeros((28, 28, 1)).tolist()


def input_name(url: str) -> str:
    """The signature's one input name, as the model's metadata would give it (read from a refusal that names it)."""
    status, answer = call(url, {"instances": [{"not_the_input": IMAGE}]})
    assert status == 400
    return answer["error"].rsplit("must only have keys: ", 1)[1]


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
        ({"instances": "not a list"}, "Excepting 'instances' to be an list/array"),
        ({"instances": []}, "No values in 'instances' array"),
        ({"something": 1}, "Missing 'inputs' or 'instances' key"),
        (b"", "JSON Parse error: The document is empty"),
        (b"{not json", "JSON Parse error:"),
        ([1, 2], "Is not object"),
        ({"inputs": {"nope": [IMAGE]}}, "Missing named input:"),
        ({"instances": [{"nope": IMAGE}]}, "must only have keys:"),
        ({"instances": [IMAGE, {"x": 1}]}, "Expecting value/list but got object at item 1 of input list"),
        ({"instances": [[[0.0]], IMAGE]}, "Encountered list at unexpected size"),
    ],
)
def test_a_request_tf_serving_refuses_is_refused_with_its_message(standin, body, message):
    status, answer = call(standin, body)
    assert status == 400 and list(answer) == ["error"] and message in answer["error"], answer


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
