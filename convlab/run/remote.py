"""`make report TRAIN_ON=sagemaker`: every training of the run on SageMaker, as parallel training jobs, before the
notebooks run.

The trainings a run needs follow from the notebooks themselves. In plan mode (`convlab.training.requests`) each
notebook that trains is executed until it reaches trainings that are not stored; those are written down instead
of trained. All the notebooks' missing trainings go to SageMaker at once (`convlab.serving.jobs`), and their
results come back into the store. Trainings that need earlier results (a sweep that starts from the CNN's
settings, say) appear in the next wave; the waves end when every notebook runs through with nothing missing.
The notebooks then run as usual and find every training stored. Nothing is launched without `confirm`: the
first wave's estimate is printed and the run stops there.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from convlab.run import pipeline
from convlab.run.jupyter_kernels import shared_kernel
from convlab.serving import cloud, images, jobs
from convlab.store import locking, records
from convlab.study import manifest
from convlab.training import requests

MAX_WAVES = 6
PLAN_FOLDER = ".sagemaker-plan"  # under the reports root: a run's plan and the requests of its jobs


class ConfirmationNeeded(RuntimeError):
    """The estimate was printed and nothing was launched: the run needs an explicit confirmation."""


class RemoteTrainingFailed(RuntimeError):
    """Some jobs failed or were refused; the others' results are stored, and the message lists every job."""


def planned_notebooks(notebooks: Sequence[str]) -> list[str]:
    return [name for name in manifest.in_order(notebooks) if manifest.entry(name).trainings]


