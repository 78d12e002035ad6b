"""The paper's qualitative claims and the predicates the build checks them by.

Each claim has a key (the text's `{% call claim("key") %}` names it), the rule in words (printed in the
supplement beside its verdict), and a predicate over the run's values (`c.fm`, `c.mn`: each dataset's named
values; `c.cf`, `c.cm`: its exploratory estimates; `c.pf`, `c.pm`: its primary decisions; `c.mcnemar`: per-seed
tests). A predicate that cannot be evaluated on a
run (its records are absent, as in a quick run) fails: the claim is marked where it stands.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Claim:
    key: str
    rule: str
    predicate: Callable


def _across_zero(comparison) -> bool:
    """An exploratory estimate the run made whose 95% interval holds zero (a comparison the run could not make is not)."""
    result = getattr(comparison, "result", None)
    return result is not None and not math.isnan(result.low) and result.across_zero


def _estimated(comparison) -> bool:
    """A difference the run has (both of its models trained), whether or not it has an interval."""
    diff = getattr(comparison, "diff", None)
    return diff is not None and isinstance(getattr(diff, "raw", None), (int, float)) and not math.isnan(diff.raw)


def _made(comparison) -> bool:
    """An estimate the run made (its interval is a number)."""
    result = getattr(comparison, "result", None)
    return result is not None and not math.isnan(result.low)


def _both(c, test) -> bool:
    return test(c.fm, c.cf) and test(c.mn, c.cm)


KERNEL_KEYS = ("k5_vs_k3", "k7_vs_k3", "k55_vs_k33", "k77_vs_k33")

CLAIMS = (
    Claim(
        "studies_inside_interval",
        "Fashion-MNIST: each study figure (FC 88.00, CNN 90.78) lies inside the one-run 95% prediction interval of our "
        "15-epoch runs",
        lambda c: all(
            c.fm[f"ref_{k}_pi_low"].raw <= c.fm[f"study_{k}_accuracy"].raw <= c.fm[f"ref_{k}_pi_high"].raw for k in ("fc", "cnn")
        ),
    ),
    Claim(
        "mnist_rounds_to_study",
        "MNIST: our 15-epoch means round to the study's approximate figures (~97, ~99)",
        lambda c: all(round(c.mn[f"ref_{k}_accuracy"].raw) == c.mn[f"study_{k}_accuracy"].raw for k in ("fc", "cnn")),
    ),
    Claim(
        "parameter_counts_equal",
        "FC and CNN parameter counts equal the studies' on both datasets, and the Fashion-MNIST 5×5 and 7×7 counts too",
        lambda c: (
            all(c.fm[f"{k}_parameters"].raw == c.fm[f"study_{k}_parameters"].raw for k in ("fc", "cnn", "cnn_k5", "cnn_k7"))
            and all(c.mn[f"{k}_parameters"].raw == c.mn[f"study_{k}_parameters"].raw for k in ("fc", "cnn"))
        ),
    ),
    Claim(
        "mnist_kernel_counts_differ",
        "MNIST: the study's approximate 5×5 and 7×7 counts differ by more than 5% from the architecture it describes",
        lambda c: all(
            abs(c.mn[f"{k}_parameters"].raw / c.mn[f"study_{k}_parameters"].raw - 1) > 0.05 for k in ("cnn_k5", "cnn_k7")
        ),
    ),
    Claim(
        "cnn_ahead_every_seed",
        "every seed on both datasets: the CNN classifies more test images correctly than the FC network, McNemar resolved "
        "after Holm",
        lambda c: len(c.mcnemar) >= 2 and all(r.difference > 0 and r.resolved for r in c.mcnemar),
    ),
    Claim(
        "precision_confound",
        "the CNNs trained in bfloat16 and the FC networks in float32, on both datasets",
        lambda c: (
            c.fm.cnn_precision.text == c.mn.cnn_precision.text == "bfloat16"
            and c.fm.fc_precision.text == c.mn.fc_precision.text == "float32"
        ),
    ),
    Claim(
        "cnn_loss_above_study",
        "Fashion-MNIST: our CNN's 15-epoch test loss exceeds the study's by more than a tenth, and is more than a tenth above "
        "the lowest test loss of the same runs' first 15 epochs",
        lambda c: (
            c.fm.ref_cnn_loss.raw > 1.1 * c.fm.study_cnn_loss.raw
            and c.fm.ref_cnn_loss.raw > 1.1 * c.fm.ref_cnn_lowest_test_loss.raw
        ),
    ),
    Claim(
        "more_errors_removed_on_mnist",
        "the CNN removes a larger share of the FC network's errors on MNIST than on Fashion-MNIST",
        lambda c: c.mn.errors_removed.raw > c.fm.errors_removed.raw,
    ),
    Claim(
        "same_hardest_class",
        "Fashion-MNIST: the class with the highest mean error is the same for the FC network and the CNN",
        lambda c: c.fm.fc_hardest.text == c.fm.cnn_hardest.text != "n/a",
    ),
    Claim(
        "kernels_not_equivalent_on_fashion",
        "primary: on Fashion-MNIST neither the 5×5 nor the 7×7 first layer is shown equivalent to 3×3, and both means are "
        "below 3×3's",
        lambda c: all(
            key in c.pf and c.pf[key].decision.text == "not shown equivalent" and c.pf[key].diff.raw < 0
            for key in ("k5_equivalent", "k7_equivalent")
        ),
    ),
    Claim(
        "kernels_within_a_point",
        "every kernel difference the run estimated is within one point of zero on both datasets (the first-layer ones "
        "always among them)",
        lambda c: _both(
            c,
            lambda v, k: (
                all(abs(k[key].diff.raw) < 1 for key in KERNEL_KEYS[:2])
                and all(abs(k[key].diff.raw) < 1 for key in KERNEL_KEYS[2:] if key in k and _estimated(k[key]))
            ),
        ),
    ),
    Claim(
        "kernel_cost_directions",
        "a 7×7 first layer needs more multiply-accumulates than 3×3 on Fashion-MNIST (padded), and fewer parameters and "
        "multiply-accumulates than 3×3 on MNIST (unpadded)",
        lambda c: (
            c.fm.cnn_k7_macs.raw > c.fm.cnn_macs.raw
            and c.mn.cnn_k7_macs.raw < c.mn.cnn_macs.raw
            and c.mn.cnn_k7_parameters.raw < c.mn.cnn_parameters.raw
        ),
    ),
    Claim(
        "large_kernels_cost_more",
        "7×7 kernels in both layers need more than 5 times the CNN's multiply-accumulates on Fashion-MNIST",
        lambda c: c.fm.cnn_k77_macs.raw > 5 * c.fm.cnn_macs.raw,
    ),
    Claim(
        "gap_below_flatten",
        "GAP head − flatten head is negative in the mean on both datasets, with at most 20% of the CNN's parameters",
        lambda c: _both(c, lambda v, k: k.gap_vs_flatten.diff.raw < 0 and v.gap_parameter_share.raw <= 20),
    ),
    Claim(
        "gap_ahead_of_fc",
        "the CNN with a GAP head has fewer parameters than the FC network on both datasets, and is ahead of it in the mean "
        "on both",
        lambda c: _both(c, lambda v, k: v.cnn_gap_parameters.raw < v.fc_parameters.raw and k.gap_vs_fc.diff.raw > 0),
    ),
    Claim(
        "gap_cap_bound",
        "Fashion-MNIST: at least one GAP run reached the epoch cap, and GAP runs took more epochs than the CNN's",
        lambda c: c.fm.cnn_gap_cap_bound.raw >= 1 and c.fm.cnn_gap_epochs.raw > c.fm.cnn_epochs.raw,
    ),
    Claim(
        "class_balance",
        "Fashion-MNIST's training classes are all the same size; MNIST's are not",
        lambda c: c.fm.class_min.raw == c.fm.class_max.raw and c.mn.class_min.raw < c.mn.class_max.raw,
    ),
    Claim(
        "reproduction_gap_small",
        "Fashion-MNIST FC: our 15-epoch mean is within a quarter of the prediction interval's width of the study's figure",
        lambda c: (
            abs(c.fm.study_fc_accuracy.raw - c.fm.ref_fc_accuracy.raw) < (c.fm.ref_fc_pi_high.raw - c.fm.ref_fc_pi_low.raw) / 4
        ),
    ),
    Claim(
        "locality_cnn_loses_more",
        "the CNN loses more accuracy to the permutation than the FC network in the mean, on both datasets (and the FC "
        "network's change is under half a point)",
        lambda c: _both(c, lambda v, k: k.cnn_perm.diff.raw < k.fc_perm.diff.raw and abs(k.fc_perm.diff.raw) < 0.5),
    ),
    Claim(
        "locality_resolution",
        "the CNN's loss to the permutation: both 95% intervals below zero",
        lambda c: _both(c, lambda v, k: k.cnn_perm.result.high < 0),
    ),
    Claim(
        "fc_permutation_invariant",
        "FC, permuted − original: the 95% interval holds zero and the mean is within half a point, on both datasets",
        lambda c: _both(c, lambda v, k: _across_zero(k.fc_perm) and abs(k.fc_perm.diff.raw) < 0.5),
    ),
    Claim(
        "permuted_cnn_not_ahead",
        "on permuted pixels, the 95% interval of CNN − FC does not lie above zero on either dataset",
        lambda c: _both(c, lambda v, k: _made(k.cnn_vs_fc_perm) and not k.cnn_vs_fc_perm.result.above_zero),
    ),
    Claim(
        "permuted_mnist_below",
        "MNIST, both on permuted pixels: the CNN's mean is below the FC network's",
        lambda c: c.cm.cnn_vs_fc_perm.diff.raw < 0,
    ),
    Claim(
        "shift_collapse",
        "at a 6-pixel shift both the plain FC network and the plain CNN keep less than a third of their unshifted accuracy, "
        "on both datasets",
        lambda c: _both(c, lambda v, k: all(v[f"{m}_shift6"].raw < v[f"{m}_shift0"].raw / 3 for m in ("fc", "cnn"))),
    ),
    Claim(
        "gap_shift_ahead",
        "at 3 pixels the GAP head is ahead of the flatten head on both datasets, both 95% intervals above zero",
        lambda c: _both(c, lambda v, k: _made(k.gap_vs_flatten_shifted) and k.gap_vs_flatten_shifted.result.above_zero),
    ),
    Claim(
        "pooling_unshifted_within_noise",
        "average − max pooling on unshifted images: the 95% intervals hold zero on both datasets",
        lambda c: _both(c, lambda v, k: _across_zero(k.avg_vs_max)),
    ),
    Claim(
        "no_float32_cnns",
        "no CNN of the run, on either dataset, trained in float32",
        lambda c: (
            bool(c.runs)
            and all(
                r["parameters"]["precision"] != "float32"
                for run in c.runs.values()
                for group in run.groups.values()
                for r in group
                if r["model"]["kind"] == "cnn"
            )
        ),
    ),
    Claim(
        "shift_costs_cnn",
        "a 3-pixel shift costs the plain CNN more than 20 points of accuracy on both datasets (means)",
        lambda c: c.fm.cnn_shift_drop.raw > 20 and c.mn.cnn_shift_drop.raw > 20,
    ),
    Claim(
        "augmentation_restores",
        "trained with shifts of up to 4 pixels, both models lose at most 2 points at a 3-pixel shift, on both datasets",
        lambda c: _both(c, lambda v, k: v.fc_shift4_shift_drop.raw <= 2 and v.cnn_shift4_shift_drop.raw <= 2),
    ),
    Claim(
        "augmented_cnn_ahead",
        "both shift-augmented: CNN − FC at 3 pixels has its 95% interval above zero on both datasets",
        lambda c: _both(c, lambda v, k: k.cnn_aug_vs_fc_aug_shifted.result.low > 0),
    ),
    Claim(
        "augmentation_cnn_unshifted_within_noise",
        "on unshifted images, the 95% intervals of shift augmentation's effect on the CNN hold zero on both datasets",
        lambda c: _both(c, lambda v, k: _across_zero(k.cnn_shift_aug)),
    ),
    Claim(
        "cnn_needs_fewer_images",
        "the CNN reaches the FC network's full-set accuracy with fewer training images on both datasets (ratio above 1)",
        lambda c: c.fm.efficiency_ratio.raw > 1 and c.mn.efficiency_ratio.raw > 1,
    ),
    Claim(
        "efficiency_interval_above_one",
        "the data-efficiency interval lies above 1 on both datasets",
        lambda c: c.mn.efficiency_low.raw > 1 and c.fm.efficiency_low.raw > 1,
    ),
    Claim(
        "rule_patience_four",
        "patience 4 is the cheapest rule with at most 5% premature stops, and patience 3 has some",
        lambda c: c.rule.chosen == 4 and c.rule.premature.get(3, 0) > 0,
    ),
    Claim(
        "rule_as_chosen",
        "the rule chosen on every family's long-patience runs is the monitor and patience the run's trainings used",
        lambda c: c.rule.chosen is not None and (c.rule.chosen["monitor"], c.rule.chosen["patience"]) == c.rule.used,
    ),
    Claim(
        "augmented_rule_needed",
        "the rule chosen on the other families would have stopped every shift-augmented long run, on both datasets, "
        "more than 2% above its lowest validation loss",
        lambda c: c.rule.by_family and c.rule.long_rule_premature,
    ),
    Claim(
        "no_long_run_at_cap",
        "no long-patience run reached its epoch cap",
        lambda c: c.rule.by_family and not c.rule.at_cap,
    ),
    Claim(
        "gap_rate_chosen_on_validation",
        "the GAP head trains at the candidate rate whose long runs reached the highest validation accuracy (mean of the "
        "two datasets)",
        lambda c: c.rule.best_gap_rate is not None and math.isclose(c.rule.best_gap_rate, c.p.gap_learning_rate.raw),
    ),
    Claim(
        "cnn_overfits_early",
        "under the fixed 15 epochs the Fashion-MNIST CNN reaches its lowest validation loss earlier than the FC network "
        "and ends more than 50% above it",
        lambda c: c.fm.ref_cnn_best_epoch.raw < c.fm.ref_fc_best_epoch.raw and c.fm.ref_cnn_val_rise.raw > 50,
    ),
    Claim(
        "macs_dominate",
        "the CNN needs more than 20 times the FC network's multiply-accumulates and at most 2.1 times its parameters, on "
        "both datasets",
        lambda c: _both(c, lambda v, k: v.mac_ratio.raw > 20 and v.parameter_ratio.raw <= 2.1),
    ),
    Claim(
        "latency_same_order",
        "single-image latency of the CNN is less than 3 times the FC network's on both datasets, while its "
        "multiply-accumulates are more than 20 times",
        lambda c: _both(c, lambda v, k: v.latency_ratio.raw < 3 and v.mac_ratio.raw > 20),
    ),
    Claim(
        "served_identical",
        "through the serving container's front end the CNN predicts the same class for every test image as in process, "
        "with the same accuracy",
        lambda c: (
            bool(c.serving)
            and c.serving["same predicted class for every image"]
            and c.serving["served accuracy (%)"] == c.serving["in-process accuracy (%)"]
        ),
    ),
)
BY_KEY = {claim.key: claim for claim in CLAIMS}


def evaluate(claim: Claim, context) -> bool:
    """Whether the claim holds on this run; False where its values are missing."""
    try:
        return bool(claim.predicate(context))
    except (AttributeError, KeyError, TypeError, ValueError, ZeroDivisionError):
        return False
