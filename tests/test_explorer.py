"""The explorer (`make explore`) over the smoke run's MNIST models: its API case by case, its server against raw
hostile requests on a socket (foreign Host, oversized, stalled or garbage requests: JSON 4xx and a closed connection
within a second), its process (loopback only, Ctrl-C), and the page in a real headless browser (Debian's chromium
through chromium-driver): shifting with the arrow keys, drawing, noise and the permutation, each time the
probabilities shown being the models' own for the pixels shown. The screenshot is kept (`EXPLORER_SCREENSHOT`, else
under the test's temporary folder).

A run of the quick profile's shape (the smoke run's FC network and CNN alone: no translation probe records, no
permutation pair) is built in a temporary folder: there the explorer computes the shift curves from the models, and
the scramble toggle shows the run's own models on the scrambled image; the API and the page are tested on it too."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from werkzeug.test import Client

from convlab.datasets import data, transforms
from convlab.experiments import probes
from convlab.explorer import answers, server

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture(scope="module")
def explorer(smoke_root, shared_data):
    return answers.load(smoke_root / "reports" / "mnist", "mnist", shared_data)


@pytest.fixture(scope="module")
def client(explorer):
    return Client(server.application(explorer))


@pytest.fixture(scope="module")
def quick_run(smoke_root, tmp_path_factory) -> Path:
    """A report folder of the quick profile's shape: the smoke run's fc_baseline and cnn of seed 0 (records and
    model files, copied) and nothing else: no probe records (notebook 07), no permuted models (notebook 08)."""
    source, report_dir = smoke_root / "reports" / "mnist", tmp_path_factory.mktemp("quick") / "mnist"
    for folder in ("results", "models"):
        (report_dir / folder).mkdir(parents=True)
    for name in answers.PAIR.values():
        record = json.loads((source / "results" / f"{name}-seed0.json").read_text())
        shutil.copy2(source / "results" / f"{name}-seed0.json", report_dir / "results")
        shutil.copy2(source / "models" / Path(record["model_file"]).name, report_dir / "models")
    return report_dir


@pytest.fixture(scope="module")
def quick(quick_run, shared_data):
    return answers.load(quick_run, "mnist", shared_data)


@pytest.fixture(scope="module")
def quick_client(quick):
    return Client(server.application(quick))


@pytest.fixture(scope="module")
def live(explorer):
    """The explorer's own server (`server.make_server`) on a free port, in a thread; yields its port."""
    running = server.make_server(explorer, 0)
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    yield running.port
    running.shutdown()


def predict(client, body, content_type="application/json"):
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post("/api/predict", data=payload, headers={"Content-Type": content_type})


def own_predictions(model, pixels) -> np.ndarray:
    return model.keras_model.predict(data.scale_images(np.asarray(pixels, dtype=np.uint8).reshape(1, 28, 28)), verbose=0)[0]


# --- the API ---------------------------------------------------------------------------------------------------------


def test_an_answer_is_each_models_own_prediction_with_the_cnns_first_layer(client, explorer):
    pixels = explorer.dataset.x_test[3].reshape(-1).tolist()
    answer = predict(client, {"pixels": pixels}).json
    for kind in ("fc", "cnn"):
        assert np.allclose(
            answer["models"][kind]["probabilities"], own_predictions(explorer.models[kind], pixels), rtol=0, atol=1e-7
        )
        top = answer["models"][kind]["top3"]
        assert len(top) == 3 and top[0][1] >= top[1][1] >= top[2][1]
    filters, side = explorer.models["cnn"].record["model"]["filters"][0], answer["activations"]["side"]
    assert side == (28 if explorer.models["cnn"].record["model"]["padding"] == "same" else 28 - 2)
    maps = answer["activations"]["maps"]
    assert len(maps) == filters and all(len(map_) == side * side for map_ in maps)
    assert max(max(map_) for map_ in maps) == 255
    permuted = predict(client, {"pixels": pixels, "permuted": True}).json
    assert permuted["models"]["cnn"]["label"].startswith("CNN trained on scrambled pixels (seed 0")
    assert np.allclose(permuted["models"]["fc"]["probabilities"], own_predictions(explorer.permuted["fc"], pixels), atol=1e-7)


