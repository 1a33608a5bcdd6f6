"""The protobuf wire format, as far as Kubernetes objects use it.

A message is a sequence of (field number, wire type, payload); Kubernetes' generated codecs use
varints (ints, bools, enums-as-strings never), length-delimited payloads (strings, bytes, nested
messages, map entries, packed repeated scalars) and, for the rare float fields, fixed64/fixed32.
Zigzag encoding (sint32/sint64) is never used by Kubernetes types, so it is not decoded here.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import NamedTuple

VARINT, FIXED64, LENGTH_DELIMITED, FIXED32 = 0, 1, 2, 5


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message."""


class Field(NamedTuple):
    number: int
    wire_type: int
    value: int | bytes  # the varint or fixed value; the payload of a length-delimited field


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """The unsigned varint at `pos` and the position after it; at most 10 bytes, as protobuf allows."""
    result = shift = 0
    for i in range(pos, min(pos + 10, len(data))):
        byte = data[i]
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, i + 1
        shift += 7
    raise WireError("truncated or overlong varint")


def iter_fields(data: bytes) -> Iterator[Field]:
    """Every field of one message in wire order (repeated and map fields occur once per element)."""
    pos, end = 0, len(data)
    while pos < end:
        key, pos = read_varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise WireError("field number 0")
        value: int | bytes
        if wire_type == VARINT:
            value, pos = read_varint(data, pos)
        elif wire_type == LENGTH_DELIMITED:
            length, pos = read_varint(data, pos)
            if pos + length > end:
                raise WireError(f"field {number}: length {length} runs past the end of the message")
            value, pos = data[pos:pos + length], pos + length
        elif wire_type in (FIXED64, FIXED32):
            size = 8 if wire_type == FIXED64 else 4
            if pos + size > end:
                raise WireError(f"field {number}: truncated fixed-width value")
            value = int.from_bytes(data[pos:pos + size], "little")
            pos += size
        else:
            raise WireError(f"field {number}: unsupported wire type {wire_type}")
        yield Field(number, wire_type, value)


def iter_packed_varints(data: bytes) -> Iterator[int]:
    pos = 0
    while pos < len(data):
        value, pos = read_varint(data, pos)
        yield value


def signed(value: int, bits: int) -> int:
    """Two's-complement reading of a varint: negative int32/int64 are sent as 64-bit varints."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def double(bits: int) -> float:
    return float(struct.unpack("<d", bits.to_bytes(8, "little"))[0])


def single(bits: int) -> float:
    return float(struct.unpack("<f", bits.to_bytes(4, "little"))[0])
