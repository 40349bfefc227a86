"""Built-in clock: the current date, time, weekday and UTC offset in any time zone or major city."""

from __future__ import annotations

import difflib
import functools
import re
import unicodedata
import zoneinfo
from datetime import datetime, timedelta, timezone as dt_timezone, tzinfo
from typing import Annotated, Any, Callable

from pydantic import Field

from assistant.api import ToolError, hookimpl, tool

# Cities, countries and abbreviations people say instead of IANA names (keys are simplified: see _key).
ALIASES: dict[str, str] = {
    "utc": "UTC", "gmt": "Etc/GMT", "z": "UTC", "zulu": "UTC",
    "tokyo": "Asia/Tokyo", "japan": "Asia/Tokyo", "jst": "Asia/Tokyo", "osaka": "Asia/Tokyo",
    "seoul": "Asia/Seoul", "korea": "Asia/Seoul", "south korea": "Asia/Seoul", "kst": "Asia/Seoul",
    "busan": "Asia/Seoul",
    "beijing": "Asia/Shanghai", "shanghai": "Asia/Shanghai", "china": "Asia/Shanghai",
    "shenzhen": "Asia/Shanghai", "guangzhou": "Asia/Shanghai",
    "hong kong": "Asia/Hong_Kong", "hongkong": "Asia/Hong_Kong", "taipei": "Asia/Taipei",
    "taiwan": "Asia/Taipei", "singapore": "Asia/Singapore", "bangkok": "Asia/Bangkok",
    "jakarta": "Asia/Jakarta", "manila": "Asia/Manila", "hanoi": "Asia/Bangkok",
    "ho chi minh city": "Asia/Ho_Chi_Minh", "saigon": "Asia/Ho_Chi_Minh",
    "kuala lumpur": "Asia/Kuala_Lumpur",
    "delhi": "Asia/Kolkata", "new delhi": "Asia/Kolkata", "mumbai": "Asia/Kolkata",
    "bombay": "Asia/Kolkata", "bangalore": "Asia/Kolkata", "bengaluru": "Asia/Kolkata",
    "kolkata": "Asia/Kolkata", "calcutta": "Asia/Kolkata", "chennai": "Asia/Kolkata",
    "india": "Asia/Kolkata", "ist": "Asia/Kolkata",
    "dubai": "Asia/Dubai", "abu dhabi": "Asia/Dubai", "uae": "Asia/Dubai", "riyadh": "Asia/Riyadh",
    "tehran": "Asia/Tehran", "istanbul": "Europe/Istanbul", "jerusalem": "Asia/Jerusalem",
    "tel aviv": "Asia/Jerusalem", "karachi": "Asia/Karachi",
    "moscow": "Europe/Moscow", "london": "Europe/London", "uk": "Europe/London",
    "england": "Europe/London", "dublin": "Europe/Dublin", "lisbon": "Europe/Lisbon",
    "paris": "Europe/Paris", "france": "Europe/Paris", "berlin": "Europe/Berlin",
    "germany": "Europe/Berlin", "madrid": "Europe/Madrid", "spain": "Europe/Madrid",
    "rome": "Europe/Rome", "italy": "Europe/Rome", "amsterdam": "Europe/Amsterdam",
    "brussels": "Europe/Brussels", "zurich": "Europe/Zurich", "vienna": "Europe/Vienna",
    "stockholm": "Europe/Stockholm", "oslo": "Europe/Oslo", "copenhagen": "Europe/Copenhagen",
    "helsinki": "Europe/Helsinki", "warsaw": "Europe/Warsaw", "prague": "Europe/Prague",
    "athens": "Europe/Athens", "kyiv": "Europe/Kyiv", "kiev": "Europe/Kyiv",
    "cet": "Europe/Paris", "cest": "Europe/Paris",
    "cairo": "Africa/Cairo", "johannesburg": "Africa/Johannesburg", "lagos": "Africa/Lagos",
    "nairobi": "Africa/Nairobi",
    "new york": "America/New_York", "nyc": "America/New_York", "new york city": "America/New_York",
    "boston": "America/New_York", "washington": "America/New_York",
    "washington dc": "America/New_York", "miami": "America/New_York", "atlanta": "America/New_York",
    "toronto": "America/Toronto", "montreal": "America/Toronto",
    "eastern": "America/New_York", "est": "America/New_York", "edt": "America/New_York",
    "chicago": "America/Chicago", "dallas": "America/Chicago", "houston": "America/Chicago",
    "central": "America/Chicago", "cst": "America/Chicago", "cdt": "America/Chicago",
    "denver": "America/Denver", "mountain": "America/Denver", "mst": "America/Denver",
    "mdt": "America/Denver", "phoenix": "America/Phoenix",
    "los angeles": "America/Los_Angeles", "la": "America/Los_Angeles",
    "san francisco": "America/Los_Angeles", "sf": "America/Los_Angeles",
    "seattle": "America/Los_Angeles", "vancouver": "America/Vancouver",
    "silicon valley": "America/Los_Angeles", "san jose": "America/Los_Angeles",
    "pacific": "America/Los_Angeles", "pst": "America/Los_Angeles", "pdt": "America/Los_Angeles",
    "anchorage": "America/Anchorage", "alaska": "America/Anchorage", "honolulu": "Pacific/Honolulu",
    "hawaii": "Pacific/Honolulu", "mexico city": "America/Mexico_City",
    "sao paulo": "America/Sao_Paulo", "rio de janeiro": "America/Sao_Paulo", "rio": "America/Sao_Paulo",
    "brazil": "America/Sao_Paulo", "buenos aires": "America/Argentina/Buenos_Aires",
    "argentina": "America/Argentina/Buenos_Aires", "santiago": "America/Santiago",
    "lima": "America/Lima", "bogota": "America/Bogota",
    "sydney": "Australia/Sydney", "melbourne": "Australia/Melbourne",
    "brisbane": "Australia/Brisbane", "perth": "Australia/Perth", "adelaide": "Australia/Adelaide",
    "auckland": "Pacific/Auckland", "new zealand": "Pacific/Auckland", "wellington": "Pacific/Auckland",
}
LOCAL_WORDS = {"", "local", "here", "my time", "local time", "now", "current"}
_OFFSET = re.compile(r"^(?:utc|gmt)?\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?$")


