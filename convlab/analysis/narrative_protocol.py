"""The sentences of the training-protocol notebook, each checked against its rule (`convlab.analysis.claims`)."""

from __future__ import annotations

import math

import pandas as pd

from convlab.analysis import claims
from convlab.experiments import protocol


def _model(family: str) -> str:
    """ "the FC network", "the CNN" """
    return "the CNN" if family == "CNN" else f"the {family} network"


def _share(value: float) -> str:
    return f"{100 * value:.0f}%"


def describe_rule(table: pd.DataFrame, patience: int, where: str, *, cheapest: bool = True) -> str:
    """Whether the rule every family trains with is the cheapest with at most the allowed share of premature stops
    on these runs (`cheapest`: the choice, made over both datasets' runs), or only keeps within that share (one
    dataset's runs)."""
    if not cheapest:
        return _within_share(table, patience, where)
    row = table.loc[protocol.rule_name(patience)]
    chosen = protocol.cheapest_rule(table)
    allowed = protocol.PREMATURE_SHARE
    values = {"patience": patience, "premature stops": row["premature stops"], "runs": row["runs"], "cheapest within 5%": chosen}
    statement = (
        f"On {where}, the rule every model trains with, {protocol.rule_name(patience)}, stops {row['premature stops']:.0f} "
        f"of {row['runs']:.0f} runs prematurely ({_share(row['premature share'])}, at most {_share(allowed)} allowed) "
        f"and is the cheapest rule that does so, at {row['mean epochs per run']:.1f} epochs per run."
    )
    otherwise = (
        f"On {where}, the rule every model trains with, {protocol.rule_name(patience)}, is not the cheapest rule with at "
        f"most {_share(allowed)} premature stops: it stops {row['premature stops']:.0f} of {row['runs']:.0f} runs "
        f"prematurely, and these runs would choose {protocol.rule_name(chosen) if chosen else 'no candidate'}."
    )
    return claims.check(
        statement, "the trained rule is the cheapest with at most 5% premature stops", chosen == patience, values, otherwise
    )


def _within_share(table: pd.DataFrame, patience: int, where: str) -> str:
    row = table.loc[protocol.rule_name(patience)]
    allowed = protocol.PREMATURE_SHARE
    values = {"patience": patience, "premature stops": row["premature stops"], "runs": row["runs"]}
    counted = f"{row['premature stops']:.0f} of {row['runs']:.0f} runs ({_share(row['premature share'])})"
    return claims.check(
        f"On {where}, the rule every model trains with, {protocol.rule_name(patience)}, stops {counted} prematurely, "
        f"within the {_share(allowed)} allowed, at {row['mean epochs per run']:.1f} epochs per run.",
        "the trained rule has at most 5% premature stops on these runs",
        row["premature share"] <= allowed + 1e-12,
        values,
        f"On {where}, the rule every model trains with, {protocol.rule_name(patience)}, stops {counted} prematurely: "
        f"more than the {_share(allowed)} allowed.",
    )


def describe_reproduction(table: pd.DataFrame, epochs: int = protocol.STUDIES_EPOCHS) -> str:
    """For each model, whether the study's published accuracy lies within one run's seed noise of ours."""
    sentences = []
    for family, row in table.iterrows():
        low, high = row["one run, 95% prediction interval"]
        ours, theirs = row[f"{epochs} epochs: accuracy (%)"], row["published accuracy (%)"]
        if math.isnan(low) or math.isnan(theirs):
            continue
        shown = f"~{theirs:g}" if row["approximate"] else f"{theirs:.2f}"
        values = {"ours": ours, "published": theirs, "low": low, "high": high}
        inside = low <= theirs <= high
        sentences.append(
            claims.check(
                f"Under the study's protocol {_model(family)} reaches {ours:.2f}% (mean of {row['seeds']} seeds); the "
                f"study's {shown}% lies inside the 95% prediction interval for one run, {low:.2f} to {high:.2f}%, so the "
                "two agree within seed noise.",
                "the published accuracy lies inside the 95% prediction interval of one run",
                inside,
                values,
                f"Under the study's protocol {_model(family)} reaches {ours:.2f}% (mean of {row['seeds']} seeds); the "
                f"study's {shown}% lies outside the 95% prediction interval for one run, {low:.2f} to {high:.2f}%: the "
                "difference is larger than seed noise explains.",
            )
        )
    return " ".join(sentences)


def describe_overfitting(table: pd.DataFrame, epochs: int = protocol.STUDIES_EPOCHS) -> str:
    """Whether the fixed schedule trains past the epoch of the lowest validation loss, model by model."""
    column = f"validation loss after {epochs} epochs, above its lowest (%)"
    sentences = []
    for family, row in table.iterrows():
        above, at = row[column], row["lowest validation loss at epoch"]
        values = {"above (%)": above, "lowest at epoch (mean)": at}
        sentences.append(
            claims.check(
                f"After {epochs} epochs {_model(family)}'s validation loss stands {above:.0f}% above its lowest, which "
                f"it reached at epoch {at:.1f} on average over the seeds: the fixed schedule over-fits.",
                f"the validation loss after {epochs} epochs is more than {protocol.PREMATURE_TOLERANCE:.0%} above its lowest",
                above > 100 * protocol.PREMATURE_TOLERANCE,
                values,
                f"After {epochs} epochs {_model(family)}'s validation loss stands within "
                f"{protocol.PREMATURE_TOLERANCE:.0%} of its lowest ({above:.1f}% above it): the fixed schedule ends near "
                "the best epoch.",
            )
        )
    return " ".join(sentences)
