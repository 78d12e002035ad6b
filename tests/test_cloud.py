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


def queue_endpoint_answer(moto_url: str, labels: list[int], single_requests: int = 2) -> None:
    """What moto's endpoint answers, in order: the batch's predictions, then one per single-image request."""
    answers = [labels] + [[0]] * single_requests
    results = [
        {"Body": json.dumps({"predictions": [{"label": label} for label in batch]}), "ContentType": "application/json"}
        for batch in answers
    ]
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


ENDPOINT_LIFECYCLE = [  # a batch of test images, then two single-image requests
    "CreateModel",
    "CreateEndpointConfig",
    "CreateEndpoint",
    "InvokeEndpoint",
    "InvokeEndpoint",
    "InvokeEndpoint",
    "DeleteEndpoint",
    "DeleteEndpointConfig",
    "DeleteModel",
]


def lifecycle(log: cloud.CallLog) -> list[str]:
    """The SageMaker calls that create, use or delete something (polling left out)."""
    return [name for name in log.operations() if name.startswith(("Create", "Delete", "Invoke"))]


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
        single_requests=2,
    )
    operations = log.operations()
    assert lifecycle(log) == ENDPOINT_LIFECYCLE
    assert operations.index("CreateEndpoint") < operations.index("DescribeEndpoint") < operations.index("InvokeEndpoint")
    create_model = dict(log.calls)["CreateModel"]
    assert create_model["PrimaryContainer"] == {"Image": "image:2.19", "ModelDataUrl": "s3://bucket/model.tar.gz"}
    assert create_model["ExecutionRoleArn"] == SETTINGS.role_arn
    assert dict(log.calls)["CreateEndpointConfig"]["ProductionVariants"][0]["InstanceType"] == "ml.m5.large"
    assert result["accuracy"] == pytest.approx(2 / 3)
    assert result["single_requests"] == 2 and result["single_ms_p99"] >= result["single_ms_p50"] > 0
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
            single_requests=2,
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


def test_dataset_upload(moto_url, monkeypatch, tmp_path):
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
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="Expected the 4 IDX"):
        cloud.upload_dataset(s3, tmp_path / "data", "fashion-mnist", "convlab-test", "data")


# --- the SDK v3 path (ModelTrainer) and the whole of mode aws ---------------------------------------------------

BUCKET = "convlab-moto"


