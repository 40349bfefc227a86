"""The clock tool: cities, IANA names, offsets and clear errors for unknown zones."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timezone

import pytest

from plugins.clock import clock, describe_now, find_zone


def test_contract(tool_contract):
    spec = tool_contract(clock)
    assert spec.name == "clock"
    assert spec.schema["properties"]["timezone"]["default"] == "local"


def test_tokyo_is_utc_plus_nine(tool_runner):
    before = datetime.now(zoneinfo.ZoneInfo("Asia/Tokyo")).date()
    outcome = tool_runner(clock, timezone="Tokyo")
    after = datetime.now(zoneinfo.ZoneInfo("Asia/Tokyo")).date()
    assert outcome.ok, outcome.output
    assert "Asia/Tokyo" in outcome.output and "UTC+09:00" in outcome.output
    assert before.isoformat() in outcome.output or after.isoformat() in outcome.output
    assert any(day in outcome.output for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
                                                  "Saturday", "Sunday"))


def test_local_is_the_default(tool_runner):
    outcome = tool_runner(clock)
    assert outcome.ok and outcome.output.startswith("local time")
    assert "UTC" in outcome.output


@pytest.mark.parametrize("text, zone", [
    ("tokyo", "Asia/Tokyo"),
    ("SEOUL", "Asia/Seoul"),
    ("asia/seoul", "Asia/Seoul"),
    ("America/New York", "America/New_York"),
    ("new york", "America/New_York"),
    ("LA", "America/Los_Angeles"),
    ("San Francisco", "America/Los_Angeles"),
    ("São Paulo", "America/Sao_Paulo"),
    ("Sao_Paulo", "America/Sao_Paulo"),
    ("Hong Kong", "Asia/Hong_Kong"),
    ("Mumbai", "Asia/Kolkata"),
    ("Kathmandu", "Asia/Kathmandu"),
    ("Europe/Berlin", "Europe/Berlin"),
    ("UTC", "UTC"),
])
def test_names_are_found(text, zone):
    found, label = find_zone(text)
    assert getattr(found, "key", None) == zone
    assert zone in label


@pytest.mark.parametrize("text, offset", [("UTC+9", "UTC+09:00"), ("+05:30", "UTC+05:30"),
                                          ("GMT-3", "UTC-03:00")])
def test_offsets(tool_runner, text, offset):
    outcome = tool_runner(clock, timezone=text)
    assert outcome.ok and outcome.output.endswith(offset)


def test_known_moment_with_daylight_saving():
    winter = datetime(2024, 1, 15, 12, 0, tzinfo=timezone.utc)
    summer = datetime(2024, 7, 15, 12, 0, tzinfo=timezone.utc)
    zone, label = find_zone("New York")
    assert describe_now(zone, label, winter).endswith("time 07:00:00 (07:00 AM), UTC-05:00")
    assert "Monday, January 15, 2024 (date 2024-01-15)" in describe_now(zone, label, winter)
    assert describe_now(zone, label, summer).endswith("UTC-04:00")


@pytest.mark.parametrize("text", ["Narnia", "Mars/Olympus_Mons", "+99:00", "../../etc/passwd"])
def test_unknown_zone_explains_how_to_write_one(tool_runner, text):
    outcome = tool_runner(clock, timezone=text)
    assert not outcome.ok
    assert "Asia/Seoul" in outcome.output or "-12:00 to +14:00" in outcome.output


def test_suggests_a_close_match(tool_runner):
    outcome = tool_runner(clock, timezone="Tokio")
    assert not outcome.ok and "Asia/Tokyo" in outcome.output


def test_no_side_effects(tool_runner):
    assert tool_runner.needs_approval(clock, timezone="Tokyo") is False
