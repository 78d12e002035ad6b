"""SageMaker training entry script for a run's trainings: train each request of this job, keep its record and model.

The job's channels (`convlab.serving.jobs`): `requests` holds `requests/<key>.json`, one request per training
(`convlab.training.requests`), and `data` the `.npz` files of their images. Every record and Keras model goes to
`<SM_OUTPUT_DATA_DIR>/<key>/`, which SageMaker returns as `output.tar.gz`; the record names the job and the
instance it trained on (`trained_on`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if (HERE / "convlab").is_dir():  # the staged copy that ships with the script to SageMaker
    sys.path.insert(0, str(HERE))


def main() -> int:
    job = os.environ.get("TRAINING_JOB_NAME", "local")
    instance = os.environ.get("SM_CURRENT_INSTANCE_TYPE", "unknown instance")
    os.environ["CONVLAB_TRAINED_ON"] = f"sagemaker {job} {instance}"
    from convlab.training import requests

    plan = Path(os.environ.get("SM_CHANNEL_REQUESTS", "requests"))
    data_dir = Path(os.environ.get("SM_CHANNEL_DATA", str(plan / "data")))
    output = Path(os.environ.get("SM_OUTPUT_DATA_DIR", "output"))
    for request in requests.read_plan(plan):
        record = requests.run_request(request, data_dir, output)
        print(f"{record['model']['name']} (seed {record['seed']}): test accuracy {record['test']['accuracy']:.4f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
