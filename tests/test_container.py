"""Conformance: the artifact as the SageMaker TF Serving containers' own front-end serves it, in each image's packages.

The front-end code is read from `../shared/reference/sagemaker-tfs-container/` (never copied here) and runs
in an environment with exactly the image's Python packages (`make serving-envs`); TF Serving is stood in
for by the SavedModel loaded in TensorFlow of the serving version.
"""

from __future__ import annotations

import json
import tarfile
import urllib.request

import keras
import numpy as np
import pytest

from convlab.datasets import data
from convlab.serving import artifact, client, container

DEPLOYED = artifact.SERVING_IMAGE_VERSION

pytestmark = pytest.mark.skipif(
    not container.reference_available(DEPLOYED),
    reason=f"the containers' reference front-end is not in {container.reference_dir()}: put ../shared beside the repository",
)


def require_environments(version: str, runtime: bool = False) -> None:
    """With the reference here, a missing environment is a setup error, not a reason to skip."""
    paths = [container.frontend_python(version)] + ([container.runtime_python(version)] if runtime else [])
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        pytest.fail(f"No environment of the TF Serving {version} image at {missing}: run `make serving-envs`.")


CLIENT_TIMEOUT = 2  # nginx's client_header_timeout and client_body_timeout here; 60 s (nginx's default) otherwise


@pytest.fixture(scope="module")
def endpoint(tarball):
    require_environments(DEPLOYED, runtime=True)
    with container.ContainerEndpoint(tarball, DEPLOYED, client_timeout=CLIENT_TIMEOUT) as served:
        yield served


@pytest.fixture(scope="module")
def endpoint_2_19(tarball):
    require_environments("2.19")
    with container.ContainerEndpoint(tarball, "2.19", client_timeout=CLIENT_TIMEOUT) as served:
        yield served


@pytest.fixture(scope="module")
def test_images(fashion):
    return data.subset(fashion, train_size=600, test_size=200, seed=0)


def test_package_lists_are_read_from_the_images_build_files():
    old, new = container.image_requirements("2.19"), container.image_requirements("2.20")
    assert "falcon==3.1.0" in old.requirements and "falcon==3.1.0" in new.requirements
    assert not any(requirement.startswith("numpy") for requirement in old.requirements + old.without_dependencies)
    assert "numpy==1.26.4" in new.requirements
    assert old.without_dependencies == ("tensorflow-serving-api==2.19.0",)
    assert new.without_dependencies == ("tensorflow-serving-api==2.20.0",)
    assert old.python == new.python == "3.12"


@pytest.mark.parametrize("version", ["2.19", "2.20"])
def test_each_environment_holds_the_image_packages_and_nothing_of_ours(version):
    require_environments(version)
    packages = container.installed_packages(container.frontend_python(version))
    assert packages["falcon"] == "3.1.0" and "gunicorn" in packages and "gevent" in packages
    assert packages["tensorflow-serving-api"] == f"{version}.0"
    assert not {"tensorflow", "tensorflow-cpu", "keras", "convlab"} & set(packages)
    assert packages.get("numpy") == (None if version == "2.19" else "1.26.4")


def test_the_server_starts_and_ping_answers(endpoint):
    with urllib.request.urlopen(f"{endpoint.url}/ping", timeout=10) as answer:
        assert answer.status == 200
    assert "python_service.py" in endpoint.front_end and "gunicorn" in endpoint.front_end


def test_tf_serving_stand_in_runs_the_serving_version_of_tensorflow(endpoint):
    assert endpoint.tensorflow_version.startswith(f"{DEPLOYED}."), endpoint.tensorflow_version
    assert keras.version().startswith("3.") and not endpoint.tensorflow_version.startswith(artifact.TRAINING_IMAGE_VERSION)


