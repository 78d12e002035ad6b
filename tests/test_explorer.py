"""The explorer (`make explore`) over the smoke run's MNIST models: its API case by case, its process (loopback only,
Ctrl-C), and the page in a real headless browser (Debian's chromium through chromium-driver): shifting with the
arrow keys, drawing, noise and the permutation, each time the probabilities shown being the models' own for the
pixels shown. The screenshot is kept (`EXPLORER_SCREENSHOT`, else under the test's temporary folder)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from werkzeug.test import Client

from convlab.datasets import data, transforms
from convlab.explorer import answers, server

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture(scope="module")
def explorer(smoke_root, shared_data):
    return answers.load(smoke_root / "reports" / "mnist", "mnist", shared_data)


@pytest.fixture(scope="module")
def client(explorer):
    return Client(server.application(explorer))


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
    assert permuted["models"]["cnn"]["label"].startswith("cnn_perm")
    assert np.allclose(permuted["models"]["fc"]["probabilities"], own_predictions(explorer.permuted["fc"], pixels), atol=1e-7)


def test_info_names_the_models_the_permutation_and_the_shift_curves(client, explorer):
    info = client.get("/api/info").json
    assert info["dataset"] == "mnist" and info["test_images"] == len(explorer.dataset.y_test)
    assert info["models"]["cnn"].startswith("cnn (seed 0") and info["permuted_models"]["fc"].startswith("fc_baseline_perm")
    assert info["permutation"] == transforms.pixel_permutation(0).tolist()
    horizontal = info["curves"]["cnn"]["horizontal"]
    assert horizontal[0][0] == 0 and all(0 <= accuracy <= 100 for _, accuracy in horizontal)
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


def test_without_the_permutation_models_the_toggle_is_refused(explorer):
    bare = answers.Explorer(explorer.dataset, explorer.models)
    answer = predict(Client(server.application(bare)), {"pixels": [0] * 784, "permuted": True})
    assert answer.status_code == 409 and "no permutation-experiment models" in answer.json["error"]


def test_with_nothing_trained_it_names_the_command_that_trains_the_pair(tmp_path, shared_data, capsys):
    status = server.main(["--dataset", "fashion_mnist", "--reports", str(tmp_path), "--data-dir", str(shared_data)])
    assert status == 1
    assert 'make report DATASET=fashion_mnist NOTEBOOKS="02_fc_baseline 03_cnn" PROFILE=quick' in capsys.readouterr().err
    asked = []
    assert not server.offer_training("mnist", "none", ask=lambda prompt: asked.append(prompt) or "n", interactive=True)
    assert asked and "Train the quick pair now" in asked[0]


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


@pytest.fixture
def browser(explorer):
    if not (CHROMIUM and DRIVER):
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser test: apt-get install chromium chromium-driver")
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from werkzeug.serving import make_server

    running = make_server(server.HOST, 0, server.application(explorer), threaded=True)
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
    """The probabilities on the page are the models' own `predict` on the pixels the page sent, to the digit shown."""
    pixels, permuted = seen["answer"]["pixels"], seen["answer"]["permuted"]
    chosen = explorer.permuted if permuted else explorer.models
    for kind in ("fc", "cnn"):
        own = own_predictions(chosen[kind], pixels)
        assert np.allclose(seen["shown"][kind]["probabilities"], own, rtol=0, atol=1e-7), kind
        top = np.argsort(own)[::-1][:3]
        assert seen["shown"][kind]["rows"] == [(explorer.dataset.class_names[i], f"{100 * own[i]:.1f}%") for i in top], kind


def test_the_page_shifts_draws_scrambles_and_shows_the_models_own_answers(browser, explorer, tmp_path):
    driver, origin = browser
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    first = settle(driver, 0)
    assert first["answer"]["pixels"] == explorer.dataset.x_test[0].reshape(-1).tolist()
    check_shown(explorer, first)

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

    before = answered(driver)
    driver.find_element("id", "permuted").click()
    scrambled = settle(driver, before)
    assert scrambled["answer"]["permuted"] is True
    check_shown(explorer, scrambled)

    resources = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert resources and all(name.startswith(origin) for name in resources), "nothing is fetched from elsewhere"
    screenshot = Path(os.environ.get("EXPLORER_SCREENSHOT", tmp_path / "explorer.png"))
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(screenshot))
    print(f"\nexplorer screenshot: {screenshot}; key press to updated probabilities: median {np.median(latencies):.0f} ms, "
          f"at most {max(latencies):.0f} ms over {len(latencies)} presses")  # fmt: skip
