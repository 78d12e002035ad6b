"""Mode `aws`: a real-time endpoint from a `model.tar.gz` in S3, invoked with test images, always cleaned up.

Every resource this module creates (model, endpoint configuration, endpoint) is deleted in a
`finally` path, in reverse order of creation, even when a step fails; `CallLog` records the
calls made, without their credentials, so that tests (against a moto server) can check their
arguments, their order and the clean-up.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from convlab import data, deployment

SECRET_KEYS = ("AccessKeyId", "SecretAccessKey", "SessionToken", "aws_access_key_id", "aws_secret_access_key")


@dataclass(frozen=True)
class AwsSettings:
    """Where and on what mode `aws` runs (cheap defaults: CPU instances, the TensorFlow 2.19 images)."""

    region: str
    role_arn: str
    bucket: str = ""  # empty: the account's SageMaker default bucket
    prefix: str = "convlab"
    training_instance: str = "ml.m5.large"
    inference_instance: str = "ml.m5.large"
    framework_version: str = "2.19"  # the newest version with both a training and a serving image
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


@dataclass
class CallLog:
    """The AWS operations called, in order, with their arguments (secrets and payloads removed)."""

    calls: list[tuple[str, dict]] = field(default_factory=list)
    services: list[str] = field(default_factory=list)

    def attach(self, client_or_session) -> None:
        """Record the calls of a boto3 client, or of every client that a boto3 session creates afterwards."""
        has_meta = hasattr(client_or_session, "meta")
        events = client_or_session.meta.events if has_meta else client_or_session.events
        events.register("provide-client-params.*.*", self._record)

    def _record(self, params, model, event_name="", **kwargs):
        self.services.append(event_name.split(".")[1] if event_name.count(".") >= 2 else "")
        self.calls.append((model.name, {key: value for key, value in params.items() if key not in SECRET_KEYS and key != "Body"}))

    def operations(self, service: str | None = None) -> list[str]:
        """Operation names in call order, optionally of one service ("sagemaker", "s3", "sagemaker-runtime")."""
        return [name for (name, _), owner in zip(self.calls, self.services, strict=True) if service in (None, owner)]

    def arguments(self, operation: str) -> list[dict]:
        """The arguments of every call of `operation`, in order."""
        return [params for name, params in self.calls if name == operation]


@dataclass
class AwsSession:
    """One boto3 session for every AWS call of a run, the SageMaker SDK session on top, and the log of calls."""

    settings: AwsSettings
    boto_session: object
    sagemaker_session: object
    log: CallLog
    bucket: str

    def client(self, service: str):
        return self.boto_session.client(service)


def connect(settings: AwsSettings) -> AwsSession:
    """Open the session (credentials come from the usual boto3 chain and are never printed or logged)."""
    import boto3
    from sagemaker.core.helper.session_helper import Session

    boto_session = boto3.Session(region_name=settings.region)
    log = CallLog()
    log.attach(boto_session)
    sagemaker_session = Session(boto_session=boto_session, default_bucket=settings.bucket or None)
    bucket = settings.bucket or sagemaker_session.default_bucket()
    return AwsSession(settings, boto_session, sagemaker_session, log, bucket)


def image_uri(settings: AwsSettings, scope: str) -> str:
    """The AWS TensorFlow image for `scope` ("training" or "inference") in the settings' region and version."""
    from sagemaker.core import image_uris

    instance = settings.training_instance if scope == "training" else settings.inference_instance
    return image_uris.retrieve(
        "tensorflow",
        settings.region,
        version=settings.framework_version,
        py_version=settings.py_version if scope == "training" else None,
        instance_type=instance,
        image_scope=scope,
    )


