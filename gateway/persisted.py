"""Persisted queries: Apollo's automatic persisted queries (APQ) and a manifest of
trusted documents.

A client sends ``extensions.persistedQuery = {"version": 1, "sha256Hash": "<hex>"}``
with no document; an unknown hash is PERSISTED_QUERY_NOT_FOUND (message
``PersistedQueryNotFound``, which Apollo Client also matches), and the client sends the
hash again with the document, which is checked against the hash, registered in the cache
store (so every replica sharing a Redis knows it) once it parses and validates, and run.

``[security] persisted_queries = "FILE"`` names a manifest ``{"<sha256>": "<document>"}``
(what GraphQL Code Generator's client preset and Relay's compiler write), each document
parsed and validated at start-up; its hashes answer APQ lookups too. With
``persisted_only`` nothing else runs: any other document or hash is
PERSISTED_QUERY_NOT_IN_LIST before it is parsed.

A document known by its hash is one :class:`Document` per process: its text is one
``str`` object (the text-keyed analysis cache hashes and compares it at no cost), parsed
once (the validation cache is keyed by the parsed object), and never hashed again.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from graphql import DocumentNode, GraphQLError, parse
from graphql.error import GraphQLSyntaxError

from gateway.cache.store import Store
from gateway.config import Settings
from gateway.errors import (
    PERSISTED_QUERY_NOT_FOUND,
    PERSISTED_QUERY_NOT_IN_LIST,
    BadUserInput,
    ConfigError,
    GatewayError,
)

#: Keys of registered documents in the cache store.
APQ_PREFIX = "apq:"
#: How long a registered document is kept. A hash always means the same text, so this
#: does not make anything fresh: it only bounds what the store holds (Redis drops the
#: documents of app builds nobody runs any more). A client that finds its document gone
#: sends it once more; a day makes that rare.
APQ_TTL_S = 86_400.0
#: Longer documents are run but not registered (their client sends them every time):
#: real operations are a few kilobytes, and the store is for answers too.
MAX_REGISTERED_CHARS = 100_000
#: Documents registered through APQ kept parsed in each process (by hash).
LOCAL_DOCUMENTS = 256
#: The request extension under which the service hands a persisted document to the
#: schema's preparation. Its value is a :class:`Document`, which no JSON can be.
MARK = "gateway.persisted"

#: A validation of a parsed document against the schema: its errors.
Check = Callable[[DocumentNode], list[GraphQLError]]

_HASH = re.compile(r"[0-9a-fA-F]{64}")
_CREDENTIAL_HEADERS = ("authorization", "x-api-key", "cookie")


class PersistedQueryNotFound(GatewayError):
    """An APQ hash this gateway does not know: the client should send the document."""

    code = PERSISTED_QUERY_NOT_FOUND


class PersistedQueryNotInList(GatewayError):
    """``persisted_only``: a document (or hash) that is not in the manifest."""

    code = PERSISTED_QUERY_NOT_IN_LIST


@dataclass(eq=False, slots=True)
class Document:
    """A document known by its sha256 (hex, lower case)."""

    sha256: str
    text: str
    node: DocumentNode | None = None

    def parsed(self) -> DocumentNode:
        """The parsed document, parsed once (a syntax error raises, and is not kept)."""
        if self.node is None:
            self.node = parse(self.text)
        return self.node


@dataclass(frozen=True, slots=True)
class Resolved:
    """What one request runs: a known document, and whether to register it once the
    document is accepted (it parsed and validated)."""

    document: Document
    register: bool


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def persisted_document(operation_extensions: Mapping[str, Any] | None) -> DocumentNode | None:
    """The parsed document of a request the service resolved by hash, else None."""
    found = operation_extensions.get(MARK) if operation_extensions else None
    return found.parsed() if isinstance(found, Document) else None


class PersistedQueries:
    """The manifest, the APQ documents registered in the cache store, and the policy."""

    def __init__(
        self,
        manifest: Mapping[str, Document] | None = None,
        *,
        only: bool = False,
        public_max_age_s: int = 0,
    ) -> None:
        self.manifest = dict(manifest or {})
        self.only = only
        #: ``Cache-Control: public, max-age`` of an anonymous GET answered without errors
        self.public_max_age_s = public_max_age_s
        self._by_text = {d.text: d for d in self.manifest.values()}
        self._recent: OrderedDict[str, Document] = OrderedDict()

    @classmethod
    def configured(cls, settings: Settings, check: Check) -> PersistedQueries:
        """From ``[security]``: the manifest loaded and each document checked by
        ``check`` (the requests' own validation); a ConfigError when it is not right."""
        security = settings.security
        path = security.persisted_queries
        # What a CDN may keep is what the gateway itself would reuse: the shortest
        # cache_ttl_s of the sources (none cached: no public caching).
        ttls = [int(s.cache_ttl_s) for s in settings.sources.values()]
        return cls(
            load_manifest(path, check) if path is not None else None,
            only=security.persisted_only,
            public_max_age_s=min(ttls, default=0),
        )

    async def resolve(
        self, query: str | None, extensions: Mapping[str, Any] | None, store: Store
    ) -> Resolved | None:
        """The document a request runs; None for a plain request that may run as sent.

        Raises BadUserInput for a malformed ``persistedQuery`` or a hash that is not the
        document's, PersistedQueryNotFound, or PersistedQueryNotInList.
        """
        sent = extensions.get("persistedQuery") if extensions else None
        if sent is None:
            if not self.only or query is None:
                return None
            known = self._by_text.get(query)
            if known is None:
                raise PersistedQueryNotInList(
                    "only the operations of the persisted query list may run here; "
                    "this document is not in it"
                )
            return Resolved(known, register=False)
        sha = _requested_hash(sent)
        if query == "":  # some clients send an empty query with the hash alone
            query = None
        known = self.manifest.get(sha)
        if known is None and self.only:
            raise PersistedQueryNotInList(
                f"the persisted query {sha} is not in the persisted query list"
            )
        if known is None:
            known = self._recent_get(sha)
        if query is None:
            if known is None:
                known = await self._fetch(sha, store)
            if known is None:
                # The message is what Apollo's clients match to send the document.
                raise PersistedQueryNotFound("PersistedQueryNotFound")
            return Resolved(known, register=False)
        if known is not None:
            # The known text hashes to sha: any other text cannot, no digest needed.
            if query != known.text:
                raise _mismatch()
            return Resolved(known, register=False)
        if digest(query) != sha:
            raise _mismatch()
        return Resolved(Document(sha, query), register=True)

    def cache_control(self, headers: Mapping[str, str], persisted: bool, clean: bool) -> str | None:
        """``Cache-Control`` for the answer to a GET. Shared caches (a CDN) may keep only
        the answer to a persisted query sent without any credential, and only without
        errors or warnings (a backend's failure is not pinned for max-age); an answer to
        a credential is ``private`` (a CDN keys by URL; X-API-Key is not Authorization,
        which HTTP caches already keep apart)."""
        if any(headers.get(h) for h in _CREDENTIAL_HEADERS):
            return "private, no-store"
        if persisted and clean and self.public_max_age_s > 0:
            return f"public, max-age={self.public_max_age_s}"
        return None

    async def register(self, document: Document, store: Store) -> None:
        """Store an accepted document for every replica, and keep it parsed here."""
        if len(document.text) > MAX_REGISTERED_CHARS:
            return
        await store.set(APQ_PREFIX + document.sha256, document.text.encode(), APQ_TTL_S)
        self._remember(document)

    async def _fetch(self, sha: str, store: Store) -> Document | None:
        data = await store.get(APQ_PREFIX + sha)
        if data is None:
            return None
        try:
            text = data.decode()
        except UnicodeDecodeError:
            return None
        # Checked once per process (not per request): the store is shared, and a hash
        # must never run another document.
        if digest(text) != sha:
            return None
        return self._remember(Document(sha, text))

    def _recent_get(self, sha: str) -> Document | None:
        found = self._recent.get(sha)
        if found is not None:
            self._recent.move_to_end(sha)
        return found

    def _remember(self, document: Document) -> Document:
        self._recent[document.sha256] = document
        self._recent.move_to_end(document.sha256)
        while len(self._recent) > LOCAL_DOCUMENTS:
            self._recent.popitem(last=False)
        return document


def document_accepted(errors: list[GraphQLError] | None) -> bool:
    """Whether a document parsed and validated: every error came from a field or from
    the gateway's own checks (scopes, limits), none from the parser or the validator."""
    return all(e.path or isinstance(e.original_error, GatewayError) for e in errors or ())


def _requested_hash(sent: Any) -> str:
    if not isinstance(sent, dict):
        raise BadUserInput(
            'extensions.persistedQuery must be an object: {"version": 1, "sha256Hash": "<hex>"}'
        )
    version = sent.get("version")
    if version != 1 or isinstance(version, bool):
        raise BadUserInput(
            f"extensions.persistedQuery.version {_shown(version)} is not supported (only 1)"
        )
    sha = sent.get("sha256Hash")
    if not isinstance(sha, str) or not _HASH.fullmatch(sha):
        raise BadUserInput(
            "extensions.persistedQuery.sha256Hash must be a sha256 digest: 64 hex characters"
        )
    return sha.lower()


def _shown(value: Any) -> str:
    text = orjson.dumps(value).decode() if value is None or isinstance(value, int | str) else ""
    return text[:20] if text else f"of type {type(value).__name__}"


def _mismatch() -> BadUserInput:
    return BadUserInput(
        "extensions.persistedQuery.sha256Hash is not the sha256 of the query; nothing was stored"
    )


def load_manifest(path: Path, check: Check) -> dict[str, Document]:
    """Read, verify and validate a manifest; a ConfigError (one line naming the file and
    the hash) for anything that is not right."""
    where = f"security.persisted_queries: {path}"
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read the manifest ({exc.strerror})") from None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"{where}: not JSON ({_one_line(str(exc))})") from None
    if not isinstance(data, dict):
        raise ConfigError(f'{where}: must be a JSON object {{"<sha256>": "<document>"}}')
    documents: dict[str, Document] = {}
    for key, text in data.items():
        at = f"{where}: {key[:80]}"
        if not _HASH.fullmatch(key):
            raise ConfigError(
                f"{at}: not a sha256 digest (64 hex characters; Relay: persistConfig "
                'algorithm "SHA256")'
            )
        if not isinstance(text, str):
            raise ConfigError(f"{at}: the document must be a string")
        sha = key.lower()
        if digest(text) != sha:
            raise ConfigError(f"{at}: not the sha256 of its document")
        try:
            node = parse(text)
        except GraphQLSyntaxError as exc:
            raise ConfigError(
                f"{at}: the document does not parse: {_one_line(exc.message)}"
            ) from None
        errors = check(node)
        if errors:
            raise ConfigError(
                f"{at}: the document does not validate: {_one_line(errors[0].message)}"
            )
        documents[sha] = Document(sha, text, node)
    return documents


def _one_line(text: str) -> str:
    return " ".join(text.split())
