"""A run's trainings as parallel SageMaker training jobs: packed into jobs, priced, launched, watched, collected.

The requests come from a run's plan (`convlab.training.requests`). `pack` puts them into jobs of about the
longest training's length each, so that the run takes about that long plus one job's start-up while paying
for as few start-ups as that allows. `estimate` prices the jobs from the table in `prices.json`. `run_jobs`
keeps at most `max_parallel` jobs running and prints a line of progress on every change. A job's results enter
the store only after each record has been checked against its request (schema, cache key, the model's sha256),
model first and record last, both atomically. A failed job, a job whose output is missing or corrupt, and
requests that could not be launched (a quota) are listed in the outcome while the others go on; Ctrl-C stops
every running job; expired credentials stop the run with the names of the jobs left and their stop commands.
"""

from __future__ import annotations

import io
import json
import math
import shutil
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from convlab.serving import artifact, cloud
from convlab.store import records

PRICES = Path(__file__).with_name("prices.json")
ENTRY_SCRIPT = "train_requests.py"
QUOTA_ERRORS = ("ResourceLimitExceeded", "ThrottlingException")
CREDENTIAL_ERRORS = (
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
)
ENDED = ("Completed", "Failed", "Stopped")


class CredentialsExpired(RuntimeError):
    """AWS refused the run's credentials part-way: the message names the jobs left running and how to stop them."""


# --- packing and price -----------------------------------------------------------------------------------------


