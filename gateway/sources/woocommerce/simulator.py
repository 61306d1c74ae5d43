"""The WooCommerce simulator: the manifest's generic simulator over samples.json."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette

from gateway.simulation import Contract
from gateway.sources.manifest import load
from gateway.sources.manifest import simulator as generic
from gateway.sources.manifest.simulator import ManifestData
from gateway.sources.woocommerce import MANIFEST, SAMPLES

#: as many orders as every other simulator's demo (the samples repeated, older each time)
DEFAULT_COUNT = 60


def sample_data(count: int = DEFAULT_COUNT) -> ManifestData:
    return generic.sample_data(load(str(MANIFEST)), generic.read_samples(SAMPLES), count)


def listed(data: ManifestData) -> list[tuple[str, str]]:
    """(creation time as the backend writes it, the gateway's sourceId) of every order in
    ``data``: what the tests check the gateway's lists against."""
    return [(o["date_created_gmt"], str(o["id"])) for o in data.orders]


def create_app(data: ManifestData) -> Starlette:
    return generic.create_app(load(str(MANIFEST)), data)


def demo_source(base_url: str) -> dict[str, Any]:
    return generic.demo_source(load(str(MANIFEST)), sample_data(0), base_url)


#: the seed order and the refusal the contract suite checks (tests/test_sources_contract.py)
CONTRACT = Contract(
    seed_id="727",
    missing_id="1",
    credential="consumer_key",
    auth_header="authorization",
    auth_backend_code="woocommerce_rest_cannot_view",
    customer_path="/wp-json/wc/v3/customers/",
    number="727",
    status="PROCESSING",
    source_status="processing",
    created_at="2017-03-22T16:28:02.000000+00:00",
    total=("29.35", "USD"),
    line_count=2,
    customers_embedded=True,
)
