from datetime import datetime, timedelta, timezone
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from django_cron.schedules import Cron, Interval, parse_every

BERLIN = ZoneInfo("Europe/Berlin")
UTC = timezone.utc


def walk(schedule, start, count):
    out, moment = [], start
    for _ in range(count):
        moment = schedule.next_after(moment)
        out.append(moment)
    return out


def local(moments, tz=BERLIN):
    return [m.astimezone(tz).strftime("%m-%d %H:%M%z") for m in moments]


@pytest.mark.parametrize(
    "value, seconds",
    [
        (300, 300),
        (2.5, 2.5),
        (timedelta(minutes=2), 120),
        ("90s", 90),
        ("5m", 300),
        ("2h", 7200),
        ("1d", 86400),
        ("1h30m", 5400),
        ("45", 45),
    ],
)
def test_parse_every_accepts_seconds_timedeltas_and_units(value, seconds):
    assert parse_every(value) == timedelta(seconds=seconds)


@pytest.mark.parametrize("value", [0, -5, "0s", "5 minutes", "", None, True, "m5", [300]])
def test_parse_every_rejects_what_is_not_a_positive_duration(value):
    with pytest.raises(ValueError):
        parse_every(value)


def test_interval_keeps_its_phase_after_missed_slots():
    every = Interval(300)
    slot = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    now = slot + timedelta(seconds=1000)
    # Slots at 12:05, 12:10, 12:15 were missed; the next is 12:20, not now + 300.
    assert every.resume_after(slot, now) == datetime(2026, 1, 1, 12, 20, tzinfo=UTC)
    assert every.resume_after(slot, slot - timedelta(seconds=1)) == slot


def test_interval_describes_itself_in_words():
    assert Interval(300).describe() == "Every 5 minutes"
    assert Interval("1d").describe() == "Every day"
    assert Interval(90).describe() == "Every 90 seconds"


def test_cron_next_after_follows_croniter_in_utc():
    five = Cron("*/5 * * * *")
    start = datetime(2026, 1, 1, 12, 3, 10, tzinfo=UTC)
    assert walk(five, start, 3) == [
        datetime(2026, 1, 1, 12, 5, tzinfo=UTC),
        datetime(2026, 1, 1, 12, 10, tzinfo=UTC),
        datetime(2026, 1, 1, 12, 15, tzinfo=UTC),
    ]


def test_cron_next_after_is_strictly_after_a_slot():
    hourly = Cron("@hourly")
    slot = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert hourly.next_after(slot) == slot + timedelta(hours=1)


def test_cron_reads_the_expression_in_its_time_zone():
    nine = Cron("0 9 * * *", "Europe/Berlin")
    (first,) = walk(nine, datetime(2026, 7, 1, tzinfo=UTC), 1)
    assert first == datetime(2026, 7, 1, 7, 0, tzinfo=UTC)  # 09:00 CEST


def test_fixed_time_runs_once_on_the_fall_back_day():
    # 2026-10-25: Berlin's clocks go from 03:00 CEST back to 02:00 CET, so 02:30
    # happens twice. croniter alone would return it twice.
    daily = Cron("30 2 * * *", "Europe/Berlin")
    runs = walk(daily, datetime(2026, 10, 23, 12, tzinfo=BERLIN), 4)
    assert local(runs) == [
        "10-24 02:30+0200",
        "10-25 02:30+0200",
        "10-26 02:30+0100",
        "10-27 02:30+0100",
    ]


def test_fixed_time_is_not_repeated_when_asked_from_the_second_pass():
    daily = Cron("30 2 * * *", "Europe/Berlin")
    second_pass = datetime(2026, 10, 25, 2, 40, fold=1, tzinfo=BERLIN)
    assert local([daily.next_after(second_pass)]) == ["10-26 02:30+0100"]


def test_fixed_time_skipped_by_spring_forward_runs_once_an_hour_later():
    # 2026-03-29: Berlin's clocks jump from 02:00 CET to 03:00 CEST; 02:30 never happens.
    daily = Cron("30 2 * * *", "Europe/Berlin")
    runs = walk(daily, datetime(2026, 3, 27, 12, tzinfo=BERLIN), 4)
    assert local(runs) == [
        "03-28 02:30+0100",
        "03-29 03:30+0200",
        "03-30 02:30+0200",
        "03-31 02:30+0200",
    ]


@pytest.mark.parametrize("expression", ["30 2 * * *", "0 0 * * *", "15 1 * * *", "45 3 * * *"])
@pytest.mark.parametrize("year", [2026, 2027])
def test_fixed_time_runs_exactly_once_every_day_of_the_year(expression, year):
    daily = Cron(expression, "Europe/Berlin")
    runs = walk(daily, datetime(year - 1, 12, 31, 12, tzinfo=BERLIN), 366)
    days = [run.astimezone(BERLIN).date() for run in runs if run.year == year]
    assert len(days) == len(set(days)) == (366 if year % 4 == 0 else 365)


def test_wildcard_job_runs_in_both_passes_of_the_repeated_hour():
    half_hourly = Cron("*/30 * * * *", "Europe/Berlin")
    runs = walk(half_hourly, datetime(2026, 10, 25, 1, 0, tzinfo=BERLIN), 6)
    assert local(runs) == [
        "10-25 01:30+0200",
        "10-25 02:00+0200",
        "10-25 02:30+0200",
        "10-25 02:00+0100",
        "10-25 02:30+0100",
        "10-25 03:00+0100",
    ]
    gaps = {b - a for a, b in pairwise(runs)}
    assert gaps == {timedelta(minutes=30)}


def test_wildcard_job_skips_the_hour_that_spring_forward_removes():
    half_hourly = Cron("*/30 * * * *", "Europe/Berlin")
    runs = walk(half_hourly, datetime(2026, 3, 29, 1, 0, tzinfo=BERLIN), 3)
    assert local(runs) == ["03-29 01:30+0100", "03-29 03:00+0200", "03-29 03:30+0200"]


def test_cron_describes_itself_in_words():
    assert Cron("30 2 * * 1-5").describe() == "At 02:30 AM, Monday through Friday"
    assert Cron("@daily").describe() == "At 12:00 AM"


@pytest.mark.parametrize("expression", ["*/5 * *", "61 * * * *", "not cron", ""])
def test_cron_rejects_invalid_expressions(expression):
    with pytest.raises(ValueError):
        Cron(expression)


def test_schedule_keys_change_with_the_slots():
    assert Cron("0 * * * *").key != Cron("0 * * * *", "Europe/Berlin").key
    assert Interval(60).key == Interval("1m").key != Interval(61).key