def pack(requests: list[dict], max_jobs: int) -> list[list[dict]]:
    """Requests into jobs, longest first, each job filled up to the longest single training (first fit): the run
    lasts about one training, and fewer jobs pay fewer start-ups. A request with no earlier time counts as the
    median of the known ones (1 when none is known: one request a job). At most `max_jobs` jobs; when that is
    fewer than packing needs, requests are spread over the jobs by least load."""
    known = sorted(seconds for request in requests if (seconds := request.get("expected_seconds")))
    default = known[len(known) // 2] if known else 1.0
    length = {id(request): request.get("expected_seconds") or default for request in requests}
    ordered = sorted(requests, key=lambda request: -length[id(request)])
    capacity = max(length.values(), default=1.0)
    jobs: list[list[dict]] = []
    for request in ordered:
        room = [job for job in jobs if sum(length[id(other)] for other in job) + length[id(request)] <= capacity * 1.0001]
        if room:
            room[0].append(request)
        elif len(jobs) < max_jobs:
            jobs.append([request])
        else:
            min(jobs, key=lambda job: sum(length[id(other)] for other in job)).append(request)
    return jobs


def price_table() -> dict:
    return json.loads(PRICES.read_text(encoding="utf-8"))


def estimate(jobs: list[list[dict]], instance: str, max_parallel: int) -> dict:
    """Instances, expected minutes (start-up plus the earlier runs' training times) and cost of launching `jobs`."""
    table = price_table()
    if instance not in table["usd_per_hour"]:
        raise ValueError(
            f"No price for {instance} in {PRICES.name}; instances priced: {', '.join(sorted(table['usd_per_hour']))}."
        )
    startup = table["startup_minutes"]
    unknown = sum(1 for job in jobs for request in job if not request.get("expected_seconds"))
    minutes = [startup + sum((request.get("expected_seconds") or 0) for request in job) / 60 for job in jobs]
    waves = math.ceil(len(jobs) / max_parallel) if jobs else 0
    billed = sum(minutes)
    return {
        "jobs": len(jobs),
        "trainings": sum(len(job) for job in jobs),
        "without_earlier_time": unknown,
        "instance": instance,
        "at_once": min(max_parallel, len(jobs)),
        "wall_minutes": round(waves * max(minutes, default=0), 1),
        "instance_minutes": round(billed, 1),
        "usd": round(billed / 60 * table["usd_per_hour"][instance], 2),
        "prices_as_of": table["as_of"],
        "region_priced": table["region"],
    }


def describe_estimate(found: dict) -> str:
    unknown = (
        f" ({found['without_earlier_time']} with no earlier time, counted as start-up only)"
        if found["without_earlier_time"]
        else ""
    )
    return (
        f"{found['trainings']} trainings in {found['jobs']} jobs on {found['instance']}, {found['at_once']} at once{unknown}: "
        f"about {found['wall_minutes']} min, {found['instance_minutes']} instance-minutes, about ${found['usd']} "
        f"at {found['region_priced']} on-demand prices of {found['prices_as_of']} (docs/sagemaker.md)."
    )


# --- launching and watching -------------------------------------------------------------------------------------


@dataclass
class Job:
    """One training job of the run: its requests, and once launched its SDK handle and what became of it."""

    number: int
    requests: list[dict]
    handle: object = None
    status: str = "waiting"
    reason: str = ""
    stored: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return getattr(self.handle, "training_job_name", "") or f"job {self.number} (not launched)"


def stage(source_dir: Path, environment_versions: dict[str, str]) -> Path:
    """The job's source: the entry scripts and convlab modules (`artifact.stage_source`), and a requirements file
    pinning the TensorFlow, Keras and numpy of this run, so the job's cache keys are the ones this run looks up."""
    source = artifact.stage_source(source_dir)
    pins = [f"{name}=={version}" for name, version in sorted(environment_versions.items()) if version]
    (source / "requirements.txt").write_text("\n".join(pins) + "\n", encoding="utf-8")
    return source


def upload_requests(s3_client, jobs: list[Job], plan: Path, bucket: str, prefix: str) -> dict[int, dict[str, str]]:
    """Each distinct dataset once, and each job's requests, to S3; the channels of each job."""
    data_prefix = f"{prefix}/data"
    for digest in sorted({request["dataset"]["file"] for job in jobs for request in job.requests}):
        s3_client.upload_file(str(plan / "data" / digest), bucket, f"{data_prefix}/{digest}")
    channels = {}
    for job in jobs:
        for request in job.requests:
            body = json.dumps(request, sort_keys=True).encode()
            s3_client.put_object(Bucket=bucket, Key=f"{prefix}/job-{job.number}/requests/{request['key']}.json", Body=body)
        channels[job.number] = {"requests": f"s3://{bucket}/{prefix}/job-{job.number}", "data": f"s3://{bucket}/{data_prefix}"}
    return channels


def _launch(aws: cloud.AwsSession, source: Path, job: Job, channels: dict[str, str], run_name: str) -> None:
    import secrets

    from sagemaker.core.training.configs import InputData

    prefix = f"{run_name}-{job.number:03d}-{secrets.token_hex(2)}"  # unique, so that `training_job_of` finds this job alone
    trainer = cloud.model_trainer(aws, source, {}, prefix, entry_script=ENTRY_SCRIPT, requirements="requirements.txt")
    inputs = [InputData(channel_name=name, data_source=uri) for name, uri in channels.items()]
    trainer.train(input_data_config=inputs, wait=False, logs=False)
    job.handle, job.status = cloud.training_job_of(trainer), "InProgress"


def _error_code(error: BaseException) -> str:
    response = getattr(error, "response", None)
    return response.get("Error", {}).get("Code", "") if isinstance(response, dict) else ""


def progress_line(jobs: list[Job], started: float) -> str:
    count = {state: sum(1 for job in jobs if job.status == state) for state in ("Completed", "InProgress", "waiting")}
    failed = sum(1 for job in jobs if job.status in ("Failed", "Stopped", "not launched", "output refused"))
    return (
        f"SageMaker jobs: {count['Completed']} done, {count['InProgress']} running, {failed} failed, "
        f"{count['waiting']} waiting; {(time.monotonic() - started) / 60:.1f} min so far."
    )


def run_jobs(
    aws: cloud.AwsSession, jobs: list[Job], source: Path, channels: dict, run_name: str, max_parallel: int, *, say=print
) -> list[Job]:
    """Launch, watch and collect every job, at most `max_parallel` at a time; return them with their outcomes."""
    started, last = time.monotonic(), ""
    waiting = list(jobs)
    try:
        while waiting or any(job.status == "InProgress" for job in jobs):
            while waiting and sum(job.status == "InProgress" for job in jobs) < max_parallel:
                job = waiting.pop(0)
                try:
                    _launch(aws, source, job, channels[job.number], run_name)
                except Exception as error:
                    code = _error_code(error)
                    if code in CREDENTIAL_ERRORS:
                        raise
                    if code not in QUOTA_ERRORS:
                        raise
                    for held in [job, *waiting]:
                        held.status, held.reason = "not launched", f"{code}: {error}"
                    waiting = []
            for job in jobs:
                if job.status == "InProgress":
                    _poll(aws, job)
            line = progress_line(jobs, started)
            if line.split(";")[0] != last:
                say(line)
                last = line.split(";")[0]
            if any(job.status == "InProgress" for job in jobs):
                time.sleep(aws.settings.poll_seconds)
    except BaseException as error:
        running = [job for job in jobs if job.status == "InProgress"]
        if _error_code(error) in CREDENTIAL_ERRORS:
            commands = "\n".join(f"  {cloud.stop_command(job.name)}" for job in running) or "  (none)"
            raise CredentialsExpired(
                f"AWS refused the credentials ({_error_code(error)}): renew them (for example `aws sso login`) and run the "
                f"same command again; results already collected stay stored. Jobs still running, to stop by hand "
                f"or leave to finish:\n{commands}"
            ) from None
        outcomes = cloud.stop_jobs([job.handle for job in running])
        for job in running:
            job.status, job.reason = "Stopped", f"stopped by this run ({type(error).__name__})"
        unstopped = [outcome for outcome in outcomes if not outcome.get("stopped")]
        say(
            f"Stopped {len(running) - len(unstopped)} running jobs."
            + "".join(f"\n  could not stop {item['job']}: {item['stop it with']}" for item in unstopped)
        )
        raise
    return jobs


def _poll(aws: cloud.AwsSession, job: Job) -> None:
    job.handle.refresh()
    status = job.handle.training_job_status
    if status not in ENDED:
        return
    if status != "Completed":
        reason = job.handle.failure_reason if isinstance(job.handle.failure_reason, str) else "SageMaker gave no reason"
        job.status, job.reason = status, reason
        return
    try:
        job.stored = collect(aws.client("s3"), cloud.job_summary(job.handle), job.requests)
        job.status = "Completed"
    except (OSError, ValueError, tarfile.TarError) as error:
        job.status, job.reason = "output refused", str(error)


# --- collecting ---------------------------------------------------------------------------------------------------


def collect(s3_client, summary: dict, requests: list[dict]) -> list[str]:
    """A completed job's results into the store: every request's record and model checked, then moved in."""
    from convlab.training import saved

    if not summary.get("output_uri"):
        raise FileNotFoundError(f"Training job {summary['job']} names no output; see its log.")
    bucket, key = summary["output_uri"].removeprefix("s3://").split("/", 1)
    try:
        payload = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3_client.exceptions.NoSuchKey:
        raise FileNotFoundError(f"Training job {summary['job']} left no {summary['output_uri']}.") from None
    first_store = Path(requests[0]["results_dir"])
    first_store.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=first_store, prefix=".incoming-") as scratch:
        with tarfile.open(fileobj=io.BytesIO(payload), mode="r:gz") as archive:
            archive.extractall(scratch, filter="data")
        checked = []
        for request in requests:
            folder = Path(scratch) / request["key"]
            name, seed = request["model"]["name"], request["seed"]
            record = saved.stored_run(name, seed, request["key"], folder, folder)
            if record is None:
                raise ValueError(
                    f"Training job {summary['job']} returned no intact result for {name} (seed {seed}) under this run's "
                    f"cache key: its output is missing, corrupt, or was trained with other code or package versions."
                )
            if not str(record.get("environment", {}).get("trained_on", "")).startswith("sagemaker "):
                raise ValueError(f"The record of {name} (seed {seed}) from {summary['job']} does not say where it trained.")
            checked.append((request, record, folder))
        stored = []
        for request, record, folder in checked:  # every result checked first: a refused job adds nothing
            model_file = Path(request["models_dir"]) / record["model_file"]
            model_file.parent.mkdir(parents=True, exist_ok=True)
            with records.atomic_path(model_file) as temporary:
                shutil.copyfile(folder / record["model_file"], temporary)
            records.write_json(records.record_path(request["results_dir"], record["model"]["name"], record["seed"]), dict(record))
            stored.append(f"{record['model']['name']}-seed{record['seed']}")
    return stored