def test_served_predictions_equal_the_in_process_model(endpoint, trained, test_images):
    """A SavedModel written by TF 2.21, loaded by TF 2.20 behind the real front-end, predicts what Keras does here."""
    model = keras.models.load_model(trained["output_dir"] / "cnn-seed0.keras")
    local = model.predict(data.scale_images(test_images.x_test), verbose=0)
    served = client.serve_predictions(endpoint.url, test_images.x_test, batch_size=100)
    assert np.array_equal(served.argmax(axis=1), local.argmax(axis=1))
    assert np.abs(served - local).max() < 1e-5
    assert float(np.mean(served.argmax(axis=1) == test_images.y_test)) == pytest.approx(trained["record"]["test"]["accuracy"])


def test_csv_requests_are_served_like_json(endpoint, test_images):
    images = test_images.x_test[:3]
    csv = "\n".join(",".join(str(int(value)) for value in image.ravel()) for image in images).encode()
    status, from_csv = client.invoke(endpoint.url, csv, "text/csv")
    _, from_json = client.invoke(endpoint.url, client.json_body(images))
    assert status == 200
    assert [p["label"] for p in from_csv["predictions"]] == [p["label"] for p in from_json["predictions"]]


EXAMPLES = list(client.BAD_REQUEST_EXAMPLES.items())


@pytest.mark.parametrize("case, example", EXAMPLES, ids=[case for case, _ in EXAMPLES])
def test_bad_requests_get_the_status_and_message_of_the_deployed_front_end(endpoint, endpoint_2_19, case, example):
    """2.20 keeps the handler's 4xx status (falcon's body); 2.19 turns the same refusal into 500 {"error": ...}."""
    body, content_type, status = example
    answer_status, answer = client.invoke(endpoint.url, body, content_type)
    assert answer_status == status and set(answer) == {"title", "description"}, answer
    assert answer["title"].startswith(str(status)) and "; " in answer["description"], "the message names the problem and the fix"
    old_status, old = client.invoke(endpoint_2_19.url, body, content_type)
    assert (old_status, old) == (500, {"error": answer["description"]})
    good_status, good = client.invoke(endpoint.url, client.json_body(np.zeros((1, 28, 28))))
    assert good_status == 200 and len(good["predictions"]) == 1, "the endpoint keeps serving"


def test_the_bad_request_table_shows_what_a_client_sees(endpoint):
    table = client.bad_request_table(endpoint.url)
    expected = {case: status for case, (_, _, status) in client.BAD_REQUEST_EXAMPLES.items()}
    assert table["status"].to_dict() == expected
    assert (table["message"].str.len() > 20).all()
    assert table.loc["too many images", "through invoke_endpoint"].startswith("ModelError, OriginalStatusCode 413")


def handlers_with(tarball, tmp_path, line: str):
    """The same artifact, with one line added to the imports of its `code/inference.py`."""
    folder = tmp_path / "artifact"
    with tarfile.open(tarball) as archive:
        archive.extractall(folder, filter="data")
    script = folder / "code" / "inference.py"
    future = "from __future__ import annotations\n"
    script.write_text(script.read_text().replace(future, future + line + "\n", 1))
    return artifact.pack_model(folder, tmp_path / "model.tar.gz")


def test_handlers_that_import_numpy_never_start_under_2_19(tarball, tmp_path):
    """The failure that would cost a training job and a health-check timeout on AWS, caught here; 2.20 has numpy."""
    require_environments("2.19")
    with_numpy = handlers_with(tarball, tmp_path, "import numpy")
    with pytest.raises(container.ServerStartError, match="No module named 'numpy'"):
        container.ContainerEndpoint(with_numpy, "2.19")
    with container.ContainerEndpoint(with_numpy, DEPLOYED) as served:
        assert urllib.request.urlopen(f"{served.url}/ping", timeout=10).status == 200


