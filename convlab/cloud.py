"""Mode `aws`: a training job, a real-time endpoint from its `model.tar.gz`, test images through it, always cleaned up.

The images: training in TensorFlow `deployment.TRAINING_IMAGE_VERSION` and serving in TF Serving
`deployment.SERVING_IMAGE_VERSION` (see `deployment` for why, and for the rule that lets a SavedModel of
the one load in the other). `AwsSettings` checks both against the SDK's image list when it is made,
before anything is paid for. Every resource this module creates (model, endpoint configuration,
endpoint) is deleted in a `finally` path, newest first, even when a step fails; an endpoint still being
created is waited for until it can be deleted. A training job that fails raises `TrainingJobFailed` with
SageMaker's `FailureReason`; in the sweep, every job's outcome is reported and jobs left running are stopped.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from convlab import data, deployment

CHANGING_ENDPOINT_STATES = ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting")
TESTED_IMAGE_PAIRS = {("2.21", "2.20")}  # training → serving pairs whose SavedModel the tests load across versions


@dataclass(frozen=True)
class AwsSettings:
    """Where and on what mode `aws` runs (cheap defaults: CPU instances)."""

    region: str
    role_arn: str
    bucket: str = ""  # empty: the account's SageMaker default bucket
    prefix: str = "convlab"
    training_instance: str = "ml.m5.large"
    inference_instance: str = "ml.m5.large"
    training_version: str = deployment.TRAINING_IMAGE_VERSION
    serving_version: str = deployment.SERVING_IMAGE_VERSION
    py_version: str = "py312"
    max_run_seconds: int = 3600
    name_prefix: str = "convlab"
    poll_seconds: float = 30.0
    max_wait_seconds: float = 1800.0

    def __post_init__(self) -> None:
        if not self.region:
            raise ValueError("Mode aws needs a region (parameter aws_region, e.g. 'eu-west-1').")
        if not self.role_arn.startswith("arn:aws:iam::"):
            raise ValueError(
                "Mode aws needs the ARN of a SageMaker execution role (arn:aws:iam::<account>:role/<name>), "
                f"got {self.role_arn!r}."
            )
        check_image_pair(self.training_version, self.serving_version)
        for scope in ("training", "inference"):
            image_uri(self, scope)  # an unavailable version stops here, naming the ones that exist


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def check_image_pair(training_version: str, serving_version: str) -> None:
    """A SavedModel loads in TF Serving of its own version or newer; an older server only for a pair the tests load."""
    newer_training = _version_key(training_version)[:2] > _version_key(serving_version)[:2]
    if newer_training and (training_version, serving_version) not in TESTED_IMAGE_PAIRS:
        tested = ", ".join(f"{train} → {serve}" for train, serve in sorted(TESTED_IMAGE_PAIRS))
        raise ValueError(
            f"TensorFlow {training_version} training with TF Serving {serving_version}: an older TF Serving loads a newer "
            f"SavedModel only when every op is known to it, which the tests check for {tested} only. Use a serving version "
            f"of at least {training_version}, or one of those pairs."
        )


def _image_config(scope: str) -> dict:
    from sagemaker.core import image_uris

    return image_uris.config_for_framework("tensorflow")[scope]


def available_versions(scope: str) -> list[str]:
    """The TensorFlow versions (major.minor) the installed SageMaker SDK lists for `scope`, offline, oldest first."""
    versions = set(_image_config(scope)["versions"]) | set(_image_config(scope).get("version_aliases", {}))
    return sorted({".".join(version.split(".")[:2]) for version in versions}, key=_version_key)


def _py_versions(scope: str, version: str) -> list[str]:
    config = _image_config(scope)
    full = config.get("version_aliases", {}).get(version, version)
    return list(config["versions"].get(full, {}).get("py_versions", []))


def image_uri(settings: AwsSettings, scope: str) -> str:
    """The AWS TensorFlow image for `scope` ("training" or "inference") in the settings' region and version."""
    import importlib.metadata

    from sagemaker.core import image_uris

    version = settings.training_version if scope == "training" else settings.serving_version
    instance = settings.training_instance if scope == "training" else settings.inference_instance
    parameter = "training_version" if scope == "training" else "serving_version"
    if version not in available_versions(scope):
        raise ValueError(
            f"No TensorFlow {version} {scope} image in SageMaker SDK {importlib.metadata.version('sagemaker')}. "
            f"Versions with a {scope} image: {', '.join(available_versions(scope)[-8:])} (parameter {parameter}). "
            "A newer SDK lists newer images: `python -m pip install -e .[aws]` installs the one tested here."
        )
    python = settings.py_version if settings.py_version in _py_versions(scope, version) else None
    try:
        return image_uris.retrieve(
            "tensorflow", settings.region, version=version, py_version=python, instance_type=instance, image_scope=scope
        )
    except ValueError as error:
        raise ValueError(f"No TensorFlow {version} {scope} image for {instance} in {settings.region}: {error}") from None


