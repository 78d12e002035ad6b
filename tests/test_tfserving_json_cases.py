"""TensorFlow Serving's own JSON test cases, sent to the TF Serving stand-in as REST predict requests.

Each row is a case of `tensorflow_serving/util/json_tensor_test.cc` (tensorflow/serving; the file is the same on the
r2.20 branch, bc7e9d2, the version the deployed image serves, and at 9d981c5) that applies to a predict request,
translated to the model the artifact serves: one float input (`pixels`, shape [-1, 784]). A body the test feeds to
`FillPredictRequestFromJson` as it is, and that fails there, is sent as it is (the refusal comes before the model
sees a shape); a body the test accepts is sent with its values placed in a row of 784, so that the model runs; where
the test's tensor was not a float, numbers stand for its strings. Expected: the status TF Serving's REST server gives
(InvalidArgument is 400) and a fragment of the message as `json_tensor.cc` composes it (the test's `HasSubstr`,
widened to the whole clause where the source fixes it). Cases of other dtypes (int32, double, string, base64), of
several inputs, and of classify and regress are left out: the model has none of them.
"""

from __future__ import annotations

import json
import sys

import pytest
from test_tfserving_standin import call, running_standin

from convlab.serving import artifact, container

ROW_ZEROS = ["0"] * 784


def row(*first: str) -> str:
    """One image: these literals, as written, then zeros up to 784 values."""
    return "[" + ", ".join([*first, *ROW_ZEROS[len(first) :]]) + "]"


def instances(*rows: str) -> bytes:
    return ('{"instances": [' + ", ".join(rows) + "]}").encode()


def named(*values: str) -> bytes:
    return ('{"instances": [' + ", ".join('{"pixels": ' + value + "}" for value in values) + "]}").encode()


DEEP = 500_000  # the depth both DeeplyNested tests use
DBL_MAX, DBL_MIN = "1.79769e+308", "2.22507e-308"  # absl::Substitute's six digits of numeric_limits<double>
PREDICTIONS, OUTPUTS = '"predictions"', '"outputs"'

