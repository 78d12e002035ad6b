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

SECRET_KEYS = ("AccessKeyId", "SecretAccessKey", "SessionToken", "aws_access_key_id", "aws_secret_access_key")


@dataclass(frozen=True)
class AwsSettings:
    """Where and on what the endpoint runs (cheap defaults)."""

    region: str
    role_arn: str
    inference_instance: str = "ml.m5.large"
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
    """The AWS operations called, in order, with their arguments (secrets removed)."""

    calls: list[tuple[str, dict]] = field(default_factory=list)

    def attach(self, client) -> None:
        client.meta.events.register("provide-client-params.*.*", self._record)

    def _record(self, params, model, **kwargs):
        self.calls.append((model.name, {key: value for key, value in params.items() if key not in SECRET_KEYS and key != "Body"}))

    def operations(self) -> list[str]:
        return [name for name, _ in self.calls]


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
        result |= _classify(runtime_client, names["endpoint"], images, labels, batch_size)
        _maybe_fail(fail_after, "invoke")
    finally:
        result["clean_up"] = clean_up(sagemaker_client, created)
    return result


class InjectedFailure(RuntimeError):
    """An error raised on purpose after a named step (tests of the clean-up path)."""


def _maybe_fail(fail_after: str | None, step: str) -> None:
    if fail_after == step:
        raise InjectedFailure(f"injected failure after step {step!r}")


def _classify(runtime_client, endpoint_name: str, images: np.ndarray, labels: np.ndarray, batch_size: int) -> dict:
    """Accuracy over `images` (batched requests) and single-image latency through the endpoint."""
    predicted, latencies = [], []
    for start in range(0, len(images), batch_size):
        body = json.dumps({"instances": images[start : start + batch_size].astype(int).tolist()})
        started = time.perf_counter()
        answer = runtime_client.invoke_endpoint(EndpointName=endpoint_name, ContentType="application/json", Body=body)
        latencies.append(1000 * (time.perf_counter() - started))
        predicted += [prediction["label"] for prediction in json.loads(answer["Body"].read())["predictions"]]
    predicted = np.asarray(predicted)
    return {
        "images": int(len(predicted)),
        "accuracy": float(np.mean(predicted == labels[: len(predicted)])),
        "request_ms_p50": float(np.percentile(latencies, 50)),
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


def collect_records(s3_client, bucket: str, prefix: str, target_dir) -> list:
    """Download every result record (`*-seed*.json`) and Keras model under `s3://<bucket>/<prefix>/` into `target_dir`.

    Training jobs leave the files of `SM_OUTPUT_DATA_DIR` in `output.tar.gz`; this reads both that archive and
    loose files, so the sweep's records join the report's `results/` folder in its own format.
    """
    import io
    import tarfile
    from pathlib import Path

    target = Path(target_dir)
    target.mkdir(parents=True, exist_ok=True)
    collected = []
    paginator = s3_client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            name = key.rsplit("/", 1)[-1]
            if name == "output.tar.gz":
                payload = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
                with tarfile.open(fileobj=io.BytesIO(payload), mode="r:gz") as archive:
                    for member in archive.getmembers():
                        member_name = Path(member.name).name
                        if member.isfile() and "-seed" in member_name and member_name.endswith((".json", ".keras")):
                            (target / member_name).write_bytes(archive.extractfile(member).read())
                            collected.append(target / member_name)
            elif "-seed" in name and name.endswith((".json", ".keras")):
                s3_client.download_file(bucket, key, str(target / name))
                collected.append(target / name)
    return sorted(collected)