@dataclass
class AwsSession:
    """One boto3 session for every AWS call of a run, and the SageMaker SDK session on top."""

    settings: AwsSettings
    boto_session: object
    sagemaker_session: object
    bucket: str

    def client(self, service: str):
        return self.boto_session.client(service)


def connect(settings: AwsSettings, boto_session=None) -> AwsSession:
    """Open the session (credentials come from the usual boto3 chain and are never printed or logged)."""
    import boto3
    from sagemaker.core.helper.session_helper import Session

    boto_session = boto_session or boto3.Session(region_name=settings.region)
    sagemaker_session = Session(boto_session=boto_session, default_bucket=settings.bucket or None)
    bucket = settings.bucket or sagemaker_session.default_bucket()
    return AwsSession(settings, boto_session, sagemaker_session, bucket)


# --- training jobs ---------------------------------------------------------------------------------------------


class TrainingJobFailed(RuntimeError):
    """A training job that ended other than Completed; the message carries SageMaker's FailureReason."""


def validate_hyperparameters(source_dir, hyperparameters: dict) -> None:
    """Parse the job's hyperparameters with the staged entry script's own parser, strictly, before anything is paid for."""
    import contextlib
    import importlib.util
    import io
    import sys
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("convlab_staged_train", Path(source_dir) / "train.py")
    entry = importlib.util.module_from_spec(spec)
    search_path = list(sys.path)
    try:
        spec.loader.exec_module(entry)
    finally:
        sys.path[:] = search_path  # the script puts its staged copy of convlab first; this process keeps its own
    arguments = [item for name, value in hyperparameters.items() for item in (f"--{name}", str(value))]
    messages = io.StringIO()
    try:
        with contextlib.redirect_stderr(messages):
            entry.argument_parser().parse_args(arguments)
    except SystemExit:
        problem = messages.getvalue().strip().splitlines()[-1]
        raise ValueError(f"The training job's hyperparameters do not parse ({problem}); fix them before submitting.") from None


def _model_trainer(aws: AwsSession, source_dir, hyperparameters: dict, job_prefix: str):
    from sagemaker.core.training.configs import Compute, OutputDataConfig, SourceCode, StoppingCondition
    from sagemaker.train import ModelTrainer

    settings = aws.settings
    return ModelTrainer(
        training_image=image_uri(settings, "training"),
        source_code=SourceCode(source_dir=str(source_dir), entry_script="train.py"),
        compute=Compute(instance_type=settings.training_instance, instance_count=1),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=settings.max_run_seconds),
        role=settings.role_arn,
        base_job_name=job_prefix,
        hyperparameters=hyperparameters,
        output_data_config=OutputDataConfig(s3_output_path=f"s3://{aws.bucket}/{settings.prefix}/jobs/{job_prefix}"),
        sagemaker_session=aws.sagemaker_session,
    )


def training_job_of(trainer):
    """The SDK's handle on the job a `ModelTrainer` started (SDK 3.27 has no public attribute for it)."""
    return trainer._latest_training_job


def start_training_job(aws: AwsSession, source_dir, data_uri: str, hyperparameters: dict, *, job_prefix: str, wait: bool):
    """A SageMaker training job (SDK v3 `ModelTrainer`) that runs the staged entry script on the data in `data_uri`.

    The hyperparameters are parsed by the entry script's own parser and the request by the SDK (`dry_run`) first.
    With `wait`, a job that ends Failed raises `TrainingJobFailed` with its FailureReason.
    """
    from sagemaker.core.training.configs import InputData
    from sagemaker.core.utils.exceptions import FailedStatusError

    validate_hyperparameters(source_dir, hyperparameters)
    trainer = _model_trainer(aws, source_dir, hyperparameters, job_prefix)
    channels = [InputData(channel_name="train", data_source=data_uri)]
    trainer.train(input_data_config=channels, wait=False, logs=False, dry_run=True)
    try:
        trainer.train(input_data_config=channels, wait=wait, logs=False)
    except FailedStatusError:
        raise TrainingJobFailed(failure_message(training_job_of(trainer))) from None
    return trainer


