"""LicenseSpring: orders with items, licences, customers, features and licence users."""

from gateway.sources.base import Adapter, Simulated
from gateway.sources.licensespring.client import LicenseSpringSource
from gateway.sources.licensespring.normalize import KIND
from gateway.sources.licensespring.settings import LicenseSpringSettings

ADAPTER = Adapter(
    KIND,
    LicenseSpringSettings,
    LicenseSpringSource,
    simulator=Simulated("gateway.sources.licensespring.simulator", "licensing"),
)
