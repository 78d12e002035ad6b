"""What a trained CNN's filters respond to, measured: weights, activations, oriented gratings, classes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from convlab.datasets import data
from convlab.experiments import census


def first_layer_kernels(model) -> np.ndarray:
    """The first convolution's kernels as an array (filters, height, width) for a single input channel."""
    kernel = model.get_layer("conv_1").get_weights()[0]  # (height, width, 1, filters)
    return np.transpose(kernel[:, :, 0, :], (2, 0, 1))


def activations(model, images: np.ndarray, layer_names: tuple[str, ...] = ("conv_1", "conv_2")) -> dict[str, np.ndarray]:
    """Post-ReLU outputs of the named layers for uint8 images (N×28×28)."""
    import keras

    probe = keras.Model(inputs=model.inputs, outputs=[model.get_layer(name).output for name in layer_names])
    outputs = probe.predict(data.scale_images(images), batch_size=500, verbose=0)
    return dict(zip(layer_names, outputs if isinstance(outputs, list) else [outputs], strict=True))


def gratings(angle_degrees: float, wavelength: float, phases: int = 4, side: int = 28) -> np.ndarray:
    """Sinusoidal gratings in [0, 1] whose stripes run at `angle_degrees` (0 = horizontal stripes)."""
    rows, columns = np.mgrid[0:side, 0:side].astype(np.float64)
    theta = np.deg2rad(angle_degrees)
    # The wave travels perpendicular to the stripes.
    position = -rows * np.cos(theta) + columns * np.sin(theta)
    shifts = np.linspace(0, 2 * np.pi, phases, endpoint=False)
    waves = [0.5 + 0.5 * np.cos(2 * np.pi * position / wavelength + shift) for shift in shifts]
    return np.stack(waves)


def orientation_tuning(
    model, angles: np.ndarray | None = None, wavelengths: tuple[float, ...] = (3.0, 4.0, 6.0), phases: int = 4
) -> pd.DataFrame:
    """Mean first-layer response (after ReLU) of every filter to gratings at each orientation.

    Rows: filters; columns: stripe orientation in degrees (0 = horizontal, 90 = vertical).
    """
    import keras

    angles = np.arange(0, 180, 15) if angles is None else np.asarray(angles)
    probe = keras.Model(inputs=model.inputs, outputs=model.get_layer("conv_1").output)
    stimuli = np.stack([np.concatenate([gratings(angle, wavelength, phases) for wavelength in wavelengths]) for angle in angles])
    maps = probe.predict(stimuli.reshape(-1, *stimuli.shape[2:], 1).astype(np.float32), batch_size=1024, verbose=0)
    responses = maps.reshape(len(angles), -1, *maps.shape[1:]).mean(axis=(1, 2, 3))  # (angles, filters)
    frame = pd.DataFrame(responses.T, columns=pd.Index(angles, name="stripe orientation (°)"))
    frame.index.name = "filter"
    return frame


def tuning_summary(tuning: pd.DataFrame) -> pd.DataFrame:
    """Preferred orientation and orientation selectivity of each filter.

    Selectivity is |Σ r·e^{2iθ}| / Σ r: 0 when a filter answers every orientation alike,
    1 when it answers one orientation only.
    """
    angles = np.deg2rad(tuning.columns.to_numpy(dtype=float))
    responses = tuning.to_numpy()
    vector = (responses * np.exp(2j * angles)).sum(axis=1)
    total = responses.sum(axis=1)
    selectivity = np.where(total > 0, np.abs(vector) / np.where(total > 0, total, 1), 0.0)
    preferred = (np.rad2deg(np.angle(vector)) / 2) % 180
    return pd.DataFrame(
        {"preferred orientation (°)": preferred, "selectivity": selectivity, "mean response": responses.mean(axis=1)},
        index=tuning.index,
    )


def kernel_orientation(kernels: np.ndarray, padded: int = 32) -> np.ndarray:
    """Stripe orientation (degrees) that each kernel matches best, from the peak of its Fourier spectrum."""
    orientations = []
    for kernel in kernels:
        spectrum = np.abs(np.fft.fft2(kernel - kernel.mean(), s=(padded, padded)))
        spectrum[0, 0] = 0
        row, column = np.unravel_index(np.argmax(spectrum), spectrum.shape)
        frequency_y = row if row <= padded // 2 else row - padded
        frequency_x = column if column <= padded // 2 else column - padded
        # A wave vector (fy, fx) has stripes perpendicular to it.
        wave_angle = np.rad2deg(np.arctan2(frequency_y, frequency_x))
        orientations.append((wave_angle + 90) % 180)
    return np.asarray(orientations)


