"""The training-protocol figure: the reference runs' losses and test accuracy, epoch by epoch."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns


def trajectories(frame: pd.DataFrame, studies_epochs: int) -> plt.Figure:
    """Per model (columns): training, validation and test loss (top) and test accuracy (bottom) against the epoch,
    mean over seeds with the seeds' range shaded; a dotted line at the studies' last epoch."""
    families = list(dict.fromkeys(frame["family"]))
    figure, axes = plt.subplots(2, len(families), figsize=(5.2 * len(families), 6.2), sharex="col", squeeze=False)
    long = frame.melt(id_vars=["family", "seed", "epoch"], value_vars=["training loss", "validation loss", "test loss"])
    for column, family in enumerate(families):
        loss_axis, accuracy_axis = axes[0, column], axes[1, column]
        sns.lineplot(long[long["family"] == family], x="epoch", y="value", hue="variable", errorbar=("pi", 100), ax=loss_axis)
        loss_axis.set_yscale("log")
        loss_axis.set_ylabel("cross-entropy (log scale)")
        loss_axis.set_title(f"{family}: loss")
        loss_axis.legend(title=None, fontsize=8, loc="upper center")
        sns.lineplot(frame[frame["family"] == family], x="epoch", y="test accuracy", errorbar=("pi", 100), ax=accuracy_axis)
        accuracy_axis.set_ylabel("test accuracy (%)")
        accuracy_axis.set_title(f"{family}: test accuracy")
        for axis in (loss_axis, accuracy_axis):
            axis.axvline(studies_epochs, color="grey", linestyle=":", linewidth=1.5)
    figure.tight_layout()
    return figure
