"""What the official files of each dataset are: their names, shapes and payload checksums, and the class names.

`data` finds, reads and verifies the files against these (and re-exports them: `data.SPECS`, `data.IDX_NAMES`).
"""

from __future__ import annotations

from dataclasses import dataclass

from convlab.study import config

IDX_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
_SIDE, _TRAIN, _TEST = config.IMAGE_SIDE, config.SPLIT_SIZES["train_size"], config.SPLIT_SIZES["test_size"]
EXPECTED_SHAPES = {
    "x_train": (_TRAIN, _SIDE, _SIDE),
    "y_train": (_TRAIN,),
    "x_test": (_TEST, _SIDE, _SIDE),
    "y_test": (_TEST,),
}


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset's files live and what their payloads must hash to."""

    name: str
    folder: str
    npz_name: str
    class_names: tuple[str, ...]
    sha256: dict[str, str]
    reference_mean_std: tuple[float, float]
    debian_folder: str | None = None


SPECS = {
    "fashion_mnist": DatasetSpec(
        name="fashion_mnist",
        folder="fashion-mnist",
        npz_name="fashion-mnist.npz",
        class_names=(
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
        sha256={
            "x_train": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "y_train": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "x_test": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "y_test": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
        reference_mean_std=(0.2860, 0.3530),
        debian_folder="fashion-mnist",
    ),
    "mnist": DatasetSpec(
        name="mnist",
        folder="mnist",
        npz_name="mnist.npz",
        class_names=tuple(str(digit) for digit in range(10)),
        sha256={
            "x_train": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "y_train": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "x_test": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "y_test": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
        reference_mean_std=(0.1307, 0.3081),
    ),
}


# Every official file by its checksum: a file that fails its own check may be another official one under a wrong name
OFFICIAL_FILES = {digest: (spec.name, split) for spec in SPECS.values() for split, digest in spec.sha256.items()}
