"""Exact value parsing shared by every normalizer: money, dates, text."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from decimal import MAX_PREC, Context, Decimal, InvalidOperation
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


_EXACT = Context(prec=MAX_PREC)
_MINOR_ZERO = {places: Decimal(0).scaleb(-places) for places in {2, *_EXPONENTS.values()}}


class ValueProblem(ValueError):
    """A payload value does not have the documented type or format.

    Messages read "expected ..., got <the value>"; ``expected`` is the part without the
    value, which is what may be logged (a value may be personal data).
    """

    @property
    def expected(self) -> str:
        return str(self).split(", got ", 1)[0]


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


def with_minor_digits(amount: Decimal, currency: str) -> Decimal:
    """The amount written with at least the currency's minor digits: zeros are added
    ("594.0" USD is 594.00, 100 is 100.00), a digit is never taken away ("444.475" USD
    stays), so every amount of a currency reads alike and nothing is rounded."""
    if not amount.is_finite():
        raise ValueProblem(f"expected an amount of money, got {amount}")
    # A sum's exponent is the smaller of the two: adding a zero written with the minor
    # digits adds only trailing zeros; unlimited precision, so no digit is ever rounded.
    return _EXACT.add(amount, _MINOR_ZERO[currency_exponent(currency)])


def money_major(value: Any, currency: str) -> Money | None:
    """Money from an amount in major units (``100`` is 100.00 USD)."""
    if value is None:
        return None
    return Money(with_minor_digits(decimal_of(value), currency), currency)


def money_minor(value: Any, currency: str) -> Money | None:
    """Money from an integer in the currency's smallest unit (``150000`` EUR is 1500.00)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        amount = decimal_of(value)
        if amount != amount.to_integral_value():
            raise ValueProblem(f"expected an integer amount of minor units, got {value!r}")
        value = int(amount)
    return Money(
        with_minor_digits(Decimal(value).scaleb(-currency_exponent(currency)), currency), currency
    )


_FRACTION = re.compile(r"\d\d:\d\d:\d\d[.,](\d+)")


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
    fraction = _FRACTION.search(value)
    if fraction is not None and fraction.group(1)[6:].strip("0"):
        # datetime keeps microseconds and fromisoformat drops further digits unsaid
        raise ValueProblem(f"expected a time to the microsecond at most, got {value!r}")
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def write_datetime(moment: datetime) -> str:
    """The one way the gateway writes a moment: RFC 3339 in UTC with six fractional
    digits, always ("2024-05-01T12:30:00.000000+00:00").

    Six because that is what a datetime holds and the most any backend gives
    (LicenseSpring's Django API writes microseconds, HighLevel and Zaveit milliseconds,
    Adobe and Hamgam whole seconds): a fixed count never drops a digit, and one format
    per column is what parsers such as pandas' and DuckDB's need. ``+00:00`` rather than
    ``Z``: Python's ``fromisoformat`` before 3.11 reads only the former.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def write_decimal(value: object) -> str:
    """A decimal as plain digits, never in exponent notation (``1E+2`` is "100")."""
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


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