@pytest.fixture
def aws(moto_url, monkeypatch, tmp_path):
    """A session whose every call goes to the moto server (emptied first), with the SDK's network side trips off."""
    requests.post(f"{moto_url}/moto-api/reset", timeout=10)
    telemetry = tmp_path / "sagemaker-config.yaml"
    telemetry.write_text("SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n      TelemetryOptOut: true\n")
    for key, value in {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        "SAGEMAKER_VALIDATE_ROLE": "false",
        "SAGEMAKER_USER_CONFIG_OVERRIDE": str(telemetry),
    }.items():
        monkeypatch.setenv(key, value)
    settings = cloud.AwsSettings(region=REGION, role_arn=f"arn:aws:iam::{ACCOUNT}:role/convlab", bucket=BUCKET, poll_seconds=0.1)
    session = cloud.connect(settings)
    session.client("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    return session


@pytest.fixture
def run_inputs(tmp_path):
    from types import SimpleNamespace

    from convlab import config

    folder = tmp_path / "data" / "fashion-mnist"
    folder.mkdir(parents=True)
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (folder / f"{stem}.gz").write_bytes(b"idx")
    params = config.RunParameters.from_notebook(
        notebook="06_sagemaker_deploy",
        dataset="fashion_mnist",
        data_dir=str(tmp_path / "data"),
        epochs=2,
        seeds=0,
        output_dir=str(tmp_path / "report"),
    )
    dataset = SimpleNamespace(x_test=np.zeros((3, 28, 28), dtype=np.uint8), y_test=np.array([1, 2, 3]))
    return params, dataset


def test_mode_aws_trains_deploys_invokes_and_cleans_up(aws, run_inputs, moto_url, tmp_path):
    params, dataset = run_inputs
    queue_endpoint_answer(moto_url, [1, 2, 0])
    result = cloud.train_deploy_and_evaluate(
        aws, params, dataset, source_dir=tmp_path / "source", evaluation_images=3, latency_requests=2
    )
    assert lifecycle(aws.log) == ["CreateBucket", "CreateTrainingJob", *ENDPOINT_LIFECYCLE]
    (training,) = aws.log.arguments("CreateTrainingJob")
    assert training["AlgorithmSpecification"]["TrainingImage"].endswith(
        f"{REGION}.amazonaws.com/tensorflow-training:2.19-cpu-py312"
    )
    assert training["RoleArn"] == aws.settings.role_arn
    assert training["ResourceConfig"]["InstanceType"] == "ml.m5.large"
    assert {"model": "cnn", "dataset": "fashion_mnist", "seed": "0", "epochs": "2"}.items() <= training["HyperParameters"].items()
    channels = {channel["ChannelName"]: channel["DataSource"]["S3DataSource"]["S3Uri"] for channel in training["InputDataConfig"]}
    assert channels["train"] == f"s3://{BUCKET}/convlab/data"
    (model,) = aws.log.arguments("CreateModel")
    assert model["PrimaryContainer"]["Image"].endswith("tensorflow-inference:2.19-cpu")
    assert model["PrimaryContainer"]["ModelDataUrl"] == result["training_job"]["artifact_uri"]
    keys = [item["Key"] for item in aws.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert sum(key.startswith("convlab/data/fashion-mnist/") for key in keys) == 4
    assert any(key.endswith("input/code/train.py") for key in keys), "the entry script ships"
    assert any(key.endswith("input/code/convlab/models.py") for key in keys), "with the package it imports"
    assert result["accuracy"] == pytest.approx(2 / 3)
    assert leftovers(aws.client("sagemaker")) == (0, 0, 0)
    assert "testing" not in json.dumps(aws.log.calls, default=str), "credentials are never logged"


def test_mode_aws_cleans_up_when_the_endpoint_fails(aws, run_inputs, tmp_path):
    params, dataset = run_inputs
    with pytest.raises(cloud.InjectedFailure):
        cloud.train_deploy_and_evaluate(aws, params, dataset, source_dir=tmp_path / "source", fail_after="in_service")
    assert lifecycle(aws.log)[-3:] == ["DeleteEndpoint", "DeleteEndpointConfig", "DeleteModel"]
    assert leftovers(aws.client("sagemaker")) == (0, 0, 0)


def test_sweep_runs_one_job_per_kernel_and_seed_and_its_records_join_the_report(aws, run_inputs, tmp_path):
    import io
    import tarfile

    from convlab import deployment

    params, _ = run_inputs
    jobs = cloud.launch_sweep(
        aws,
        deployment.stage_source(tmp_path / "source"),
        f"s3://{BUCKET}/convlab/data",
        deployment.hyperparameters(params),
        kernels=(3, 5),
        seeds=(0, 1),
    )
    launched = [
        (call["HyperParameters"]["first-kernel"], call["HyperParameters"]["seed"])
        for call in aws.log.arguments("CreateTrainingJob")
    ]
    assert sorted(launched) == [("3", "0"), ("3", "1"), ("5", "0"), ("5", "1")]
    assert len({job["job"] for job in jobs}) == 4 and all(job["status"] == "Completed" for job in jobs)
    for job in jobs:  # what each job's container would leave behind: its record and model in output.tar.gz
        kernel, seed = job["hyperparameters"]["first-kernel"], job["hyperparameters"]["seed"]
        name = f"{'cnn' if kernel == '3' else 'cnn_k' + kernel}-seed{seed}"  # the names notebook 04 gives them
        archive_bytes = io.BytesIO()
        with tarfile.open(fileobj=archive_bytes, mode="w:gz") as archive:
            for file_name, payload in ((f"{name}.json", json.dumps({"job": job["job"]}).encode()), (f"{name}.keras", b"model")):
                info = tarfile.TarInfo(file_name)
                info.size = len(payload)
                archive.addfile(info, io.BytesIO(payload))
        bucket, key = job["output_uri"].removeprefix("s3://").split("/", 1)
        aws.client("s3").put_object(Bucket=bucket, Key=key, Body=archive_bytes.getvalue())
    (params.results_dir / "cnn-seed0.json").parent.mkdir(parents=True)
    (params.results_dir / "cnn-seed0.json").write_text("a local run")
    sweep_dir = params.output_dir / "sagemaker" / "sweep"
    collected = cloud.collect_records(aws.client("s3"), jobs, sweep_dir / "results", sweep_dir / "models")
    assert sorted(path.name for path in (sweep_dir / "results").iterdir()) == [
        "cnn-seed0.json",
        "cnn-seed1.json",
        "cnn_k5-seed0.json",
        "cnn_k5-seed1.json",
    ]
    assert len(list((sweep_dir / "models").glob("*.keras"))) == 4 and len(collected) == 8
    assert (params.results_dir / "cnn-seed0.json").read_text() == "a local run", "local records are left alone"


def test_collecting_from_a_job_without_output_names_the_job(aws):
    job = {"job": "convlab-k3-s0-1", "status": "Failed", "output_uri": f"s3://{BUCKET}/convlab/jobs/x/output/output.tar.gz"}
    with pytest.raises(FileNotFoundError, match="convlab-k3-s0-1.*Failed"):
        cloud.collect_records(aws.client("s3"), [job], "results", "models")


@pytest.mark.parametrize("value, expected", [("local", "local"), ("aws", "aws"), (" AWS ", "aws")])
def test_mode_accepts_local_and_aws(value, expected):
    from convlab import config

    assert config.parse_mode(value) == expected


# --- no secret in any output of mode aws -----------------------------------------------------------------------


def fake_credentials() -> dict[str, str]:
    """An access key id, secret and session token of the real formats, random for each test."""
    import secrets
    import string

    def draw(alphabet: str, length: int) -> str:
        return "".join(secrets.choice(alphabet) for _ in range(length))

    return {
        "AWS_ACCESS_KEY_ID": "AKIA" + draw(string.ascii_uppercase + string.digits, 16),
        "AWS_SECRET_ACCESS_KEY": draw(string.ascii_letters + string.digits + "/+", 40),
        "AWS_SESSION_TOKEN": "IQoJb3JpZ2luX2VjE" + draw(string.ascii_letters + string.digits + "/+", 300),
    }


SECRET_PATTERNS = [
    r"(AKIA|ASIA)[0-9A-Z]{16}",  # an access key id
    # a secret named, with a value
    r"(?i)(secret_access_key|session_token|SecretAccessKey|SessionToken)[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9/+]{16}",
    r"(?i)secret[^\n]{0,40}?(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])",  # a 40-character secret near 'secret'
]


def leaked_secrets(texts: dict[str, str], credentials: dict[str, str]) -> list[str]:
    """Where a credential, or anything that looks like one, appears: 'name: what'."""
    import re

    found = []
    for name, text in texts.items():
        found += [f"{name}: {key}" for key, value in credentials.items() if value in text]
        matches = [match.group(0) for pattern in SECRET_PATTERNS for match in re.finditer(pattern, text)]
        found += [f"{name}: {match[:60]!r}" for match in matches]
    return found


def written_texts(root) -> dict[str, str]:
    """Every file under `root` as text, members of tar archives included."""
    import tarfile
    from pathlib import Path

    texts = {}
    for path in sorted(Path(root).rglob("*")):
        if path.is_file():
            texts[str(path)] = path.read_bytes().decode("utf-8", errors="replace")
        if path.is_file() and path.name.endswith((".tar.gz", ".tar")):
            with tarfile.open(path) as archive:
                for member in archive.getmembers():
                    if member.isfile():
                        content = archive.extractfile(member).read().decode("utf-8", errors="replace")
                        texts[f"{path}!{member.name}"] = content
    return texts


def test_the_leak_scan_finds_what_it_looks_for():
    credentials = fake_credentials()
    assert leaked_secrets({"clean": "role arn:aws:iam::123456789012:role/convlab, accuracy 0.97"}, credentials) == []
    for key, value in credentials.items():
        assert leaked_secrets({"log": f"connected with {value}"}, credentials), key
    assert leaked_secrets({"config": f"aws_secret_access_key = {'x' * 16}"}, credentials)
    assert leaked_secrets({"record": '{"SessionToken": "' + "y" * 16 + '"}'}, credentials)
    assert leaked_secrets({"source": 'SECRET_KEYS = ("SecretAccessKey", "SessionToken")'}, credentials) == []
    assert leaked_secrets({"log": f"secret: {'Ab1/' * 10}"}, credentials)


def test_mode_aws_writes_no_credentials_anywhere(aws, run_inputs, moto_url, tmp_path, monkeypatch, capfd, caplog):
    """The whole of mode aws in this process, with credentials of the real formats: its log, output and records hold none."""
    import logging

    from convlab import deployment

    credentials = fake_credentials()
    for key, value in credentials.items():
        monkeypatch.setenv(key, value)
    caplog.set_level(logging.INFO)
    params, dataset = run_inputs
    queue_endpoint_answer(moto_url, [1, 2, 0])
    session = cloud.connect(aws.settings)
    result = cloud.train_deploy_and_evaluate(
        session, params, dataset, source_dir=tmp_path / "source", evaluation_images=3, latency_requests=2
    )
    assert session.boto_session.get_credentials().secret_key == credentials["AWS_SECRET_ACCESS_KEY"], "the run used them"
    training_record = {"model": {"name": "cnn"}, "seed": 0, "cache_key": "key", "test": {"accuracy": 0.5}}
    deployment.save_serving_record(params, training_record, "aws", endpoint=result)
    print(cloud.describe_aws_run(result))
    out, err = capfd.readouterr()
    texts = written_texts(tmp_path) | {"stdout": out, "stderr": err, "log": caplog.text}
    texts |= {"call log": json.dumps(session.log.calls, default=str), "result": json.dumps(result, default=str)}
    assert any(path.endswith("cnn-seed0-aws.json") for path in texts), "the serving record was scanned"
    assert leaked_secrets(texts, credentials) == []


@pytest.mark.smoke
def test_notebook_06_in_mode_aws_writes_no_credentials(aws, moto_url, shared_data, tmp_path, monkeypatch, capfd):
    """06 executed in mode aws against the moto server: the executed notebook, its HTML, records, figures and output."""
    from convlab import pipeline

    credentials = fake_credentials()
    for key, value in credentials.items():
        monkeypatch.setenv(key, value)  # the kernel inherits them, with AWS_ENDPOINT_URL pointing at moto
    queue_endpoint_answer(moto_url, [0] * 200, single_requests=100)
    parameters = {
        "data_dir": str(shared_data), "images_dir": str(tmp_path / "images"), "train_size": "600", "test_size": "200",
        "epochs": "1", "seed": "0", "batch_size": "32", "latency_repeats": "5", "evaluation_images": "200",
        "mode": "aws", "aws_region": REGION, "role_arn": aws.settings.role_arn, "aws_bucket": BUCKET,
    }
    pipeline.run(["mnist"], ["06_sagemaker_deploy"], parameters, tmp_path / "reports", progress=False)
    out, err = capfd.readouterr()
    texts = written_texts(tmp_path) | {"stdout": out, "stderr": err}
    assert any(path.endswith("06_sagemaker_deploy.ipynb") for path in texts)
    assert any(path.endswith("cnn-seed0-aws.json") for path in texts), "mode aws ran to its record"
    assert leaked_secrets(texts, credentials) == []
