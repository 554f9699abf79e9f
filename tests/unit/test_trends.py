from datetime import UTC, datetime, timedelta

import pytest

from projections.trends import (
    BadTrendRow,
    TrendRow,
    current_window,
    decode_trend_row,
    sorted_rows,
    window_of,
)
from streams.trending import TrendingJob, _interval, velocity_paces

END = datetime(2026, 1, 1, 12, tzinfo=UTC)


def _row(rank: int, hashtag: str, end: datetime = END) -> TrendRow:
    return TrendRow(
        window_start=end - timedelta(hours=1),
        window_end=end,
        rank=rank,
        hashtag=hashtag,
        count=10 - rank,
        previous_count=1,
        velocity=1.0,
    )


def test_a_window_with_a_gap_in_its_ranks_is_still_arriving_and_the_previous_one_is_served():
    arriving = window_of([_row(1, "a"), _row(3, "c")])
    earlier = window_of(
        [_row(2, "b", END - timedelta(minutes=5)), _row(1, "a", END - timedelta(minutes=5))]
    )
    assert not arriving.complete
    assert current_window([arriving, earlier], END, timedelta(minutes=10)) == earlier
    assert [row.hashtag for row in earlier.rows] == ["a", "b"]


def test_the_newest_window_is_stale_once_a_newer_one_would_have_closed():
    newest = window_of([_row(1, "a")])
    assert current_window([newest], END + timedelta(seconds=59), timedelta(minutes=1)) == newest
    assert current_window([newest], END + timedelta(seconds=61), timedelta(minutes=1)) is None
    assert current_window([], END, timedelta(minutes=1)) is None


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b'{"hashtag": "a"}',
        b'{"window_start": "2026-01-01T00:00:00Z", '
        b'"window_end": "2026-01-01T01:00:00Z", "rank": 0, "hashtag": "a", '
        b'"count": 1, "previous_count": 0, "velocity": 1.0}',
    ],
)
def test_rows_that_are_not_trend_rows_are_refused(raw):
    with pytest.raises(BadTrendRow):
        decode_trend_row(raw)


def test_a_regions_trends_are_its_rows_of_the_window_the_global_list_makes_current():
    def row(rank: int, hashtag: str, region: str, end: datetime = END) -> TrendRow:
        return _row(rank, hashtag, end).model_copy(update={"region": region})

    newest = window_of([row(1, "chai", "global"), row(1, "chai", "IN"), row(2, "x", "IN")])
    earlier_end = END - timedelta(minutes=5)
    earlier = window_of(
        [
            row(1, "tea", "global", earlier_end),
            row(1, "tea", "US", earlier_end),
            row(1, "tea", "IN", earlier_end),
        ]
    )
    stale = timedelta(minutes=10)
    found = current_window([newest, earlier], END, stale, "IN")
    assert found is not None and [r.hashtag for r in found.rows] == ["chai", "x"]
    # Nothing of the US in the current window: nothing trends there now (not the older one).
    found = current_window([newest, earlier], END, stale, "US")
    assert found is not None and found.end == END and found.rows == ()
    # A region's rows still arriving (a gap): the window before is served.
    arriving = window_of([row(1, "chai", "global"), row(2, "x", "IN")])
    found = current_window([arriving, earlier], END, stale, "IN")
    assert found is not None and found.end == earlier_end
    assert [(r.hashtag, r.region) for r in found.rows] == [("tea", "IN")]


def test_velocity_sorts_a_small_rising_tag_above_a_large_steady_one():
    window = window_of(
        [
            _row(1, "steady").model_copy(update={"count": 600, "velocity": 0.0}),
            _row(2, "fading").model_copy(update={"count": 90, "velocity": -0.5}),
            _row(3, "rising").model_copy(update={"count": 3, "velocity": 36.0}),
            _row(4, "also").model_copy(update={"count": 2, "velocity": 0.0}),
        ]
    )
    by = lambda sort: [row.hashtag for row in sorted_rows(window, sort)]  # noqa: E731
    assert by("count") == ["steady", "fading", "rising", "also"]
    assert by("velocity") == ["rising", "steady", "also", "fading"]


