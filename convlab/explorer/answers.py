"""What the explorer shows: the latest run's FC network and CNN (and the permutation experiment's pair), their
answers for one image, the CNN's first-layer activation maps, and the run's accuracy-against-shift curves.

The models answer in this process: a prediction for one image takes milliseconds, and the activation maps need
the Keras model's own layers, which the served SavedModel (one signature: pixels in, probabilities out) does not
expose. Each answer is the model's `predict` on the pixels exactly as given (uint8, scaled as training scaled).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from convlab.datasets import data, transforms
from convlab.store import records
from convlab.training import models, saved

REGISTERED = models.PixelPermutation  # importing `models` registers the layer that the permuted models hold

PAIR = {"fc": "fc_baseline", "cnn": "cnn"}  # the studies' two models, as notebooks 02 and 03 store them
MAX_SHIFT = 8  # pixels each way the page moves an image; the curves show the probes' shifts up to this


class NothingTrained(LookupError):
    """The report folder holds no trained FC network and CNN to explore."""


def train_command(dataset: str) -> str:
    return f'make report DATASET={dataset} NOTEBOOKS="02_fc_baseline 03_cnn" PROFILE=quick'


def latest_record(results_dir: Path, models_dir: Path, name: str) -> records.ResultRecord | None:
    """The stored run of `name` with the lowest seed whose model file is intact, or None."""
    for path in sorted(
        records.committed(results_dir.glob(f"{name}-seed*.json")), key=lambda path: int(path.stem.rsplit("seed", 1)[1])
    ):
        try:
            record = records.read_record(path)
        except records.MissingResultError:
            continue
        if saved.stored_run(name, record["seed"], record["cache_key"], results_dir, models_dir):
            return record
    return None


@dataclass
class Model:
    """One trained model, ready to answer: its record, the Keras model and, for a CNN, its first layer's outputs."""

    record: records.ResultRecord
    keras_model: object
    first_layer: object = None

    @property
    def label(self) -> str:
        accuracy = 100 * self.record["test"]["accuracy"]
        return f"{self.record['model']['name']} (seed {self.record['seed']}, test accuracy {accuracy:.2f}%)"


@dataclass
class Explorer:
    dataset: data.Dataset
    models: dict[str, Model]
    permuted: dict[str, Model] = field(default_factory=dict)
    permutation: list[int] | None = None
    curves: dict = field(default_factory=dict)

    def probabilities(self, pixels: np.ndarray, permuted: bool = False) -> dict[str, list[float]]:
        """Each model's class probabilities for one 28×28 uint8 image (the permutation experiment's pair when `permuted`)."""
        chosen = self.permuted if permuted else self.models
        batch = data.scale_images(pixels.reshape(1, 28, 28))
        # a direct call computes what `predict` does (the tests hold them equal) in a few ms instead of ~50 for one image
        return {
            kind: [float(value) for value in np.asarray(model.keras_model(batch, training=False))[0]]
            for kind, model in chosen.items()
        }

    def activation_maps(self, pixels: np.ndarray, permuted: bool = False) -> dict:
        """The CNN's first-layer maps for the image (side × side each, row by row), scaled to 0-255 by the largest
        value of all maps."""
        model = (self.permuted if permuted else self.models)["cnn"]
        outputs = np.asarray(model.first_layer(data.scale_images(pixels.reshape(1, 28, 28)), training=False))[
            0
        ]  # side×side×filters
        peak = float(outputs.max()) or 1.0
        scaled = np.clip(np.rint(outputs / peak * 255), 0, 255).astype(np.uint8)
        maps = [scaled[:, :, index].reshape(-1).tolist() for index in range(scaled.shape[-1])]
        return {"side": int(scaled.shape[0]), "maps": maps}

    def answer(self, pixels: np.ndarray, permuted: bool = False) -> dict:
        if permuted and not self.permuted:
            raise LookupError("This run stored no permutation-experiment models (notebook 08): the toggle is off.")
        probabilities = self.probabilities(pixels, permuted)
        names = self.dataset.class_names
        return {
            "models": {
                kind: {
                    "label": (self.permuted if permuted else self.models)[kind].label,
                    "probabilities": values,
                    "top3": [[names[index], values[index]] for index in np.argsort(values)[::-1][:3]],
                }
                for kind, values in probabilities.items()
            },
            "activations": self.activation_maps(pixels, permuted),
        }


def load_model(record: records.ResultRecord, models_dir: Path) -> Model:
    import keras

    model = saved.load_trained_model(record, models_dir)
    first = None
    if record["model"]["kind"] == "cnn":
        first = keras.Model(inputs=model.inputs, outputs=model.get_layer("conv_1").output)
    return Model(record, model, first)


def shift_curves(results_dir: Path, names: dict[str, str]) -> dict:
    """Accuracy (%) against shift per model and direction, averaged over the seeds probed (notebook 07's records)."""
    curves = {}
    for kind, name in names.items():
        rows = [
            row
            for path in records.committed((results_dir / "probes").glob(f"translation_{name}-seed*.json"))
            for row in records.read_probe(path)["result"]["rows"]
            if row["shift"] <= MAX_SHIFT
        ]
        by_point: dict[tuple[str, int], list[float]] = {}
        for row in rows:
            by_point.setdefault((row["direction"], row["shift"]), []).append(row["accuracy"])
        curves[kind] = {
            direction: [
                [shift, 100 * float(np.mean(values))] for (where, shift), values in sorted(by_point.items()) if where == direction
            ]
            for direction in sorted({direction for direction, _ in by_point})
        }
        curves[kind]["seeds"] = len({path.name for path in (results_dir / "probes").glob(f"translation_{name}-seed*.json")})
    return curves


def load(report_dir: Path, dataset_name: str, data_dir: str | Path | None = None) -> Explorer:
    """The explorer of a report folder (`reports/<dataset>`): its models, the test images, the curves."""
    results_dir, models_dir = report_dir / "results", report_dir / "models"
    found = {kind: latest_record(results_dir, models_dir, name) for kind, name in PAIR.items()}
    if not all(found.values()):
        missing = ", ".join(PAIR[kind] for kind, record in found.items() if record is None)
        raise NothingTrained(
            f"No trained {missing} in {report_dir}: train them with `{train_command(dataset_name)}` (a few minutes)."
        )
    models = {kind: load_model(record, models_dir) for kind, record in found.items()}
    permuted, permutation = {}, None
    permuted_records = {
        kind: min(
            (records.read_record(path) for path in records.committed(results_dir.glob(f"{PAIR[kind]}_perm*-seed*.json"))),
            key=lambda record: record["seed"],
            default=None,
        )
        for kind in PAIR
    }
    if all(permuted_records.values()):
        seeds = {record["model"]["pixel_permutation"] for record in permuted_records.values()}
        if len(seeds) == 1:
            permuted = {kind: load_model(record, models_dir) for kind, record in permuted_records.items()}
            permutation = transforms.pixel_permutation(seeds.pop()).tolist()
    dataset = data.load_dataset(dataset_name, data_dir)
    names = {kind: PAIR[kind] for kind in PAIR}
    return Explorer(dataset, models, permuted, permutation, shift_curves(results_dir, names))
