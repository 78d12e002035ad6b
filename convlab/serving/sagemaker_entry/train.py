"""SageMaker training entry script: train one convlab configuration, export it for TF Serving, keep its record.

Runs the same anywhere: hyperparameters are command-line arguments, paths come from
the SageMaker environment (`SM_MODEL_DIR`, `SM_OUTPUT_DATA_DIR`, `SM_CHANNEL_TRAIN`) with
local defaults. It writes
- `<model_dir>/1/`: the SavedModel that TensorFlow Serving loads;
- `<model_dir>/code/inference.py` and `labels.json`: the request handlers, so the artifact deploys as is;
- `<output_data_dir>/<model>-seed<s>.json` and `.keras`: the result record (the report's format) and the Keras model.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if (HERE / "convlab").is_dir():  # the staged copy that ships with the script to SageMaker
    sys.path.insert(0, str(HERE))


def argument_parser() -> argparse.ArgumentParser:
    """The hyperparameters a job may set, with their types (mode aws checks a job's against it before submitting)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--model", default="cnn", choices=("fc_baseline", "cnn"))
    parser.add_argument("--first-kernel", type=int, default=3, help="first convolution's kernel size (CNN only)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", default="full", help="training profile: quick, full or gpu (profiles.PROFILES)")
    parser.add_argument("--epochs", default="auto", help="most epochs; auto: the profile's")
    parser.add_argument("--batch-size", default="auto", help="mini-batch size; auto: the profile's")
    parser.add_argument("--train-size", type=int, default=0, help="stratified subset; 0 keeps all")
    parser.add_argument("--test-size", type=int, default=0, help="stratified subset; 0 keeps all")
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", "model"))
    parser.add_argument("--output-data-dir", default=os.environ.get("SM_OUTPUT_DATA_DIR", "output"))
    parser.add_argument("--data-dir", default=os.environ.get("SM_CHANNEL_TRAIN", ""), help="folder with the IDX files")
    parser.add_argument(
        "--reuse-from",
        default="",
        help="a report folder (reports/<dataset>): an identical run stored there is exported instead of trained again",
    )
    return parser


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    arguments, _ = argument_parser().parse_known_args(argv)  # SageMaker may add arguments of its own
    return arguments


def main(argv: list[str] | None = None) -> dict:
    arguments = parse_arguments(argv)
    from convlab.datasets import data
    from convlab.study import config
    from convlab.training import fit, models, saved

    params = config.RunParameters.from_notebook(
        notebook="06_sagemaker_deploy",
        dataset=arguments.dataset,
        data_dir=arguments.data_dir,
        profile=arguments.profile,
        epochs=arguments.epochs,
        seeds=arguments.seed,
        train_size=arguments.train_size,
        test_size=arguments.test_size,
        batch_size=arguments.batch_size,
        output_dir=arguments.output_data_dir,
    )
    if arguments.model == "cnn":
        model_config = models.cnn_config(params.dataset, arguments.first_kernel)
    else:
        model_config = models.fc_baseline_config(params.dataset)
    dataset = data.load_for_run(params)
    settings = fit.training_config_for(params, model_config)
    key = fit.cache_key(model_config, dataset, arguments.seed, settings)
    report = Path(arguments.reuse_from) if arguments.reuse_from else None
    stored = report and saved.stored_run(model_config.name, arguments.seed, key, report / "results", report / "models")
    if stored:
        print(f"Reusing {model_config.name} (seed {arguments.seed}) from {report}: an identical run is stored.")
        model, record = saved.load_trained_model(stored, report / "models"), stored
    else:
        model, record = fit.fit(model_config, dataset, arguments.seed, settings)
    output_dir = Path(arguments.output_data_dir)
    record = saved.store_run(model, record, key, output_dir, output_dir)
    export_for_serving(model, Path(arguments.model_dir), dataset.class_names)
    print(f"{model_config.name} (seed {arguments.seed}): test accuracy {record['test']['accuracy']:.4f}")
    return record


def serving_model(model):
    """The trained model behind a front that takes each image as 784 pixel values in 0-255.

    The front reshapes to 28×28×1 and scales as training did (`data.scale_images`: a float32 division,
    not a multiplication by 1/255, which rounds differently), so the served model computes what the
    trained one does. Requests then carry flat rows of integers: a third of the bytes of nested scaled
    floats, and several times faster to encode and to parse.
    """
    import keras

    pixels = keras.Input(shape=(784,), dtype="float32", name="pixels")
    images = keras.ops.reshape(keras.ops.divide(pixels, 255.0), (-1, *model.input_shape[1:]))
    return keras.Model(pixels, model(images), name=f"{model.name}_serving")


def export_for_serving(model, model_dir: Path, class_names: tuple[str, ...]) -> None:
    """The SavedModel under `<model_dir>/1/` and the handlers under `<model_dir>/code/`."""
    model_dir.mkdir(parents=True, exist_ok=True)
    version_dir = model_dir / "1"
    if version_dir.exists():
        shutil.rmtree(version_dir)
    serving_model(model).export(str(version_dir), verbose=False)
    code_dir = model_dir / "code"
    code_dir.mkdir(exist_ok=True)
    shutil.copyfile(HERE / "inference.py", code_dir / "inference.py")
    (code_dir / "labels.json").write_text(json.dumps({"class_names": list(class_names)}, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
