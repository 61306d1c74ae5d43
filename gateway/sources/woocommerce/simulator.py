"""The WooCommerce simulator: the manifest's generic simulator over samples.json."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette

from gateway.sources.manifest import load
from gateway.sources.manifest import simulator as generic
from gateway.sources.manifest.simulator import ManifestData
from gateway.sources.woocommerce import MANIFEST, SAMPLES

#: as many orders as every other simulator's demo (the samples repeated, older each time)
DEFAULT_COUNT = 60


def sample_data(count: int = DEFAULT_COUNT) -> ManifestData:
    return generic.sample_data(load(str(MANIFEST)), generic.read_samples(SAMPLES), count)


def create_app(data: ManifestData) -> Starlette:
    return generic.create_app(load(str(MANIFEST)), data)


def demo_source(base_url: str) -> dict[str, Any]:
    return generic.demo_source(load(str(MANIFEST)), sample_data(0), base_url)
