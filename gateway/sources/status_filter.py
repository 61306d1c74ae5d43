"""A status filter in a backend's own values, from its kind's status table.

Each kind reads its backend's status through a table (value → unified status; a value the
table lacks reads as UNKNOWN). So the backend values that can carry an asked status are
the table's keys mapped to it, and no other; UNKNOWN cannot be named, as it stands for
every value the table lacks. The gateway still applies the exact filter to what comes back
(``OrderQuery.matches``): a pushed filter only spares reading orders that cannot match.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gateway.domain import OrderQuery, OrderStatus


def backend_values(
    table: Mapping[str, OrderStatus], statuses: frozenset[OrderStatus] | None
) -> tuple[str, ...] | None:
    """The backend values whose orders read as one of ``statuses``, in the table's order.

    None: any order may match, so no status filter may be sent (none asked, or UNKNOWN
    asked). Empty: no order of this backend can match, so nothing needs asking.
    """
    if statuses is None or OrderStatus.UNKNOWN in statuses:
        return None
    return tuple(value for value, status in table.items() if status in statuses)


def one_value_streams(
    table: Mapping[str, OrderStatus], query: OrderQuery, *, pushdown: bool
) -> Sequence[str]:
    """The streams of a kind whose list takes one status value per call: a stream per
    value asked for, each named by the value its calls send (the lister merges them
    newest first like any streams: gateway/listing.py); one unfiltered stream ("") when
    no value can be pushed; none when no order of the backend can match."""
    values = backend_values(table, query.statuses)
    if values == ():
        return ()
    if values is None or not pushdown:
        return ("",)
    return values


def any_can_match(table: Mapping[str, OrderStatus], query: OrderQuery) -> bool:
    """Whether an order of a backend read through ``table`` can match the status filter."""
    return backend_values(table, query.statuses) != ()