def test_info_names_the_models_the_permutation_and_the_shift_curves(client, explorer):
    info = client.get("/api/info").json
    assert info["dataset"] == "mnist" and info["test_images"] == len(explorer.dataset.y_test)
    assert info["titles"] == {"fc": "FC network", "cnn": "CNN"}
    assert info["models"]["cnn"].startswith("CNN (seed 0, test accuracy ") and info["models"]["fc"].startswith("FC network (")
    assert info["permuted_models"]["fc"].startswith("FC network trained on scrambled pixels (seed 0")
    assert info["permutation"] == transforms.pixel_permutation(0).tolist() and info["scramble"] == "trained"
    measured = client.get("/api/curves").json
    assert measured["source"] == "probe" and measured["scrambled"] is None, "the smoke run has notebooks 07 and 08"
    horizontal = measured["curves"]["cnn"]["horizontal"]
    assert horizontal[0][0] == 0 and all(0 <= accuracy <= 100 for _, accuracy in horizontal)
    assert measured["curves"]["cnn"]["seeds"] == [0] and measured["images"] == measured["curves"]["cnn"]["images"] > 0
    image = client.get("/api/image/7").json
    assert image["pixels"] == explorer.dataset.x_test[7].reshape(-1).tolist() and image["label"] == int(
        explorer.dataset.y_test[7]
    )


BAD_REQUESTS = [
    ("GET", "/nowhere", None, None, 404, "No /nowhere here"),
    ("GET", "/api/image/10000000", None, None, 404, "No test image 10000000"),
    ("GET", "/api/image/-1", None, None, 404, "No test image -1"),
    ("PUT", "/api/predict", b"{}", "application/json", 405, "PUT is not allowed on /api/predict; use POST"),
    ("GET", "/api/predict", None, None, 405, "use POST"),
    ("POST", "/api/info", b"{}", "application/json", 405, "use GET"),
    ("POST", "/api/predict", b"pixels", "text/plain", 415, "not text/plain"),
    ("POST", "/api/predict", b"{", "application/json", 400, "not JSON"),
    ("POST", "/api/predict", b"[]", "application/json", 400, "JSON object"),
    ("POST", "/api/predict", b'{"pixels": [1, 2]}', "application/json", 400, "784 values (28 rows of 28), got 2"),
    ("POST", "/api/predict", json.dumps({"pixels": [0] * 783 + [256]}).encode(), "application/json", 400, "found 256"),
    ("POST", "/api/predict", json.dumps({"pixels": [0] * 783 + [0.5]}).encode(), "application/json", 400, "found 0.5"),
    ("POST", "/api/predict", json.dumps({"pixels": [True] * 784}).encode(), "application/json", 400, "found true"),
    (
        "POST",
        "/api/predict",
        json.dumps({"pixels": [0] * 784, "permuted": "yes"}).encode(),
        "application/json",
        400,
        "true or false",
    ),
    (
        "POST",
        "/api/predict",
        json.dumps({"pixels": [0] * 784, "shift": 2}).encode(),
        "application/json",
        400,
        "Unknown field(s) shift",
    ),
    ("POST", "/api/predict", b" " * (server.MAX_BODY + 1), "application/json", 413, "an image needs less than"),
]


@pytest.mark.parametrize("method, path, body, content_type, status, words", BAD_REQUESTS)
def test_a_bad_request_gets_a_4xx_that_names_the_problem(client, method, path, body, content_type, status, words):
    headers = {"Content-Type": content_type} if content_type else {}
    answer = client.open(path, method=method, data=body, headers=headers)
    assert answer.status_code == status and answer.mimetype == "application/json"
    assert words in answer.json["error"]
    if status == 405:
        assert answer.headers["Allow"] in ("GET, HEAD", "POST")


