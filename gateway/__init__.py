"""One normalized GraphQL graph over several order backends."""

__version__ = "0.1.0"
