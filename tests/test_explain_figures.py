"""The explanatory figures: what each draws, measured on the published records and a tiny untrained CNN."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_rgba

from convlab.paper import context, explain_figures, family, runs

PUBLISHED = Path(__file__).resolve().parent.parent / "reports" / "published"


@pytest.fixture(scope="module")
def published():
    return runs.load_all(PUBLISHED, ["fashion_mnist", "mnist"])


@pytest.fixture(scope="module")
def mnist_only(published):
    return {"mnist": published["mnist"]}


@pytest.fixture(scope="module")
def mnist_test(mnist_only, shared_data):
    test = context.test_data(mnist_only["mnist"], str(shared_data))
    assert test is not None
    return test


@pytest.fixture(scope="module")
def tiny_cnn(tmp_path_factory):
    """An untrained CNN with MNIST's 'valid' padding, few filters, saved as the paper's model files are."""
    from convlab.training import models

    config = models.ModelConfig(name="cnn", kind="cnn", filters=(8, 4), kernel_sizes=(3, 3), padding="valid", dense_units=8)
    path = tmp_path_factory.mktemp("model") / "cnn-seed0.keras"
    models.build_model(config).save(path)
    return path


def texts(figure) -> list[str]:
    found = [text.get_text() for text in figure.texts]
    for axis in figure.axes:
        found += [text.get_text() for text in axis.texts]
        found += [axis.get_title(loc) for loc in ("center", "left")]
        found += [label.get_text() for label in axis.get_yticklabels()] + [axis.get_ylabel()]
    return found


def without_groups(loaded):
    return {name: dataclasses.replace(run, groups={}) for name, run in loaded.items()}


def test_architecture_shapes_follow_each_datasets_padding(published):
    boxes = {name: explain_figures.layer_boxes(run.groups["cnn"][0]["model"]) for name, run in published.items()}
    assert [shape for _, shape, _ in boxes["mnist"]][1:7] == ["26×26×32", "13×13×32", "11×11×64", "5×5×64", "1,600", "64"]
    assert [shape for _, shape, _ in boxes["fashion_mnist"]][1:7] == ["28×28×32", "14×14×32", "14×14×64", "7×7×64", "3,136", "64"]
    for run in published.values():
        for model in ("cnn", "fc_baseline"):
            entry = run.groups[model][0]["model"]
            assert sum(n for _, _, n in explain_figures.layer_boxes(entry)) == entry["parameters"]
    assert [shape for _, shape, _ in explain_figures.layer_boxes(published["mnist"].groups["fc_baseline"][0]["model"])] == [
        "784",
        "128",
        "10",
    ]
    drawn = texts(explain_figures.architecture(published, {}))
    assert "26×26×32" in drawn and "28×28×32" in drawn and "18,496" in drawn
    assert any(text.startswith("MNIST, CNN, 'valid' padding: 121,930 parameters") for text in drawn)
    assert explain_figures.architecture(without_groups(published), {}) is None


def test_forest_draws_one_row_per_welch_comparison(published):
    results = family.findings(published)
    figure = explain_figures.forest(published, {"findings": results})
    labels = [label.get_text().replace("\n", " ") for label in figure.axes[0].get_yticklabels()]
    assert labels == [c.label for c in family.COMPARISONS]
    assert figure.get_figheight() <= 5.0
    for axis, name in zip(figure.axes, published, strict=True):
        dots = [line for line in axis.lines if line.get_marker() == "o"]
        expected = [results[(name, c.key)] for c in family.COMPARISONS]
        assert [float(dot.get_xdata()[0]) for dot in dots] == pytest.approx([r.difference for r in expected])
        filled = [to_rgba(dot.get_markerfacecolor()) != to_rgba("white") for dot in dots]
        assert filled == [not r.across_zero for r in expected]


def test_forest_skips_comparisons_without_an_interval(published):
    results = family.findings(published)
    first = family.COMPARISONS[0].key
    damaged = {key: r for key, r in results.items() if key[1] != first or key[0] == "mnist"}
    damaged[("mnist", first)] = dataclasses.replace(results[("mnist", first)], low=math.nan)
    labels = [t.get_text() for t in explain_figures.forest(published, {"findings": damaged}).axes[0].get_yticklabels()]
    assert family.COMPARISONS[0].label not in labels and len(labels) == len(family.COMPARISONS) - 1
    only_nan = {("mnist", first): damaged[("mnist", first)]}
    assert explain_figures.forest(published, {"findings": only_nan}) is None
    assert explain_figures.forest(published, {}) is None


def test_shift_measures_on_known_arrays():
    rng = np.random.default_rng(0)
    maps = rng.random((6, 10, 2))
    moved = np.zeros_like(maps)
    moved[:, 3:] = maps[:, :-3]
    flat = rng.random(20)
    same = explain_figures.shift_measures(maps, moved, flat, flat, 3)
    assert same == {"copied": 1.0, "change": 0.0, "correlation": pytest.approx(1.0)}
    moved[0, 5, 0] += 1
    other = explain_figures.shift_measures(maps, moved, flat, 2 * flat, 3)
    assert other["copied"] == pytest.approx(1 - 1 / (6 * 7 * 2)) and other["change"] == pytest.approx(1.0)


def test_a_shift_moves_the_maps_but_changes_the_head_input(tiny_cnn, mnist_test):
    model = explain_figures._load(tiny_cnn)
    index = explain_figures.shift_image_index(mnist_test, "mnist")
    assert mnist_test.y_test[index] == 7 and index == int(np.flatnonzero(mnist_test.y_test == 7)[0])
    image = explain_figures._scaled(mnist_test.x_test[index])
    unshifted = explain_figures.shift_measures(*explain_figures.shift_responses(model, image, 0), 0)
    assert unshifted["change"] == 0 and unshifted["copied"] == 1
    shifted = explain_figures.shift_measures(*explain_figures.shift_responses(model, image, 3), 3)
    assert shifted["change"] > 0 and shifted["copied"] > 0.99


def test_feature_maps_shift_figure_quotes_its_measurement(mnist_only, mnist_test, tiny_cnn, tmp_path):
    figure = explain_figures.feature_maps_shift(mnist_only, {"mnist": mnist_test, "mnist:cnn_model": tiny_cnn})
    note = next(text for text in texts(figure) if "‖Δ‖/‖v‖" in text)
    assert float(re.search(r"‖Δ‖/‖v‖ = ([\d.]+)", note).group(1)) > 0
    assert "3 px right" in texts(figure)
    assert explain_figures.feature_maps_shift(mnist_only, {"mnist": mnist_test}) is None
    missing = {"mnist": mnist_test, "mnist:cnn_model": tmp_path / "absent.keras"}
    assert explain_figures.feature_maps_shift(mnist_only, missing) is None


def test_kernel_responses_show_the_strongest_kernels(mnist_only, mnist_test, tiny_cnn):
    kernels = np.zeros((3, 3, 1, 10))
    kernels[1, 1, 0] = [1, 5, 2, 5, 0, 3, 4, 0, 9, 1]
    assert explain_figures.strongest_kernels(kernels, 4) == [8, 1, 3, 6]
    figure = explain_figures.kernel_responses(mnist_only, {"mnist": mnist_test, "mnist:cnn_model": tiny_cnn})
    weights = explain_figures._first_conv(explain_figures._load(tiny_cnn)).get_weights()[0]
    shown = [int(t.split()[1]) for t in texts(figure) if t.startswith("kernel ")]
    assert shown == explain_figures.strongest_kernels(weights) and len(shown) == 8
    assert explain_figures.kernel_responses(mnist_only, {"mnist": mnist_test}) is None


def test_example_errors_picks_only_images_where_the_condition_holds(mnist_only, mnist_test):
    labels, fc, cnn = np.array([0, 1, 2, 3, 4]), np.array([1, 1, 0, 3, 0]), np.array([0, 2, 1, 3, 4])
    fc_only, both = explain_figures.error_indices(labels, fc, cnn)
    assert fc_only.tolist() == [0, 4] and both.tolist() == [2]
    data = {"mnist": mnist_test}
    figure = explain_figures.example_errors(mnist_only, data)
    titles = [axis.get_title() for axis in figure.axes if axis.get_title()]
    assert len(titles) == 2 * explain_figures.ERRORS_SHOWN
    for row, title in enumerate(titles):
        true, fc_says, cnn_says = (line.split()[-1] for line in title.splitlines())
        assert fc_says != true and (cnn_says == true if row < explain_figures.ERRORS_SHOWN else cnn_says != true)
    seed0 = {m: np.asarray(explain_figures._seed0(mnist_only["mnist"], m)["test"]["predictions"]) for m in ("fc_baseline", "cnn")}
    wrong = seed0["fc_baseline"] != mnist_test.y_test
    expected = (
        int(np.sum(wrong & (seed0["cnn"] == mnist_test.y_test))),
        int(np.sum(wrong & (seed0["cnn"] != mnist_test.y_test))),
    )
    assert explain_figures.error_counts(mnist_only, data, "mnist") == expected
    short = {"mnist": dataclasses.replace(mnist_test, y_test=mnist_test.y_test[:-1])}
    assert explain_figures.example_errors(mnist_only, short) is None
    assert explain_figures.error_counts(mnist_only, short, "mnist") is None
    assert explain_figures.example_errors(mnist_only, {}) is None


def test_every_figure_has_a_caption_and_a_distinct_key():
    keys = [figure.key for figure in explain_figures.EXPLAIN_FIGURES]
    assert len(set(keys)) == len(keys) == 5
    assert all(len(figure.caption) > 80 and callable(figure.draw) for figure in explain_figures.EXPLAIN_FIGURES)
