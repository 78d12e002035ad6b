"""What the explorer shows: the latest run's FC network and CNN (and the permutation experiment's pair), their
answers for one image, the CNN's first-layer activation maps, and the accuracy-against-shift curves.

The models answer in this process: a prediction for one image takes milliseconds, and the activation maps need
the Keras model's own layers, which the served SavedModel (one signature: pixels in, probabilities out) does not
expose. Each answer is the model's `predict` on the pixels exactly as given (uint8, scaled as training scaled).

The curves are the run's translation probe records (notebook 07) where it has them; where it has none (the quick
profile's run), `Explorer.measure` computes them once from the run's FC network and CNN with the probe's own
function, shifts, directions and test images (`convlab.experiments.probes`), and keeps them in memory. The scramble
toggle asks the permutation experiment's pair (notebook 08) where the run has it; else the run's own models, trained
on ordinary images, answer the scrambled image, and `measure` gives their accuracy on the same test images scrambled.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from convlab.datasets import data, transforms
from convlab.experiments import probes
from convlab.store import records
from convlab.study import identities, parameters
from convlab.training import models, saved

REGISTERED = models.PixelPermutation  # importing `models` registers the layer that the permuted models hold

PAIR = {"fc": identities.FC, "cnn": identities.CNN}  # the studies' two models, as notebooks 02 and 03 store them
TITLES = {"fc": f"{identities.DISPLAY[identities.FC]} network", "cnn": identities.DISPLAY[identities.CNN]}
MAX_SHIFT = 8  # pixels each way the page moves an image; the curves show the probes' shifts up to this
CURVE_SHIFTS = tuple(range(MAX_SHIFT + 1))  # the shifts computed where the run has no probe records (the probe's 0…8)
CURVE_IMAGES = probes.PROBE_IMAGES  # test images they are computed on: the probe's stratified subset
CURVE_DIRECTIONS = ("horizontal", "vertical")  # the probe's directions that the page draws (a third less to compute)
PERMUTATION_SEED = parameters.declared("permutation_seed").default  # notebook 08's permutation, where the run has none


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
        """How the page names it: "FC network (seed 0, test accuracy 97.85%)", the permutation experiment's models
        "… trained on scrambled pixels (…)"; the stored name (`fc_baseline`, `cnn_perm0`) is the record's."""
        kind = "cnn" if self.record["model"]["kind"] == "cnn" else "fc"
        trained = " trained on scrambled pixels" if self.record["model"].get("pixel_permutation") is not None else ""
        accuracy = 100 * self.record["test"]["accuracy"]
        return f"{TITLES[kind]}{trained} (seed {self.record['seed']}, test accuracy {accuracy:.2f}%)"