def accuracy_of(model, images: np.ndarray, labels: np.ndarray) -> float:
    predicted = model.keras_model.predict(data.scale_images(images), verbose=0).argmax(axis=1)
    return 100 * float(np.mean(predicted == labels))


def test_without_probe_records_the_curves_are_computed_from_the_runs_models_as_the_probe_measures(quick_client, quick):
    info = quick_client.get("/api/info").json
    assert info["models"]["fc"].startswith("FC network (seed 0") and info["scramble"] == "own"
    assert not quick.curves, "the quick run's shape: no translation probe records"
    measured = quick_client.get("/api/curves").json
    assert measured["source"] == "computed" and measured["images"] == answers.CURVE_IMAGES == 1000
    chosen = probes.probe_indices(quick.dataset.y_test, measured["images"])
    images, labels = quick.dataset.x_test[chosen], quick.dataset.y_test[chosen]
    for kind, model in quick.models.items():
        curves = measured["curves"][kind]
        assert curves["seeds"] == [0] and curves["images"] == 1000
        assert set(curves) == {"horizontal", "vertical", "seeds", "images"}
        for direction in answers.CURVE_DIRECTIONS:
            down, right = probes.SHIFT_DIRECTIONS[direction]
            assert [shift for shift, _ in curves[direction]] == list(range(answers.MAX_SHIFT + 1))
            for shift in (0, 3):  # the probe's zero-filled shift, one way, on the probe's own test images
                moved = transforms.shift_images(images, down * shift, right * shift)
                assert curves[direction][shift][1] == pytest.approx(accuracy_of(model, moved, labels), abs=1e-9)
        scrambled = transforms.permute_pixels(images, np.asarray(quick.permutation))
        assert measured["scrambled"][kind] == pytest.approx(accuracy_of(model, scrambled, labels), abs=1e-9)
    assert quick.permutation == transforms.pixel_permutation(answers.PERMUTATION_SEED).tolist()
    started = time.perf_counter()
    assert quick_client.get("/api/curves").json == measured and quick.measure() is quick.measure(), "computed once"
    print(f"\ncurves and accuracy on scrambled images computed in {measured['seconds']:.1f} s; asked again: "
          f"{1000 * (time.perf_counter() - started):.0f} ms")  # fmt: skip


def test_without_the_permutation_models_the_toggle_shows_the_runs_own_models_on_the_scrambled_image(quick_client, quick):
    pixels = quick.dataset.x_test[3]
    plain = predict(quick_client, {"pixels": pixels.reshape(-1).tolist()}).json
    answer = predict(quick_client, {"pixels": pixels.reshape(-1).tolist(), "permuted": True})
    assert answer.status_code == 200 and answer.json["scramble"] == "own"
    scrambled = transforms.permute_pixels(pixels[np.newaxis], np.asarray(quick.permutation))[0]
    for kind, model in quick.models.items():
        shown = answer.json["models"][kind]
        assert np.allclose(shown["probabilities"], own_predictions(model, scrambled), rtol=0, atol=1e-7)
        assert shown["label"].startswith(answers.TITLES[kind] + " (seed 0") and "given the scrambled pixels" in shown["label"]
        assert shown["probabilities"] != plain["models"][kind]["probabilities"]
    assert answer.json["activations"] == quick.activation_maps(scrambled), "the CNN's maps of the scrambled image"


def test_with_nothing_trained_it_names_the_command_that_trains_the_pair(tmp_path, shared_data, capsys):
    status = server.main(["--dataset", "fashion_mnist", "--reports", str(tmp_path), "--data-dir", str(shared_data)])
    assert status == 1
    assert 'make report DATASET=fashion_mnist NOTEBOOKS="02_fc_baseline 03_cnn" PROFILE=quick' in capsys.readouterr().err
    asked = []
    assert not server.offer_training("mnist", "none", ask=lambda prompt: asked.append(prompt) or "n", interactive=True)
    assert asked and "Train the quick pair now" in asked[0]


