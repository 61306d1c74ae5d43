"""WooCommerce (REST API v3): the first kind described by a manifest, not Python.

manifest.toml says everything the adapter does; samples.json holds payloads in the
shapes of WooCommerce's documentation, which the simulator serves.
"""

from pathlib import Path

from gateway.sources.base import Simulated
from gateway.sources.manifest import adapter_of

HERE = Path(__file__).parent
MANIFEST = HERE / "manifest.toml"
SAMPLES = HERE / "samples.json"

ADAPTER = adapter_of(
    MANIFEST,
    "WooCommerce (REST API v3): a shop's orders; a kind described by a manifest shipped "
    "with the gateway.",
    Simulated("gateway.sources.woocommerce.simulator", "woo"),
)
