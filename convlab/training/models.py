"""The studies' architectures as configurations, Keras builders, and their cost.

A `ModelConfig` is plain data (it goes into result records and cache keys);
`build_model` turns it into a Keras model; `macs_per_image` counts the
multiply-accumulate operations of one forward pass.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import keras

from convlab.datasets import transforms
from convlab.study import config, identities

HEADS = ("flatten", "gap")
POOLINGS = ("max", "average")


@dataclass(frozen=True)
class ModelConfig:
    """A fully connected network (kind "fc") or a two-block CNN (kind "cnn").

    Five options probe the inductive bias without touching the studies' models:
    `head` "gap" replaces the CNN's flatten with global average pooling;
    `pooling` "average" replaces its 2×2 max pooling with 2×2 average pooling;
    `shift_augmentation` shifts training images at random by up to that many
    pixels (inactive at inference); `pixel_permutation` is the seed of a fixed
    pixel shuffle applied to every input, in training and at inference alike;
    `locally_connected` makes the CNN's first that many convolutions locally
    connected (`LocallyConnected2D`: the same receptive fields, a kernel of its
    own at every position), which keeps locality and removes weight sharing.
    """

    name: str
    kind: str
    hidden_units: tuple[int, ...] = ()
    filters: tuple[int, ...] = ()
    kernel_sizes: tuple[int, ...] = ()
    padding: str = "same"
    dense_units: int = 64
    num_classes: int = config.NUM_CLASSES
    image_side: int = config.IMAGE_SIDE
    head: str = "flatten"
    pooling: str = "max"
    shift_augmentation: int = 0
    pixel_permutation: int | None = None
    locally_connected: int = 0

    def __post_init__(self) -> None:
        if self.kind not in {"fc", "cnn"}:
            raise ValueError(f"Unknown model kind {self.kind!r}: use 'fc' or 'cnn'.")
        if self.head not in HEADS or (self.kind == "fc" and self.head != "flatten"):
            raise ValueError(f"Unknown head {self.head!r} for a {self.kind} model: use one of {HEADS} (a CNN only for 'gap').")
        if self.pooling not in POOLINGS or (self.kind == "fc" and self.pooling != "max"):
            raise ValueError(f"Unknown pooling {self.pooling!r} for a {self.kind} model: use one of {POOLINGS} (a CNN only).")
        if not 0 <= self.shift_augmentation < self.image_side:
            raise ValueError(
                f"shift_augmentation={self.shift_augmentation} is invalid: use 0 (none) up to {self.image_side - 1} pixels."
            )
        if self.pixel_permutation is not None and self.pixel_permutation < 0:
            raise ValueError(f"pixel_permutation={self.pixel_permutation} is invalid: use a seed ≥ 0, or None for no shuffle.")
        if not 0 <= self.locally_connected <= (len(self.filters) if self.kind == "cnn" else 0):
            raise ValueError(
                f"locally_connected={self.locally_connected} is invalid: use 0 up to the CNN's {len(self.filters)} "
                "convolutions (an FC network has none)."
            )
        if self.kind == "cnn":
            if len(self.filters) != len(self.kernel_sizes) or not self.filters:
                raise ValueError("A CNN needs one kernel size per convolutional layer.")
            if self.padding not in {"same", "valid"}:
                raise ValueError(f"Unknown padding {self.padding!r}: use 'same' or 'valid'.")
            for size in self.kernel_sizes:
                if size < 1 or size % 2 == 0 or size > self.image_side:
                    raise ValueError(
                        f"Kernel size {size} is invalid: use an odd size from 1 to {self.image_side} "
                        f"(odd sizes keep 'same' padding symmetric)."
                    )
            if self.feature_map_sides()[-1] < 1:
                raise ValueError(
                    f"Kernels {self.kernel_sizes} with {self.padding!r} padding shrink the {self.image_side}×"
                    f"{self.image_side} image to nothing (feature-map sides {self.feature_map_sides()}); "
                    f"use smaller kernels or 'same' padding."
                )

    def feature_map_sides(self) -> list[int]:
        """Side of the feature maps after each convolution and each 2×2 pooling, in order."""
        side, sides = self.image_side, []
        for size in self.kernel_sizes:
            side = side if self.padding == "same" else side - size + 1
            sides.append(side)
            side = max(side, 0) // 2
            sides.append(side)
        return sides

    def to_dict(self) -> dict:
        return asdict(self)


def fc_baseline_config(dataset: str) -> ModelConfig:
    """The studies' FC baselines: 784→128→64→10 (Fashion-MNIST) and 784→128→10 (MNIST)."""
    hidden = (128, 64) if dataset == "fashion_mnist" else (128,)
    return ModelConfig(name=identities.FC, kind="fc", hidden_units=hidden)


