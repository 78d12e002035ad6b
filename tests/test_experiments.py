"""The sweep's configurations and seed handling (training itself is tested in test_training)."""

from __future__ import annotations

from convlab.experiments import plans
from convlab.study import config
from convlab.training import models, workers


def test_sweep_labels_and_names():
    configs = plans.kernel_configs("fashion_mnist", (3, 5, 7))
    assert {label: c.name for label, c in configs.items()} == {"3×3": "cnn", "5×5": "cnn_k5", "7×7": "cnn_k7"}
    variants = plans.both_layer_configs("mnist", (3, 5, 7))
    assert {label: c.kernel_sizes for label, c in variants.items()} == {"5×5 both": (5, 5), "7×7 both": (7, 7)}


def test_train_groups_uses_the_given_seeds_and_groups_by_label(monkeypatch):
    calls = []

    def train_all(tasks, params):
        calls.append([(task.model_config.name, task.seed) for task in tasks])
        return [{"model": task.model_config.name, "seed": task.seed} for task in tasks]

    monkeypatch.setattr(workers, "train_all", train_all)
    params = config.RunParameters.from_notebook(notebook="04_kernel_size_sweep", dataset="mnist", seeds="0,1,2")
    configs = plans.kernel_configs("mnist", (3, 5))
    groups = plans.train_groups(configs, None, params)
    assert groups == {
        "3×3": [{"model": "cnn", "seed": s} for s in (0, 1, 2)],
        "5×5": [{"model": "cnn_k5", "seed": s} for s in (0, 1, 2)],
    }
    assert plans.train_groups(configs, None, params, seeds=(7,)) == {
        "3×3": [{"model": "cnn", "seed": 7}],
        "5×5": [{"model": "cnn_k5", "seed": 7}],
    }
    assert plans.train_groups(configs, None, params, seeds=()) == {"3×3": [], "5×5": []}
    assert calls[0] == [("cnn", 0), ("cnn", 1), ("cnn", 2), ("cnn_k5", 0), ("cnn_k5", 1), ("cnn_k5", 2)], "all runs in one call"


def test_every_family_is_read_back_from_its_stored_model():
    from dataclasses import asdict

    from convlab.experiments import design

    for dataset in ("fashion_mnist", "mnist"):
        assert tuple(plans.settings_families(dataset)) == design.SETTINGS_FAMILY_LABELS
        for label, model_config in plans.settings_families(dataset).items():
            assert design.family_of(asdict(model_config)) == label, (dataset, label)
    assert design.family_of(asdict(models.cnn_config("mnist", 5, 5))) == design.KERNEL_SIZES_FAMILY
