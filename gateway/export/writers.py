"""CSV and NDJSON: one page of row objects in, bytes out.

CSV follows RFC 4180 through Python's csv module (CRLF line ends, quotes doubled, a
field quoted when it holds a comma, quote or line break), UTF-8, a header row in
selection order. Values arrive as GraphQL serialized them (amounts as exact decimal
text, dates ISO-8601 UTC, enums by name); null is an empty field, booleans are
``true``/``false`` and JSON values (``raw``) or lists of scalars are JSON text.
NDJSON writes each row object as GraphQL shaped it, one per line.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from gateway.encoding import dumps
from gateway.export.flatten import Shape, rows

CSV = "csv"
NDJSON = "ndjson"
MEDIA_TYPES = {CSV: "text/csv; charset=utf-8", NDJSON: "application/x-ndjson"}
BOM = "\ufeff".encode()


class Writer(Protocol):
    media_type: str

    def head(self) -> bytes:
        """What goes before the first row."""
        ...

    def page(self, objects: Sequence[Mapping[str, Any]], room: int | None) -> tuple[bytes, int]:
        """The encoded rows of one page, at most ``room`` of them; and how many."""
        ...


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, dict | list):
        return dumps(value).decode()
    return value  # int (and Decimal, were a resolver to hand one through): exact text


class CsvWriter:
    media_type = MEDIA_TYPES[CSV]

    def __init__(self, shape: Shape, *, bom: bool = False) -> None:
        self.shape, self.bom = shape, bom
        self._buffer = io.StringIO()
        self._csv = csv.writer(self._buffer, lineterminator="\r\n")

    def _take(self) -> bytes:
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text.encode()

    def head(self) -> bytes:
        self._csv.writerow(self.shape.columns())
        return (BOM if self.bom else b"") + self._take()

    def page(self, objects: Sequence[Mapping[str, Any]], room: int | None) -> tuple[bytes, int]:
        count = 0
        for obj in objects:
            for row in rows(self.shape, obj):
                if room is not None and count >= room:
                    return self._take(), count
                self._csv.writerow([_cell(c) for c in row])
                count += 1
        return self._take(), count


class NdjsonWriter:
    media_type = MEDIA_TYPES[NDJSON]

    def head(self) -> bytes:
        return b""

    def page(self, objects: Sequence[Mapping[str, Any]], room: int | None) -> tuple[bytes, int]:
        chosen = objects if room is None else objects[:room]
        return b"".join(dumps(o) + b"\n" for o in chosen), len(chosen)