def cnn_config(dataset: str, first_kernel: int = 3, second_kernel: int = 3) -> ModelConfig:
    """The studies' CNNs: Conv(32)→Pool→Conv(64)→Pool→Dense(64)→Dense(10).

    Fashion-MNIST uses 'same' padding, MNIST 'valid'. `first_kernel` changes the
    first convolution's kernel (the kernel-size experiment); `second_kernel` the
    second one's (the variant that changes both).
    """
    padding = "same" if dataset == "fashion_mnist" else "valid"
    if (first_kernel, second_kernel) == (3, 3):
        name = "cnn"
    elif second_kernel == 3:
        name = f"cnn_k{first_kernel}"
    else:
        name = f"cnn_k{first_kernel}-{second_kernel}"
    return ModelConfig(name=name, kind="cnn", filters=(32, 64), kernel_sizes=(first_kernel, second_kernel), padding=padding)


def variant(
    base: ModelConfig,
    *,
    head: str | None = None,
    pooling: str | None = None,
    shift_augmentation: int = 0,
    pixel_permutation: int | None = None,
    locally_connected: int = 0,
) -> ModelConfig:
    """`base` with a probe option switched on, named after it (e.g. cnn_gap, cnn_avgpool, cnn_shift4, fc_baseline_perm0,
    cnn_local: every convolution locally connected, cnn_local1: the first only)."""
    name = base.name
    if head and head != base.head:
        name += f"_{head}"
    if pooling and pooling != base.pooling:
        name += "_avgpool" if pooling == "average" else f"_{pooling}pool"
    if shift_augmentation:
        name += f"_shift{shift_augmentation}"
    if pixel_permutation is not None:
        name += f"_perm{pixel_permutation}"
    if locally_connected:
        name += "_local" if locally_connected == len(base.filters) else f"_local{locally_connected}"
    return replace(
        base,
        name=name,
        head=head or base.head,
        pooling=pooling or base.pooling,
        shift_augmentation=shift_augmentation,
        pixel_permutation=pixel_permutation,
        locally_connected=locally_connected,
    )


def build_model(model_config: ModelConfig):
    """A Keras Sequential model for a configuration (inputs: float32 N×28×28×1)."""
    from keras import layers

    side = model_config.image_side
    stack = [keras.Input(shape=(side, side, 1), name="image")]
    if model_config.shift_augmentation:
        fraction = model_config.shift_augmentation / side
        stack.append(
            layers.RandomTranslation(
                fraction, fraction, fill_mode="constant", interpolation="nearest", fill_value=0.0, name="random_shift"
            )
        )
    if model_config.pixel_permutation is not None:
        stack.append(PixelPermutation(model_config.pixel_permutation, name="pixel_permutation"))
    if model_config.kind == "fc":
        stack.append(layers.Flatten(name="flatten"))
        for index, units in enumerate(model_config.hidden_units, start=1):
            stack.append(layers.Dense(units, activation="relu", name=f"dense_{index}"))
    else:
        for index, (filters, size) in enumerate(zip(model_config.filters, model_config.kernel_sizes), start=1):
            if index <= model_config.locally_connected:
                stack.append(LocallyConnected2D(filters, size, padding=model_config.padding, name=f"local_{index}"))
            else:
                stack.append(layers.Conv2D(filters, size, padding=model_config.padding, activation="relu", name=f"conv_{index}"))
            pool = layers.MaxPooling2D if model_config.pooling == "max" else layers.AveragePooling2D
            stack.append(pool(2, name=f"pool_{index}"))
        if model_config.head == "gap":
            stack.append(layers.GlobalAveragePooling2D(name="global_pool"))
        else:
            stack.append(layers.Flatten(name="flatten"))
        stack.append(layers.Dense(model_config.dense_units, activation="relu", name="dense_1"))
    # float32 under any policy: under mixed precision the softmax and the loss keep float32's resolution
    stack.append(layers.Dense(model_config.num_classes, activation="softmax", dtype="float32", name="output"))
    return keras.Sequential(stack, name=model_config.name)


@keras.saving.register_keras_serializable(package="convlab")
class PixelPermutation(keras.layers.Layer):
    """Shuffles the pixels of every image with one fixed permutation (`transforms.pixel_permutation(seed)`)."""

    def __init__(self, seed: int, **kwargs):
        super().__init__(**kwargs)
        self.seed = int(seed)

    def build(self, input_shape):
        self.pixels = int(input_shape[1] * input_shape[2] * input_shape[3])
        self.indices = keras.ops.convert_to_tensor(transforms.pixel_permutation(self.seed, self.pixels), dtype="int32")

    def call(self, images):
        flat = keras.ops.reshape(images, (-1, self.pixels))
        return keras.ops.reshape(keras.ops.take(flat, self.indices, axis=1), keras.ops.shape(images))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return super().get_config() | {"seed": self.seed}


