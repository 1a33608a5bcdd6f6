"""String formats kube-apiserver checks in custom resources (kube-openapi's strfmt registry).

Formats kube does not know (and the number formats int32, int64, float, double, which only
document the type) are accepted, as the apiserver accepts them.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable

_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DURATION = re.compile(
    r"(\s*[-+]?\d+(\.\d+)?\s*(ns|us|µs|ms|s|m|h|d|w|"
    r"(nano|micro|milli)?seconds?|mins?|minutes?|hours?|days?|weeks?)\s*)+")
_UUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")
_UUID_V = {v: re.compile(rf"[0-9a-fA-F]{{8}}-[0-9a-fA-F]{{4}}-{v}[0-9a-fA-F]{{3}}-[0-9a-fA-F]{{4}}-"
                         r"[0-9a-fA-F]{12}") for v in "345"}
_HOSTNAME = re.compile(r"(?=.{1,255}$)[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?"
                       r"(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*\.?")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_MAC = re.compile(r"([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}")
_HEXCOLOR = re.compile(r"#([0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})")
_RGBCOLOR = re.compile(r"rgb\(\s*\d{1,3}%?\s*,\s*\d{1,3}%?\s*,\s*\d{1,3}%?\s*\)")
_BSON = re.compile(r"[0-9a-fA-F]{24}")


def _date_time(v: str) -> bool:
    if not _DATE_TIME.fullmatch(v):
        return False
    month, day = int(v[5:7]), int(v[8:10])
    hour, minute, second = int(v[11:13]), int(v[14:16]), int(v[17:19])
    return 1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61


def _date(v: str) -> bool:
    return bool(_DATE.fullmatch(v)) and 1 <= int(v[5:7]) <= 12 and 1 <= int(v[8:10]) <= 31


def _byte(v: str) -> bool:
    try:
        base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _ip(version: int) -> Callable[[str], bool]:
    def check(v: str) -> bool:
        try:
            return ipaddress.ip_address(v).version == version
        except ValueError:
            return False
    return check


def _cidr(v: str) -> bool:
    try:
        ipaddress.ip_network(v, strict=False)
    except ValueError:
        return False
    return "/" in v


def _uri(v: str) -> bool:
    return bool(v) and not any(c.isspace() for c in v)


def _match(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    return lambda v: bool(pattern.fullmatch(v))


CHECKS: dict[str, Callable[[str], bool]] = {
    "date-time": _date_time,
    "datetime": _date_time,
    "date": _date,
    "duration": _match(_DURATION),
    "byte": _byte,
    "uuid": _match(_UUID),
    "uuid3": _match(_UUID_V["3"]),
    "uuid4": _match(_UUID_V["4"]),
    "uuid5": _match(_UUID_V["5"]),
    "ipv4": _ip(4),
    "ipv6": _ip(6),
    "cidr": _cidr,
    "mac": _match(_MAC),
    "hostname": _match(_HOSTNAME),
    "email": _match(_EMAIL),
    "uri": _uri,
    "hexcolor": _match(_HEXCOLOR),
    "rgbcolor": _match(_RGBCOLOR),
    "bsonobjectid": _match(_BSON),
}


def conforms(fmt: str, value: str) -> bool:
    check = CHECKS.get(fmt)
    return check is None or check(value)