def failure_message(job) -> str:
    """A failed job's name, status and SageMaker's FailureReason, and where its log is."""
    job.refresh()
    reason = job.failure_reason if isinstance(job.failure_reason, str) else "SageMaker gave no reason"
    return (
        f"Training job {job.training_job_name} ended as {job.training_job_status}: {reason}. "
        f"Its log: CloudWatch group /aws/sagemaker/TrainingJobs, streams {job.training_job_name}/*."
    )


def job_summary(job) -> dict:
    """Name, status, failure reason, and S3 locations of a job (`model.tar.gz`, and `output.tar.gz` with the record)."""
    job.refresh()
    artifacts = job.model_artifacts
    artifact = artifacts.s3_model_artifacts if artifacts and isinstance(artifacts.s3_model_artifacts, str) else ""
    return {
        "job": job.training_job_name,
        "status": job.training_job_status,
        "failure_reason": job.failure_reason if isinstance(job.failure_reason, str) else "",
        "hyperparameters": dict(job.hyper_parameters or {}),
        "artifact_uri": artifact,
        "output_uri": artifact.rsplit("/", 1)[0] + "/output.tar.gz" if artifact else "",
    }


def stop_command(job_name: str) -> str:
    return f"aws sagemaker stop-training-job --training-job-name {job_name}"


def stop_jobs(jobs) -> list[dict]:
    """Stop every job that has not ended; each outcome says whether it stopped, or the command that stops it."""
    outcomes = []
    for job in jobs:
        try:
            job.refresh()
            if job.training_job_status in ("InProgress", "Stopping"):
                job.stop()
                outcomes.append({"job": job.training_job_name, "status": "Stopping", "stopped": True})
        except Exception as error:  # report it and go on with the others
            outcomes.append(
                {
                    "job": job.training_job_name,
                    "stopped": False,
                    "error": str(error),
                    "stop it with": stop_command(job.training_job_name),
                }
            )
    return outcomes


class SweepError(RuntimeError):
    """The sweep could not be launched or waited for; `outcomes` says what happened to every job it started."""

    def __init__(self, message: str, outcomes: list[dict]):
        super().__init__(message)
        self.outcomes = outcomes


def launch_sweep(aws: AwsSession, source_dir, data_uri: str, base_hyperparameters: dict, kernels, seeds) -> list[dict]:
    """The kernel-size sweep as parallel training jobs (one per kernel and seed); returns every job's outcome when all ended.

    A job that fails does not hide the others: its summary carries its status and FailureReason. When launching
    stops part-way (a quota such as ResourceLimitExceeded) or waiting is interrupted, the jobs already started are
    stopped, and `SweepError.outcomes` lists each one (with the command that stops it where stopping failed).
    """
    from sagemaker.core.utils.exceptions import FailedStatusError

    jobs = []
    try:
        for kernel in kernels:
            for seed in seeds:
                trainer = start_training_job(
                    aws,
                    source_dir,
                    data_uri,
                    base_hyperparameters | {"model": "cnn", "first-kernel": kernel, "seed": seed},
                    job_prefix=f"{aws.settings.name_prefix}-k{kernel}-s{seed}",
                    wait=False,
                )
                jobs.append(training_job_of(trainer))
        for job in jobs:
            try:
                job.wait(logs=False)
            except FailedStatusError:
                pass  # its summary reports it
    except BaseException as error:
        outcomes = stop_jobs(jobs)
        raise SweepError(
            f"The sweep stopped after starting {len(jobs)} of {len(kernels) * len(seeds)} jobs "
            f"({type(error).__name__}: {error}); "
            "the jobs started were stopped, see .outcomes.",
            outcomes,
        ) from error
    return [job_summary(job) for job in jobs]


# --- the endpoint ----------------------------------------------------------------------------------------------


