"""The `[sources.<name>]` table of kind licensespring."""

from typing import Literal

from pydantic import Field

from gateway.sources.base import SourceSettings


class LicenseSpringSettings(SourceSettings):
    kind: Literal["licensespring"] = "licensespring"
    api_key: str = Field(
        description='the Management API key, sent as "Authorization: Api-Key <key>"'
    )

    def secrets(self) -> list[str]:
        return [self.api_key]