def test_the_shipped_handlers_import_only_the_standard_library_and_falcon():
    script = (artifact.ENTRY_DIR / "inference.py").read_text()
    imported = {line.split()[1].split(".")[0] for line in script.splitlines() if line.startswith(("import ", "from "))}
    assert imported <= {"__future__", "json", "math", "pathlib"}, imported
    assert "    import falcon" in script


def test_a_stand_in_start_failure_names_the_reason(tmp_path, tarball):
    require_environments(DEPLOYED)
    folder = tmp_path / "no-model"
    with tarfile.open(tarball) as archive:
        archive.extractall(folder, filter="data")
    (folder / "1" / "saved_model.pb").write_bytes(b"not a SavedModel")
    with tarfile.open(tmp_path / "broken.tar.gz", "w:gz") as archive:
        for entry in ("1", "code"):
            archive.add(folder / entry, arcname=entry)
    with pytest.raises(container.ServerStartError, match="TF Serving stand-in exited"):
        container.ContainerEndpoint(tmp_path / "broken.tar.gz", DEPLOYED)


def test_labels_travel_with_the_handlers(endpoint, test_images):
    status, answer = client.invoke(endpoint.url, client.json_body(test_images.x_test[:1]))
    assert status == 200 and answer["class_names"][0] == "T-shirt/top"
    assert json.dumps(answer["predictions"][0]["probabilities"])


def model_error(status: int, body: str):
    """What SageMaker Runtime raises for a container answer other than 200 (botocore's modeled ModelError, HTTP 424)."""
    from botocore.stub import ANY

    return {
        "method": "invoke_endpoint",
        "service_error_code": "ModelError",
        "service_message": f'Received client error ({status}) from primary with message "{body}".',
        "http_status_code": 424,
        "modeled_fields": {
            "OriginalStatusCode": status,
            "OriginalMessage": body,
            "LogStreamArn": "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/sagemaker/Endpoints/convlab-endpoint",
        },
        "expected_params": {"EndpointName": "convlab-endpoint", "ContentType": ANY, "Body": ANY},
    }


def test_through_invoke_endpoint_every_bad_request_keeps_the_front_ends_status_and_message(endpoint, monkeypatch):
    """Each row of the table: the real front-end's answer, as SageMaker Runtime hands it to the client (ModelError)."""
    import boto3
    from botocore.stub import Stubber

    from convlab.serving import aws_endpoint

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    runtime = boto3.client("sagemaker-runtime", region_name="eu-west-1")
    answers = {}
    with Stubber(runtime) as stubber:
        for case, (body, content_type, _) in client.BAD_REQUEST_EXAMPLES.items():
            status, answer = client.invoke(endpoint.url, body, content_type)
            answers[case] = (status, client.error_message(answer))
            stubber.add_client_error(**model_error(status, json.dumps(answer)))
        rows = aws_endpoint.bad_requests_through_endpoint(runtime, "convlab-endpoint")
        stubber.assert_no_pending_responses()
    assert {row["request"]: (row["status"], row["message"]) for row in rows} == answers
    assert all(row["error"] == "ModelError" for row in rows)
    expected = {case: status for case, (_, _, status) in client.BAD_REQUEST_EXAMPLES.items()}
    assert {row["request"]: row["status"] for row in rows} == expected


def test_a_payload_the_runtime_refuses_is_reported_with_the_runtimes_own_error(monkeypatch):
    import boto3
    from botocore.stub import Stubber

    from convlab.serving import aws_endpoint

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    runtime = boto3.client("sagemaker-runtime", region_name="eu-west-1")
    with Stubber(runtime) as stubber:
        stubber.add_client_error("invoke_endpoint", "ValidationError", "Request payload is too large", http_status_code=413)
        outcome = aws_endpoint.invoke_outcome(runtime, "convlab-endpoint", b"0" * 10, "application/json")
    assert outcome == {"status": None, "message": "Request payload is too large", "error": "ValidationError"}