def start_training_job(aws: AwsSession, source_dir, data_uri: str, hyperparameters: dict, *, job_prefix: str, wait: bool):
    """A SageMaker training job (SDK v3 `ModelTrainer`) that runs the staged entry script on the data in `data_uri`."""
    from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig, SourceCode, StoppingCondition
    from sagemaker.train import ModelTrainer

    settings = aws.settings
    trainer = ModelTrainer(
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
    trainer.train(input_data_config=[InputData(channel_name="train", data_source=data_uri)], wait=wait, logs=False)
    return trainer


def job_summary(trainer) -> dict:
    """Name, status, and S3 locations of a trainer's latest job (`model.tar.gz`, and `output.tar.gz` with the record)."""
    job = trainer._latest_training_job  # the SDK's handle on the job it started
    job.refresh()
    artifact = job.model_artifacts.s3_model_artifacts
    return {
        "job": job.training_job_name,
        "status": job.training_job_status,
        "hyperparameters": dict(job.hyper_parameters or {}),
        "artifact_uri": artifact,
        "output_uri": artifact.rsplit("/", 1)[0] + "/output.tar.gz",
    }


def launch_sweep(aws: AwsSession, source_dir, data_uri: str, base_hyperparameters: dict, kernels, seeds) -> list[dict]:
    """The kernel-size sweep as parallel training jobs (one per kernel and seed); returns when all have ended."""
    trainers = [
        start_training_job(
            aws,
            source_dir,
            data_uri,
            base_hyperparameters | {"model": "cnn", "first-kernel": kernel, "seed": seed},
            job_prefix=f"{aws.settings.name_prefix}-k{kernel}-s{seed}",
            wait=False,
        )
        for kernel in kernels
        for seed in seeds
    ]
    for trainer in trainers:
        trainer._latest_training_job.wait(logs=False)
    return [job_summary(trainer) for trainer in trainers]


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
    fail_after: str | None = None,
) -> dict:
    """Deploy the artifact, classify `images` through the endpoint, measure latency; delete everything at the end.

    `fail_after` names a step ("model", "config", "endpoint", "in_service", "invoke") after which an error is
    raised on purpose: the tests use it to prove that clean-up happens on every path.
    """
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
        _maybe_fail(fail_after, "model")
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
        _maybe_fail(fail_after, "config")
        sagemaker_client.create_endpoint(EndpointName=names["endpoint"], EndpointConfigName=names["config"])
        created.append(("endpoint", names["endpoint"]))
        _maybe_fail(fail_after, "endpoint")
        sagemaker_client.get_waiter("endpoint_in_service").wait(
            EndpointName=names["endpoint"],
            WaiterConfig={
                "Delay": settings.poll_seconds,
                "MaxAttempts": max(1, int(settings.max_wait_seconds / settings.poll_seconds)),
            },
        )
        _maybe_fail(fail_after, "in_service")
        result |= _classify(runtime_client, names["endpoint"], images, labels, batch_size, single_requests)
        _maybe_fail(fail_after, "invoke")
    finally:
        result["clean_up"] = clean_up(sagemaker_client, created)
    return result


class InjectedFailure(RuntimeError):
    """An error raised on purpose after a named step (tests of the clean-up path)."""


def _maybe_fail(fail_after: str | None, step: str) -> None:
    if fail_after == step:
        raise InjectedFailure(f"injected failure after step {step!r}")


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


def clean_up(sagemaker_client, created: list[tuple[str, str]]) -> list[dict]:
    """Delete what was created, newest first; every deletion is tried and its outcome reported."""
    deleters = {
        "endpoint": lambda name: sagemaker_client.delete_endpoint(EndpointName=name),
        "endpoint_config": lambda name: sagemaker_client.delete_endpoint_config(EndpointConfigName=name),
        "model": lambda name: sagemaker_client.delete_model(ModelName=name),
    }
    outcomes = []
    for kind, name in reversed(created):
        try:
            deleters[kind](name)
            outcomes.append({"resource": kind, "name": name, "deleted": True})
        except Exception as error:  # keep deleting the others; report what could not be deleted
            outcomes.append({"resource": kind, "name": name, "deleted": False, "error": str(error)})
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
    fail_after: str | None = None,
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
    job = job_summary(trainer)
    if job["status"] != "Completed":
        raise RuntimeError(f"Training job {job['job']} ended as {job['status']}; its CloudWatch log says why.")
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
        fail_after=fail_after,
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
        + "Deleted afterwards: "
        + ", ".join(
            f"{item['resource']} {'yes' if item['deleted'] else 'NO: ' + item.get('error', '')}" for item in result["clean_up"]
        )
        + "."
    )
