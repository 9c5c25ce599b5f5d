from datetime import date, datetime, timedelta, timezone
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from django_cron.schedules import Cron, Interval, build_schedule, parse_every

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


# Six fields: seconds first ------------------------------------------------


def test_six_fields_read_seconds_first():
    half_past = Cron("30 * * * * *")
    assert walk(half_past, datetime(2026, 1, 1, 12, 0, tzinfo=UTC), 2) == [
        datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC),
        datetime(2026, 1, 1, 12, 1, 30, tzinfo=UTC),
    ]


def test_six_fields_take_weekday_names_in_the_last_field():
    monday = Cron("0 30 9 * * MON", "Europe/Berlin")
    runs = walk(monday, datetime(2026, 1, 1, tzinfo=UTC), 2)
    assert local(runs) == ["01-05 09:30+0100", "01-12 09:30+0100"]


def test_a_seconds_step_follows_elapsed_time_through_the_repeated_hour():
    every_20s = Cron("*/20 * * * * *", "Europe/Berlin")
    runs = walk(every_20s, datetime(2026, 10, 25, 2, 59, 20, tzinfo=BERLIN), 3)
    assert [r.astimezone(BERLIN).strftime("%H:%M:%S%z") for r in runs] == [
        "02:59:40+0200",
        "02:00:00+0100",
        "02:00:20+0100",
    ]


def test_a_seconds_step_at_a_fixed_minute_and_hour_runs_in_the_first_pass_only():
    # The minute and hour fields decide: 02:30 is a fixed time, whatever the seconds say.
    burst = Cron("*/20 30 2 * * *", "Europe/Berlin")
    runs = walk(burst, datetime(2026, 10, 25, 2, 0, tzinfo=BERLIN), 4)
    assert [r.astimezone(BERLIN).strftime("%m-%d %H:%M:%S%z") for r in runs] == [
        "10-25 02:30:00+0200",
        "10-25 02:30:20+0200",
        "10-25 02:30:40+0200",
        "10-26 02:30:00+0100",
    ]


def test_a_fixed_time_with_seconds_skipped_by_spring_forward_runs_an_hour_later():
    daily = Cron("15 30 2 * * *", "Europe/Berlin")
    runs = walk(daily, datetime(2026, 3, 28, 12, tzinfo=BERLIN), 2)
    assert [r.astimezone(BERLIN).strftime("%m-%d %H:%M:%S%z") for r in runs] == [
        "03-29 03:30:15+0200",
        "03-30 02:30:15+0200",
    ]


def test_six_fields_describe_their_seconds():
    assert Cron("*/10 * * * * *").describe() == "Every 10 seconds"
    assert Cron("0 30 2 * * *").describe() == "At 02:30 AM"


def test_seven_fields_are_refused_with_a_pointer_to_the_dates():
    with pytest.raises(ValueError, match="year field.*start_date and end_date"):
        Cron("0 0 9 * * * 2027")


# L, # and W -----------------------------------------------------------------


def days(runs, tz=BERLIN):
    return [(run.astimezone(tz).month, run.astimezone(tz).day) for run in runs]


def each_month_of_2026(expression):
    """Return the first slot of each month of 2026 in Berlin, as "01-30 Fri 18:00"."""
    runs = walk(Cron(expression, "Europe/Berlin"), datetime(2025, 12, 31, 12, tzinfo=BERLIN), 12)
    return [run.astimezone(BERLIN).strftime("%m-%d %a %H:%M") for run in runs]


def test_l_in_the_day_of_month_is_the_last_day():
    last = Cron("0 9 L * *", "Europe/Berlin")
    runs = walk(last, datetime(2027, 12, 31, 12, tzinfo=BERLIN), 3)
    assert local(runs) == ["01-31 09:00+0100", "02-29 09:00+0100", "03-31 09:00+0200"]


def test_l_before_a_weekday_is_the_last_such_day_of_the_month():
    last_fridays = [30, 27, 27, 24, 29, 26, 31, 28, 25, 30, 27, 25]
    assert each_month_of_2026("0 18 * * L5") == [
        f"{month:02}-{day:02} Fri 18:00" for month, day in enumerate(last_fridays, 1)
    ]


