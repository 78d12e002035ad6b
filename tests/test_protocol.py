"""The stopping rule's simulation and choice (`convlab.protocol`), on histories with known answers."""

import pytest

from convlab import protocol


def test_simulate_stops_like_keras_early_stopping():
    losses = [1.0, 0.8, 0.85, 0.9, 0.7, 0.75, 0.76, 0.77]
    stop = protocol.simulate(losses, 2)
    assert (stop.epochs, stop.best_epoch, stop.best_loss) == (4, 2, 0.8)
    stop = protocol.simulate(losses, 3)
    assert (stop.epochs, stop.best_epoch, stop.best_loss) == (8, 5, 0.7)


def test_simulate_runs_to_the_end_when_the_rule_never_fires():
    assert protocol.simulate([3.0, 2.0, 1.0], 2) == protocol.Stop(3, 3, 1.0)


def test_a_stop_is_premature_only_beyond_the_tolerance():
    losses = [1.0, 0.8, 0.85, 0.9, 0.7]  # patience 2 keeps 0.8, which is 14% above 0.7
    assert protocol.is_premature(losses, 2)
    assert not protocol.is_premature(losses, 3)
    close = [1.0, 0.71, 0.75, 0.76, 0.70]  # 0.71 is 1.4% above 0.70: within 2%
    assert not protocol.is_premature(close, 2)


def test_the_cheapest_rule_within_the_premature_share_is_chosen():
    histories = [[1.0, 0.8, 0.85, 0.9, 0.7, 0.72, 0.73, 0.74, 0.75, 0.76, 0.77, 0.78]] + [
        [1.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    ] * 19
    table = protocol.rule_table(histories, (2, 3, 4))
    assert table.loc["patience 2", "premature stops"] == 1
    assert table.loc["patience 2", "premature share"] == pytest.approx(0.05)
    assert table.loc["patience 3", "premature stops"] == 0
    assert protocol.cheapest_rule(table) == 2  # 5% is allowed
    assert protocol.cheapest_rule(table, share=0.0) == 3
    assert protocol.cheapest_rule(table.iloc[:0]) is None


def test_the_studies_protocol_reads_the_fifteenth_epoch():
    run = {"seed": 0, "history": {"test_accuracy": [0.5 + 0.01 * epoch for epoch in range(20)]}}
    assert protocol.studies_protocol({"FC": [run]}) == {"FC": [pytest.approx(64.0)]}