@dataclass
class Explorer:
    """The models and the test images; `curves` are the run's probe records' (`probe_curves`: empty without them),
    `permuted` the permutation experiment's pair (empty without notebook 08) and `permutation` its pixel shuffle
    (notebook 08's default one where the run has no pair)."""

    dataset: data.Dataset
    models: dict[str, Model]
    permuted: dict[str, Model] = field(default_factory=dict)
    permutation: list[int] | None = None
    curves: dict = field(default_factory=dict)
    _measured: dict | None = field(default=None, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def __post_init__(self):
        if self.permutation is None:
            self.permutation = transforms.pixel_permutation(PERMUTATION_SEED).tolist()

    @property
    def probed(self) -> bool:
        """Whether the run's translation probe records give both networks' curves (else `measure` computes them)."""
        return all(self.curves.get(kind, {}).get("horizontal") for kind in PAIR)

    @property
    def scramble(self) -> str:
        """Who answers the scrambled image: "trained" (notebook 08's pair) or "own" (the run's models, trained on
        ordinary images)."""
        return "trained" if self.permuted else "own"

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

    def scrambled(self, pixels: np.ndarray) -> np.ndarray:
        """The image with the permutation's pixel shuffle: what the networks' first layer sees with the toggle on."""
        return transforms.permute_pixels(pixels.reshape(1, 28, 28), np.asarray(self.permutation))[0]

    def answer(self, pixels: np.ndarray, permuted: bool = False) -> dict:
        """Each model's answer for the image; `permuted`: the scrambled image, answered by notebook 08's pair (the
        image as given: their first layer shuffles it) or, where the run has none, by the run's own models given the
        scrambled pixels."""
        if permuted and not self.permuted:
            own = self.answer(self.scrambled(pixels))
            for model in own["models"].values():
                model["label"] += ", trained on ordinary images, given the scrambled pixels"
            return own | {"scramble": "own"}
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
        } | ({"scramble": "trained"} if permuted else {})

    def measure(self) -> dict:
        """The curves to draw and what the scramble toggle's note states, computed once (at the first call; later
        calls, from any thread, wait for it and get the same dict):

        - `source` "probe": the run's translation probe records (`curves` as read); "computed": the run's lowest-seed
          FC network and CNN measured now by the probe's `shifted_accuracy` on its `images` test images, shifts
          0…MAX_SHIFT in the probe's directions that the page draws (CURVE_DIRECTIONS: one way, right and down)
        - `scrambled`: where the run has no permutation pair, each of its own models' accuracy (%) on those test
          images scrambled; else None
        - `seconds`: what computing these took
        """
        with self._lock:
            if self._measured is None:
                self._measured = self._measure()
            return self._measured

    def _measure(self) -> dict:
        started = time.perf_counter()
        chosen = probes.probe_indices(self.dataset.y_test, CURVE_IMAGES)
        images, labels = self.dataset.x_test[chosen], self.dataset.y_test[chosen]
        if self.probed:
            measured = {"source": "probe", "curves": self.curves}
            measured["images"] = max(curve["images"] for curve in self.curves.values())
        else:
            curves = {}
            for kind, model in self.models.items():
                rows = probes.shifted_accuracy(model.keras_model, images, labels, CURVE_SHIFTS, CURVE_DIRECTIONS)
                curves[kind] = {
                    direction: [[row["shift"], 100 * row["accuracy"]] for row in rows if row["direction"] == direction]
                    for direction in CURVE_DIRECTIONS
                } | {"seeds": [model.record["seed"]], "images": len(chosen)}
            measured = {"source": "computed", "curves": curves, "images": len(chosen)}
        measured["scrambled"] = None
        if not self.permuted:
            batch = data.scale_images(transforms.permute_pixels(images, np.asarray(self.permutation)))
            measured["scrambled"] = {
                kind: 100 * float(np.mean(np.argmax(np.asarray(model.keras_model(batch, training=False)), axis=1) == labels))
                for kind, model in self.models.items()
            }
            measured["scrambled_images"] = len(chosen)
        measured["seconds"] = round(time.perf_counter() - started, 2)
        return measured


def load_model(record: records.ResultRecord, models_dir: Path) -> Model:
    import keras

    model = saved.load_trained_model(record, models_dir)
    first = None
    if record["model"]["kind"] == "cnn":
        first = keras.Model(inputs=model.inputs, outputs=model.get_layer("conv_1").output)
    return Model(record, model, first)


def probe_curves(results_dir: Path, names: dict[str, str]) -> dict:
    """Accuracy (%) against shift per model and direction, averaged over the seeds probed (notebook 07's records),
    with the seeds and the number of test images the probe used; {} for a model without probe records."""
    curves = {}
    for kind, name in names.items():
        paths = records.committed((results_dir / "probes").glob(f"translation_{name}-seed*.json"))
        probed = [records.read_probe(path) for path in paths]
        if not probed:
            continue
        by_point: dict[tuple[str, int], list[float]] = {}
        for probe in probed:
            for row in probe["result"]["rows"]:
                if row["shift"] <= MAX_SHIFT:
                    by_point.setdefault((row["direction"], row["shift"]), []).append(row["accuracy"])
        curves[kind] = {
            direction: [
                [shift, 100 * float(np.mean(values))] for (where, shift), values in sorted(by_point.items()) if where == direction
            ]
            for direction in sorted({direction for direction, _ in by_point})
        }
        curves[kind]["seeds"] = sorted({int(probe["seed"]) for probe in probed})
        curves[kind]["images"] = max(int(probe.get("inputs", {}).get("test_images", 0)) for probe in probed)
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
    return Explorer(dataset, models, permuted, permutation, probe_curves(results_dir, PAIR))
