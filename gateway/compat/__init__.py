"""Every private Strawberry, graphql-core and aiodataloader name the gateway relies on.

The gateway's fast paths (execution plans, a leaner ``Schema.execute`` and view ``run``,
a quicker DataLoader) lean on internals no release promises to keep. They are named
here, and only here: :mod:`gateway.compat.check` compares the installed versions with
the ones the fast paths were written against and checks each internal still has the
expected shape; :mod:`gateway.compat.private` reads the private attributes;
:mod:`gateway.compat.dataloader` holds the DataLoader built on aiodataloader's
internals. When a check fails the gateway runs on stock Strawberry execution (slower,
with the same answers) and logs why, once. ``make canary`` runs the differential and
contract tests against the newest releases (docs/compatibility.md).
"""

from gateway.compat.check import MODE_VARIABLE, TESTED, Status, fast_paths, status

__all__ = ["MODE_VARIABLE", "TESTED", "Status", "fast_paths", "status"]
