"""LicenseSpring: orders with items, licences, customers, features and licence users."""

from gateway.domain import SourceKind
from gateway.sources.base import Adapter
from gateway.sources.licensespring.client import LicenseSpringSource
from gateway.sources.licensespring.settings import LicenseSpringSettings

ADAPTER = Adapter(SourceKind.LICENSESPRING, LicenseSpringSettings, LicenseSpringSource)
