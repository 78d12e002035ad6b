"""Mode aws against a moto server on 127.0.0.1 (real HTTP): calls, their order, and clean-up on every path."""

from __future__ import annotations

import importlib.metadata
import json

import numpy as np
import pytest
import requests
from aws_faults import CallLog, FaultPlan, client_error, stop_first_refuse_rest
from packaging.version import Version

from convlab.serving import artifact, aws_endpoint, client, cloud, images, summary

SDK = importlib.metadata.version("sagemaker")  # the locked 3.27.0, or Studio's 3.12.0 in make test-studio
SDK_LISTS_OUR_IMAGES = Version(SDK) >= Version("3.27")

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
    requests.post(f"{moto_url}/moto-api/reset", timeout=10)
    session = boto3.Session(region_name=REGION)
    log, faults = CallLog().attach(session), FaultPlan().attach(session)
    sagemaker = session.client("sagemaker", endpoint_url=moto_url)
    runtime = session.client("sagemaker-runtime", endpoint_url=moto_url)
    return sagemaker, runtime, log, faults


def queue_endpoint_answer(moto_url: str, labels: list[int], single_requests: int = 2) -> None:
    """What moto's endpoint answers, in order: the batch's predictions, one per single-image request, then the bad requests."""
    answers = [labels] + [[0]] * single_requests + [[0]] * len(BAD_REQUESTS)
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


BAD_REQUESTS = list(client.BAD_REQUEST_EXAMPLES)
ENDPOINT_LIFECYCLE = [  # a batch of test images, two single-image requests, then the bad requests
    "CreateModel",
    "CreateEndpointConfig",
    "CreateEndpoint",
    "InvokeEndpoint",
    "InvokeEndpoint",
    "InvokeEndpoint",
    *["InvokeEndpoint"] * len(BAD_REQUESTS),
    "DeleteEndpoint",
    "DeleteEndpointConfig",
    "DeleteModel",
]


def lifecycle(log: CallLog) -> list[str]:
    """The SageMaker calls that create, use or delete something (polling left out)."""
    return [name for name in log.operations() if name.startswith(("Create", "Delete", "Invoke"))]


