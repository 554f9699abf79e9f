from projections.fanout import CelebrityThreshold, should_push


def test_celebrities_are_not_pushed():
    assert should_push(9_999, 10_000)
    assert not should_push(10_000, 10_000)


def test_the_threshold_drops_while_lagging_and_returns_without_flapping():
    threshold = CelebrityThreshold(normal=10_000, lowered=1_000, lag_bound_seconds=2.0)
    assert threshold.observe(0.1) == 10_000
    assert threshold.observe(2.5) == 1_000
    assert threshold.observe(1.5) == 1_000  # under the bound, but not well under
    assert threshold.observe(0.9) == 10_000
