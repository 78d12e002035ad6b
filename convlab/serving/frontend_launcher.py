"""Start the SageMaker TF Serving container's `python_service.py` from its reference folder (run by `container.py`).

Runs in the environment that holds the serving image's packages, so it uses the standard library only.
Usage: `python frontend_launcher.py <front-end folder> <model folder> <gunicorn arguments of serve.py>`.
The container reads its handlers from `/opt/ml/model/code/inference.py`; here the unpacked artifact lives
in `<model folder>`, and the two path functions that `python_service.py` calls on that path (`os.path.exists`,
`importlib.util.spec_from_file_location`) see it there. Nothing else of the container's code is changed.
"""

import importlib.util
import os
import runpy
import sys

CONTAINER_MODEL_DIR = "/opt/ml/model"


def main() -> None:
    frontend, model_dir, gunicorn_arguments = sys.argv[1], sys.argv[2], sys.argv[3:]
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or ".") != here]  # nothing of convlab's

    def mapped(path):
        text = os.fspath(path)
        if text == CONTAINER_MODEL_DIR or text.startswith(CONTAINER_MODEL_DIR + "/"):
            return model_dir + text[len(CONTAINER_MODEL_DIR) :]
        return path

    exists, spec_from_file = os.path.exists, importlib.util.spec_from_file_location
    os.path.exists = lambda path: exists(mapped(path))
    importlib.util.spec_from_file_location = lambda name, location=None, **kwargs: spec_from_file(
        name, mapped(location), **kwargs
    )
    sys.path.insert(0, frontend)  # /sagemaker: python_service imports tfs_utils and multi_model_utils from there
    script = os.path.join(frontend, "python_service.py")
    sys.argv = [script, *gunicorn_arguments]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
