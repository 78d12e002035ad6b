"""`make report TRAIN_ON=sagemaker` against a moto server: the plan, the jobs' packing and price, launching, watching,
collecting, and every failure path. Where SageMaker would run a job, the test runs the staged entry script here on
what the job's channels hold in S3, and puts its output where SageMaker would (`run_as_sagemaker`)."""

# ruff: noqa: F811 (the moto fixtures come from test_cloud)
from __future__ import annotations

import io
import json
import os
import runpy
import sys
import tarfile
from pathlib import Path

import pytest
from aws_faults import client_error, stop_first_refuse_rest
from test_cloud import ACCOUNT, BUCKET, REGION, aws, end_as, moto_url  # noqa: F401 (fixtures)

from convlab.datasets import data
from convlab.run import remote
from convlab.serving import cloud, jobs
from convlab.store import records
from convlab.study import config, manifest
from convlab.training import fit, models, requests, workers

ROLE = f"arn:aws:iam::{ACCOUNT}:role/convlab"


@pytest.fixture(scope="module")
def tiny(shared_data):
    return data.subset(data.load_dataset("mnist", shared_data), train_size=200, test_size=100, seed=0)


def tiny_params(root: Path, shared_data) -> config.RunParameters:
    return config.RunParameters.from_notebook(
        notebook="02_fc_baseline", dataset="mnist", data_dir=str(shared_data), epochs="1", seeds="0,1,2",
        train_size=200, test_size=100, output_dir=str(root / "mnist"),
    )  # fmt: skip


def plan_of(tiny, params, folder: Path, seeds=(0, 1, 2)) -> list[dict]:
    tasks = [workers.Task(models.fc_baseline_config("mnist"), tiny, seed) for seed in seeds]
    requests.write_plan(tasks, params, folder, [30.0] * len(tasks))
    return requests.read_plan(folder)


def download(s3, uri: str, target: Path) -> Path:
    bucket, prefix = uri.removeprefix("s3://").split("/", 1)
    for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix + "/").get("Contents", []):
        path = target / item["Key"][len(prefix) + 1 :]
        path.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(bucket, item["Key"], str(path))
    return target


