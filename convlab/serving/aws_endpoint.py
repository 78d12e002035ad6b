"""Mode `aws`'s endpoint: a real-time endpoint from a training job's `model.tar.gz`, test images through it, always cleaned up.

Every resource this module creates (model, endpoint configuration, endpoint) is deleted in a `finally` path,
newest first, even when a step fails; an endpoint still being created is waited for until it can be deleted.
`train_deploy_and_evaluate` is mode aws end to end: data to S3, a training job (`cloud`), an endpoint from its
artifact, test images and the bad requests of `client.BAD_REQUEST_EXAMPLES` through it, clean-up.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

import numpy as np

from convlab.datasets import data
from convlab.serving import artifact, client, cloud
from convlab.serving import images as aws_images

CHANGING_ENDPOINT_STATES = ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting")


def resource_names(prefix: str, now: datetime | None = None) -> dict[str, str]:
    """Unique names for the model, endpoint configuration and endpoint of one deployment."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
    return {kind: f"{prefix}-{kind}-{stamp}" for kind in ("model", "config", "endpoint")}


def deploy_invoke_and_clean_up(
    settings: cloud.AwsSettings,
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
        body = client.json_body(batch)
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
            message = client.error_message(json.loads(original))
        except (ValueError, AttributeError):
            message = original
        return {"status": int(error.response.get("OriginalStatusCode", 0)), "message": message, "error": "ModelError"}
    except ClientError as error:
        return {"status": None, "message": error.response["Error"].get("Message", ""), "error": error.response["Error"]["Code"]}
    answer["Body"].read()
    return {"status": 200, "message": "", "error": ""}


def bad_requests_through_endpoint(runtime_client, endpoint_name: str) -> list[dict]:
    """Each example bad request of `client.BAD_REQUEST_EXAMPLES` sent to the endpoint: what the client got back."""
    rows = []
    for case, (body, content_type, _) in client.BAD_REQUEST_EXAMPLES.items():
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


def _delete_endpoint(sagemaker_client, name: str, settings: cloud.AwsSettings) -> None:
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


def clean_up(sagemaker_client, created: list[tuple[str, str]], settings: cloud.AwsSettings) -> list[dict]:
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
    aws: cloud.AwsSession,
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
    data_uri = cloud.upload_dataset(aws.client("s3"), params.data_dir, folder, aws.bucket, f"{settings.prefix}/data")
    trainer = cloud.start_training_job(
        aws,
        artifact.stage_source(source_dir),
        data_uri,
        artifact.hyperparameters(params, model, seed),
        job_prefix=f"{settings.name_prefix}-{model}",
        wait=True,
    )
    job = cloud.job_summary(cloud.training_job_of(trainer))
    if job["status"] != "Completed":
        raise cloud.TrainingJobFailed(
            f"Training job {job['job']} ended as {job['status']}: {job['failure_reason'] or 'no reason given'}."
        )
    images, labels = dataset.x_test[:evaluation_images], dataset.y_test[:evaluation_images]
    served = deploy_invoke_and_clean_up(
        settings,
        aws_images.image_uri(settings, "inference"),
        job["artifact_uri"],
        images,
        labels,
        sagemaker_client=aws.client("sagemaker"),
        runtime_client=aws.client("sagemaker-runtime"),
        single_requests=latency_requests,
    )
    return {"training_job": job, "data_uri": data_uri} | served


def bad_request_outcomes(rows: list[dict]):
    """The bad requests sent through `invoke_endpoint`: the error class, the container's status and its message."""
    import pandas as pd

    return pd.DataFrame(rows).set_index("request")
