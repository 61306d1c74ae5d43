"""Exact value parsing shared by every normalizer: money, dates, text."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from gateway.domain import Money, OrderStatus

# ISO 4217 minor-unit exponents that differ from the common 2.
_ZERO = ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI")
_ZERO_MORE = ("VND", "VUV", "XAF", "XOF", "XPF")
_THREE = ("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND")
_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(_ZERO + _ZERO_MORE, 0),
    **dict.fromkeys(_THREE, 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}


class ValueProblem(ValueError):
    """A payload value does not have the documented type or format."""


#: What a normalizer raises when a payload is not shaped as documented (a ValueError
#: that is not a ValueProblem is still a value the normalizer could not read).
SHAPE_ERRORS = (ValueError, KeyError, TypeError, AttributeError, IndexError)


def currency_exponent(currency: str) -> int:
    """How many decimal places the currency's minor unit has (USD 2, JPY 0, KWD 3)."""
    return _EXPONENTS.get(currency.upper(), 2)


def decimal_of(value: Any) -> Decimal:
    """An exact Decimal from a JSON number or string as the payload wrote it.

    Payloads are parsed with ``parse_float=Decimal``, so a JSON ``2339.71`` arrives as
    ``Decimal("2339.71")`` and never passes through a binary float.
    """
    if isinstance(value, bool):
        raise ValueProblem(f"expected a number, got {value!r}")
    if isinstance(value, Decimal | int):
        return Decimal(value)
    if isinstance(value, float):
        # Only reached when a payload was parsed without parse_float; repr is the
        # shortest literal that round-trips, i.e. what the payload most likely said.
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation as exc:
            raise ValueProblem(f"expected a decimal number, got {value!r}") from exc
    raise ValueProblem(f"expected a number, got {type(value).__name__}")


def money_major(value: Any, currency: str) -> Money | None:
    """Money from an amount in major units (``100`` is 100.00 USD)."""
    if value is None:
        return None
    return Money(decimal_of(value), currency)


def money_minor(value: Any, currency: str) -> Money | None:
    """Money from an integer in the currency's smallest unit (``150000`` EUR is 1500.00)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        amount = decimal_of(value)
        if amount != amount.to_integral_value():
            raise ValueProblem(f"expected an integer amount of minor units, got {value!r}")
        value = int(amount)
    return Money(Decimal(value).scaleb(-currency_exponent(currency)), currency)


def utc_datetime(value: Any) -> datetime | None:
    """A UTC datetime from ISO-8601; a date alone is midnight UTC, no offset means UTC."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueProblem(f"expected an ISO-8601 date, got {type(value).__name__}")
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueProblem(f"expected an ISO-8601 date, got {value!r}") from exc
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def text(value: Any) -> str | None:
    """A string field: None and "" both mean the backend has no value."""
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    raise ValueProblem(f"expected a string, got {type(value).__name__}")


def integer(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueProblem(f"expected an integer, got {value!r}")
    return value


def whole(value: Any, missing: int | None = None) -> int:
    """A count (a quantity): an integer, or a number or numeric string without a fraction.

    ``missing`` is used only when the value is absent (None); 0 stays 0, and a fraction
    is an error, never truncated.
    """
    if value is None and missing is not None:
        return missing
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    amount = decimal_of(value)
    if not amount.is_finite() or amount != amount.to_integral_value():
        raise ValueProblem(f"expected a whole number, got {value!r}")
    return int(amount)


def boolean(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    raise ValueProblem(f"expected a boolean, got {value!r}")


def status_of(table: Mapping[str, OrderStatus], value: Any) -> OrderStatus:
    """A backend's status value through its kind's table; a value it lacks is UNKNOWN."""
    if value is None or value == "":
        return OrderStatus.UNKNOWN
    key = str(value)
    return table.get(key) or table.get(key.lower(), OrderStatus.UNKNOWN)


def full_name(first: str | None, last: str | None) -> str | None:
    joined = " ".join(part for part in (first, last) if part)
    return joined or None