# --- the server against a hostile client: raw bytes on a socket -------------------------------------------------------


def exchange(port: int, request: bytes) -> tuple[int, dict, dict, float]:
    """Send `request` whole, read until the server closes: status, headers, JSON body and seconds to the close."""
    with socket.create_connection((server.HOST, port), timeout=5) as sock:
        start = time.monotonic()
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):  # b"": the server closed; a connection left open fails on the timeout
            received += chunk
        elapsed = time.monotonic() - start
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    assert status_line.startswith("HTTP/1.1 ") and len(body) == int(headers["content-length"]), received[:300]
    return int(status_line.split()[1]), headers, json.loads(body), elapsed


def client_hello() -> bytes:
    """The first bytes a TLS client sends (`https://127.0.0.1:<port>/`): its ClientHello."""
    tls = ssl.create_default_context().wrap_bio(ssl.MemoryBIO(), outgoing := ssl.MemoryBIO(), server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def chunked(size: int, chunk: int = 60_000) -> bytes:
    pieces = [b"%x\r\n%s\r\n" % (min(chunk, size - at), b"1" * min(chunk, size - at)) for at in range(0, size, chunk)]
    return b"".join(pieces) + b"0\r\n\r\n"


def post(host: str, body: bytes, framing: str | None = None) -> bytes:
    framing = framing or f"Content-Length: {len(body)}"
    return f"POST /api/predict HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n{framing}\r\n\r\n".encode() + body


HOSTILE = {  # name: (the request, given this server's host:port; status; words in the JSON error)
    "foreign Host": (lambda here: b"GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n", 400, "Host 'evil.example' is not this"),
    "foreign Host, right port": (
        lambda here: f"GET /api/info HTTP/1.1\r\nHost: evil.example:{here.split(':')[1]}\r\n\r\n".encode(),
        400,
        "is not this server's: open http://127.0.0.1:",
    ),
    "two Host headers": (
        lambda here: f"GET / HTTP/1.1\r\nHost: {here}\r\nHost: {here}\r\n\r\n".encode(),
        400,
        "2 Host headers",
    ),
    "no Host (HTTP/1.0)": (lambda here: b"GET / HTTP/1.0\r\n\r\n", 400, "no Host header"),
    "absolute URL to another host": (
        lambda here: f"GET http://evil.example/ HTTP/1.1\r\nHost: {here}\r\n\r\n".encode(),
        400,
        "Host 'evil.example' is not this",
    ),
    "JSON nested 30,000 deep": (lambda here: post(here, b"[" * 30_000 + b"]" * 30_000), 400, "nested too deep"),
    "chunked body of 1.2 MB": (
        lambda here: post(here, chunked(1_200_000), "Transfer-Encoding: chunked"),
        413,
        "an image needs less than 65536",
    ),
    "1.2 MB announced, 100 KB sent, the socket left open": (
        lambda here: post(here, b" " * 100_000, "Content-Length: 1200000"),
        413,
        "(Content-Length 1200000) is over the limit",
    ),
    "malformed chunks": (lambda here: post(here, b"zz\r\n{}\r\n0\r\n\r\n", "Transfer-Encoding: chunked"), 400, "malformed"),
    "short body": (lambda here: post(here, b'{"pixels": [', "Content-Length: 4000"), 408, "The body stalled"),
    "garbage request line": (lambda here: b"\x00\xffHELLO there\r\n\r\n", 400, "Bad HTTP/0.9 request type"),
    "garbage of three words": (lambda here: b"HELLO THERE WORLD\r\n\r\n", 400, "Bad request version ('WORLD')"),
    "empty request line": (lambda here: b"\r\n\r\n", 400, "The request line is empty"),
    "HTTP/0.9 request line": (lambda here: b"GET /\r\n", 400, "HTTP/0.9 is not served"),
    "TLS ClientHello": (lambda here: client_hello(), 400, "plain HTTP, not HTTPS"),
    "URL of 70 KB": (lambda here: f"GET /{'a' * 70_000} HTTP/1.1\r\nHost: {here}\r\n\r\n".encode(), 414, "over 65536"),
    "stalled headers": (lambda here: f"GET / HTTP/1.1\r\nHost: {here}\r\n".encode(), 408, "The request stalled"),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_request_gets_a_json_4xx_within_a_second_and_the_connection_closes(live, name):
    make, expected, words = HOSTILE[name]
    status, headers, body, elapsed = exchange(live, make(f"127.0.0.1:{live}"))
    assert (status, headers["content-type"], headers["connection"]) == (expected, "application/json", "close")
    assert words in body["error"], body
    assert elapsed < 1, f"{name}: answered and closed after {elapsed:.2f} s"


def test_the_servers_own_names_are_served_over_a_socket_chunked_bodies_too(live, explorer):
    for host in (f"127.0.0.1:{live}", f"localhost:{live}", f"LOCALHOST:{live}"):
        status, headers, body, _ = exchange(live, f"GET /api/image/5 HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        assert status == 200 and body["label"] == int(explorer.dataset.y_test[5]) and headers["connection"] == "close"
    image = json.dumps({"pixels": explorer.dataset.x_test[5].reshape(-1).tolist()}).encode()
    for framing, sent in (("Transfer-Encoding: chunked", b"%x\r\n%s\r\n0\r\n\r\n" % (len(image), image)), (None, image)):
        status, _, body, elapsed = exchange(live, post(f"127.0.0.1:{live}", sent, framing))
        assert status == 200 and set(body["models"]) == {"fc", "cnn"} and elapsed < 1
    status, _, body, _ = exchange(live, f"GET /api/info HTTP/1.1\r\nHost: 127.0.0.1:{live + 1}\r\n\r\n".encode())
    assert status == 400 and "is not this server's" in body["error"], "another port on this machine is another server"


def test_a_connection_that_sends_nothing_is_closed_without_an_answer(live):
    with socket.create_connection((server.HOST, live), timeout=5) as sock:
        start = time.monotonic()
        assert sock.recv(1024) == b"" and time.monotonic() - start < 1


@pytest.mark.slow  # about 8 s: a process of its own loads TensorFlow and the models
def test_it_listens_on_the_loopback_address_only_and_stops_cleanly_on_ctrl_c(smoke_root, shared_data):
    process = subprocess.Popen(
        [sys.executable, "-m", "convlab.explorer.server", "--dataset", "mnist", "--port", "0"]
        + ["--reports", str(smoke_root / "reports"), "--data-dir", str(shared_data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        line = ""
        while "is at http" not in line:
            line = process.stdout.readline()
            assert line or process.poll() is None, "the explorer ended before it served"
        url = re.search(r"http://(\S+):(\d+)/", line)
        assert url.group(1) == "127.0.0.1"
        import psutil

        listening = [c for c in psutil.Process(process.pid).net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
        assert [c.laddr.ip for c in listening] == ["127.0.0.1"]
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
        assert process.returncode == 0 and "Stopped: the explorer has closed its port." in output
        assert "Traceback" not in output
    finally:
        process.kill()


# --- the page in a real browser --------------------------------------------------------------------------------------


@pytest.fixture(params=["smoke run", "quick run"])
def shape(request) -> str:
    """The run the page is tested on: the smoke run (probe records, the permutation pair) or the quick profile's
    shape (neither)."""
    return request.param


@pytest.fixture
def shown_explorer(shape, request):
    return request.getfixturevalue("explorer" if shape == "smoke run" else "quick")


@pytest.fixture
def browser(shown_explorer):
    explorer = shown_explorer
    if not (CHROMIUM and DRIVER):
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser test: apt-get install --no-install-recommends chromium chromium-driver")
        pytest.skip("needs Debian's chromium and its driver: apt-get install --no-install-recommends chromium chromium-driver")
    from selenium import webdriver

    running = server.make_server(explorer, 0)
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1100"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=DRIVER), options=options)
    driver.set_script_timeout(30)
    try:
        driver.get(f"http://{server.HOST}:{running.port}/")
        yield driver, f"http://{server.HOST}:{running.port}"
    finally:
        driver.quit()
        running.shutdown()


def answered(driver) -> int:
    return driver.execute_script("return window.explorer.answered")


def settle(driver, before: int) -> dict:
    """Wait until the page has answered after `before` and nothing is in flight; its last answer and what it shows."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done = driver.execute_script(
            "const e = window.explorer; return e.answered > arguments[0] && !e.pending && !e.again;", before
        )
        if done:
            break
        time.sleep(0.02)
    else:
        raise AssertionError("the page did not answer within 30 s")
    shown = {}
    for kind in ("fc", "cnn"):
        box = driver.find_element("id", kind)
        rows = [
            (row.get_attribute("data-class"), row.find_element("class name", "percent").text)
            for row in box.find_elements("class name", "row")
        ]
        shown[kind] = {"probabilities": json.loads(box.get_attribute("data-probabilities")), "rows": rows}
    return {"answer": driver.execute_script("return window.explorer.lastAnswer"), "shown": shown}


def check_shown(explorer, seen: dict) -> None:
    """The probabilities on the page are the models' own `predict` on the pixels the page sent, to the digit shown:
    scrambled, notebook 08's pair on them (their first layer scrambles), else the run's own models on the scrambled
    pixels."""
    pixels, permuted = seen["answer"]["pixels"], seen["answer"]["permuted"]
    chosen = explorer.permuted if permuted else explorer.models
    if permuted and not explorer.permuted:
        chosen = explorer.models
        pixels = transforms.permute_pixels(np.asarray(pixels, dtype=np.uint8)[np.newaxis], np.asarray(explorer.permutation))[0]
    for kind in ("fc", "cnn"):
        own = own_predictions(chosen[kind], pixels)
        assert np.allclose(seen["shown"][kind]["probabilities"], own, rtol=0, atol=1e-7), kind
        top = np.argsort(own)[::-1][:3]
        assert seen["shown"][kind]["rows"] == [(explorer.dataset.class_names[i], f"{100 * own[i]:.1f}%") for i in top], kind


def curves_drawn(driver) -> dict:
    """Wait for the page's shift charts: the points of each polyline drawn, the note above them and its source."""
    deadline = time.monotonic() + 120  # the quick run's are computed on the first request
    while driver.execute_script("return window.explorer.measured") is None:
        assert time.monotonic() < deadline, "the page got no shift curves within 120 s"
        time.sleep(0.05)
    drawn = {
        f"{direction} {kind}": int(line.get_attribute("data-points"))
        for direction in ("horizontal", "vertical")
        for kind in ("fc", "cnn")
        for line in driver.find_element("id", direction).find_elements("css selector", f"polyline.{kind}")
    }
    note = driver.find_element("id", "curveNote")
    return {"points": drawn, "note": note.text, "source": note.get_attribute("data-source")}


def test_the_page_shifts_draws_scrambles_and_shows_the_models_own_answers(browser, shown_explorer, shape, tmp_path):
    driver, origin = browser
    explorer = shown_explorer
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    first = settle(driver, 0)
    assert first["answer"]["pixels"] == explorer.dataset.x_test[0].reshape(-1).tolist()
    check_shown(explorer, first)
    assert [driver.find_element("css selector", f"#{kind} h2").text for kind in ("fc", "cnn")] == ["FC network", "CNN"]
    assert driver.find_element("css selector", "#fc .which").text.startswith("FC network (seed 0, test accuracy ")

    curves = curves_drawn(driver)
    assert len(curves["points"]) == 4 and all(points >= 5 for points in curves["points"].values()), curves
    if shape == "quick run":  # shifts 0…8 one way, drawn both ways: 17 points
        assert set(curves["points"].values()) == {2 * answers.MAX_SHIFT + 1}
        assert curves["source"] == "computed" and "computed by the explorer from the run's seed-0 models" in curves["note"]
        assert "on 1,000 test images" in curves["note"] and "no probe records" in curves["note"]
    else:
        assert curves["source"] == "probe" and "translation probe, notebook 07" in curves["note"]

    body = driver.find_element("tag name", "body")
    latencies = []
    for key in [Keys.ARROW_RIGHT] * 3 + [Keys.ARROW_DOWN] * 2:
        before = answered(driver)
        body.send_keys(key)
        seen = settle(driver, before)
        latencies.append(driver.execute_script("return window.explorer.latencies.at(-1)"))
    expected = transforms.shift_images(explorer.dataset.x_test[:1], 2, 3)[0]
    assert seen["answer"]["pixels"] == expected.reshape(-1).tolist(), "three right and two down, zero-filled as the probe shifts"
    assert driver.find_element("id", "shift").text == "shift 3, 2"
    check_shown(explorer, seen)
    mark = driver.find_element("id", "horizontalMark").get_attribute("x1")
    assert float(mark) > 172.5, "the current shift is marked right of centre on the curve"

    before = answered(driver)
    driver.find_element("id", "clear").click()
    canvas = driver.find_element("id", "image")
    stroke = ActionChains(driver).move_to_element_with_offset(canvas, -60, -80).click_and_hold()
    stroke.move_by_offset(0, 60).move_by_offset(0, 60).move_by_offset(0, 40).release().perform()
    drawn = settle(driver, before)
    assert sum(drawn["answer"]["pixels"]) > 255 * 8, "a stroke drawn with the mouse"
    check_shown(explorer, drawn)

    driver.find_element("id", "load").click()
    loaded = settle(driver, answered(driver) - 1)
    before = answered(driver)
    driver.execute_script("const n = document.getElementById('noise'); n.value = 60; n.dispatchEvent(new Event('input'));")
    noisy = settle(driver, before)
    assert noisy["answer"]["pixels"] != loaded["answer"]["pixels"]
    check_shown(explorer, noisy)

    toggle, note = driver.find_element("id", "permuted"), driver.find_element("id", "scrambleNote").text
    assert toggle.is_enabled()
    if shape == "quick run":
        assert "no models trained on scrambled pixels: they come with notebook 08" in note
        assert re.search(r"on 1,000 scrambled test images the FC network is right [\d.]+% of the time, the CNN [\d.]+%", note)
    else:
        assert "the models of notebook 08, trained on scrambled pixels" in note
    before = answered(driver)
    toggle.click()
    scrambled = settle(driver, before)
    assert scrambled["answer"]["permuted"] is True and scrambled["answer"]["pixels"] == noisy["answer"]["pixels"]
    check_shown(explorer, scrambled)
    for kind in ("fc", "cnn"):
        assert scrambled["shown"][kind]["probabilities"] != noisy["shown"][kind]["probabilities"], "scrambling changes it"

    resources = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert resources and all(name.startswith(origin) for name in resources), "nothing is fetched from elsewhere"
    screenshot = Path(os.environ.get("EXPLORER_SCREENSHOT", tmp_path / "explorer.png"))
    if shape == "quick run":
        screenshot = screenshot.with_name(f"{screenshot.stem}-quick{screenshot.suffix}")
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(screenshot))
    print(f"\nexplorer screenshot: {screenshot}; key press to updated probabilities: median {np.median(latencies):.0f} ms, "
          f"at most {max(latencies):.0f} ms over {len(latencies)} presses")  # fmt: skip
