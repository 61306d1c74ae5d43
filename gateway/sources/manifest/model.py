"""What a source manifest says: the pydantic models of the file (docs/manifests.md).

A manifest describes one REST order API: the keys its ``[sources.<name>]`` table takes,
how calls authenticate, the by-id and list requests (paging, filters pushed down, the
record selector), the error body, and how every unified field is read from a payload.
Its JSON Schema (``gateway manifest-schema``) is docs/manifest.schema.json.
"""

from __future__ import annotations

import builtins
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.domain import OrderStatus


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Read(Strict):
    """How one value is read from a payload. Exactly one of ``path``, ``first``, ``join``,
    ``value`` or ``setting``; a path is dotted (``billing.email``)."""

    path: str | None = Field(default=None, description="A dotted path into the payload.")
    first: list[str] | None = Field(
        default=None, description="Paths tried in order: the first that holds a value."
    )
    join: list[str] | None = Field(
        default=None, description="Paths whose values are joined by `sep` (nulls left out)."
    )
    sep: str = Field(default=" ", description="The separator of `join`.")
    value: str | int | bool | None = Field(default=None, description="A literal value.")
    setting: str | None = Field(
        default=None, description="A key of the source's own table (e.g. its currency)."
    )
    #: values that mean "none" besides null and "" (WooCommerce's customer_id 0)
    none_if: list[str | int] = Field(
        default_factory=list, description="Values that mean the backend has none (e.g. 0)."
    )


#: A read written as a plain string is a path.
ReadSpec = str | Read


class MoneyRead(Strict):
    """An amount: a decimal string or JSON number in major units, or an integer of minor
    units (divided by the currency's ISO 4217 exponent)."""

    amount: ReadSpec = Field(description="Where the amount is.")
    unit: Literal["major", "minor"] = Field(
        default="major", description="major: 12.50 is 12.50; minor: 1250 is 12.50 (USD)."
    )


MoneySpec = str | MoneyRead


class Filters(Strict):
    """The list filters the backend applies itself; the gateway filters exactly after."""

    created_after: str | None = Field(
        default=None, description="Query parameter for 'created at or after' (ISO 8601 UTC)."
    )
    created_before: str | None = Field(
        default=None, description="Query parameter for 'created before' (ISO 8601 UTC)."
    )
    date_format: Literal["iso_z", "iso_naive_utc"] = Field(
        default="iso_z",
        description="iso_z: 2024-03-01T10:15:00Z; iso_naive_utc: 2024-03-01T10:15:00.",
    )
    status: str | None = Field(default=None, description="Query parameter for the status.")
    status_join: str | None = Field(
        default=None,
        description="Separator when the API takes several statuses in one value (','); "
        "unset: it takes one, pushed only when one backend status matches.",
    )
    customer: str | None = Field(default=None, description="Query parameter for one customer id.")
    extra: dict[str, str] = Field(
        default_factory=dict, description="Parameters sent with any date filter."
    )


class Listing(Strict):
    """The order list: newest first, paged by page number or offset; its records are
    whole orders, read by the same [order] mapping as the by-id answer."""

    path: str = Field(description="The list's path under base_url.")
    records: str = Field(
        default="", description="Dotted path of the records in the body ('' : the body)."
    )
    paging: Literal["page", "offset"] = Field(description="page: page + size; offset.")
    page_param: str = Field(default="page", description="The page number's parameter.")
    size_param: str = Field(description="The page size's parameter.")
    offset_param: str = Field(default="offset", description="The offset's parameter.")
    first_page: int = Field(default=1, description="The number of the first page.")
    max_size: int = Field(ge=1, le=1000, description="The largest page the API serves.")
    params: dict[str, str] = Field(
        default_factory=dict, description="Sent with every list call (the newest-first order)."
    )
    has_more: Literal["next_field", "full_page"] = Field(
        description="next_field: the body's `next_field` is set; full_page: a full page."
    )
    next_field: str = Field(default="next", description="The body's next-page field.")
    past_end: list[int] = Field(
        default_factory=list,
        description="Statuses that mean 'no such page' (an empty end, e.g. DRF's 404).",
    )
    filters: Filters = Field(default_factory=Filters)


class CustomerSearch(Strict):
    """Customers by email: the gateway compares the emails exactly (ignoring case)."""

    path: str = Field(description="The customer list's path.")
    param: str = Field(description="The email filter's parameter.")
    records: str = Field(default="", description="Dotted path of the records.")
    params: dict[str, str] = Field(default_factory=dict, description="Sent with each call.")
    next_field: str | None = Field(
        default=None,
        description="The body's next-page field: followed to the last page of matches "
        "(at most 10 pages); unset: one call.",
    )
    page_param: str = Field(default="page", description="The page number's parameter.")


class AddressMap(Strict):
    line1: ReadSpec | None = None
    line2: ReadSpec | None = None
    city: ReadSpec | None = None
    postal_code: ReadSpec | None = None
    state: ReadSpec | None = None
    country: ReadSpec | None = None