def test_bursts_of_64_concurrent_clients_through_the_front_end_all_succeed(endpoint, test_images):
    """64 clients at once, three times, through the container's front end and the stand-in behind it: no failure."""
    from concurrent.futures import ThreadPoolExecutor

    body = client.json_body(test_images.x_test[:1])

    def one(_) -> str:
        try:
            return str(client.invoke(endpoint.url, body)[0])
        except OSError as error:
            return type(error).__name__

    with ThreadPoolExecutor(max_workers=64) as pool:
        failures = [[outcome for outcome in pool.map(one, range(64)) if outcome != "200"] for _ in range(3)]
    assert failures == [[]] * 3


DISCOVERY = """
import json, os, sys
from unittest import mock

import serve, tfs_utils

model_root, config_path = sys.argv[1], sys.argv[2]
real = tfs_utils._find_saved_model_files
# The image looks under /opt/ml/model; here the unpacked artifact stands at model_root, a folder named "model" too.
image_root = "/opt/ml/model"
moved = lambda path: real(model_root + path[len(image_root):] if path.startswith(image_root) else path)  # noqa: E731
with mock.patch.object(tfs_utils, "_find_saved_model_files", moved):
    manager = serve.ServiceManager()
    manager._tfs_config_path = config_path
    manager._create_tfs_config()
    print(json.dumps({"default_model": manager._tfs_default_model_name, "models": tfs_utils.find_models()}))
"""