def outcome_table(jobs: list[Job]) -> str:
    lines = [f"{'job':<44} {'status':<15} trainings  reason"]
    for job in jobs:
        names = ", ".join(f"{request['model']['name']}/s{request['seed']}" for request in job.requests)
        lines.append(f"{job.name:<44} {job.status:<15} {names}  {job.reason}")
    return "\n".join(lines)


# --- what a whole run would cost ------------------------------------------------------------------------------------


def recorded_trainings(report_root: Path) -> list[dict]:
    """One pseudo-request per training record of a report folder (`reports/published`), with its training time."""
    found = []
    for path in sorted(records.committed(Path(report_root).glob("*/results/**/*-seed*.json"))):
        if "probes" in path.parts or "serving" in path.parts:
            continue
        record = records.read_json(path)
        found.append({"key": path.relative_to(report_root).as_posix(), "expected_seconds": record["timing"]["train_seconds"]})
    return found


def run_estimate(report_root: Path, instance: str = "ml.m5.large", max_parallel: int = 8) -> str:
    """The docs' paragraph: what the run in `report_root` would cost as SageMaker jobs, from its records' times."""
    trainings = recorded_trainings(report_root)
    packed = pack(trainings, max_jobs=len(trainings))
    found, all_at_once = estimate(packed, instance, max_parallel), estimate(packed, instance, len(packed))
    longest = max(request["expected_seconds"] for request in trainings) / 60
    return (
        f"From the {found['trainings']} training records of `{_shown(report_root)}` (their training times, "
        f"measured on the 2-core machine that ran it; an ml.m5.large has 2 vCPUs as well): {found['jobs']} jobs on "
        f"{found['instance']}, {found['at_once']} at once, {found['instance_minutes']} instance-minutes, about "
        f"**${found['usd']}** at {found['region_priced']} on-demand prices of {found['prices_as_of']}. The longest training "
        f"took {longest:.0f} min, so the jobs take about {found['wall_minutes']} min with start-up, or about "
        f"{all_at_once['wall_minutes']} min with all {found['jobs']} at once (`SAGEMAKER_JOBS={found['jobs']}`, where the "
        "account's quota allows); the planning passes and the notebooks' own run come on top."
    )


def _shown(folder: Path) -> str:
    from convlab.study import paths

    folder = Path(folder).resolve()
    return folder.relative_to(paths.PROJECT_DIR).as_posix() if folder.is_relative_to(paths.PROJECT_DIR) else folder.as_posix()


if __name__ == "__main__":
    import sys

    print(run_estimate(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("reports/published")))
