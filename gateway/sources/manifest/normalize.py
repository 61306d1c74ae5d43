"""A manifest's payloads → unified objects (pure; no I/O), with the same exact readers
as the Python kinds (gateway.values): money from the payload's own text, UTC dates."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, cast

from gateway.domain import (
    Address,
    Customer,
    Deferred,
    LineItem,
    Money,
    Order,
    OrderStatus,
    Price,
    SourceKind,
)
from gateway.sources.manifest.model import (
    AddressMap,
    CustomerMap,
    EmbeddedCustomer,
    LineMap,
    Manifest,
    MoneyRead,
    MoneySpec,
    Read,
    ReadSpec,
)
from gateway.values import (
    ValueProblem,
    boolean,
    money_major,
    money_minor,
    status_of,
    text,
    utc_datetime,
    whole,
)

#: a customer's fields in the schema, by the names CustomerMap gives them
_CUSTOMER_FIELDS = ("email", "first_name", "last_name", "name", "company", "phone", "address")
_SCHEMA_NAMES = {"first_name": "firstName", "last_name": "lastName"}


def at(data: Any, path: str | list[str]) -> Any:
    """The value at a dotted path (or its steps), or None where any step is missing."""
    if path == "":
        return data
    for step in path.split(".") if isinstance(path, str) else path:
        if isinstance(data, Mapping):
            data = data.get(step)
        elif isinstance(data, list) and step.isdigit() and int(step) < len(data):
            data = data[int(step)]
        else:
            return None
    return data


class Normalizer:
    """Reads one manifest's payloads for one source."""

    def __init__(
        self, source: str, manifest: Manifest, settings: Mapping[str, Any], kind: SourceKind
    ) -> None:
        self.source = source
        self.manifest = manifest
        self.kind = kind
        self.settings = settings
        self.statuses = {k.lower(): v for k, v in manifest.statuses.items()}
        self._order_hook = hook(manifest.hooks.order)
        self._customer_hook = hook(manifest.hooks.customer)

    # -- values ---------------------------------------------------------------------
    def value(self, data: Any, spec: ReadSpec | None) -> Any:
        if spec is None:
            return None
        if isinstance(spec, str):
            return at(data, spec)
        found = self._raw(data, spec)
        if found in spec.none_if or (isinstance(found, int) and str(found) in spec.none_if):
            return None
        return found

    def _raw(self, data: Any, spec: Read) -> Any:
        if spec.path is not None:
            return at(data, spec.path)
        if spec.first is not None:
            return next((v for p in spec.first if (v := at(data, p)) is not None and v != ""), None)
        if spec.join is not None:
            parts = [text(at(data, p)) for p in spec.join]
            return spec.sep.join(p for p in parts if p) or None
        if spec.setting is not None:
            return self.settings.get(spec.setting)
        return spec.value

    def text(self, data: Any, spec: ReadSpec | None) -> str | None:
        return text(self.value(data, spec))

    def money(self, data: Any, spec: MoneySpec | None, currency: str) -> Money | None:
        if spec is None:
            return None
        read = spec if isinstance(spec, MoneyRead) else MoneyRead(amount=spec)
        amount = self.value(data, read.amount)
        if amount == "":
            return None
        if read.unit == "minor":
            return money_minor(amount, currency)
        return money_major(amount, currency)

    # -- objects --------------------------------------------------------------------
    def status(self, value: Any) -> OrderStatus:
        return status_of(self.statuses, value)

    def order(self, data: Mapping[str, Any]) -> Order:
        m = self.manifest.order
        data = self._order_hook(data)
        currency = self.text(data, m.currency)
        if currency is None:
            raise ValueProblem("the order names no currency")
        raw_status = self.value(data, m.status)
        buyer = self._embedded(data, m.customer) if m.customer is not None else None
        lines = m.lines
        return Order(
            source=self.source,
            kind=self.kind,
            source_id=_required_id(self.value(data, m.source_id)),
            number=self.text(data, m.number),
            status=self.status(raw_status),
            source_status=text(raw_status),
            created_at=utc_datetime(self.value(data, m.created_at)),
            updated_at=utc_datetime(self.value(data, m.updated_at)),
            is_test=bool(boolean(self.value(data, m.is_test))),
            currency=currency,
            price=Price(
                currency=currency,
                subtotal=self.money(data, m.price.subtotal, currency),
                discount=self.money(data, m.price.discount, currency),
                tax=self.money(data, m.price.tax, currency),
                shipping=self.money(data, m.price.shipping, currency),
                total=self.money(data, m.price.total, currency),
                paid=self.money(data, m.price.paid, currency),
                outstanding=self.money(data, m.price.outstanding, currency),
            ),
            customer=buyer,
            customer_id=self.text(data, m.customer_id),
            lines=Deferred(lambda: self._lines(data, lines, currency)),
            raw=data,
        )

    def customer(self, data: Mapping[str, Any]) -> Customer:
        """A whole customer (the backend's get-customer answer)."""
        return self._customer(self._customer_hook(data), self.manifest.customer, present=None)

    def _embedded(self, data: Mapping[str, Any], m: EmbeddedCustomer) -> Customer | None:
        if self.value(data, m.when) in (None, "", {}):
            return None
        carried = m.carries
        if carried is None:
            carried = [f for f in _CUSTOMER_FIELDS if getattr(m, f) is not None]
        present = frozenset(_SCHEMA_NAMES.get(f, f) for f in carried)
        present |= frozenset(self.manifest.customer_never_has)
        return self._customer(data, m, present=present)

    def _customer(self, data: Any, m: CustomerMap, *, present: frozenset[str] | None) -> Customer:
        first, last = self.text(data, m.first_name), self.text(data, m.last_name)
        source_id = self.text(data, m.source_id)
        if source_id is None and present is None:
            raise ValueProblem("a customer without an id")
        return Customer(
            source=self.source,
            kind=self.kind,
            source_id=source_id or "",
            email=self.text(data, m.email),
            first_name=first,
            last_name=last,
            name=self.text(data, m.name),
            company=self.text(data, m.company),
            phone=self.text(data, m.phone),
            address=self._address(data, m.address),
            # a customer without an id (a guest) can never be fetched: it is all there is
            present=present if source_id is not None else frozenset(_schema_fields()),
        )

    def _address(self, data: Any, m: AddressMap | None) -> Address | None:
        if m is None:
            return None
        return Address(
            line1=self.text(data, m.line1),
            line2=self.text(data, m.line2),
            city=self.text(data, m.city),
            postal_code=self.text(data, m.postal_code),
            state=self.text(data, m.state),
            country=self.text(data, m.country),
        ).or_none()

    def _lines(self, data: Any, m: LineMap | None, currency: str) -> tuple[LineItem, ...]:
        if m is None:
            return ()
        records = at(data, m.records) or ()
        if not isinstance(records, list):
            raise ValueProblem(f"expected a list of line items at {m.records!r}")
        return tuple(
            LineItem(
                id=_required_id(self.value(item, m.id)),
                quantity=whole(self.value(item, m.quantity)),
                product_id=self.text(item, m.product_id),
                product_name=self.text(item, m.product_name),
                sku=self.text(item, m.sku),
                unit_price=self.money(item, m.unit_price, currency),
                discount=self.money(item, m.discount, currency),
                total=self.money(item, m.total, currency),
            )
            for item in records
        )


Hook = Callable[[Mapping[str, Any]], Mapping[str, Any]]


def hook(named: str | None) -> Hook:
    """The function ``module:function`` names (the payload as it is when None)."""
    if named is None:
        return lambda data: data
    module, _, function = named.partition(":")
    found = getattr(importlib.import_module(module), function, None)
    if not callable(found):
        raise ValueError(f"hook {named!r}: no function {function!r} in {module!r}")
    return cast(Hook, found)


def _schema_fields() -> tuple[str, ...]:
    return tuple(_SCHEMA_NAMES.get(f, f) for f in _CUSTOMER_FIELDS)


def _required_id(value: Any) -> str:
    found = text(value)
    if found is None:
        raise ValueProblem("an object without an id")
    return found
