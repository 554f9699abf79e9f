import threading
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from streams.ids import MAX_SEQUENCE, SnowflakeIds, id_time, lowest_id_at


class FrozenClock:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __call__(self) -> float:
        return self.seconds


def test_ids_strictly_increase_and_fit_63_bits():
    ids = SnowflakeIds(worker_id=7)
    made = [ids.next_id() for _ in range(20_000)]
    assert made == sorted(set(made))
    assert all(0 < value < 2**63 for value in made)


def test_ids_are_unique_across_threads():
    ids = SnowflakeIds(worker_id=1)
    results: list[list[int]] = [[] for _ in range(8)]

    def take(bucket: list[int]) -> None:
        bucket.extend(ids.next_id() for _ in range(5_000))

    threads = [threading.Thread(target=take, args=(bucket,)) for bucket in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [value for bucket in results for value in bucket]
    assert len(set(everything)) == len(everything) == 40_000


def test_a_clock_stepping_back_never_repeats_or_reorders_ids():
    clock = FrozenClock(1_800_000_000.0)
    ids = SnowflakeIds(worker_id=3, clock=clock)
    before = [ids.next_id() for _ in range(10)]
    clock.seconds -= 5  # NTP step backwards
    after = [ids.next_id() for _ in range(10)]
    assert before + after == sorted(set(before + after))


def test_more_than_a_milliseconds_worth_of_ids_borrows_the_next_millisecond():
    clock = FrozenClock(1_800_000_000.0)
    ids = SnowflakeIds(worker_id=3, clock=clock)
    made = [ids.next_id() for _ in range(MAX_SEQUENCE + 10)]
    assert made == sorted(set(made))
    assert id_time(made[-1]) > id_time(made[0])


def test_workers_never_collide_in_the_same_millisecond():
    clock = FrozenClock(1_800_000_000.0)
    one, two = SnowflakeIds(1, clock=clock), SnowflakeIds(2, clock=clock)
    assert {one.next_id() for _ in range(100)}.isdisjoint({two.next_id() for _ in range(100)})


@given(
    st.datetimes(
        min_value=datetime(2024, 1, 2),
        max_value=datetime(2090, 1, 1),
        timezones=st.just(UTC),
    )
)
def test_id_time_round_trips_to_the_millisecond(moment):
    ids = SnowflakeIds(worker_id=5, clock=lambda: moment.timestamp())
    made = ids.next_id()
    assert abs((id_time(made) - moment).total_seconds()) < 0.001
    assert lowest_id_at(moment) <= made
