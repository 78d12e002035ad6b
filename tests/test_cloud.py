"""Mode aws against a moto server on 127.0.0.1 (real HTTP): calls, their order, and clean-up on every path."""

from __future__ import annotations

import json

import numpy as np
import pytest
import requests

from convlab import cloud

ACCOUNT, REGION = "123456789012", "eu-west-1"
SETTINGS = cloud.AwsSettings(region=REGION, role_arn=f"arn:aws:iam::{ACCOUNT}:role/convlab", poll_seconds=0.1)


@pytest.fixture(scope="module")
def moto_url():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def clients(moto_url, monkeypatch):
    import boto3

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(key, value)
    sagemaker = boto3.client("sagemaker", region_name=REGION, endpoint_url=moto_url)
    runtime = boto3.client("sagemaker-runtime", region_name=REGION, endpoint_url=moto_url)
    log = cloud.CallLog()
    log.attach(sagemaker)
    log.attach(runtime)
    return sagemaker, runtime, log


def queue_endpoint_answer(moto_url: str, labels: list[int]) -> None:
    body = json.dumps({"predictions": [{"label": label} for label in labels]})
    results = [{"Body": body, "ContentType": "application/json"}]
    requests.post(
        f"{moto_url}/moto-api/static/sagemaker/endpoint-results",
        json={"account_id": ACCOUNT, "region": REGION, "results": results},
        timeout=10,
    )


def leftovers(sagemaker) -> tuple[int, int, int]:
    return (
        len(sagemaker.list_models()["Models"]),
        len(sagemaker.list_endpoint_configs()["EndpointConfigs"]),
        len(sagemaker.list_endpoints()["Endpoints"]),
    )


def test_deploy_invoke_and_clean_up_in_order(clients, moto_url):
    sagemaker, runtime, log = clients
    queue_endpoint_answer(moto_url, [1, 2, 0])
    result = cloud.deploy_invoke_and_clean_up(
        SETTINGS,
        "image:2.19",
        "s3://bucket/model.tar.gz",
        np.zeros((3, 28, 28)),
        np.array([1, 2, 3]),
        sagemaker_client=sagemaker,
        runtime_client=runtime,
    )
    assert log.operations() == [
        "CreateModel",
        "CreateEndpointConfig",
        "CreateEndpoint",
        "DescribeEndpoint",
        "InvokeEndpoint",
        "DeleteEndpoint",
        "DeleteEndpointConfig",
        "DeleteModel",
    ]
    create_model = dict(log.calls)["CreateModel"]
    assert create_model["PrimaryContainer"] == {"Image": "image:2.19", "ModelDataUrl": "s3://bucket/model.tar.gz"}
    assert create_model["ExecutionRoleArn"] == SETTINGS.role_arn
    assert dict(log.calls)["CreateEndpointConfig"]["ProductionVariants"][0]["InstanceType"] == "ml.m5.large"
    assert result["accuracy"] == pytest.approx(2 / 3)
    assert all(outcome["deleted"] for outcome in result["clean_up"])
    assert leftovers(sagemaker) == (0, 0, 0)


@pytest.mark.parametrize("step", ["model", "config", "endpoint", "in_service", "invoke"])
def test_failure_at_any_step_still_cleans_up(clients, moto_url, step):
    sagemaker, runtime, log = clients
    queue_endpoint_answer(moto_url, [0])
    with pytest.raises(cloud.InjectedFailure, match=step):
        cloud.deploy_invoke_and_clean_up(
            SETTINGS,
            "image:2.19",
            "s3://bucket/model.tar.gz",
            np.zeros((1, 28, 28)),
            np.array([0]),
            sagemaker_client=sagemaker,
            runtime_client=runtime,
            fail_after=step,
        )
    assert leftovers(sagemaker) == (0, 0, 0)
    deletions = [name for name in log.operations() if name.startswith("Delete")]
    created = [name for name in log.operations() if name.startswith("Create")]
    assert len(deletions) == len(created), "everything created is deleted, newest first"


def test_settings_refuse_a_missing_region_or_role():
    with pytest.raises(ValueError, match="region"):
        cloud.AwsSettings(region="", role_arn="arn:aws:iam::1:role/x")
    with pytest.raises(ValueError, match="execution role"):
        cloud.AwsSettings(region=REGION, role_arn="my-role")


def test_call_log_never_holds_secrets(clients):
    sagemaker, _, log = clients
    sagemaker.list_models()
    assert "testing" not in json.dumps(log.calls, default=str)


def test_dataset_upload_and_record_collection(moto_url, monkeypatch, tmp_path):
    import io
    import tarfile

    import boto3

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto_url)
    s3.create_bucket(Bucket="convlab-test", CreateBucketConfiguration={"LocationConstraint": REGION})
    folder = tmp_path / "data" / "fashion-mnist"
    folder.mkdir(parents=True)
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (folder / f"{stem}.gz").write_bytes(b"x")
    uri = cloud.upload_dataset(s3, tmp_path / "data", "fashion-mnist", "convlab-test", "data")
    assert uri == "s3://convlab-test/data"
    assert len(s3.list_objects_v2(Bucket="convlab-test", Prefix="data/fashion-mnist/")["Contents"]) == 4
    archive_bytes = io.BytesIO()
    with tarfile.open(fileobj=archive_bytes, mode="w:gz") as archive:
        payload = json.dumps({"seed": 1}).encode()
        info = tarfile.TarInfo("cnn_k5-seed1.json")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    s3.put_object(Bucket="convlab-test", Key="sweep/job-1/output/output.tar.gz", Body=archive_bytes.getvalue())
    collected = cloud.collect_records(s3, "convlab-test", "sweep", tmp_path / "results")
    assert [path.name for path in collected] == ["cnn_k5-seed1.json"]
    assert json.loads(collected[0].read_text()) == {"seed": 1}