def angular_difference(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Smallest difference between two orientations (period 180°), in degrees."""
    difference = np.abs(np.asarray(first) - np.asarray(second)) % 180
    return np.minimum(difference, 180 - difference)


def class_filter_means(layer_activations: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...]) -> pd.DataFrame:
    """Mean activation of each filter per class, divided by the filter's mean over all classes."""
    per_image = layer_activations.mean(axis=(1, 2))  # (images, filters)
    means = np.stack([per_image[labels == label].mean(axis=0) for label in range(len(class_names))])
    overall = per_image.mean(axis=0)
    relative = means / np.where(overall > 0, overall, 1)
    frame = pd.DataFrame(relative.T, columns=pd.Index(class_names, name="class"))
    frame.index.name = "filter"
    return frame


def maximising_inputs(model, layer_name: str, filters: list[int], steps: int = 60, learning_rate: float = 0.1, seed: int = 0):
    """Inputs (28×28, in [0, 1]) found by gradient ascent on each filter's mean activation (all filters at once)."""
    import tensorflow as tf

    probe = tf.keras.Model(inputs=model.inputs, outputs=model.get_layer(layer_name).output)
    rng = np.random.default_rng(seed)
    images = tf.Variable(0.5 + 0.05 * rng.standard_normal((len(filters), 28, 28, 1)).astype(np.float32))
    selector = tf.one_hot(filters, probe.output.shape[-1])  # image i maximises filter filters[i]

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            per_filter = tf.reduce_mean(probe(images), axis=(1, 2))
            objective = tf.reduce_sum(per_filter * selector)
        gradient = tape.gradient(objective, images)
        gradient /= tf.math.reduce_std(gradient, axis=(1, 2, 3), keepdims=True) + 1e-8
        images.assign(tf.clip_by_value(images + learning_rate * gradient, 0.0, 1.0))

    for _ in range(steps):
        step()
    return images.numpy()[..., 0]


def class_spread(by_class: pd.DataFrame) -> float:
    """Mean over filters of the standard deviation of their relative per-class activation (0: class-blind)."""
    return float(by_class.std(axis=1).mean())


ORIENTATIONS = ("horizontal", "rising diagonal", "vertical", "falling diagonal")


def tuning_counts(summary: pd.DataFrame, threshold: float = 0.25, tolerance: float = 22.5) -> dict[str, int]:
    """How many filters are orientation-selective, by preferred orientation (in words: a backslash would not survive
    Markdown), how many of those the weights' orientation agrees with, and how many never respond to a grating.

    `summary` is a `tuning_summary` with a "disagreement (°)" column (weights against gratings).
    """
    selective = summary[summary["selectivity"] >= threshold]
    bins = pd.cut(selective["preferred orientation (°)"] % 180, [0, 22.5, 67.5, 112.5, 157.5, 180], right=False, labels=False)
    by_bin = bins.value_counts()
    counts = {
        "filters": len(summary),
        f"orientation-selective (selectivity ≥ {threshold})": len(selective),
        **{f"selective, {name}": int(by_bin.get(index, 0)) for index, name in enumerate(ORIENTATIONS)},
    }
    counts["selective, horizontal"] += int(by_bin.get(4, 0))  # 157.5° to 180° is horizontal again
    counts[f"selective, weights within {tolerance}° of the gratings"] = int((selective["disagreement (°)"] <= tolerance).sum())
    counts["never respond to a grating"] = int((summary["mean response"] <= 1e-6).sum())
    return counts


def class_preferences(layers: dict[str, pd.DataFrame], count: int = 3) -> pd.DataFrame:
    """Per layer: the class spread (`class_spread`) and the classes that drive the most filters, with how many
    (`layers`: a `class_filter_means` per layer)."""
    rows = {}
    for name, by_class in layers.items():
        favourite = by_class.idxmax(axis=1).value_counts()
        top = ", ".join(f"{label} ({number})" for label, number in favourite.head(count).items())
        rows[name] = {"class spread": round(class_spread(by_class), 4), "classes that drive the most filters": top}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "layer"
    return table


def census_of(model, images: np.ndarray) -> pd.DataFrame:
    """`census.census` of a trained CNN's first layer, with each filter's dead share measured on `images` (uint8)."""
    maps = activations(model, images, ("conv_1",))["conv_1"]
    return census.census(first_layer_kernels(model), census.dead_shares(maps))