def test_deploy_invoke_and_clean_up_in_order(clients, moto_url):
    sagemaker, runtime, log, _ = clients
    queue_endpoint_answer(moto_url, [1, 2, 0])
    result = aws_endpoint.deploy_invoke_and_clean_up(
        SETTINGS,
        "image:2.20",
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
    assert create_model["PrimaryContainer"] == {"Image": "image:2.20", "ModelDataUrl": "s3://bucket/model.tar.gz"}
    assert create_model["ExecutionRoleArn"] == SETTINGS.role_arn
    assert dict(log.calls)["CreateEndpointConfig"]["ProductionVariants"][0]["InstanceType"] == "ml.m5.large"
    assert result["accuracy"] == pytest.approx(2 / 3)
    assert result["single_requests"] == 2 and result["single_ms_p99"] >= result["single_ms_p50"] > 0
    assert all(outcome["deleted"] for outcome in result["clean_up"])
    assert leftovers(sagemaker) == (0, 0, 0)


class Injected(RuntimeError):
    """An error put into one AWS call by the test."""


@pytest.mark.parametrize(
    "operation", ["CreateModel", "CreateEndpointConfig", "CreateEndpoint", "DescribeEndpoint", "InvokeEndpoint"]
)
def test_a_failure_at_any_step_still_cleans_up(clients, moto_url, operation):
    sagemaker, runtime, log, faults = clients
    queue_endpoint_answer(moto_url, [0])
    faults.raise_on(operation, Injected(f"{operation} failed"))
    with pytest.raises(Injected, match=operation):
        deploy(sagemaker, runtime)
    assert leftovers(sagemaker) == (0, 0, 0)
    deletions = [name for name in log.operations() if name.startswith("Delete")]
    created = [name for name in log.operations() if name.startswith("Create")]
    assert len(deletions) == len(created) - (operation.startswith("Create")), "everything created is deleted, newest first"


def deploy(sagemaker, runtime, settings=SETTINGS):
    return aws_endpoint.deploy_invoke_and_clean_up(
        settings,
        "image:2.20",
        "s3://bucket/model.tar.gz",
        np.zeros((1, 28, 28)),
        np.array([0]),
        sagemaker_client=sagemaker,
        runtime_client=runtime,
        single_requests=2,
    )


def endpoint_creating_for(faults: FaultPlan, polls: int, refusals: int = 0):
    """The endpoint reports Creating for its next `polls` descriptions (moto makes it InService at once); while it
    does, and for `refusals` more attempts, SageMaker's refusal to delete an in-progress endpoint is given back."""
    state = {"polls": polls, "refusals": refusals}

    def describe(parsed):
        if state["polls"] > 0:
            state["polls"] -= 1
            parsed["EndpointStatus"] = "Creating"

    def delete(params):
        if state["polls"] > 0 or state["refusals"] > 0:
            state["refusals"] -= 1
            raise client_error("ValidationException", "Cannot update in-progress endpoint", "DeleteEndpoint")
        return None  # on to moto

    faults.after("DescribeEndpoint", lambda params, parsed: describe(parsed))
    faults.answer("DeleteEndpoint", delete)
    return state


def test_clean_up_waits_for_an_endpoint_still_being_created_and_retries(clients, moto_url, monkeypatch):
    sagemaker, runtime, log, faults = clients
    queue_endpoint_answer(moto_url, [0])
    faults.raise_on("DescribeEndpoint", KeyboardInterrupt())  # the user stops the run while the endpoint is created
    endpoint_creating_for(faults, polls=3, refusals=1)
    with pytest.raises(KeyboardInterrupt):
        deploy(sagemaker, runtime)
    assert leftovers(sagemaker) == (0, 0, 0), "no endpoint is left billing"
    after_create = log.operations()[log.operations().index("CreateEndpoint") + 1 :]
    assert after_create[:5] == ["DescribeEndpoint"] * 5, "interrupted wait, then three polls while Creating, then InService"
    assert after_create.count("DeleteEndpoint") == 2, "one refusal (in-progress), then deleted"
    assert [name for name in after_create if name.startswith("Delete")][-2:] == ["DeleteEndpointConfig", "DeleteModel"]


def test_an_endpoint_that_stays_creating_is_reported_with_the_command_that_deletes_it(clients, moto_url):
    sagemaker, runtime, log, faults = clients
    faults.raise_on("DescribeEndpoint", Injected("the waiter gave up"))
    endpoint_creating_for(faults, polls=10**6)
    settings = cloud.AwsSettings(region=REGION, role_arn=SETTINGS.role_arn, poll_seconds=0.05, max_wait_seconds=0.3)
    with pytest.raises(Injected) as caught:
        deploy(sagemaker, runtime, settings)
    (endpoint,) = log.arguments("CreateEndpoint")
    notes = "\n".join(caught.value.__notes__)
    assert "Not deleted" in notes and "still Creating" in notes
    assert f"aws sagemaker delete-endpoint --endpoint-name {endpoint['EndpointName']}" in notes
    assert leftovers(sagemaker) == (0, 0, 1), "the configuration and the model are deleted all the same"


def test_settings_refuse_a_missing_region_or_role():
    with pytest.raises(ValueError, match="region"):
        cloud.AwsSettings(region="", role_arn="arn:aws:iam::1:role/x")
    with pytest.raises(ValueError, match="execution role"):
        cloud.AwsSettings(region=REGION, role_arn="my-role")


def test_default_images_are_training_2_21_and_serving_2_20():
    assert images.image_uri(SETTINGS, "training").endswith(f"{REGION}.amazonaws.com/tensorflow-training:2.21-cpu-py312")
    assert images.image_uri(SETTINGS, "inference").endswith(f"{REGION}.amazonaws.com/tensorflow-inference:2.20-cpu-py312")


@pytest.mark.parametrize(
    "versions, names",
    [
        ({"training_version": "2.20"}, [f"No TensorFlow 2.20 training image in SageMaker SDK {SDK}", "(parameter training_"]),
        ({"serving_version": "2.21"}, [f"No TensorFlow 2.21 inference image in SageMaker SDK {SDK}", "(parameter serving_"]),
    ],
)
def test_an_unavailable_image_stops_at_configuration_naming_the_versions_that_exist(versions, names):
    with pytest.raises(ValueError) as caught:
        cloud.AwsSettings(region=REGION, role_arn=SETTINGS.role_arn, **versions)
    for name in names:
        assert name in str(caught.value)
    assert "19" in str(caught.value).rsplit("lists for", 1)[1]  # the versions that exist are named


INSTANCES = ("ml.m5.large", "ml.c5.xlarge", "ml.m7i.2xlarge", "ml.g5.xlarge", "ml.g4dn.xlarge", "ml.p3.2xlarge")


@pytest.mark.skipif(not SDK_LISTS_OUR_IMAGES, reason=f"SDK {SDK} lists no TF 2.21 or 2.20 image to compare the table with")
@pytest.mark.parametrize("scope, version", [("training", "2.21"), ("inference", "2.20")])
def test_the_image_table_is_what_the_locked_sdk_answers_in_every_region(scope, version):
    """Every region for a CPU instance, three for a GPU one, every instance family in one (the SDK takes ~50 ms a call)."""
    from sagemaker.core import image_uris

    def sdk(region: str, instance: str) -> str:
        return image_uris.retrieve(
            "tensorflow", region, version=version, py_version="py312", instance_type=instance, image_scope=scope
        )

    table = images.table()
    assert table["written_by"] == f"sagemaker {SDK}"
    regions = table["images"][f"{scope} {version}"]["cpu"]
    assert len(regions) >= 30 and REGION in regions
    for region in regions:
        assert images.uri(scope, version, region, "ml.m5.large") == sdk(region, "ml.m5.large"), region
    for region in sorted(regions)[:: len(regions) // 3][:3]:
        assert images.uri(scope, version, region, "ml.g5.xlarge") == sdk(region, "ml.g5.xlarge"), region
    for instance in INSTANCES:
        assert images.uri(scope, version, REGION, instance) == sdk(REGION, instance), instance


def test_without_the_versions_in_its_sdk_mode_aws_takes_the_table(monkeypatch):
    monkeypatch.setattr(images, "available_versions", lambda scope: ["2.18", "2.19"])  # what Studio's 3.12.0 lists
    for scope, instance in (("training", "ml.g5.xlarge"), ("inference", "ml.m5.large")):
        settings = cloud.AwsSettings(
            region=REGION, role_arn=SETTINGS.role_arn, training_instance=instance, inference_instance=instance
        )
        version = settings.training_version if scope == "training" else settings.serving_version
        assert images.image_uri(settings, scope) == images.uri(scope, version, REGION, instance)
    gpu = images.uri("training", "2.21", REGION, "ml.g5.xlarge")
    assert gpu.endswith("/tensorflow-training:2.21-gpu-py312") and "cpu" not in gpu
    with pytest.raises(ValueError, match="regions with one"):
        cloud.AwsSettings(region="mars-north-1", role_arn=SETTINGS.role_arn)
    with pytest.raises(ValueError, match="not a SageMaker instance type"):
        cloud.AwsSettings(region=REGION, role_arn=SETTINGS.role_arn, training_instance="m5.large")


def test_serving_older_than_training_is_refused_unless_the_pair_is_tested():
    with pytest.raises(ValueError, match="an older TF Serving loads a newer SavedModel only when every op is known"):
        cloud.AwsSettings(region=REGION, role_arn=SETTINGS.role_arn, training_version="2.21", serving_version="2.19")
    cloud.AwsSettings(region=REGION, role_arn=SETTINGS.role_arn, training_version="2.19", serving_version="2.20")
    assert ("2.21", "2.20") in cloud.TESTED_IMAGE_PAIRS


def test_call_log_never_holds_secrets(clients):
    sagemaker, _, log, _ = clients
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
    return connected(settings)


def connected(settings):
    """A session whose calls are logged (`.log`) and can be bent (`.faults`), both attached before any client exists."""
    import boto3

    boto_session = boto3.Session(region_name=settings.region)
    log, faults = CallLog().attach(boto_session), FaultPlan().attach(boto_session)
    session = cloud.connect(settings, boto_session)
    session.log, session.faults = log, faults
    if BUCKET not in [bucket["Name"] for bucket in session.client("s3").list_buckets()["Buckets"]]:
        session.client("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    return session


@pytest.fixture
def run_inputs(tmp_path):
    from types import SimpleNamespace

    from convlab.study import config

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
    result = aws_endpoint.train_deploy_and_evaluate(
        aws, params, dataset, source_dir=tmp_path / "source", evaluation_images=3, latency_requests=2
    )
    assert lifecycle(aws.log) == ["CreateBucket", "CreateTrainingJob", *ENDPOINT_LIFECYCLE]
    (training,) = aws.log.arguments("CreateTrainingJob")
    assert training["AlgorithmSpecification"]["TrainingImage"].endswith(
        f"{REGION}.amazonaws.com/tensorflow-training:2.21-cpu-py312"
    )
    assert training["RoleArn"] == aws.settings.role_arn
    assert training["ResourceConfig"]["InstanceType"] == "ml.m5.large"
    assert {"model": "cnn", "dataset": "fashion_mnist", "seed": "0", "epochs": "2"}.items() <= training["HyperParameters"].items()
    channels = {channel["ChannelName"]: channel["DataSource"]["S3DataSource"]["S3Uri"] for channel in training["InputDataConfig"]}
    assert channels["train"] == f"s3://{BUCKET}/convlab/data"
    (model,) = aws.log.arguments("CreateModel")
    assert model["PrimaryContainer"]["Image"].endswith("tensorflow-inference:2.20-cpu-py312")
    assert model["PrimaryContainer"]["ModelDataUrl"] == result["training_job"]["artifact_uri"]
    keys = [item["Key"] for item in aws.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert sum(key.startswith("convlab/data/fashion-mnist/") for key in keys) == 4
    source = tmp_path / "source"
    staged = {path.relative_to(source).as_posix() for path in source.rglob("*") if path.is_file()}
    modules = {f"convlab/{relative}" for relative in artifact.shipped_files()}
    assert staged == {"train.py", "train_requests.py", "inference.py"} | modules, "the entry scripts, handlers, their modules"
    uploaded = {key.split("/input/code/", 1)[1] for key in keys if "/input/code/" in key}
    assert uploaded == staged, "the job ships what was staged, nothing else"
    assert result["accuracy"] == pytest.approx(2 / 3)
    assert leftovers(aws.client("sagemaker")) == (0, 0, 0)
    assert "testing" not in json.dumps(aws.log.calls, default=str), "credentials are never logged"


def test_mode_aws_cleans_up_when_the_endpoint_fails(aws, run_inputs, tmp_path):
    params, dataset = run_inputs
    aws.faults.raise_on("DescribeEndpoint", Injected("the endpoint failed its health check"))
    with pytest.raises(Injected):
        aws_endpoint.train_deploy_and_evaluate(aws, params, dataset, source_dir=tmp_path / "source")
    assert lifecycle(aws.log)[-3:] == ["DeleteEndpoint", "DeleteEndpointConfig", "DeleteModel"]
    assert leftovers(aws.client("sagemaker")) == (0, 0, 0)


@pytest.mark.slow  # about 15 s: the whole sweep through the SDK (the failure cases below stay in the default tier)
def test_sweep_runs_one_job_per_kernel_and_seed_and_its_records_join_the_report(aws, run_inputs, tmp_path):
    import io
    import tarfile

    params, _ = run_inputs
    jobs = cloud.launch_sweep(
        aws,
        entry_script_only(tmp_path / "source"),
        f"s3://{BUCKET}/convlab/data",
        artifact.hyperparameters(params),
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
    from convlab.study import config

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

    credentials = fake_credentials()
    for key, value in credentials.items():
        monkeypatch.setenv(key, value)
    caplog.set_level(logging.INFO)
    params, dataset = run_inputs
    queue_endpoint_answer(moto_url, [1, 2, 0])
    session = connected(aws.settings)
    result = aws_endpoint.train_deploy_and_evaluate(
        session, params, dataset, source_dir=tmp_path / "source", evaluation_images=3, latency_requests=2
    )
    assert session.boto_session.get_credentials().secret_key == credentials["AWS_SECRET_ACCESS_KEY"], "the run used them"
    training_record = {"model": {"name": "cnn"}, "seed": 0, "cache_key": "key", "test": {"accuracy": 0.5}}
    client.save_serving_record(params, training_record, "aws", endpoint=result)
    print(summary.aws_run(result))
    out, err = capfd.readouterr()
    texts = written_texts(tmp_path) | {"stdout": out, "stderr": err, "log": caplog.text}
    texts |= {"call log": json.dumps(session.log.calls, default=str), "result": json.dumps(result, default=str)}
    assert any(path.endswith("cnn-seed0-aws.json") for path in texts), "the serving record was scanned"
    assert leaked_secrets(texts, credentials) == []


@pytest.mark.smoke
@pytest.mark.slow
def test_notebook_06_in_mode_aws_writes_no_credentials(aws, moto_url, shared_data, tmp_path, monkeypatch, capfd):
    """06 executed in mode aws against the moto server: the executed notebook, its HTML, records, figures and output."""
    from convlab.run import pipeline

    credentials = fake_credentials()
    for key, value in credentials.items():
        monkeypatch.setenv(key, value)  # the kernel inherits them, with AWS_ENDPOINT_URL pointing at moto
    queue_endpoint_answer(moto_url, [0] * 200, single_requests=100)
    parameters = {
        "data_dir": str(shared_data),
        "images_dir": str(tmp_path / "images"),
        "train_size": "600",
        "test_size": "200",
        "epochs": "1",
        "seed": "0",
        "batch_size": "32",
        "latency_repeats": "5",
        "evaluation_images": "200",
        "mode": "aws",
        "aws_region": REGION,
        "role_arn": aws.settings.role_arn,
        "aws_bucket": BUCKET,
    }
    pipeline.run(["mnist"], ["06_sagemaker_deploy"], parameters, tmp_path / "reports", progress=False)
    out, err = capfd.readouterr()
    texts = written_texts(tmp_path) | {"stdout": out, "stderr": err}
    assert any(path.endswith("06_sagemaker_deploy.ipynb") for path in texts)
    assert any(path.endswith("cnn-seed0-aws.json") for path in texts), "mode aws ran to its record"
    assert leaked_secrets(texts, credentials) == []


# --- failure paths of training jobs and of the sweep ---------------------------------------------------------


def moto_training_job(answer: dict):
    """moto's own record of the job a CreateTrainingJob answer names (the server runs in this process)."""
    from moto.sagemaker.models import sagemaker_backends

    return sagemaker_backends[ACCOUNT][REGION].training_jobs[answer["TrainingJobArn"].rsplit("/", 1)[1]]


def end_as(status: str, reason: str = ""):
    """After CreateTrainingJob: the job moto made (always Completed at once) is in `status` instead."""

    def change(params, answer):
        job = moto_training_job(answer)
        job.training_job_status = status
        if reason:
            job.failure_reason = reason

    return change


def test_a_failed_training_job_stops_the_run_with_its_failure_reason(aws, run_inputs, tmp_path):
    params, dataset = run_inputs
    aws.faults.after("CreateTrainingJob", end_as("Failed", "AlgorithmError: the entry script ran out of memory"))
    with pytest.raises(cloud.TrainingJobFailed) as caught:
        aws_endpoint.train_deploy_and_evaluate(aws, params, dataset, source_dir=tmp_path / "source")
    message = str(caught.value)
    assert "ended as Failed: AlgorithmError: the entry script ran out of memory" in message
    assert "/aws/sagemaker/TrainingJobs" in message, "and where its log is"
    assert not [name for name in aws.log.operations() if name in ("CreateModel", "CreateEndpoint")], "nothing is deployed"


def test_hyperparameters_are_checked_before_anything_is_submitted(aws, tmp_path):
    source = artifact.stage_source(tmp_path / "source")
    with pytest.raises(ValueError, match="argument --seed: invalid int value: 'zero'"):
        cloud.start_training_job(aws, source, f"s3://{BUCKET}/data", {"seed": "zero"}, job_prefix="convlab-x", wait=False)
    with pytest.raises(ValueError, match="unrecognized arguments: --kernel 5"):
        cloud.start_training_job(aws, source, f"s3://{BUCKET}/data", {"kernel": 5}, job_prefix="convlab-x", wait=False)
    assert not [name for name in aws.log.operations() if name in ("CreateTrainingJob", "PutObject")]


def test_the_dry_run_writes_nothing_and_the_real_call_submits_once(aws, tmp_path):
    """Checking a request leaves the bucket as it was and calls nothing that writes; starting the job uploads the source
    and submits it once, and the job is found again through the SDK's public listing."""
    import boto3

    source = artifact.stage_source(tmp_path / "source")
    bucket = boto3.client("s3").list_objects_v2(Bucket=BUCKET).get("Contents", [])
    trainer, channels = cloud.check_training_request(aws, source, f"s3://{BUCKET}/data", {"seed": 1}, job_prefix="convlab-x")
    assert boto3.client("s3").list_objects_v2(Bucket=BUCKET).get("Contents", []) == bucket, "the dry run wrote nothing"
    assert not [name for name in aws.log.operations() if name in ("PutObject", "CreateMultipartUpload", "CreateTrainingJob")]
    assert trainer.base_job_name.startswith("convlab-x-") and channels[0].channel_name == "train"

    started = cloud.start_training_job(aws, source, f"s3://{BUCKET}/data", {"seed": 1}, job_prefix="convlab-x", wait=False)
    assert aws.log.operations().count("CreateTrainingJob") == 1 and "PutObject" in aws.log.operations()
    job = cloud.training_job_of(started)
    assert job.training_job_name.startswith(started.base_job_name)
    other = cloud.start_training_job(aws, source, f"s3://{BUCKET}/data", {"seed": 2}, job_prefix="convlab-x", wait=False)
    assert cloud.training_job_of(other).training_job_name != job.training_job_name, "each trainer finds its own job"


def entry_script_only(folder):
    """A source folder with the entry script alone: each of the sweep's jobs uploads it once,
    and what they upload is checked by the mode-aws test, which ships the staged package."""
    import shutil

    folder.mkdir(parents=True)
    shutil.copyfile(artifact.ENTRY_DIR / "train.py", folder / "train.py")
    return folder


def sweep(aws, run_inputs, tmp_path, seeds=(0, 1)):
    params, _ = run_inputs
    source = entry_script_only(tmp_path / "source")
    return cloud.launch_sweep(aws, source, f"s3://{BUCKET}/convlab/data", artifact.hyperparameters(params), (3, 5), seeds)


def test_one_failed_sweep_job_does_not_hide_the_others(aws, run_inputs, tmp_path):
    def fail_kernel_5_seed_0(params, answer):
        if (params["HyperParameters"]["first-kernel"], params["HyperParameters"]["seed"]) == ("5", "0"):
            end_as("Failed", "ClientError: no space left on device")(params, answer)

    aws.faults.after("CreateTrainingJob", fail_kernel_5_seed_0)
    jobs = sweep(aws, run_inputs, tmp_path, seeds=(0,))  # two jobs: one fails, one completes
    outcomes = cloud.sweep_outcomes(jobs)
    assert sorted(outcomes["status"]) == ["Completed", "Failed"]
    (failed,) = outcomes[outcomes["status"] == "Failed"].to_dict(orient="records")
    assert failed == {
        "first kernel": "5",
        "seed": "0",
        "status": "Failed",
        "failure reason": "ClientError: no space left on device",
    }
    (completed,) = outcomes[outcomes["status"] == "Completed"].to_dict(orient="records")
    assert (completed["first kernel"], completed["failure reason"]) == ("3", "")


def test_a_quota_error_part_way_through_the_sweep_stops_the_jobs_already_started(aws, run_inputs, tmp_path):
    stopped = []

    aws.faults.after("CreateTrainingJob", end_as("InProgress"))
    quota = client_error(
        "ResourceLimitExceeded", "The account-level service limit for ml.m5.large is 2 Instances", "CreateTrainingJob"
    )
    aws.faults.raise_on("CreateTrainingJob", quota, call=3)
    aws.faults.answer("StopTrainingJob", stop_first_refuse_rest(stopped))
    with pytest.raises(cloud.SweepError, match="after starting 2 of 4 jobs .*ResourceLimitExceeded") as caught:
        sweep(aws, run_inputs, tmp_path)
    first, second = caught.value.outcomes
    assert first == {"job": stopped[0], "status": "Stopping", "stopped": True}
    assert second["stopped"] is False and "cannot be stopped now" in second["error"]
    assert second["stop it with"] == f"aws sagemaker stop-training-job --training-job-name {second['job']}"


# --- the summary of what mode aws measured --------------------------------------------------------------------

AWS_RUN = {
    "training_job": {"job": "convlab-cnn-1", "status": "Completed", "artifact_uri": "s3://b/model.tar.gz"},
    "names": {"endpoint": "convlab-endpoint-1"},
    "images": 1000,
    "accuracy": 0.9123,
    "single_ms_p50": 12.34,
    "single_ms_p99": 56.78,
}
AWS_RUN_OPENING = {
    "training job": "convlab-cnn-1",
    "training job status": "Completed",
    "artifact": "s3://b/model.tar.gz",
    "endpoint": "convlab-endpoint-1",
    "test images classified through the endpoint": 1000,
    "accuracy (%)": 91.23,
    "single image, median (ms, network included)": 12.34,
    "single image, 99th percentile (ms, network included)": 56.78,
}
DELETED = [{"resource": kind, "deleted": True} for kind in ("endpoint", "endpoint_config", "model")]
NOT_DELETED = {"resource": "endpoint", "deleted": False, "error": "still Creating", "delete it with": "aws sagemaker x"}
REFUSED = "bad requests answered by ModelError with the container's 4xx status"
AWS_RUN_CASES = [  # case, what the run adds, the rows after the opening
    (
        "no bad requests, all deleted",
        {"clean_up": DELETED},
        {"deleted afterwards": "endpoint, endpoint_config, model"},
    ),
    (
        "bad requests refused, one resource left",
        {
            "bad_requests": [
                {"error": "ModelError", "status": 415},
                {"error": "ModelError", "status": 400},
                {"error": "ModelError", "status": 400},
                {"error": "ModelError", "status": 500},
                {"error": "ValidationError", "status": None},
            ],
            "clean_up": [NOT_DELETED, *DELETED[1:]],
        },
        {
            REFUSED: "3 of 5 (400, 415)",
            "deleted afterwards": "endpoint_config, model",
            "NOT deleted": "endpoint (still Creating; aws sagemaker x)",
        },
    ),
    (
        "no bad request refused",
        {"bad_requests": [{"error": "ValidationError", "status": None}], "clean_up": DELETED},
        {REFUSED: "0 of 1", "deleted afterwards": "endpoint, endpoint_config, model"},
    ),
]


@pytest.mark.parametrize("case, added, expected", AWS_RUN_CASES, ids=[row[0] for row in AWS_RUN_CASES])
def test_the_aws_run_summary_says_what_was_measured_and_what_was_deleted(case, added, expected):
    assert summary.aws_run(AWS_RUN | added) == AWS_RUN_OPENING | expected