def plan(datasets: Sequence[str], notebooks: Sequence[str], parameters: dict, root: Path, folder: Path, say=print) -> list[dict]:
    """One wave: each training notebook executed in plan mode, for every dataset; the requests it wrote."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    previous = os.environ.get(requests.PLAN_ENV)
    os.environ[requests.PLAN_ENV] = str(folder)
    try:
        # One kernel for the wave, as a run's notebooks share one (it starts after PLAN_ENV is set, and inherits it);
        # a notebook that stops at its first missing training leaves it alive, and the next one starts clean.
        with tempfile.TemporaryDirectory(prefix="convlab-plan-") as scratch, shared_kernel() as kernel:
            for dataset in datasets:
                values = parameters | {"dataset": dataset, "output_dir": str(root / dataset)}
                for notebook in planned_notebooks(notebooks):
                    try:
                        pipeline.execute(notebook, values, Path(scratch), progress=False, kernel=kernel)
                    except pipeline.NotebookFailed as stopped:
                        if "PlanRecorded" not in str(stopped):  # it needs results of a later wave, or fails for good
                            say(f"  {notebook} on {dataset}: planned up to {str(stopped).splitlines()[0]}")
    finally:
        if previous is None:
            os.environ.pop(requests.PLAN_ENV, None)
        else:
            os.environ[requests.PLAN_ENV] = previous
    return requests.read_plan(folder)


def tensorflow_build() -> str:
    """This environment's TensorFlow as it reports itself: "gpu" for a CUDA build, "cpu" otherwise (or "" where there
    is none). The package's name does not tell: SageMaker Studio's conda `tensorflow` is a CPU build."""
    import importlib.util

    if importlib.util.find_spec("tensorflow") is None:
        return ""
    import tensorflow as tf

    return "gpu" if tf.sysconfig.get_build_info().get("is_cuda_build") else "cpu"


def check_instance(instance: str) -> None:
    """A GPU instance trains under this run's cache keys only where this run's TensorFlow is a GPU build too."""
    if images.processor(instance) == "gpu" and tensorflow_build() == "cpu":
        versions = records.package_versions()
        name = "tensorflow-cpu" if versions.get("tensorflow-cpu") else "tensorflow"
        raise ValueError(
            f"{instance} has a GPU, but this environment's TensorFlow ({name} {versions.get(name, '?')}) is a CPU build: "
            "the job installs this environment's TensorFlow, so it would train on the CPU. Use a CPU instance "
            "(ml.m5.large, ml.c5.xlarge), or run from an environment with TensorFlow's GPU build of the same version "
            "(the gpu profile)."
        )


def train_on_sagemaker(
    datasets: Sequence[str],
    notebooks: Sequence[str],
    parameters: dict,
    root: Path,
    settings: cloud.AwsSettings,
    *,
    max_parallel: int,
    confirm: bool,
    say: Callable[[str], None] = print,
    connect: Callable = cloud.connect,
) -> list[jobs.Job]:
    """Plan, price, launch and collect wave after wave until the notebooks find every training stored."""
    check_instance(settings.training_instance)
    done: list[jobs.Job] = []
    with locking.hold([root / dataset for dataset in datasets], "pass another --output-root to run beside it"):
        for wave in range(1, MAX_WAVES + 1):
            folder = root / PLAN_FOLDER / f"wave-{wave}"
            say(f"=== Planning wave {wave}: which trainings are not stored ===")
            wanted = plan(datasets, notebooks, parameters, root, folder, say)
            if not wanted:
                say(f"Every training of the run is stored ({len(done)} SageMaker jobs ran).")
                return done
            packed = jobs.pack(wanted, max_jobs=max(len(wanted), 1))
            found = jobs.estimate(packed, settings.training_instance, max_parallel)
            say("SageMaker estimate: " + jobs.describe_estimate(found))
            if not confirm:
                raise ConfirmationNeeded(
                    "Nothing was launched. Add CONFIRM=yes (pipeline --confirm) to launch these jobs; later waves, "
                    "if any, are priced the same way as they are reached."
                )
            aws = connect(settings)
            launched = [jobs.Job(number, batch) for number, batch in enumerate(packed, start=len(done) + 1)]
            source = jobs.stage(folder / "source", _training_versions())
            channels = jobs.upload_requests(
                aws.client("s3"), launched, folder, aws.bucket, f"{settings.prefix}/runs/{root.name}-w{wave}"
            )
            jobs.run_jobs(aws, launched, source, channels, settings.name_prefix, max_parallel, say=say)
            done += launched
            say(jobs.outcome_table(launched))
            failed = [job for job in launched if job.status != "Completed"]
            if failed:
                raise RemoteTrainingFailed(
                    f"{len(failed)} of {len(launched)} jobs did not return results (listed above); the others' results are "
                    "stored. Run the same command again to retry what is missing."
                )
    raise RemoteTrainingFailed(f"Trainings were still missing after {MAX_WAVES} waves: a notebook asks for new ones each time.")


def _training_versions() -> dict[str, str]:
    versions = records.package_versions()
    return {name: versions.get(name, "") for name in ("tensorflow", "tensorflow-cpu", "keras", "numpy")}


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m convlab.run.remote [SageMaker options] [pipeline options]`: train on SageMaker, then run the pipeline."""
    import argparse
    import sys

    from convlab.study import config, paths, profiles

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--aws-region", default=os.environ.get("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "")))
    parser.add_argument("--role-arn", default="", help="SageMaker execution role, arn:aws:iam::<account>:role/<name>")
    parser.add_argument("--aws-bucket", default="", help="empty: the account's SageMaker default bucket")
    parser.add_argument("--instance", default="ml.m5.large", help="training instance type (prices: convlab/serving/prices.json)")
    parser.add_argument("--max-jobs", type=int, default=8, help="training jobs running at once")
    parser.add_argument("--confirm", action="store_true", help="launch the jobs (without it, only the estimate is printed)")
    parser.add_argument("--datasets", nargs="+", default=list(config.DATASETS), choices=config.DATASETS)
    parser.add_argument("--notebooks", nargs="+", default=None, choices=manifest.names())
    parser.add_argument("--output-root", type=Path, default=None)
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    args, rest = parser.parse_known_args(argv)
    parameters = {name: value for name, value in args.parameter if value != ""}
    try:
        if args.max_jobs < 1:
            raise config.ParameterError(f"--max-jobs {args.max_jobs}: give at least 1 (SAGEMAKER_JOBS).")
        parameters = pipeline.absolute_folders(parameters)
        from convlab.study import parameters as study_parameters

        study_parameters.validate_upfront(parameters)
        pipeline.absolute_environment()
        settings = cloud.AwsSettings(
            region=args.aws_region, role_arn=args.role_arn, bucket=args.aws_bucket, training_instance=args.instance
        )
        root = paths.output_folder(args.output_root or "", "--output-root", paths.REPORTS_DIR)
        notebooks = args.notebooks or pipeline.profile_notebooks(parameters.get("profile", profiles.AUTO))
        train_on_sagemaker(
            config.dataset_names(args.datasets),
            notebooks,
            parameters,
            root,
            settings,
            max_parallel=args.max_jobs,
            confirm=args.confirm,
        )
    except (ValueError, ConfirmationNeeded, RemoteTrainingFailed, jobs.CredentialsExpired, locking.FolderLocked) as error:
        print(f"\nERROR: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopped: the running jobs were stopped (see above); stored results are kept.", file=sys.stderr)
        return 130
    forwarded = ["--datasets", *args.datasets, *(["--notebooks", *args.notebooks] if args.notebooks else [])]
    forwarded += ["--output-root", str(args.output_root)] if args.output_root else []
    forwarded += [item for name, value in args.parameter for item in ("-p", name, value)]
    return pipeline.main([*forwarded, *rest])


if __name__ == "__main__":
    raise SystemExit(main())