def test_hash_picks_the_nth_weekday_of_the_month():
    third_fridays = [16, 20, 20, 17, 15, 19, 17, 21, 18, 16, 20, 18]
    assert each_month_of_2026("0 0 9 * * 5#3") == [
        f"{month:02}-{day:02} Fri 09:00" for month, day in enumerate(third_fridays, 1)
    ]
    assert Cron("0 9 * * fri#3").describe() == "At 09:00 AM, on the third Friday of the month"


def test_w_picks_the_weekday_nearest_a_day_of_the_month():
    payday = Cron("0 9 15W * *", "Europe/Berlin")
    runs = walk(payday, datetime(2026, 7, 31, tzinfo=BERLIN), 3)
    # 15 August 2026 is a Saturday, 15 November a Sunday.
    assert days(runs) == [(8, 14), (9, 15), (10, 15)]
    assert days(walk(payday, datetime(2026, 10, 31, tzinfo=BERLIN), 1)) == [(11, 16)]


def test_a_question_mark_is_any_day():
    daily = Cron("0 9 ? * *")
    assert walk(daily, datetime(2026, 1, 1, tzinfo=UTC), 2) == [
        datetime(2026, 1, 1, 9, tzinfo=UTC),
        datetime(2026, 1, 2, 9, tzinfo=UTC),
    ]


@pytest.mark.parametrize(
    "expression, reason",
    [
        ("0 0 * * 5L", "write L5"),
        ("0 0 * * L", "not a valid"),
        ("0 0 * * LFRI", "not a valid"),
        ("0 0 * * 1,L5", "not a valid"),
        ("0 0 LW * *", "not a valid"),
        ("0 0 L-2 * *", "not a valid"),
        ("0 0 * * 5#L", "not a valid"),
        ("0 0 * * 1#6", "not a valid"),
        ("0 0 * * 1-5#2", "not a valid"),
        ("0 0 W * *", "not a valid"),
        ("H * * * *", "not a valid"),
        ("R R * * *", "random"),
    ],
)
def test_forms_croniter_cannot_read_are_refused_with_the_expression(expression, reason):
    with pytest.raises(ValueError, match=reason) as caught:
        Cron(expression)
    assert repr(expression) in str(caught.value)


# Start and end dates ----------------------------------------------------------


START = datetime(2026, 5, 1, 9, 0, 7, tzinfo=UTC)


def test_an_interval_with_a_start_counts_its_slots_from_the_start():
    every = Interval("5m", start=START)
    before = START - timedelta(days=3)
    assert every.first_after(before) == every.next_after(before) == START
    assert every.next_after(START) == START + timedelta(minutes=5)
    # Seen first between two slots: the phase is the start's, not the sighting's.
    seen = START + timedelta(minutes=12)
    assert every.first_after(seen) == START + timedelta(minutes=15)
    assert every.resume_after(START, seen) == START + timedelta(minutes=15)


def test_an_interval_with_an_end_has_no_slot_after_it():
    end = START + timedelta(minutes=10)
    every = Interval(300, start=START, end=end)
    assert walk(every, START, 2) == [START + timedelta(minutes=5), end]
    assert every.next_after(end) is None
    assert every.resume_after(START, end + timedelta(seconds=1)) is None
    # Without a start, slots follow the sighting and stop at the end all the same.
    assert Interval(300, end=end).next_after(end - timedelta(seconds=299)) is None


def test_a_cron_schedule_with_a_start_has_no_slot_before_it():
    long_ago = datetime(2026, 1, 1, tzinfo=UTC)
    hourly = Cron("0 * * * *", start=datetime(2026, 5, 1, 10, 30, tzinfo=UTC))
    assert hourly.next_after(long_ago) == datetime(2026, 5, 1, 11, tzinfo=UTC)
    on_a_slot = Cron("0 * * * *", start=datetime(2026, 5, 1, 11, tzinfo=UTC))
    assert on_a_slot.first_after(long_ago) == datetime(2026, 5, 1, 11, tzinfo=UTC)