def resource_names(prefix: str, now: datetime | None = None) -> dict[str, str]:
    """Unique names for the model, endpoint configuration and endpoint of one deployment."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
    return {kind: f"{prefix}-{kind}-{stamp}" for kind in ("model", "config", "endpoint")}


def deploy_invoke_and_clean_up(
    settings: AwsSettings,
    image_uri: str,
    artifact_uri: str,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    sagemaker_client,
    runtime_client,
    batch_size: int = 256,
    single_requests: int = 100,
) -> dict:
    """Deploy the artifact, classify `images` through the endpoint, send the bad requests, time single images; delete all."""
    names = resource_names(settings.name_prefix)
    created: list[tuple[str, str]] = []
    result: dict = {"names": names}
    try:
        sagemaker_client.create_model(
            ModelName=names["model"],
            PrimaryContainer={"Image": image_uri, "ModelDataUrl": artifact_uri},
            ExecutionRoleArn=settings.role_arn,
        )
        created.append(("model", names["model"]))
        sagemaker_client.create_endpoint_config(
            EndpointConfigName=names["config"],
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": names["model"],
                    "InitialInstanceCount": 1,
                    "InstanceType": settings.inference_instance,
                }
            ],
        )
        created.append(("endpoint_config", names["config"]))
        sagemaker_client.create_endpoint(EndpointName=names["endpoint"], EndpointConfigName=names["config"])
        created.append(("endpoint", names["endpoint"]))
        sagemaker_client.get_waiter("endpoint_in_service").wait(
            EndpointName=names["endpoint"],
            WaiterConfig={
                "Delay": settings.poll_seconds,
                "MaxAttempts": max(1, int(settings.max_wait_seconds / settings.poll_seconds)),
            },
        )
        result |= _classify(runtime_client, names["endpoint"], images, labels, batch_size, single_requests)
        result["bad_requests"] = bad_requests_through_endpoint(runtime_client, names["endpoint"])
    except BaseException as error:  # an interrupted run cleans up too, and says what it could not delete
        left = [outcome for outcome in clean_up(sagemaker_client, created, settings) if not outcome["deleted"]]
        for outcome in left:
            error.add_note(
                f"Not deleted: {outcome['resource']} {outcome['name']} ({outcome['error']}); {outcome['delete it with']}"
            )
        raise
    result["clean_up"] = clean_up(sagemaker_client, created, settings)
    return result


def _classify(
    runtime_client, endpoint_name: str, images: np.ndarray, labels: np.ndarray, batch_size: int, single_requests: int
) -> dict:
    """Accuracy over `images` (batched requests), then the latency of single-image requests, through the endpoint."""

    def request(batch: np.ndarray) -> tuple[list, float]:
        body = deployment.json_body(batch)
        started = time.perf_counter()
        answer = runtime_client.invoke_endpoint(EndpointName=endpoint_name, ContentType="application/json", Body=body)
        predictions = json.loads(answer["Body"].read())["predictions"]
        return predictions, 1000 * (time.perf_counter() - started)

    predicted, batch_ms = [], []
    for start in range(0, len(images), batch_size):
        predictions, milliseconds = request(images[start : start + batch_size])
        predicted += [prediction["label"] for prediction in predictions]
        batch_ms.append(milliseconds)
    single_ms = [request(images[index % len(images)][np.newaxis])[1] for index in range(single_requests)]
    predicted = np.asarray(predicted)
    return {
        "images": int(len(predicted)),
        "accuracy": float(np.mean(predicted == labels[: len(predicted)])),
        "batch_size": batch_size,
        "batch_request_ms_p50": float(np.percentile(batch_ms, 50)),
        "single_requests": single_requests,
        "single_ms_p50": float(np.percentile(single_ms, 50)) if single_ms else None,
        "single_ms_p99": float(np.percentile(single_ms, 99)) if single_ms else None,
    }


def invoke_outcome(runtime_client, endpoint_name: str, body: bytes, content_type: str) -> dict:
    """What a client of the real endpoint sees for one request: the container's status and message, from `ModelError`.

    SageMaker Runtime raises `ModelError` (HTTP 424) for any answer of the container other than 200, carrying the
    container's status as `OriginalStatusCode` and its body as `OriginalMessage`; errors of the runtime itself
    (a payload over 6 MB, say) come with their own code and never reach the container.
    """
    from botocore.exceptions import ClientError

    try:
        answer = runtime_client.invoke_endpoint(EndpointName=endpoint_name, ContentType=content_type, Body=body)
    except runtime_client.exceptions.ModelError as error:
        original = error.response.get("OriginalMessage", "")
        try:
            message = deployment.error_message(json.loads(original))
        except (ValueError, AttributeError):
            message = original
        return {"status": int(error.response.get("OriginalStatusCode", 0)), "message": message, "error": "ModelError"}
    except ClientError as error:
        return {"status": None, "message": error.response["Error"].get("Message", ""), "error": error.response["Error"]["Code"]}
    answer["Body"].read()
    return {"status": 200, "message": "", "error": ""}


def bad_requests_through_endpoint(runtime_client, endpoint_name: str) -> list[dict]:
    """Each example bad request of `deployment.BAD_REQUEST_EXAMPLES` sent to the endpoint: what the client got back."""
    rows = []
    for case, (body, content_type, _) in deployment.BAD_REQUEST_EXAMPLES.items():
        rows.append(
            {"request": case, "content type": content_type} | invoke_outcome(runtime_client, endpoint_name, body, content_type)
        )
    return rows


def _endpoint_status(sagemaker_client, name: str) -> str | None:
    """The endpoint's status, or None when it no longer exists."""
    from botocore.exceptions import ClientError

    try:
        return sagemaker_client.describe_endpoint(EndpointName=name)["EndpointStatus"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "ValidationException":
            return None
        raise


def _delete_endpoint(sagemaker_client, name: str, settings: AwsSettings) -> None:
    """Delete an endpoint, first waiting while it is being created or changed (SageMaker refuses to delete it then)."""
    from botocore.exceptions import ClientError

    deadline = time.monotonic() + settings.max_wait_seconds
    while True:
        status = _endpoint_status(sagemaker_client, name)
        if status is None:
            return
        if status not in CHANGING_ENDPOINT_STATES:
            try:
                sagemaker_client.delete_endpoint(EndpointName=name)
                return
            except ClientError as error:
                if error.response["Error"]["Code"] != "ValidationException" or time.monotonic() > deadline:
                    raise
        elif time.monotonic() > deadline:
            raise TimeoutError(f"endpoint {name} was still {status} after {settings.max_wait_seconds:g} s")
        time.sleep(settings.poll_seconds)


DELETE_COMMANDS = {
    "endpoint": "aws sagemaker delete-endpoint --endpoint-name {}",
    "endpoint_config": "aws sagemaker delete-endpoint-config --endpoint-config-name {}",
    "model": "aws sagemaker delete-model --model-name {}",
}


def clean_up(sagemaker_client, created: list[tuple[str, str]], settings: AwsSettings) -> list[dict]:
    """Delete what was created, newest first; every deletion is tried, and what could not be deleted is reported."""
    deleters = {
        "endpoint": lambda name: _delete_endpoint(sagemaker_client, name, settings),
        "endpoint_config": lambda name: sagemaker_client.delete_endpoint_config(EndpointConfigName=name),
        "model": lambda name: sagemaker_client.delete_model(ModelName=name),
    }
    outcomes = []
    for kind, name in reversed(created):
        try:
            deleters[kind](name)
            outcomes.append({"resource": kind, "name": name, "deleted": True})
        except Exception as error:  # keep deleting the others; report what could not be deleted
            outcomes.append(
                {
                    "resource": kind,
                    "name": name,
                    "deleted": False,
                    "error": str(error),
                    "delete it with": DELETE_COMMANDS[kind].format(name),
                }
            )
    return outcomes


def train_deploy_and_evaluate(
    aws: AwsSession,
    params,
    dataset,
    *,
    model: str = "cnn",
    seed: int = 0,
    source_dir,
    evaluation_images: int = 1000,
    latency_requests: int = 100,
) -> dict:
    """Mode aws end to end: data to S3, a training job, an endpoint from its artifact, test images through it, clean-up."""
    settings = aws.settings
    folder = data.SPECS[params.dataset].folder
    data_uri = upload_dataset(aws.client("s3"), params.data_dir, folder, aws.bucket, f"{settings.prefix}/data")
    trainer = start_training_job(
        aws,
        deployment.stage_source(source_dir),
        data_uri,
        deployment.hyperparameters(params, model, seed),
        job_prefix=f"{settings.name_prefix}-{model}",
        wait=True,
    )
    job = job_summary(training_job_of(trainer))
    if job["status"] != "Completed":
        raise TrainingJobFailed(
            f"Training job {job['job']} ended as {job['status']}: {job['failure_reason'] or 'no reason given'}."
        )
    images, labels = dataset.x_test[:evaluation_images], dataset.y_test[:evaluation_images]
    served = deploy_invoke_and_clean_up(
        settings,
        image_uri(settings, "inference"),
        job["artifact_uri"],
        images,
        labels,
        sagemaker_client=aws.client("sagemaker"),
        runtime_client=aws.client("sagemaker-runtime"),
        single_requests=latency_requests,
    )
    return {"training_job": job, "data_uri": data_uri} | served


def upload_dataset(s3_client, data_dir, dataset_folder: str, bucket: str, prefix: str) -> str:
    """Upload a dataset's IDX files to `s3://<bucket>/<prefix>/<folder>/`; return the channel URI (`s3://<bucket>/<prefix>`)."""
    from pathlib import Path

    folder = Path(data_dir) / dataset_folder
    files = sorted(folder.glob("*-ubyte.gz"))
    if len(files) != 4:
        raise FileNotFoundError(f"Expected the 4 IDX .gz files in {folder}, found {len(files)}; see data/README.md.")
    for path in files:
        s3_client.upload_file(str(path), bucket, f"{prefix}/{dataset_folder}/{path.name}")
    return f"s3://{bucket}/{prefix}"


def collect_records(s3_client, jobs: list[dict], results_dir, models_dir) -> list:
    """Download the result records (`*-seed*.json`) and Keras models that the given training jobs left behind.

    A job leaves the files of `SM_OUTPUT_DATA_DIR` in its `output.tar.gz` (`job["output_uri"]`); records go to
    `results_dir` and models to `models_dir`, the report's own layout, each written atomically.
    """
    import io
    import tarfile
    from pathlib import Path

    targets = {".json": Path(results_dir), ".keras": Path(models_dir)}
    collected = []
    for job in jobs:
        bucket, key = job["output_uri"].removeprefix("s3://").split("/", 1)
        try:
            payload = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except s3_client.exceptions.NoSuchKey:
            raise FileNotFoundError(
                f"Training job {job['job']} left no {job['output_uri']}; it ended as {job.get('status')}: see its log."
            ) from None
        with tarfile.open(fileobj=io.BytesIO(payload), mode="r:gz") as archive:
            for member in archive.getmembers():
                name = Path(member.name).name
                if not (member.isfile() and "-seed" in name and Path(name).suffix in targets):
                    continue
                folder = targets[Path(name).suffix]
                folder.mkdir(parents=True, exist_ok=True)
                temporary = folder / f".{name}.part"
                temporary.write_bytes(archive.extractfile(member).read())
                temporary.replace(folder / name)
                collected.append(folder / name)
    return sorted(collected)


def describe_aws_run(result: dict) -> str:
    """One paragraph on what mode aws measured."""
    job = result["training_job"]
    return (
        f"Training job `{job['job']}` ended as {job['status']}; its artifact `{job['artifact_uri']}` was served by "
        f"endpoint `{result['names']['endpoint']}`. Through the endpoint, {result['images']} test images were classified "
        f"with accuracy {100 * result['accuracy']:.2f}%; single-image requests took {result['single_ms_p50']:.1f} ms "
        f"(median) and {result['single_ms_p99']:.1f} ms (99th percentile) from this machine, network included. "
        + _bad_requests_sentence(result.get("bad_requests", []))
        + "Deleted afterwards: "
        + ", ".join(
            f"{item['resource']} yes"
            if item["deleted"]
            else f"{item['resource']} **NO** ({item['error']}; `{item['delete it with']}`)"
            for item in result["clean_up"]
        )
        + "."
    )


def _bad_requests_sentence(rows: list[dict]) -> str:
    if not rows:
        return ""
    refused = [row for row in rows if row["error"] == "ModelError" and 400 <= row["status"] < 500]
    statuses = sorted({row["status"] for row in refused})
    return (
        f"Of {len(rows)} bad requests, {len(refused)} came back as ModelError with the container's 4xx status "
        f"({', '.join(map(str, statuses)) or 'none'}) as OriginalStatusCode. "
    )


def bad_request_outcomes(rows: list[dict]):
    """The bad requests sent through `invoke_endpoint`: the error class, the container's status and its message."""
    import pandas as pd

    return pd.DataFrame(rows).set_index("request")


def sweep_outcomes(jobs: list[dict]):
    """Every sweep job's name, kernel, seed, status and failure reason, as a table."""
    import pandas as pd

    rows = [
        {
            "job": job["job"],
            "first kernel": job["hyperparameters"].get("first-kernel"),
            "seed": job["hyperparameters"].get("seed"),
            "status": job["status"],
            "failure reason": job["failure_reason"],
        }
        for job in jobs
    ]
    return pd.DataFrame(rows).set_index("job")
