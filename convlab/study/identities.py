"""The studies' two models as the run stores them: the name of their records, model files and cache entries, and
the one name a reader sees. Variants append to the stored name ("fc_baseline_perm0", "cnn_k5-5").

Named values of the paper take the short form (`short`): `fc_accuracy`, `fc_perm0_accuracy`, `cnn_k55_macs`.
"""

from __future__ import annotations

FC = "fc_baseline"  # the fully connected network of the studies
CNN = "cnn"  # the convolutional network of the studies
DISPLAY = {FC: "FC", CNN: "CNN"}  # how the text, tables and figures name them
SHORT = {FC: "fc", CNN: "cnn"}  # the prefix of the paper's named values
DATASET_TITLES = {"fashion_mnist": "Fashion-MNIST", "mnist": "MNIST"}  # the datasets as the text names them


def short(name: str) -> str:
    """A stored model name as the paper's value names spell it: "fc_baseline_perm0" → "fc_perm0", "cnn_k5-5" → "cnn_k55"."""
    for stored, prefix in SHORT.items():
        if name == stored or name.startswith(f"{stored}_"):
            name = prefix + name[len(stored) :]
            break
    return name.replace("-", "")
