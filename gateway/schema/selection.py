"""Which schema paths a query selects, so summaries are used when they suffice."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField

Selection = SelectedField | FragmentSpread | InlineFragment


def leaf_paths(selections: Sequence[Selection], prefix: str = "") -> set[str]:
    """Dotted paths of every leaf selected below ``selections`` (fragments flattened)."""
    paths: set[str] = set()
    for selection in selections:
        if isinstance(selection, SelectedField):
            if selection.name.startswith("__"):
                continue
            path = f"{prefix}{selection.name}"
            if selection.selections:
                # `{ __typename }` alone still selects the field itself.
                paths |= leaf_paths(selection.selections, path + ".") or {path}
            else:
                paths.add(path)
        else:
            paths |= leaf_paths(selection.selections, prefix)
    return paths


def covered(paths: Iterable[str], present: Iterable[str]) -> bool:
    """True when each path is, or lies below, one of the ``present`` paths."""
    known = tuple(present)
    return all(any(p == k or p.startswith(k + ".") for k in known) for p in paths)


def under(paths: Iterable[str], *prefixes: str) -> set[str]:
    """The paths below any of ``prefixes``, with the prefix removed."""
    found: set[str] = set()
    for path in paths:
        for prefix in prefixes:
            if path.startswith(prefix + "."):
                found.add(path[len(prefix) + 1 :])
    return found