@pytest.mark.parametrize("version", ["2.19", "2.20"])
def test_serve_py_discovers_our_artifact_s_model_under_the_name_the_front_end_is_given(tarball, tmp_path, version):
    """The image's own serve.py model discovery (tfs_utils.find_models, ServiceManager._create_tfs_config), run on the
    unpacked artifact: one model, named as ContainerEndpoint tells the front end, with the artifact's version."""
    import subprocess

    require_environments(version)
    model_root = tmp_path / "opt" / "ml" / "model"
    model_root.mkdir(parents=True)
    with tarfile.open(tarball) as archive:
        archive.extractall(model_root, filter="data")
    config_path = tmp_path / "model-config.cfg"
    done = subprocess.run(
        [str(container.frontend_python(version)), "-c", DISCOVERY, str(model_root), str(config_path)],
        cwd=container.frontend_dir(version),
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(container.frontend_dir(version)), "PYTHONNOUSERSITE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {"default_model": container.MODEL_NAME, "models": [str(model_root)]}
    versions = [path.name for path in model_root.iterdir() if path.name.isdigit()]
    config = config_path.read_text()
    assert f"name: '{container.MODEL_NAME}'" in config and f"base_path: '{model_root}'" in config
    assert [f"versions: {version}" for version in versions] == [
        line.strip() for line in config.splitlines() if "versions:" in line
    ]


# --- what a client gets wrong, answered as the container answers it: nginx, then gunicorn, then python_service ----


def exchange(url: str, request: bytes, timeout: float = 30) -> tuple[float, int, dict[str, str], bytes]:
    """Send bytes as they are on one connection: seconds until the answer (or the close), status, fields, body.

    Status 0 and no bytes: the server closed the connection without an answer."""
    import socket
    import time

    host, port = url.removeprefix("http://").split(":")
    started, answer = time.monotonic(), b""
    with socket.create_connection((host, int(port)), timeout=timeout) as connection:
        connection.sendall(request)
        while chunk := connection.recv(1 << 16):
            answer += chunk
            head, blank, body = answer.partition(b"\r\n\r\n")
            length = [line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")]
            if blank and length and len(body) >= int(length[0]):
                break
    seconds, (head, _, body) = time.monotonic() - started, answer.partition(b"\r\n\r\n")
    if not answer:
        return seconds, 0, {}, b""
    lines = head.decode("latin-1").split("\r\n")
    fields = {name.lower(): value for name, value in (line.split(": ", 1) for line in lines[1:])}  # as gunicorn spells them
    return seconds, int(lines[0].split()[1]), fields, body


def post(header: str, body: bytes, *, path: str = "/invocations", method: str = "POST") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: endpoint\r\nContent-Type: application/json\r\n{header}\r\n\r\n".encode() + body


def nginx_page(status: int, reason: str) -> bytes:
    """nginx's own error page, naming the version the 2.20 image installs (its Dockerfile's NGINX_VERSION)."""
    title = f"{status} {reason}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n"
        "<hr><center>nginx/1.30.3</center>\r\n</body>\r\n</html>\r\n"
    ).encode()


def test_get_invocations_gets_what_each_image_answers(endpoint, endpoint_2_19):
    """GET /invocations reaches python_service's on_get, which takes the lock in /sagemaker/lock-file.lock (created at
    first use, as in the container): 2.20 lists the loaded multi-model endpoint models, none, with 200 {}; 2.19 sleeps a
    second in its lock, then reads an attribute only a multi-model endpoint has and answers falcon's 500."""
    seconds, status, fields, body = exchange(endpoint.url, b"GET /invocations HTTP/1.1\r\nHost: endpoint\r\n\r\n")
    assert (status, body) == (200, b"{}") and fields["server"] == "nginx/1.30.3"
    assert (endpoint.sagemaker_dir / "lock-file.lock").is_file(), "the lock file is in the folder that stands for /sagemaker"
    seconds, status, _, body = exchange(endpoint_2_19.url, b"GET /invocations HTTP/1.1\r\nHost: endpoint\r\n\r\n")
    assert (status, json.loads(body)) == (500, {"title": "500 Internal Server Error"}) and seconds >= 1


NEVER_COMPLETE = [  # (case, request): what nginx waits for, then drops
    ("a body shorter than its Content-Length", post("Content-Length: 100", b'{"instances"')),
    ("Content-Length 10^12", post("Content-Length: 1000000000000", b'{"instances": [[0')),
    ("a header never finished", b"POST /invocations HTTP/1.1\r\nHost: endpoint\r\nContent-Length: 2\r\n"),
]


@pytest.mark.parametrize("case, request_bytes", NEVER_COMPLETE, ids=[case for case, _ in NEVER_COMPLETE])
def test_a_request_that_never_completes_is_dropped_as_nginx_drops_it(endpoint, case, request_bytes):
    """nginx sets no body cap (client_max_body_size 0) and waits client_body_timeout (60 s, its default) for the rest,
    then closes the connection without an answer (its log says 408). Here the wait is CLIENT_TIMEOUT: no hang."""
    seconds, status, _, body = exchange(endpoint.url, request_bytes)
    assert (status, body) == (0, b"") and CLIENT_TIMEOUT <= seconds < CLIENT_TIMEOUT + 3
    assert urllib.request.urlopen(f"{endpoint.url}/ping", timeout=10).status == 200, "the endpoint keeps serving"


def test_a_client_that_accepts_no_json_gets_falcons_406(endpoint):
    """The handler refuses Accept: text/csv with 406; falcon writes an error only as JSON or XML, so the body is
    empty, with Vary: Accept, as in the container. A client that accepts XML reads the reason in XML."""
    request = post("Content-Length: 22", b'{"instances": [[0]]}  ')
    _, status, fields, body = exchange(endpoint.url, request.replace(b"\r\n\r\n", b"\r\nAccept: text/csv\r\n\r\n"))
    assert (status, body, fields["vary"], fields["content-type"]) == (406, b"", "Accept", "application/json")
    _, status, fields, body = exchange(endpoint.url, request.replace(b"\r\n\r\n", b"\r\nAccept: application/xml\r\n\r\n"))
    assert status == 406 and fields["content-type"] == "application/xml"
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?><error><title>406 Not Acceptable</title>')
    assert b"send Accept: application/json or omit it" in body


MALFORMED = [  # (case, request, status, nginx's reason): nginx answers these itself and closes the connection
    ("a TLS handshake", b"\x16\x03\x01 hello\r\n\r\n", 400, "Bad Request"),
    ("a request line without a version", b"GARBAGE\r\n\r\n", 400, "Bad Request"),
    ("a lower-case method", b"post /invocations HTTP/1.1\r\nHost: endpoint\r\n\r\n", 400, "Bad Request"),
    ("a negative Content-Length", post("Content-Length: -5", b""), 400, "Bad Request"),
    ("Content-Length not a number", post("Content-Length: ten", b"{}"), 400, "Bad Request"),
    ("two Content-Length fields", post("Content-Length: 2\r\nContent-Length: 2", b"{}"), 400, "Bad Request"),
    ("no Host in HTTP/1.1", b"GET /ping HTTP/1.1\r\n\r\n", 400, "Bad Request"),
    ("a header line without a colon", post("Bad Header\r\nContent-Length: 2", b"{}"), 400, "Bad Request"),
    ("HTTP/2.0 in plain text", b"GET /ping HTTP/2.0\r\nHost: endpoint\r\n\r\n", 505, "HTTP Version Not Supported"),
    ("a transfer coding other than chunked", post("Transfer-Encoding: gzip", b""), 501, "Not Implemented"),
]


@pytest.mark.parametrize("case, request_bytes, status, reason", MALFORMED, ids=[case for case, *_ in MALFORMED])
def test_a_malformed_request_gets_nginxs_html_page(endpoint, case, request_bytes, status, reason):
    """In the container nginx parses every request first: a malformed one gets its HTML error page, not JSON."""
    _, answer_status, fields, body = exchange(endpoint.url, request_bytes)
    assert (answer_status, fields["content-type"], fields["connection"]) == (status, "text/html", "close")
    assert body == nginx_page(status, reason)
    assert urllib.request.urlopen(f"{endpoint.url}/ping", timeout=10).status == 200, "the endpoint keeps serving"


PASSED_ON = [  # (case, request, status, what the body holds): nginx passes these on; gunicorn or falcon answers
    ("a request line over gunicorn's 4094 bytes", b"GET /ping?" + b"a" * 5000 + b" HTTP/1.1\r\nHost: e\r\n\r\n", 414,
     b"Request Line is too large (5019 &gt; 4094)"),
    ("more than gunicorn's 100 header fields", b"GET /ping HTTP/1.1\r\nHost: e\r\n" + b"X-A: 1\r\n" * 101 + b"\r\n", 431,
     b"Request Header Fields Too Large"),
    ("an unknown method", b"BREW /invocations HTTP/1.1\r\nHost: e\r\n\r\n", 400, b'"description": "Invalid HTTP method"'),
    ("PUT /invocations", b"PUT /invocations HTTP/1.1\r\nHost: e\r\nContent-Length: 0\r\n\r\n", 405, b"405 Method Not Allowed"),
    ("a chunked body, passed on whole", post("Transfer-Encoding: chunked", b"5\r\nhello\r\n0\r\n\r\n"), 400,
     b"The body is not valid JSON"),
    ("a path nginx has no location for", post("Content-Length: 2", b"{}", path="/predict"), 404, b'{"error": "Not Found"}'),
]  # fmt: skip


@pytest.mark.parametrize("case, request_bytes, status, holds", PASSED_ON, ids=[case for case, *_ in PASSED_ON])
def test_what_nginx_passes_on_is_answered_by_gunicorn_or_falcon(endpoint, case, request_bytes, status, holds):
    """gunicorn itself answers a request it refuses with an HTML page (its limits are narrower than nginx's); falcon
    answers wrong methods in JSON; nginx answers a path outside its locations with the template's JSON 404."""
    _, answer_status, fields, body = exchange(endpoint.url, request_bytes)
    assert answer_status == status and holds in body, body[:300]
    assert fields["content-type"] == ("text/html" if status in (414, 431) else "application/json")
