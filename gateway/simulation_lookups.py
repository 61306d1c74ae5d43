"""Django's field lookups on a customer's email, as the Django-built backends' simulators
(LicenseSpring, Hamgam) serve them: compared the way PostgreSQL compares text.

Django's QuerySet API reference: ``exact`` is an exact match (case-sensitive on
PostgreSQL), ``iexact`` a case-insensitive one, ``icontains`` a case-insensitive
containment test, ``startswith`` a case-sensitive prefix test. A lookup sent empty is left
out, as django-filter leaves out an empty filter value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

LOOKUPS: dict[str, Callable[[str, str], bool]] = {
    "email": lambda value, given: value == given,
    "email__iexact": lambda value, given: value.casefold() == given.casefold(),
    "email__icontains": lambda value, given: given.casefold() in value.casefold(),
    "email__startswith": lambda value, given: value.startswith(given),
}


def email_lookups(items: list[dict[str, Any]], params: Mapping[str, str]) -> list[dict[str, Any]]:
    """The customers whose ``email`` passes every email lookup in ``params``."""
    for name, test in LOOKUPS.items():
        given = params.get(name)
        if given:
            items = [c for c in items if test(str(c.get("email") or ""), given)]
    return items