CASES = [  # (json_tensor_test.cc test, what the case sends, body, status, message fragment)
    ("SingleUnnamedTensor", "a list of integer rows", instances(row("1", "2"), row("3", "4")), 200, PREDICTIONS),
    (
        "DeeplyNestedWellFormed",
        "an unused key nested 500,000 deep",
        ('{"instances": [' + row() + '], "nested": ' + "[" * DEEP + "]" * DEEP + "}").encode(),
        200,
        PREDICTIONS,
    ),
    (
        "DeeplyNestedMalformed",
        "signature_name nested 500,000 deep",
        ('{"signature_name": ' + "[" * DEEP + "]" * DEEP + "}").encode(),
        400,
        "not formatted correctly. 'signature_name' key must be a string value.",
    ),
    (
        "MixedInputForFloatTensor",
        "integers and decimals",
        instances(row("1", "2.0", "3", "4", "5.003", "0.007")),
        200,
        PREDICTIONS,
    ),
    ("FloatTensorWithPrecisionLoss", "1435774380", instances(row("1435774380")), 200, PREDICTIONS),
    ("FloatTensorWithPrecisionLoss", "1435774380.0", instances(row("1435774380.0")), 200, PREDICTIONS),
    ("FloatTensorThatExceedsMaxReturnsInf", "DBL_MAX", instances(row(DBL_MAX)), 200, PREDICTIONS),
    ("FloatTensorThatExceedsMaxReturnsInf", "-DBL_MAX", instances(row("-" + DBL_MAX)), 200, PREDICTIONS),
    ("FloatTensorThatExceedsMinReturnsZero", "DBL_MIN", instances(row(DBL_MIN)), 200, PREDICTIONS),
    ("FloatTensorThatExceedsMinReturnsZero", "-DBL_MIN", instances(row("-" + DBL_MIN)), 200, PREDICTIONS),
    (
        "SingleUnnamedTensorWithSignature",
        "signature_name with instances",
        ('{"signature_name": "serving_default", "instances": [' + row("1", "2") + "]}").encode(),
        200,
        PREDICTIONS,
    ),
    ("MultipleNamedTensor", "rows as objects keyed by input name", named(row("1"), row("7")), 200, PREDICTIONS),
    (
        "MultipleNamedTensor",
        "NaN and Infinity in a float tensor",
        named(row("1.0", "NaN"), row("2.0", "Infinity")),
        200,
        PREDICTIONS,
    ),
    (
        "SingleUnnamedTensorColumnarFormat",
        "inputs keyed by name",
        ('{"inputs": {"pixels": [' + row("1") + "]}}").encode(),
        200,
        OUTPUTS,
    ),
    ("SingleUnnamedTensorColumnarFormat", "inputs as a plain list", ('{"inputs": [' + row("1") + "]}").encode(), 200, OUTPUTS),
    ("SingleUnnamedTensorErrors", "an empty body", b"", 400, "JSON Parse error: The document is empty"),
    (
        "SingleUnnamedTensorErrors",
        "signature_name a number",
        b'{"signature_name": 5, "instances": [[1,2],[3,4],[5,6,7]]}',
        400,
        "'signature_name' key must be a string value.",
    ),
    (
        "SingleUnnamedTensorErrors",
        "both instances and inputs",
        b'{"instances": [[1,2],[3,4],[5,6,7]], "inputs": [[1,2],[3,4],[5,6,7]]}',
        400,
        "Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist",
    ),
    (
        "SingleUnnamedTensorErrors",
        "rows of different sizes",
        b'{"instances": [[1,2],[3,4],[5,6,7]]}',
        400,
        "Expecting tensor size: 2 but got: 3",
    ),
    (
        "SingleUnnamedTensorErrors",
        "a row nested deeper",
        b'{"instances": [[1,2],[3,4],[[5,6]]]}',
        400,
        "Expecting shape [2] but got: [1,2]",
    ),
    ("SingleUnnamedTensorErrors", "a value, then a list", b'{"instances": [1, [1]]}', 400, "Expecting shape [] but got: [1]"),
    (
        "SingleUnnamedTensorErrors",
        "strings for a float",
        b'{"instances": [[1,2],["a", "b"]]}',
        400,
        'JSON Value: "a" Type: String is not of expected type: float',
    ),
    (
        "MultipleNamedTensorErrors",
        "objects of different shapes",
        named("[[1,2],[3,4],[5,6]]", "[[[7,8],[9,0],[1,2]]]"),
        400,
        "Expecting shape [3,2] but got: [1,3,2]",
    ),
    (
        "MultipleNamedTensorErrors",
        "objects of different sizes",
        named("[[1,2],[3,4],[5,6],[7,8]]", "[[7,8],[9,0],[1,2]]"),
        400,
        "Expecting tensor size: 8 but got: 6",
    ),
    (
        "MultipleNamedTensorErrors",
        "an object, then a list",
        b'{"instances": [{"pixels": [[1,2],[3,4],[5,6]]}, [1, 20, 30], {"pixels": [[[7,8],[9,0],[1,2]]]}]}',
        400,
        "Expecting object but got list at item 1 of input list",
    ),
    (
        "MultipleNamedTensorErrors",
        "a list, then an object",
        b'{"instances": [[1, 2], {"pixels": [3, 4]}]}',  # numbers where the test's string tensor had strings
        400,
        "Expecting value/list but got object at item 1 of input list",
    ),
]


@pytest.fixture(scope="module")
def standin(tarball, tmp_path_factory):
    """The stand-in as the container path runs it: in TensorFlow of the deployed serving version where that
    environment is built (`make serving-envs`), else in this environment's."""
    runtime = container.runtime_python(artifact.SERVING_IMAGE_VERSION)
    python = str(runtime) if runtime.is_file() else sys.executable
    with running_standin(tarball, tmp_path_factory.mktemp("json-cases"), python) as url:
        yield url


def test_the_served_model_has_the_signature_the_cases_are_translated_to(standin):
    status, answer = call(standin, {"instances": [{}]})
    assert status == 400 and answer["error"].endswith("keys must be equal to: pixels"), answer
    assert call(standin, {"instances": [[0] * 784]})[0] == 200


@pytest.mark.parametrize("test, case, body, status, message", CASES, ids=[f"{test}: {case}" for test, case, *_ in CASES])
def test_tf_serving_s_own_json_case(standin, test, case, body, status, message):
    answer_status, answer = call(standin, body)
    text = json.dumps(answer) if answer_status == 200 else answer.get("error", "")
    assert (answer_status, message in text) == (status, True), f"{test} ({case}): {answer_status} {text[:300]}"
