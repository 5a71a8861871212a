"""Column codecs: a database value to its canonical JSON value and back, per column type."""
from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
)

from store.exchange.format import BadValue

# --- Column codecs: database value <-> canonical JSON value -------------------------------------


@dataclass(frozen=True)
class ColumnCodec:
    name: str
    nullable: bool
    encode: Callable[[Any], Any]  # non-NULL database value -> JSON value
    decode: Callable[[Any], Any]  # non-null JSON value -> database value, or BadValue

    def load(self, value: Any) -> Any:
        if value is None:
            if not self.nullable:
                raise BadValue(f"{self.name}: null is not allowed")
            return None
        try:
            return self.decode(value)
        except BadValue as exc:
            raise BadValue(f"{self.name}: {exc}") from None


def describe_value(value: Any) -> str:
    """A JSON value as an error message shows it: its kind and a short excerpt."""
    kind = {bool: "boolean", int: "number", float: "number", str: "string", list: "array",
            dict: "object", type(None): "null"}.get(type(value), type(value).__name__)
    excerpt = json.dumps(value, ensure_ascii=False)
    if len(excerpt) > 40:
        excerpt = excerpt[:37] + "..."
    return f"{kind} {excerpt}"


def _integer_codec(type_: Integer):
    bits = 64 if isinstance(type_, BigInteger) else 16 if isinstance(type_, SmallInteger) else 32
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1

    def decode(value):
        if type(value) is not int:  # bool is an int subclass; true is not an id
            raise BadValue(f"expected an integer, got {describe_value(value)}")
        if not low <= value <= high:
            raise BadValue(f"{value} is out of range for a {bits}-bit integer")
        return value

    return int, decode


def _boolean_codec():
    def decode(value):
        if type(value) is not bool:
            raise BadValue(f"expected true or false, got {describe_value(value)}")
        return value

    return bool, decode


DECIMAL_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?\Z")


def _numeric_codec(type_: Numeric):
    precision, scale = type_.precision, type_.scale
    quantum = Decimal(1).scaleb(-scale) if scale is not None else None

    def encode(value):
        # A string keeps the exact amount; the column's scale makes 12.5 and 12.50 one spelling.
        value = value if isinstance(value, Decimal) else Decimal(str(value))
        return format(value.quantize(quantum) if quantum is not None else value, "f")

    def decode(value):
        if not isinstance(value, str) or not DECIMAL_TEXT.match(value):
            raise BadValue(f'expected a decimal number written as a string such as "1500.00", got {describe_value(value)}')
        whole, _, fraction = value.lstrip("-").partition(".")
        if scale is not None and len(fraction) > scale:
            raise BadValue(f"{value} has more than {scale} decimals")
        if precision is not None and len(whole.lstrip("0")) > precision - (scale or 0):
            raise BadValue(f"{value} is too large (at most {precision - (scale or 0)} digits before the point)")
        return Decimal(value)

    return encode, decode


def _float_codec():
    def decode(value):
        if type(value) not in (int, float):
            raise BadValue(f"expected a number, got {describe_value(value)}")
        return float(value)

    return float, decode


def _string_codec(type_: String):
    length = type_.length
    choices = set(type_.enums) if isinstance(type_, Enum) else None

    def decode(value):
        if not isinstance(value, str):
            raise BadValue(f"expected a string, got {describe_value(value)}")
        if length is not None and len(value) > length:
            raise BadValue(f"{len(value)} characters, at most {length} allowed")
        if "\x00" in value:  # PostgreSQL text cannot hold NUL
            raise BadValue("contains a NUL character")
        if choices is not None and value not in choices:
            raise BadValue(f"{describe_value(value)} is not one of {', '.join(sorted(choices))}")
        return value

    return str, decode


def _datetime_codec(type_: DateTime):
    aware = bool(type_.timezone)

    def encode(value):
        if not aware:
            return value.isoformat()
        # SQLite hands back naive values (it stores no offset); the store writes UTC there.
        utc = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
        return utc.isoformat()

    def decode(value):
        try:
            parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        if parsed is None:
            raise BadValue(f"expected an ISO 8601 date-time such as 2012-03-01T10:00:00+00:00, got {describe_value(value)}")
        if aware and parsed.tzinfo is None:
            raise BadValue(f"{value} has no UTC offset (write e.g. {value}+00:00)")
        if not aware and parsed.tzinfo is not None:
            raise BadValue(f"{value} has a UTC offset but the column stores local date-times")
        return parsed.astimezone(timezone.utc) if aware else parsed

    return encode, decode


def _date_codec():
    def decode(value):
        try:
            return date.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            return None

    def checked(value):
        parsed = decode(value)
        if parsed is None:
            raise BadValue(f"expected an ISO 8601 date such as 2012-03-01, got {describe_value(value)}")
        return parsed

    return date.isoformat, checked


def _binary_codec():
    def encode(value):
        return base64.b64encode(bytes(value)).decode("ascii")

    def decode(value):
        if not isinstance(value, str):
            raise BadValue(f"expected base64 text, got {describe_value(value)}")
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error:
            raise BadValue("not valid base64") from None

    return encode, decode


def _json_codec():
    # Any JSON value is valid content; it is written as the database returns it.
    return (lambda value: value), (lambda value: value)


def column_codec(column) -> ColumnCodec:
    """The codec of one column; a type without one is a programming error, reported by name."""
    type_ = getattr(column.type, "impl_instance", column.type)  # a TypeDecorator stores its impl
    if isinstance(type_, Boolean):
        encode, decode = _boolean_codec()
    elif isinstance(type_, Integer):
        encode, decode = _integer_codec(type_)
    elif isinstance(type_, Float):
        encode, decode = _float_codec()
    elif isinstance(type_, Numeric):
        encode, decode = _numeric_codec(type_)
    elif isinstance(type_, DateTime):
        encode, decode = _datetime_codec(type_)
    elif isinstance(type_, Date):
        encode, decode = _date_codec()
    elif isinstance(type_, String):
        encode, decode = _string_codec(type_)
    elif isinstance(type_, LargeBinary):
        encode, decode = _binary_codec()
    elif isinstance(type_, JSON):
        encode, decode = _json_codec()
    else:
        raise TypeError(f"column {column.table.name}.{column.name} has type {column.type!r}, "
                        "which store/exchange.py cannot export yet: add a codec there")
    # A JSON column reads both SQL NULL and the JSON value null as None, and writes None back as
    # JSON null, which a NOT NULL JSON column accepts: null must load there too, or an export of
    # such a row could not be imported.
    nullable = bool(column.nullable) or isinstance(type_, JSON)
    return ColumnCodec(column.name, nullable, encode, decode)