@keras.saving.register_keras_serializable(package="convlab")
class LocallyConnected2D(keras.layers.Layer):
    """A convolution without weight sharing, with ReLU: every output position has a kernel and bias of its own.

    Output (b, i, j, f) = relu(Σ patch(b, i, j) · kernel[i, j, :, f] + bias[i, j, f]), where patch(b, i, j) is the
    k×k×c window the convolution of the same `padding` would see at (i, j), flattened row by row, channel last.
    Parameters: out_h × out_w × (k·k·c + 1) × filters, that many times the shared convolution's (k·k·c + 1) × filters.
    """

    def __init__(self, filters: int, kernel_size: int, padding: str = "valid", **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.padding = int(filters), int(kernel_size), padding

    def output_side(self, side: int) -> int:
        return side if self.padding == "same" else side - self.kernel_size + 1

    def build(self, input_shape):
        height, width, channels = self.output_side(input_shape[1]), self.output_side(input_shape[2]), input_shape[3]
        self.positions, self.window = height * width, self.kernel_size * self.kernel_size * channels
        # each position's kernel drawn as Conv2D draws its one kernel (Glorot uniform over k·k·c in, k·k·filters out)
        limit = (6 / (self.window + self.kernel_size * self.kernel_size * self.filters)) ** 0.5
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.positions, self.window, self.filters),
            initializer=keras.initializers.RandomUniform(-limit, limit),
        )
        self.bias = self.add_weight(name="bias", shape=(height, width, self.filters), initializer="zeros")

    def call(self, images):
        patches = self.patches(images)
        height, width = patches.shape[1], patches.shape[2]
        by_position = keras.ops.transpose(keras.ops.reshape(patches, (-1, self.positions, self.window)), (1, 0, 2))
        outputs = keras.ops.transpose(keras.ops.matmul(by_position, self.kernel), (1, 0, 2))  # batch × positions × filters
        return keras.ops.relu(keras.ops.reshape(outputs, (-1, height, width, self.filters)) + self.bias)

    def patches(self, images):
        """Every k×k window, flattened row by row with the channels last: b × out_h × out_w × (k·k·c), by slicing."""
        size = self.kernel_size
        if self.padding == "same":
            before = (size - 1) // 2
            images = keras.ops.pad(images, ((0, 0), (before, size - 1 - before), (before, size - 1 - before), (0, 0)))
        height, width = images.shape[1] - size + 1, images.shape[2] - size + 1
        windows = [images[:, row : row + height, column : column + width, :] for row in range(size) for column in range(size)]
        return keras.ops.concatenate(windows, axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_side(input_shape[1]), self.output_side(input_shape[2]), self.filters)

    def get_config(self) -> dict:
        return super().get_config() | {"filters": self.filters, "kernel_size": self.kernel_size, "padding": self.padding}


def layer_macs(layer) -> int:
    """Multiply-accumulates of one layer for one image (convolutions and dense layers; others cost 0)."""
    from keras import layers

    if isinstance(layer, layers.Conv2D):
        _, height, width, out_channels = layer.output.shape
        kernel_h, kernel_w, in_channels, _ = layer.kernel.shape
        return int(height * width * out_channels * kernel_h * kernel_w * in_channels)
    if isinstance(layer, LocallyConnected2D):  # the same multiply-accumulates as the shared convolution
        positions, window, filters = layer.kernel.shape
        return int(positions * window * filters)
    if isinstance(layer, layers.Dense):
        in_features, out_features = layer.kernel.shape
        return int(in_features * out_features)
    return 0


def macs_per_image(model) -> int:
    """Multiply-accumulates of one forward pass (biases, activations and pooling excluded)."""
    return sum(layer_macs(layer) for layer in model.layers)


def layer_table(model):
    """A DataFrame, one row per layer: type, output shape, parameters, MACs and their shares."""
    import pandas as pd

    frame = pd.DataFrame(
        [
            {
                "layer": layer.name,
                "type": layer.__class__.__name__,
                "output shape": "×".join(str(dim) for dim in layer.output.shape[1:]),
                "parameters": int(layer.count_params()),
                "MACs": layer_macs(layer),
            }
            for layer in model.layers
        ]
    ).set_index("layer")
    frame["share of parameters (%)"] = 100 * frame["parameters"] / frame["parameters"].sum()
    frame["share of MACs (%)"] = 100 * frame["MACs"] / max(frame["MACs"].sum(), 1)
    return frame


def cost_table(configs: dict[str, ModelConfig]):
    """Kernels, feature-map sides, parameters and MACs per image of several configurations."""
    import pandas as pd

    rows = []
    for label, model_config in configs.items():
        model = build_model(model_config)
        sides = model_config.feature_map_sides()
        rows.append(
            {
                "configuration": label,
                "kernels": " / ".join(f"{size}×{size}" for size in model_config.kernel_sizes),
                "padding": model_config.padding,
                "feature maps (conv → pool → conv → pool)": " → ".join(str(side) for side in sides),
                "features into the dense layer": model_config.filters[-1]
                * (sides[-1] ** 2 if model_config.head == "flatten" else 1),
                "parameters": int(model.count_params()),
                "MACs per image": macs_per_image(model),
            }
        )
    return pd.DataFrame(rows).set_index("configuration")