class CustomerMap(Strict):
    """A customer's fields; ``source_id`` null makes a customer without an id (a guest)."""

    source_id: ReadSpec | None = None
    email: ReadSpec | None = None
    first_name: ReadSpec | None = None
    last_name: ReadSpec | None = None
    name: ReadSpec | None = None
    company: ReadSpec | None = None
    phone: ReadSpec | None = None
    address: AddressMap | None = None


class EmbeddedCustomer(CustomerMap):
    """The customer inside an order: present when ``when`` holds a value; ``carries``
    names the fields it really has (others make the gateway fetch the customer)."""

    when: str = Field(description="A path that holds a value when the order has a customer.")
    carries: list[str] | None = Field(
        default=None, description="Fields this summary carries (unset: all it maps)."
    )


class LineMap(Strict):
    records: str = Field(description="Dotted path of the order's line items.")
    id: ReadSpec
    quantity: ReadSpec
    product_id: ReadSpec | None = None
    product_name: ReadSpec | None = None
    sku: ReadSpec | None = None
    unit_price: MoneySpec | None = None
    discount: MoneySpec | None = None
    total: MoneySpec | None = None


class PriceMap(Strict):
    subtotal: MoneySpec | None = None
    discount: MoneySpec | None = None
    tax: MoneySpec | None = None
    shipping: MoneySpec | None = None
    total: MoneySpec | None = None
    paid: MoneySpec | None = None
    outstanding: MoneySpec | None = None


class OrderMap(Strict):
    source_id: ReadSpec
    status: ReadSpec = Field(description="The backend's status, mapped by [statuses].")
    number: ReadSpec | None = None
    created_at: ReadSpec | None = None
    updated_at: ReadSpec | None = None
    is_test: ReadSpec | None = None
    currency: ReadSpec = Field(description="ISO 4217 code (a path, or a setting).")
    customer_id: ReadSpec | None = None
    price: PriceMap = Field(default_factory=PriceMap)
    customer: EmbeddedCustomer | None = None
    lines: LineMap | None = None


class Auth(Strict):
    """How every call authenticates; values are templates over the source's settings
    (``"Token {token}"``)."""

    type: Literal["basic", "bearer", "header"]
    username: str | None = Field(default=None, description="basic: the user name.")
    password: str | None = Field(default=None, description="basic: the password.")
    token: str | None = Field(default=None, description="bearer: the token.")
    header: str | None = Field(default=None, description="header: the header's name.")
    value: str | None = Field(default=None, description="header: the header's value.")


class ErrorBody(Strict):
    """Where an error body keeps its message and code (dotted paths)."""

    message: list[str] = Field(default_factory=lambda: ["message"])
    code: list[str] = Field(default_factory=list)


class SettingKey(Strict):
    """A key the source table takes besides the keys every source has."""

    type: Literal["string", "integer", "boolean", "strings"] = "string"
    description: str
    required: bool = True
    secret: bool = Field(default=False, description="Masked everywhere; never logged.")
    pattern: str | None = None
    default: str | int | bool | None = None


class Hooks(Strict):
    """Small Python functions for what a manifest cannot say, named as ``module:function``
    (kept rare). Each takes one payload (a dict) and returns the payload to read."""

    order: str | None = Field(default=None, description="Runs on each order payload first.")
    customer: str | None = Field(default=None, description="Runs on each customer payload first.")


class Manifest(Strict):
    """A REST order API, described."""

    kind: str = Field(description='The kind\'s name in configs (kind = "...").')
    #: one of the registry's kinds, checked when a config is read (``gateway.sources.manifest``);
    #: the published schema lists them (``registry.manifest_json_schema``)
    source_kind: str = Field(description="The sourceKind its objects report.")
    description: str = Field(description="One line: which API this is.")
    docs: str | None = Field(default=None, description="The vendor's API documentation.")
    settings: dict[str, SettingKey] = Field(default_factory=dict)
    headers: dict[str, str] = Field(
        default_factory=dict, description="Sent with every call (templates allowed)."
    )
    auth: Auth
    errors: ErrorBody = Field(default_factory=ErrorBody)
    order_path: str = Field(description="GET one order: '{id}' stands for its id.")
    customer_path: str = Field(description="GET one customer: '{id}' stands for its id.")
    list: Listing
    customer_search: CustomerSearch
    statuses: dict[str, OrderStatus] = Field(
        description="Backend status → unified status (case-insensitive; others UNKNOWN)."
    )
    order: OrderMap
    customer: CustomerMap
    hooks: Hooks = Field(default_factory=Hooks)
    # `list` is a field of this model: the builtin by its full name
    never_has: builtins.list[str] = Field(
        default_factory=builtins.list,
        description="Order fields (schema paths, e.g. price.tax) this API never has: null "
        "without a call.",
    )
    customer_never_has: builtins.list[str] = Field(
        default_factory=builtins.list,
        description="Customer fields this API never has: an order's customer answers them "
        "(null) without fetching the customer.",
    )
