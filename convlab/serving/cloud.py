"""Mode `aws`'s SageMaker side: its settings and session, training jobs, the sweep as parallel jobs, data in and out of S3.

The images: training in TensorFlow `artifact.TRAINING_IMAGE_VERSION` and serving in TF Serving
`artifact.SERVING_IMAGE_VERSION` (see `artifact` for why, and for the rule that lets a SavedModel of
the one load in the other). `AwsSettings` checks both against the SDK's image list when it is made,
before anything is paid for. A training job that fails raises `TrainingJobFailed` with SageMaker's
`FailureReason`; in the sweep, every job's outcome is reported and jobs left running are stopped.
The endpoint made from a job's artifact, and mode aws end to end, are `aws_endpoint`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

from convlab.serving import artifact, images

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
    training_version: str = artifact.TRAINING_IMAGE_VERSION
    serving_version: str = artifact.SERVING_IMAGE_VERSION
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
            images.image_uri(self, scope)  # an unavailable version stops here, naming the ones that exist


def check_image_pair(training_version: str, serving_version: str) -> None:
    """A SavedModel loads in TF Serving of its own version or newer; an older server only for a pair the tests load."""
    newer_training = images.version_key(training_version)[:2] > images.version_key(serving_version)[:2]
    if newer_training and (training_version, serving_version) not in TESTED_IMAGE_PAIRS:
        tested = ", ".join(f"{train} → {serve}" for train, serve in sorted(TESTED_IMAGE_PAIRS))
        raise ValueError(
            f"TensorFlow {training_version} training with TF Serving {serving_version}: an older TF Serving loads a newer "
            f"SavedModel only when every op is known to it, which the tests check for {tested} only. Use a serving version "
            f"of at least {training_version}, or one of those pairs."
        )


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
    _forget_earlier_sessions()
    sagemaker_session = Session(boto_session=boto_session, default_bucket=settings.bucket or None)
    bucket = settings.bucket or sagemaker_session.default_bucket()
    return AwsSession(settings, boto_session, sagemaker_session, bucket)


def _forget_earlier_sessions() -> None:
    """SDK 3.12 (Studio's) keeps the first boto3 session of the process for every resource call, whatever session a
    call passes; resetting its client makes the session just opened (new credentials, say) the one used. SDK 3.27
    caches a client per session, and its reset only empties that cache."""
    from sagemaker.core.utils.utils import SageMakerClient

    SageMakerClient.reset()


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


def model_trainer(
    aws: AwsSession, source_dir, hyperparameters: dict, job_prefix: str, *, entry_script: str = "train.py", requirements=None
):
    """A `ModelTrainer` for the staged source: its entry script, image, instance, limits and output path."""
    from sagemaker.core.training.configs import Compute, OutputDataConfig, SourceCode, StoppingCondition
    from sagemaker.train import ModelTrainer

    settings = aws.settings
    return ModelTrainer(
        training_image=images.image_uri(settings, "training"),
        source_code=SourceCode(source_dir=str(source_dir), entry_script=entry_script, requirements=requirements),
        compute=Compute(instance_type=settings.training_instance, instance_count=1),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=settings.max_run_seconds),
        role=settings.role_arn,
        base_job_name=job_prefix,
        hyperparameters=hyperparameters,
        output_data_config=OutputDataConfig(s3_output_path=f"s3://{aws.bucket}/{settings.prefix}/jobs/{job_prefix}"),
        sagemaker_session=aws.sagemaker_session,
    )


def training_job_of(trainer):
    """The job a `ModelTrainer` started, found through the SDK's public `TrainingJob.get_all` by the trainer's own
    base job name (unique to it, `check_training_request`), newest first; SDK 3.27 keeps its handle private."""
    from sagemaker.core.resources import TrainingJob

    found = TrainingJob.get_all(
        name_contains=trainer.base_job_name,
        sort_by="CreationTime",
        sort_order="Descending",
        session=trainer.sagemaker_session.boto_session,
    )
    for job in found:
        return job
    raise LookupError(f"No training job named {trainer.base_job_name}-* was found: the job was never created.")


def check_training_request(aws: AwsSession, source_dir, data_uri: str, hyperparameters: dict, *, job_prefix: str):
    """A dry run that writes nothing: the hyperparameters through the entry script's own parser, and the job's
    configuration through the SDK's validation of a `ModelTrainer`. It uploads nothing and submits nothing (the
    SDK's own `train(dry_run=True)` uploads the source folder to S3 first). Returns the trainer and its channels.

    The trainer's base job name is `job_prefix` and a random suffix, so that `training_job_of` finds its job alone."""
    import secrets

    from sagemaker.core.training.configs import InputData

    validate_hyperparameters(source_dir, hyperparameters)
    trainer = model_trainer(aws, source_dir, hyperparameters, f"{job_prefix}-{secrets.token_hex(3)}")
    return trainer, [InputData(channel_name="train", data_source=data_uri)]


def start_training_job(aws: AwsSession, source_dir, data_uri: str, hyperparameters: dict, *, job_prefix: str, wait: bool):
    """A SageMaker training job (SDK v3 `ModelTrainer`) that runs the staged entry script on the data in `data_uri`.

    The request is checked first (`check_training_request`, which writes nothing). With `wait`, a job that ends
    Failed raises `TrainingJobFailed` with its FailureReason.
    """
    from sagemaker.core.utils.exceptions import FailedStatusError

    trainer, channels = check_training_request(aws, source_dir, data_uri, hyperparameters, job_prefix=job_prefix)
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
    artifact_uri = artifacts.s3_model_artifacts if artifacts and isinstance(artifacts.s3_model_artifacts, str) else ""
    return {
        "job": job.training_job_name,
        "status": job.training_job_status,
        "failure_reason": job.failure_reason if isinstance(job.failure_reason, str) else "",
        "hyperparameters": dict(job.hyper_parameters or {}),
        "artifact_uri": artifact_uri,
        "output_uri": artifact_uri.rsplit("/", 1)[0] + "/output.tar.gz" if artifact_uri else "",
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


# --- data in and out of S3 -------------------------------------------------------------------------------------


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