def output_tarball(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.add(path, arcname=path.relative_to(folder).as_posix())
    return buffer.getvalue()


def run_as_sagemaker(monkeypatch, tmp_path, spoil=None):
    """After each real CreateTrainingJob (moto), do what the job's container would: fetch its channels, run the staged
    `train_requests.py` with SageMaker's environment, and upload `output.tar.gz` (first through `spoil`, if given)."""
    launch = jobs._launch

    def launched(aws_session, source, job, channels, run_name):
        launch(aws_session, source, job, channels, run_name)
        job.handle.refresh()
        if job.handle.training_job_status != "Completed":
            return  # a fault made it fail or hang: it leaves nothing
        s3 = aws_session.client("s3")
        work = tmp_path / "containers" / job.name
        for name, uri in channels.items():
            download(s3, uri, work / "input" / name)
        environment = {
            "SM_CHANNEL_REQUESTS": str(work / "input" / "requests"),
            "SM_CHANNEL_DATA": str(work / "input" / "data"),
            "SM_OUTPUT_DATA_DIR": str(work / "output"),
            "TRAINING_JOB_NAME": job.name,
            "SM_CURRENT_INSTANCE_TYPE": aws_session.settings.training_instance,
            "CONVLAB_TRAINED_ON": "",
        }
        for key, value in environment.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setattr(sys, "path", list(sys.path))  # the script puts its staged copy first: this process keeps its own
        with pytest.raises(SystemExit) as ended:
            runpy.run_path(str(source / jobs.ENTRY_SCRIPT), run_name="__main__")
        assert ended.value.code == 0
        if spoil:
            spoil(work / "output")
        bucket, key = cloud.job_summary(job.handle)["output_uri"].removeprefix("s3://").split("/", 1)
        s3.put_object(Bucket=bucket, Key=key, Body=output_tarball(work / "output"))

    monkeypatch.setattr(jobs, "_launch", launched)


def launch_plan(session, plan, folder: Path, per_job: int = 1, max_parallel: int = 2, say=print):
    batches = [plan[index : index + per_job] for index in range(0, len(plan), per_job)]
    launched = [jobs.Job(number, batch) for number, batch in enumerate(batches, start=1)]
    source = jobs.stage(folder / "source", {"numpy": "2.4.6"})
    channels = jobs.upload_requests(session.client("s3"), launched, folder, session.bucket, "convlab/runs/test")
    return jobs.run_jobs(session, launched, source, channels, "convlab-test", max_parallel, say=say)


def stored_names(params) -> list[str]:
    return sorted(path.name for path in records.committed(params.results_dir.glob("*-seed*.json")))


# --- the plan ---------------------------------------------------------------------------------------------------


def test_plan_mode_writes_the_missing_trainings_and_trains_nothing(tiny, shared_data, tmp_path, monkeypatch):
    params = tiny_params(tmp_path, shared_data)
    monkeypatch.setenv(requests.PLAN_ENV, str(tmp_path / "plan"))
    with pytest.raises(requests.PlanRecorded, match="3 trainings"):
        workers.train_seeds(models.fc_baseline_config("mnist"), tiny, params)
    plan = requests.read_plan(tmp_path / "plan")
    assert [request["seed"] for request in sorted(plan, key=lambda request: request["seed"])] == [0, 1, 2]
    assert not params.results_dir.exists(), "plan mode trains and stores nothing"
    settings = fit.training_config_for(params, models.fc_baseline_config("mnist"))
    assert {request["key"] for request in plan} == {
        fit.cache_key(models.fc_baseline_config("mnist"), tiny, s, settings) for s in (0, 1, 2)
    }
    assert len(list((tmp_path / "plan" / "data").glob("*.npz"))) == 1, "one data file for the three trainings"
    loaded = requests.load_request_dataset(plan[0], tmp_path / "plan" / "data")
    assert (loaded.x_train == tiny.x_train).all() and (loaded.y_test == tiny.y_test).all()
    assert loaded.class_names == tiny.class_names


def test_the_notebooks_that_train_are_declared():
    assert [entry.name for entry in manifest.STUDY if entry.trainings] == [
        "02_fc_baseline", "03_cnn", "04_kernel_size_sweep", "07_translation", "08_pixel_permutation",
        "11_learning_curves", "12_training_protocol",
    ]  # fmt: skip


# --- packing and price ------------------------------------------------------------------------------------------


def test_jobs_are_packed_to_the_longest_training_and_priced_from_the_table():
    plan = [{"expected_seconds": seconds, "key": str(index)} for index, seconds in enumerate((600, 300, 300, 200, 100, 90))]
    packed = jobs.pack(plan, max_jobs=10)
    loads = sorted(sum(request["expected_seconds"] for request in job) for job in packed)
    assert loads == [390, 600, 600] and sum(map(len, packed)) == 6
    found = jobs.estimate(packed, "ml.m5.large", max_parallel=8)
    startup, price = jobs.price_table()["startup_minutes"], jobs.price_table()["usd_per_hour"]["ml.m5.large"]
    assert found["instance_minutes"] == round(3 * startup + 1590 / 60, 1)
    assert found["usd"] == round(found["instance_minutes"] / 60 * price, 2)
    assert found["wall_minutes"] == round(startup + 10, 1)
    assert "at us-east-1 on-demand prices of" in jobs.describe_estimate(found)
    assert len(jobs.pack([{"expected_seconds": None, "key": str(index)} for index in range(5)], max_jobs=10)) == 5
    with pytest.raises(ValueError, match="No price for ml.x9.huge"):
        jobs.estimate(packed, "ml.x9.huge", 8)


def test_without_confirmation_nothing_is_launched(tiny, shared_data, tmp_path, monkeypatch):
    params = tiny_params(tmp_path, shared_data)
    monkeypatch.setattr(remote, "plan", lambda *arguments: plan_of(tiny, params, tmp_path / "plan"))
    said = []

    def refuse(settings):
        raise AssertionError("no AWS session may be opened before confirmation")

    settings = cloud.AwsSettings(region=REGION, role_arn=ROLE)
    with pytest.raises(remote.ConfirmationNeeded, match="Nothing was launched. Add CONFIRM=yes"):
        remote.train_on_sagemaker(["mnist"], ["02_fc_baseline"], {}, tmp_path, settings, max_parallel=4, confirm=False,
                                  say=said.append, connect=refuse)  # fmt: skip
    assert any(line.startswith("SageMaker estimate: 3 trainings in") for line in said)


def test_a_gpu_instance_needs_the_gpu_build_here():
    if remote.tensorflow_build() != "cpu":
        pytest.skip("this environment's TensorFlow is a CUDA build (tf.sysconfig.get_build_info())")
    with pytest.raises(ValueError, match=r"ml.g5.xlarge has a GPU, but this environment's TensorFlow \(.*\) is a CPU build"):
        remote.check_instance("ml.g5.xlarge")
    remote.check_instance("ml.m5.large")


@pytest.mark.parametrize("cuda", [False, True])
def test_the_build_is_what_tensorflow_reports_not_the_package_name(cuda, monkeypatch):
    """SageMaker Studio's conda package is named `tensorflow` and is a CPU build: TensorFlow's own build info decides."""
    import tensorflow as tf

    monkeypatch.setattr(records, "package_versions", lambda: {"tensorflow": "2.19.1", "keras": "3.10.0"})  # Studio's names
    monkeypatch.setattr(tf.sysconfig, "get_build_info", lambda: {"is_cuda_build": cuda, "is_rocm_build": False})
    assert remote.tensorflow_build() == ("gpu" if cuda else "cpu")
    if cuda:
        remote.check_instance("ml.g5.xlarge")
    else:
        with pytest.raises(ValueError, match=r"this environment's TensorFlow \(tensorflow 2.19.1\) is a CPU build"):
            remote.check_instance("ml.g5.xlarge")
    remote.check_instance("ml.m5.large")


# --- jobs against moto --------------------------------------------------------------------------------------------


def test_jobs_train_and_their_results_enter_the_store_checked(aws, tiny, shared_data, tmp_path, monkeypatch):  # noqa: F811
    params = tiny_params(tmp_path, shared_data)
    plan = plan_of(tiny, params, tmp_path / "plan")
    run_as_sagemaker(monkeypatch, tmp_path)
    said = []
    done = launch_plan(aws, plan, tmp_path / "plan", per_job=2, say=said.append)
    assert [job.status for job in done] == ["Completed", "Completed"]
    assert aws.log.operations().count("CreateTrainingJob") == 2
    assert stored_names(params) == ["fc_baseline-seed0.json", "fc_baseline-seed1.json", "fc_baseline-seed2.json"]
    for seed in (0, 1, 2):
        record = fit.stored_task(workers.Task(models.fc_baseline_config("mnist"), tiny, seed), params)
        assert record is not None, "stored under the very key local training looks up"
        assert (
            record["environment"]["trained_on"].startswith("sagemaker convlab-test-")
            and "ml.m5.large" in record["environment"]["trained_on"]
        )
    assert said[-1].startswith("SageMaker jobs: 2 done, 0 running, 0 failed, 0 waiting")
    called = aws.log.arguments("CreateTrainingJob")[0]
    assert {channel["ChannelName"] for channel in called["InputDataConfig"]} >= {"requests", "data"}
    assert called["ResourceConfig"]["InstanceType"] == "ml.m5.large"


def test_a_failed_job_is_listed_with_its_reason_and_the_others_go_on(aws, tiny, shared_data, tmp_path, monkeypatch):  # noqa: F811
    params = tiny_params(tmp_path, shared_data)
    plan = plan_of(tiny, params, tmp_path / "plan")
    created = []

    def fail_the_second(params_, answer):
        created.append(answer)
        if len(created) == 2:
            end_as("Failed", "AlgorithmError: out of memory")(params_, answer)

    aws.faults.after("CreateTrainingJob", fail_the_second)
    run_as_sagemaker(monkeypatch, tmp_path)
    done = launch_plan(aws, plan, tmp_path / "plan")
    assert sorted(job.status for job in done) == ["Completed", "Completed", "Failed"]
    (failed,) = [job for job in done if job.status == "Failed"]
    assert failed.reason == "AlgorithmError: out of memory"
    assert len(stored_names(params)) == 2
    assert "AlgorithmError: out of memory" in jobs.outcome_table(done)


def test_a_quota_error_part_way_launches_no_more_and_keeps_what_finished(aws, tiny, shared_data, tmp_path, monkeypatch):  # noqa: F811
    params = tiny_params(tmp_path, shared_data)
    plan = plan_of(tiny, params, tmp_path / "plan")
    quota = client_error(
        "ResourceLimitExceeded", "The account-level service limit for ml.m5.large is 1 Instances", "CreateTrainingJob"
    )
    aws.faults.raise_on("CreateTrainingJob", quota, call=2)
    run_as_sagemaker(monkeypatch, tmp_path)
    done = launch_plan(aws, plan, tmp_path / "plan", max_parallel=3)
    assert [job.status for job in done] == ["Completed", "not launched", "not launched"]
    assert all("ResourceLimitExceeded" in job.reason for job in done[1:])
    assert len(stored_names(params)) == 1


def test_ctrl_c_stops_every_running_job_and_prints_what_could_not_be_stopped(aws, tiny, shared_data, tmp_path, monkeypatch):  # noqa: F811
    params = tiny_params(tmp_path, shared_data)
    plan = plan_of(tiny, params, tmp_path / "plan")
    aws.faults.after("CreateTrainingJob", end_as("InProgress"))
    stopped = []

    aws.faults.answer("StopTrainingJob", stop_first_refuse_rest(stopped))
    said = []

    def interrupt(line):
        said.append(line)
        if line.startswith("SageMaker jobs:"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        launch_plan(aws, plan, tmp_path / "plan", say=interrupt)
    assert len(stopped) == 1 and aws.log.operations().count("CreateTrainingJob") == 2
    assert "Stopped 1 running jobs." in said[-1]
    assert "could not stop convlab-test-002-" in said[-1] and "aws sagemaker stop-training-job --training-job-name" in said[-1]
    assert stored_names(params) == []


def test_expired_credentials_stop_the_run_naming_the_jobs_left(aws, tiny, shared_data, tmp_path, monkeypatch):  # noqa: F811
    params = tiny_params(tmp_path, shared_data)
    plan = plan_of(tiny, params, tmp_path / "plan")
    aws.faults.after("CreateTrainingJob", end_as("InProgress"))
    expired = client_error(
        "ExpiredTokenException", "The security token included in the request is expired", "DescribeTrainingJob"
    )
    aws.faults.raise_on("DescribeTrainingJob", expired, call=8)
    with pytest.raises(jobs.CredentialsExpired) as caught:
        launch_plan(aws, plan, tmp_path / "plan")
    message = str(caught.value)
    launched = aws.log.operations().count("CreateTrainingJob")
    assert launched == 2, "the expiry came while both jobs ran"
    assert "renew them" in message and message.count("aws sagemaker stop-training-job --training-job-name convlab-test-") == 2


def corrupt_model(output: Path) -> None:
    for model in output.rglob("*.keras"):
        model.write_bytes(model.read_bytes()[:-100] + b"x" * 100)


def drop_output(output: Path) -> None:
    for path in sorted(output.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()


@pytest.mark.parametrize(
    "spoil, reason", [(corrupt_model, "no intact result for fc_baseline"), (drop_output, "no intact result")]
)
def test_a_job_whose_output_is_missing_or_corrupt_adds_nothing_to_the_store(
    aws, tiny, shared_data, tmp_path, monkeypatch, spoil, reason
):  # noqa: F811
    params = tiny_params(tmp_path, shared_data)
    plan = plan_of(tiny, params, tmp_path / "plan", seeds=(0, 1))
    run_as_sagemaker(monkeypatch, tmp_path, spoil=spoil)
    done = launch_plan(aws, plan, tmp_path / "plan", per_job=2)
    assert [job.status for job in done] == ["output refused"] and reason in done[0].reason
    assert not list(params.results_dir.rglob("*.json")) and not list(params.models_dir.rglob("*.keras"))
    assert not list(params.results_dir.glob(".incoming-*")), "the scratch folder is gone"


@pytest.mark.slow  # about 6 s: a fresh interpreter loads TensorFlow
def test_the_staged_entry_script_trains_under_the_keys_this_run_looks_up(tiny, shared_data, tmp_path):
    """In a process of its own, from the staged copy only (as in the container): the records' keys are the requests'."""
    import subprocess

    params = tiny_params(tmp_path, shared_data)
    plan = plan_of(tiny, params, tmp_path / "plan", seeds=(0,))
    source = jobs.stage(tmp_path / "source", {"numpy": "2.4.6"})
    assert (source / "requirements.txt").read_text() == "numpy==2.4.6\n"
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"} | {
        "SM_CHANNEL_REQUESTS": str(tmp_path / "plan"),
        "SM_CHANNEL_DATA": str(tmp_path / "plan" / "data"),
        "SM_OUTPUT_DATA_DIR": str(tmp_path / "output"),
        "TRAINING_JOB_NAME": "convlab-x-1",
        "SM_CURRENT_INSTANCE_TYPE": "ml.m5.large",
    }
    script = "import runpy, sys; sys.path = [p for p in sys.path if 'site-packages' in p or 'lib/python' in p]; " \
             f"runpy.run_path({str(source / jobs.ENTRY_SCRIPT)!r}, run_name='__main__')"  # fmt: skip
    completed = subprocess.run(
        [sys.executable, "-c", script], env=environment, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    record = json.loads((tmp_path / "output" / plan[0]["key"] / "fc_baseline-seed0.json").read_text())
    assert record["cache_key"] == plan[0]["key"]
    assert record["environment"]["trained_on"] == "sagemaker convlab-x-1 ml.m5.large"


# --- a whole run ----------------------------------------------------------------------------------------------------


@pytest.mark.slow  # about 4 min: every training notebook planned wave after wave, its trainings run as jobs
def test_a_subset_report_on_sagemaker_stores_the_records_local_training_does(aws, shared_data, smoke_root, tmp_path, monkeypatch):
    """Every training notebook of the smoke run on MNIST with TRAIN_ON=sagemaker: the jobs' records are those of the
    local smoke run in name, count, schema and cache key, and the last planning pass finds nothing left to train."""
    from smoke import SMOKE, SMOKE_NOTEBOOKS

    from convlab.run import pipeline

    root = tmp_path / "reports"
    parameters = pipeline.absolute_folders(dict(SMOKE) | {"data_dir": str(shared_data), "images_dir": str(tmp_path / "images")})
    notebooks = [name for name in SMOKE_NOTEBOOKS["mnist"] if manifest.entry(name).trainings]
    run_as_sagemaker(monkeypatch, tmp_path)
    said = []
    done = remote.train_on_sagemaker(
        ["mnist"], notebooks, parameters, root, aws.settings, max_parallel=8, confirm=True, say=said.append, connect=lambda _: aws
    )
    assert done and all(job.status == "Completed" for job in done), jobs.outcome_table(done)
    assert said[-1].startswith("Every training of the run is stored")
    # the last wave ran every training notebook through in plan mode, none failing, and found every training stored:
    # the run's notebooks that follow train nothing here
    waves = sorted((root / remote.PLAN_FOLDER).glob("wave-*"), key=lambda folder: int(folder.name.split("-")[1]))
    assert len(waves) >= 2 and not requests.read_plan(waves[-1])
    last_wave = said[max(index for index, line in enumerate(said) if line.startswith("=== Planning wave")) :]
    assert not [line for line in last_wave if "planned up to" in line], last_wave

    def training_records(results: Path) -> dict[str, dict]:
        return {
            path.relative_to(results).as_posix(): json.loads(path.read_text())
            for path in records.committed(results.rglob("*-seed*.json"))
            if "probes" not in path.parts and "serving" not in path.parts
        }

    remote_records = training_records(root / "mnist" / "results")
    local_records = training_records(smoke_root / "reports" / "mnist" / "results")
    assert sorted(remote_records) == sorted(local_records) and len(remote_records) >= 20
    for name, record in remote_records.items():
        assert set(record) == set(local_records[name]), name
        assert record["environment"]["trained_on"].startswith("sagemaker convlab-"), name
        assert record["cache_key"] == local_records[name]["cache_key"], name
    assert sum(len(job.requests) for job in done) == len(remote_records)


def test_the_docs_give_the_full_run_estimate_the_published_records_give():
    from convlab.study import paths

    text = (paths.PROJECT_DIR / "docs" / "train-on-sagemaker.md").read_text(encoding="utf-8")
    block = text.split("<!-- estimate: python -m convlab.serving.jobs reports/published -->\n", 1)[1].split(
        "\n<!-- /estimate -->"
    )[0]
    assert block == jobs.run_estimate(paths.REPORTS_DIR / "published")
    assert "$" in block and jobs.price_table()["as_of"] in block


def test_the_command_refuses_a_run_it_cannot_launch_before_planning(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(remote, "plan", lambda *arguments: pytest.fail("nothing may be planned"))
    monkeypatch.setattr(remote, "tensorflow_build", lambda: "cpu")  # a GPU instance from a CPU build, whatever this one is
    common = ["--datasets", "mnist", "--notebooks", "02_fc_baseline", "--output-root", str(tmp_path)]
    assert remote.main(["--aws-region", REGION, *common]) == 1
    assert "needs the ARN of a SageMaker execution role" in capsys.readouterr().err
    assert remote.main(["--aws-region", REGION, "--role-arn", ROLE, "--max-jobs", "0", *common]) == 1
    assert "--max-jobs 0: give at least 1" in capsys.readouterr().err
    assert remote.main(["--aws-region", REGION, "--role-arn", ROLE, "--instance", "ml.g5.xlarge", *common]) == 1
    assert "has a GPU, but this environment's TensorFlow (" in capsys.readouterr().err
    assert remote.main(["--aws-region", REGION, "--role-arn", ROLE, "-p", "epochs", "0", *common]) == 1
    assert "epochs" in capsys.readouterr().err


def test_make_passes_the_switch_and_refuses_a_misspelt_value():
    from test_makefile import make

    dry = make("report", "TRAIN_ON=sagemaker", "AWS_REGION=eu-west-1", f"ROLE_ARN={ROLE}", "CONFIRM=yes", "SAGEMAKER_JOBS=19")
    assert "-m convlab.run.remote --instance ml.m5.large --max-jobs 19 --aws-region eu-west-1" in dry.stdout
    assert f'--role-arn "{ROLE}"' in dry.stdout and "--confirm" in dry.stdout
    assert "-m convlab.run.pipeline" in make("report").stdout
    refused = make("report", "TRAIN_ON=aws")
    assert refused.returncode != 0 and "TRAIN_ON=aws: use local (the default) or sagemaker" in refused.stderr