def _key(text: str) -> str:
    """Lower-case, accents removed, '_' and '-' as spaces: 'São_Paulo' -> 'sao paulo'."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return " ".join(re.sub(r"[_\-,.]+", " ", plain).lower().split())


@functools.lru_cache(maxsize=1)
def _zone_index() -> dict[str, str]:
    """Every IANA zone by its simplified full name and, where unique, by its city part."""
    index: dict[str, str] = {}
    by_city: dict[str, list[str]] = {}
    for name in zoneinfo.available_timezones():
        index[_key(name.replace("/", " / "))] = name
        by_city.setdefault(_key(name.rsplit("/", 1)[-1]), []).append(name)
    for city, names in by_city.items():
        if len(names) == 1:
            index.setdefault(city, names[0])
    return index


def find_zone(text: str) -> tuple[tzinfo | None, str]:
    """The zone for an IANA name, city, abbreviation or UTC offset; (None, 'local') for local time."""
    raw = (text or "").strip()
    key = _key(raw)
    if key in LOCAL_WORDS:
        return None, "local time"
    offset = _OFFSET.match(raw.lower().replace(" ", ""))
    if offset:
        sign, hours, minutes = offset.group(1), int(offset.group(2)), int(offset.group(3) or 0)
        if hours > 14 or minutes >= 60:
            raise ToolError(f"{raw!r} is not a valid UTC offset: use -12:00 to +14:00")
        delta = timedelta(hours=hours, minutes=minutes) * (-1 if sign == "-" else 1)
        label = f"UTC{sign}{hours:02d}:{minutes:02d}"
        return dt_timezone(delta, label), label
    name = ALIASES.get(key) or _zone_index().get(_key(raw.replace("/", " / ")))
    if name is None:
        raise ToolError(_unknown(raw))
    # Keep the user's words next to the zone: "Tokyo (Asia/Tokyo)".
    label = name if _key(raw.replace("/", " / ")) == _key(name.replace("/", " / ")) else f"{raw} ({name})"
    return zoneinfo.ZoneInfo(name), label


def _unknown(raw: str) -> str:
    choices = list(ALIASES) + list(_zone_index())
    close = difflib.get_close_matches(_key(raw.replace("/", " / ")), choices, n=5, cutoff=0.75)
    names = list(dict.fromkeys(ALIASES.get(c) or _zone_index()[c] for c in close))[:3]
    hint = f" Did you mean {' or '.join(repr(n) for n in names)}?" if names else ""
    return (f"unknown time zone {raw!r}: write an IANA name like 'Asia/Seoul' or 'America/New_York', "
            f"a major city like 'Tokyo', a UTC offset like '+09:00', or 'local'.{hint}")


def describe_now(zone: tzinfo | None, label: str, now: datetime | None = None) -> str:
    """One line a model can quote: place, weekday, date, time and UTC offset."""
    moment = (now or datetime.now(dt_timezone.utc)).astimezone(zone)
    offset = moment.utcoffset() or timedelta(0)
    total = int(offset.total_seconds() // 60)
    sign = "+" if total >= 0 else "-"
    utc = f"UTC{sign}{abs(total) // 60:02d}:{abs(total) % 60:02d}"
    abbrev = moment.tzname() or ""
    if zone is None:
        label = f"local time ({abbrev})" if abbrev else "local time"
    elif abbrev and abbrev not in label and not abbrev.startswith(("+", "-")):
        label = f"{label[:-1]}, {abbrev})" if label.endswith(")") else f"{label} ({abbrev})"
    return (f"{label}: {moment:%A}, {moment:%B} {moment.day}, {moment:%Y} (date {moment:%Y-%m-%d}), "
            f"time {moment:%H:%M:%S} ({moment:%I:%M %p}), {utc}")


@tool(examples=[
    ("what time is it in Tokyo?", {"timezone": "Tokyo"}),
    ("what's today's date?", {}),
    ("what time is it in New York right now", {"timezone": "New York"}),
    ("current time in Europe/Berlin", {"timezone": "Europe/Berlin"}),
])
def clock(
    timezone: Annotated[str, Field(description="A city like 'Tokyo', an IANA zone like "
                                   "'America/New_York', 'UTC', or 'local' for the user's own clock")] = "local",
) -> str:
    """Tell the current date, time, weekday and UTC offset, here or in any city or time zone."""
    zone, label = find_zone(timezone)
    return describe_now(zone, label)


@hookimpl
def register_tools(register: Callable[[Any], None]) -> None:
    register(clock)
