"""Checks shared by the source tables that take either a fixed token or OAuth keys."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic_core import PydanticCustomError


def one_way(fixed: tuple[str, object], oauth: Mapping[str, object]) -> None:
    """A fixed token or every OAuth key, not both and not neither; the error names the key.

    ``fixed`` is (key, value); ``oauth`` maps each OAuth key to its value (None: not given).
    """
    fixed_key, fixed_value = fixed
    given = [key for key, value in oauth.items() if value is not None]
    wanted = " and ".join(f"'{key}'" for key in oauth)
    if fixed_value is not None and given:
        raise PydanticCustomError(
            "credentials",
            "'{a}' and '{b}' are alternatives: give one of them",
            {"a": fixed_key, "b": given[0]},
        )
    if fixed_value is None and not given:
        raise PydanticCustomError(
            "credentials", "give '{a}', or {b}", {"a": fixed_key, "b": wanted}
        )
    missing = [key for key in oauth if key not in given]
    if given and missing:
        raise PydanticCustomError(
            "credentials",
            "'{a}' is missing: '{b}' needs it",
            {"a": missing[0], "b": given[0]},
        )
