"""Serving the artifact locally: the fallback endpoint's socket and body cap, the choice of front-end, and what it says."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from convlab.serving import client, endpoint, summary
from convlab.study import paths


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


def test_the_fallback_is_used_and_says_why_when_the_reference_is_absent(tarball, tmp_path, monkeypatch, capsys):
    from convlab.serving import container

    monkeypatch.setenv(container.REFERENCE_ENV, str(tmp_path / "absent"))
    with endpoint.serve(tarball) as served:
        printed = capsys.readouterr().out
        assert "front end was not found, so the local fallback endpoint serves instead" in printed, printed
        assert served.fallback_reason in printed, "the output names what is missing, not only the record"
        assert isinstance(served, endpoint.LocalEndpoint)
        assert "fallback" in served.front_end and paths.shown(tmp_path / "absent") in served.fallback_reason
        status, answer = client.invoke(served.url, b'{"images": []}')
    assert status == 400 and answer["title"] == "400 Bad Request" and 'no "instances" key' in answer["description"]


def test_a_failing_request_still_stops_the_endpoint(tarball):
    """The serving block of notebook 06: however the requests end, nothing is left listening."""
    with pytest.raises(ConnectionError), endpoint.serve(tarball) as served:
        assert endpoint.answers(served.url)
        raise ConnectionError("a request failed half-way")
    assert not endpoint.answers(served.url)


def test_clean_up_stops_the_endpoint_and_says_what_was_cleaned_up(tarball):
    served = endpoint.LocalEndpoint(tarball)
    url = served.url
    stopped = f"Local endpoint {url}: stopped, nothing answers there."
    assert endpoint.clean_up(served) == f"{stopped}\nAWS: nothing was created (mode local)."
    assert not endpoint.answers(url) and served.url == url, "the stopped endpoint still names its address"
    deletions = [  # mode aws: aws_endpoint.clean_up's outcomes
        {"resource": "endpoint", "name": "convlab-endpoint-1", "deleted": True},
        {
            "resource": "endpoint_config",
            "name": "convlab-config-1",
            "deleted": False,
            "error": "AccessDeniedException",
            "delete it with": "aws sagemaker delete-endpoint-config --endpoint-config-name convlab-config-1",
        },
    ]
    again = endpoint.clean_up(served, deletions).splitlines()  # stopping again changes nothing
    assert again == [
        stopped,
        "AWS endpoint convlab-endpoint-1: deleted.",
        "AWS endpoint config convlab-config-1: NOT deleted (AccessDeniedException); "
        "delete it with `aws sagemaker delete-endpoint-config --endpoint-config-name convlab-config-1`.",
    ]


def test_notebook_06_serves_in_a_with_block_and_ends_with_its_clean_up():
    """Every request to the local endpoint is sent inside one `with endpoint.serve(...)` block (a failing request
    still stops it), and the notebook ends, as the SageMaker examples do, with a clean-up section."""
    import ast

    import nbformat

    from convlab.study import paths

    cells = nbformat.read(paths.NOTEBOOKS_DIR / "06_sagemaker_deploy.ipynb", as_version=4).cells
    trees = [ast.parse(cell.source) for cell in cells if cell.cell_type == "code"]
    blocks = [
        node
        for tree in trees
        for node in tree.body
        if isinstance(node, ast.With) and ast.unparse(node.items[0].context_expr).startswith("endpoint.serve(")
    ]
    assert len(blocks) == 1, "one serving block"
    inside = {id(node) for node in ast.walk(blocks[0])}
    uses = [
        node for tree in trees for node in ast.walk(tree) if isinstance(node, ast.Attribute) and ast.unparse(node) == "served.url"
    ]
    assert uses and all(id(node) in inside for node in uses), "a request outside the block finds no endpoint, or leaves it up"
    heading, last = cells[-2], cells[-1]
    assert heading.cell_type == "markdown" and heading.source.startswith("## ") and "Clean-up" in heading.source
    assert last.cell_type == "code" and last.source.startswith("print(endpoint.clean_up(served, ")
    assert 'in_aws["clean_up"] if mode == "aws"' in last.source, "in mode aws it lists the AWS endpoint's deletion"


FRONT_END_CASES = [  # case, the endpoint, the table
    (
        "the container's front-end",
        SimpleNamespace(front_end="the TF Serving 2.20 container's front-end"),
        {"served by": "the TF Serving 2.20 container's front-end"},
    ),
    (
        "the fallback, and why",
        SimpleNamespace(front_end="the fallback", fallback_reason="no reference code in /srv/reference."),
        {"served by": "the fallback", "why not the container's front end": "no reference code in /srv/reference."},
    ),
    ("the fallback, no reason", SimpleNamespace(front_end="the fallback", fallback_reason=""), {"served by": "the fallback"}),
]


@pytest.mark.parametrize("case, served, expected", FRONT_END_CASES, ids=[row[0] for row in FRONT_END_CASES])
def test_the_front_end_table_names_who_answered_and_why_the_container_did_not(case, served, expected):
    assert summary.front_end(served) == expected