def test_a_cron_schedule_with_an_end_stops_at_it_inclusive():
    end = datetime(2026, 5, 1, 12, tzinfo=UTC)
    hourly = Cron("0 * * * *", "Europe/Berlin", end=end)
    assert walk(hourly, datetime(2026, 5, 1, 10, 30, tzinfo=UTC), 2)[-1] == end
    assert hourly.next_after(end) is None
    assert hourly.resume_after(end, end + timedelta(hours=5)) is None
    # An end that has passed is a finished schedule, not a broken one.
    Cron("0 * * * *", end=datetime(2020, 1, 1, tzinfo=UTC)).validate()


def test_an_end_before_the_start_is_refused():
    with pytest.raises(ValueError, match="before"):
        Interval(60, start=START, end=START - timedelta(seconds=1))
    with pytest.raises(ValueError, match="before"):
        Cron("@daily", start=START, end=START - timedelta(days=1))


def test_start_and_end_must_be_aware():
    with pytest.raises(ValueError, match="aware"):
        Interval(60, start=datetime(2026, 5, 1))
    with pytest.raises(ValueError, match="aware"):
        Cron("@daily", end=datetime(2026, 5, 1))


def test_start_and_end_change_the_key_and_show_in_the_description():
    end = datetime(2026, 6, 1, tzinfo=UTC)
    keys = {
        Interval(300).key,
        Interval(300, start=START).key,
        Interval(300, start=START, end=end).key,
        Interval(300, end=end).key,
    }
    assert len(keys) == 4
    assert Interval(300).key == "every 300s"  # unchanged: stored states keep their plan
    assert Cron("@daily").key != Cron("@daily", start=START).key != Cron("@daily", end=end).key
    assert Interval(300, start=START, end=end).describe() == (
        "Every 5 minutes, from 2026-05-01 09:00:07 UTC until 2026-06-01 00:00 UTC"
    )
    berlin = Cron("0 9 * * *", "Europe/Berlin", end=end)
    assert berlin.describe() == "At 09:00 AM, until 2026-06-01 02:00 CEST"


# build_schedule ---------------------------------------------------------------


def test_build_schedule_makes_a_cron_or_an_interval():
    cron = build_schedule(cron="*/5 * * * *", timezone="Europe/Berlin")
    assert isinstance(cron, Cron) and cron.tz == BERLIN
    interval = build_schedule(every="90s", start="2026-05-01T09:00:07Z")
    assert isinstance(interval, Interval) and interval.start == START


def test_build_schedule_reads_naive_and_iso_dates_in_its_time_zone():
    schedule = build_schedule(
        cron="0 9 * * *",
        timezone="Europe/Berlin",
        start=datetime(2026, 5, 1, 9),
        end="2026-06-01 00:00",
    )
    assert schedule.start == datetime(2026, 5, 1, 7, tzinfo=UTC)
    assert schedule.end == datetime(2026, 5, 31, 22, tzinfo=UTC)
    from_a_date = build_schedule(every=60, start=date(2026, 5, 1))
    assert from_a_date.start == datetime(2026, 5, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "give a cron expression or an interval"),
        ({"cron": "@daily", "every": 60}, "give a cron expression or an interval, not both"),
        ({"cron": "61 * * * *"}, "'61 * * * *' is not a valid cron expression"),
        ({"cron": "0 0 30 2 *"}, "it never comes due (no date matches '0 0 30 2 *')"),
        ({"every": "soon"}, "'soon' is not a duration; use seconds, a timedelta or '5m'"),
        ({"cron": "@daily", "timezone": "Mars/Base"}, "'Mars/Base' is not a known time zone"),
        ({"every": 60, "start": "May 1st"}, "'May 1st' is not a date and time"),
        (
            {"every": 60, "start": "2026-05-02", "end": "2026-05-01"},
            "the end (2026-05-01 00:00 UTC) is before the start (2026-05-02 00:00 UTC)",
        ),
    ],
)
def test_build_schedule_refuses_with_short_messages(kwargs, message):
    with pytest.raises(ValueError) as caught:
        build_schedule(**kwargs)
    assert str(caught.value) == message