def test_the_paces_turn_a_slide_and_the_rest_of_the_window_into_mentions_per_window():
    assert velocity_paces(timedelta(hours=1), timedelta(minutes=5)) == (12.0, 12 / 11)
    assert velocity_paces(timedelta(minutes=5), timedelta(minutes=5)) == (1.0, 0.0)


def test_interval_literals_are_exact_to_the_millisecond():
    assert _interval(timedelta(hours=1)) == "INTERVAL '0 01:00:00.000' DAY TO SECOND(3)"
    assert (
        _interval(timedelta(days=2, seconds=3, milliseconds=45))
        == "INTERVAL '2 00:00:03.045' DAY TO SECOND(3)"
    )


def test_a_window_must_be_a_whole_number_of_slides():
    with pytest.raises(ValueError, match="whole number of slides"):
        TrendingJob(
            "b:9092",
            "tweets",
            "trending-topics",
            window=timedelta(minutes=7),
            slide=timedelta(minutes=5),
        )
    with pytest.raises(ValueError):
        TrendingJob("b:9092", "tweets", "trending-topics", slide=timedelta(0))


def test_only_a_live_run_reads_the_clock_and_a_start_time_skips_partial_windows():
    live = TrendingJob("b:9092", "tweets", "trending-topics")
    bounded = TrendingJob("b:9092", "tweets", "trending-topics", stop_offsets={0: 5}, start=END)
    assert any("'datagen'" in statement for statement in live.statements())
    assert not any("'datagen'" in statement for statement in bounded.statements())
    assert "window_start >= TIMESTAMP '2026-01-01 12:00:00.000'" in bounded.insert()
    assert "'scan.bounded.specific-offsets' = 'partition:0,offset:5'" in bounded.statements()[0]


def test_each_partition_of_tweets_gets_a_reader_of_its_own():
    from infra.settings import Settings

    job = TrendingJob.from_settings(Settings(partitions=6))
    assert job.readers == 6
    assert "'scan.parallelism' = '6'" in job.statements()[0]
    with pytest.raises(ValueError, match="readers"):
        TrendingJob("b:9092", "tweets", "trending-topics", readers=0)


def test_without_the_connector_jars_the_job_says_what_to_run(tmp_path):
    from infra.flink import FlinkUnavailable, connector_jars

    with pytest.raises(FlinkUnavailable, match=r"python -m infra\.flink"):
        connector_jars(tmp_path)


def test_without_a_jobmanager_the_job_runs_on_a_mini_cluster_and_with_one_on_the_cluster(
    tmp_path,
):
    from infra.settings import Settings
    from streams.trending import Cluster

    assert Cluster.from_settings(Settings(data_dir=tmp_path)) is None
    cluster = Cluster.from_settings(
        Settings(data_dir=tmp_path, trending_jobmanager="flink-jm:8081"), parallelism=3
    )
    assert cluster is not None
    options = cluster.options()
    assert options["execution.target"] == "remote"
    assert (options["rest.address"], options["rest.port"]) == ("flink-jm", "8081")
    assert options["parallelism.default"] == "3"
    assert options["execution.checkpointing.mode"] == "EXACTLY_ONCE"
    assert options["execution.checkpointing.interval"] == "10000 ms"
    assert options["execution.checkpointing.dir"] == (tmp_path / "flink-checkpoints").as_uri()
    from_flag = Cluster.from_settings(
        Settings(trending_checkpoint_dir="s3://bucket/trending"), jobmanager="jm:8081"
    )
    assert from_flag is not None
    assert from_flag.options()["execution.checkpointing.dir"] == "s3://bucket/trending"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"jobmanager": "no-port"}, "HOST:PORT"),
        ({"jobmanager": "jm:8081", "parallelism": 0}, "parallelism"),
        ({"jobmanager": "jm:8081", "checkpoint_interval": timedelta(0)}, "interval"),
    ],
)
def test_a_cluster_is_refused_without_a_port_a_parallelism_or_an_interval(values, message):
    from streams.trending import Cluster

    with pytest.raises(ValueError, match=message):
        Cluster(checkpoint_dir="/checkpoints", **values)
