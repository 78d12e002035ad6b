"""Serving the artifact locally: the fallback endpoint's socket and body cap, the choice of front-end, and what it says."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from convlab.analysis import narrative_serving
from convlab.serving import client, endpoint


def test_server_listens_on_loopback_only(tarball):
    import os
    import socket

    import psutil

    with endpoint.LocalEndpoint(tarball, max_body_bytes=1_000_000) as served:
        host, port = served.address
        assert host == "127.0.0.1" and served.url == f"http://127.0.0.1:{port}"
        listening = [
            connection
            for connection in psutil.Process(os.getpid()).net_connections(kind="inet")
            if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port
        ]
    assert [(connection.family, connection.laddr.ip) for connection in listening] == [(socket.AF_INET, "127.0.0.1")]


def test_body_size_cap_defaults_to_sagemakers_limit(tarball):
    with endpoint.LocalEndpoint(tarball) as served:
        assert served.max_body_bytes == endpoint.MAX_BODY_BYTES == 6 * 1024 * 1024
        status, answer = client.invoke(served.url, b"0" * (endpoint.MAX_BODY_BYTES + 1))
    assert status == 413 and f"the limit is {endpoint.MAX_BODY_BYTES}" in answer["error"]


def test_the_fallback_is_used_and_says_why_when_the_reference_is_absent(tarball, tmp_path, monkeypatch):
    from convlab.serving import container

    monkeypatch.setenv(container.REFERENCE_ENV, str(tmp_path / "absent"))
    with endpoint.serve(tarball) as served:
        assert isinstance(served, endpoint.LocalEndpoint)
        assert "fallback" in served.front_end and str(tmp_path / "absent") in served.fallback_reason
        status, answer = client.invoke(served.url, b'{"images": []}')
    assert status == 400 and answer["title"] == "400 Bad Request" and 'no "instances" key' in answer["description"]


FRONT_END_CASES = [  # case, the endpoint, the sentence
    (
        "the container's front-end",
        SimpleNamespace(front_end="the TF Serving 2.20 container's front-end"),
        "Served by the TF Serving 2.20 container's front-end.",
    ),
    (
        "the fallback, and why",
        SimpleNamespace(front_end="the fallback", fallback_reason="no reference code in /srv/reference."),
        "Served by the fallback. The container's front-end did not run here: no reference code in /srv/reference.",
    ),
    ("the fallback, no reason", SimpleNamespace(front_end="the fallback", fallback_reason=""), "Served by the fallback."),
]


@pytest.mark.parametrize("case, served, expected", FRONT_END_CASES, ids=[row[0] for row in FRONT_END_CASES])
def test_describe_front_end_names_who_answered_and_why_the_container_did_not(case, served, expected):
    assert narrative_serving.describe_front_end(served) == expected
