"""JSON forms of the apimachinery types whose codecs are hand-written rather than generated.

Their Go fields do not say how they look in JSON (metav1.Time is an RFC 3339 string, IntOrString is
a bare int or string, RawExtension is the embedded JSON itself), so the decoder renders them here,
exactly as their MarshalJSON methods would.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _utc(seconds: int, nanos: int) -> datetime:
    try:
        return EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000)
    except OverflowError:
        raise ValueError(f"timestamp {seconds}s is out of range") from None


def format_time(seconds: int) -> str:
    """metav1.Time: whole seconds in UTC (the JSON codec, and so the proto decoder, drops nanos)."""
    t = _utc(seconds, 0)
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}Z"


def format_micro_time(seconds: int, nanos: int) -> str:
    """metav1.MicroTime: always six fractional digits."""
    t = _utc(seconds, nanos)
    return (f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
            f".{t.microsecond:06d}Z")


def _fraction(value: int, scale: int) -> str:
    whole, rest = divmod(value, scale)
    digits = str(rest).rjust(len(str(scale)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


def format_duration(nanoseconds: int) -> str:
    """metav1.Duration: Go's time.Duration.String(), e.g. 1h0m0s, 1m30s, 1.5s, 250ms, 0s."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    u = abs(nanoseconds)
    if u < 1_000:
        return f"{sign}{u}ns"
    if u < 1_000_000:
        return f"{sign}{_fraction(u, 1_000)}µs"
    if u < 1_000_000_000:
        return f"{sign}{_fraction(u, 1_000_000)}ms"
    seconds = _fraction(u % 60_000_000_000, 1_000_000_000) + "s"
    minutes = u // 60_000_000_000
    if not minutes:
        return sign + seconds
    hours = minutes // 60
    text = f"{minutes % 60}m{seconds}"
    return f"{sign}{hours}h{text}" if hours else sign + text
