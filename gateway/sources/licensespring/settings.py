"""The `[sources.<name>]` table of kind licensespring."""

from typing import Literal

from gateway.sources.base import SourceSettings


class LicenseSpringSettings(SourceSettings):
    kind: Literal["licensespring"] = "licensespring"
    api_key: str

    def secrets(self) -> list[str]:
        return [self.api_key]
