"""What every simulator shares: a request log, exact JSON, deterministic sample people.

Simulators are test and demo doubles of the real APIs; they live beside the adapters but
share only this module, never each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.encoding import dumps

#: The simulators' fixed "now": sample data and default date windows are relative to it.
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


def iso_z(moment: datetime, *, millis: bool = True) -> str:
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds" if millis else "seconds")
    return text.replace("+00:00", "Z")


@dataclass(frozen=True)
class Recorded:
    """One request a simulator received."""

    mount: str
    method: str
    path: str
    params: tuple[tuple[str, str], ...]
    headers: Mapping[str, str]
    #: when it arrived (time.monotonic), for tests that order events against it
    at: float = field(default_factory=time.monotonic)

    def param(self, name: str) -> str | None:
        return next((v for k, v in self.params if k == name), None)

    def params_named(self, name: str) -> list[str]:
        return [v for k, v in self.params if k == name]


@dataclass
class RequestLog:
    """Every request the simulators saw, for tests to count and inspect."""

    entries: list[Recorded] = field(default_factory=list)
    #: false: only count (long benchmark runs would otherwise keep every request)
    keep: bool = True
    count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, entry: Recorded) -> None:
        with self._lock:
            self.count += 1
            if self.keep:
                self.entries.append(entry)

    def clear(self) -> None:
        with self._lock:
            self.entries.clear()
            self.count = 0

    def of(self, mount: str, path_prefix: str = "") -> list[Recorded]:
        with self._lock:
            return [e for e in self.entries if e.mount == mount and e.path.startswith(path_prefix)]


class Logged:
    """ASGI middleware that records each request under the simulator's mount name."""

    def __init__(self, app: ASGIApp, mount: str, log: RequestLog) -> None:
        self.app, self.mount, self.log = app, mount, log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            root, path = scope.get("root_path", ""), scope["path"]
            if root and path.startswith(root):
                path = path[len(root) :]
            query = scope.get("query_string", b"").decode("latin-1")
            headers = {
                k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]
            }
            self.log.add(
                Recorded(
                    mount=self.mount,
                    method=scope["method"],
                    path=path,
                    params=tuple(parse_qsl(query, keep_blank_values=True)),
                    headers=headers,
                )
            )
        await self.app(scope, receive, send)


@dataclass(frozen=True)
class Contract:
    """What a simulator's seed order is, as the gateway must show it, and how the backend
    refuses a wrong credential: the facts the contract suite every kind passes checks
    (tests/test_sources_contract.py). Each simulator module names its own (``CONTRACT``)."""

    #: the seed order's id, and an id that does not exist
    seed_id: str
    missing_id: str
    #: the settings key holding the credential, and the header the backend reads it from
    credential: str
    auth_header: str
    #: the backend's own error code for a wrong credential (None: it sends none)
    auth_backend_code: str | None
    #: the path of a customer GET, up to its id
    customer_path: str
    #: the seed order's number, status, sourceStatus, createdAt, total and line count
    number: str | None
    status: str
    source_status: str | None
    created_at: str
    total: tuple[str, str] | None
    line_count: int
    #: orders carry their customer's email and phone: nothing to fetch for them
    customers_embedded: bool = False


@dataclass(frozen=True)
class Person:
    first: str
    last: str
    email: str
    company: str
    phone: str
    street: str
    city: str
    postal_code: str
    country: str


_FIRST = [
    "Ava",
    "Liam",
    "Noah",
    "Emma",
    "Sara",
    "Omid",
    "Nora",
    "Ida",
    "Jonas",
    "Maja",
    "Elias",
    "Leah",
    "Ali",
    "Mina",
    "Kai",
    "Zoe",
]
_LAST = [
    "Berg",
    "Novak",
    "Rahimi",
    "Larsen",
    "Dubois",
    "Costa",
    "Meyer",
    "Haddad",
    "Olsen",
    "Tanaka",
    "Silva",
    "Moreau",
]
_COMPANY = ["Fjord Labs", "Azure Kite", "Persepolis Tech", "Nordlys AS", "Blue Quay", "Orchid GmbH"]
_CITY = [
    ("Oslo", "0150", "NO"),
    ("Berlin", "10115", "DE"),
    ("Tehran", "1416753955", "IR"),
    ("Austin", "78701", "US"),
    ("Lyon", "69001", "FR"),
    ("Kyoto", "600-8001", "JP"),
]


def _person(rng: random.Random, index: int, domain: str) -> Person:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    city, postal, country = rng.choice(_CITY)
    return Person(
        first=first,
        last=last,
        email=f"{first}.{last}{index}@{domain}".lower(),
        company=rng.choice(_COMPANY),
        phone=f"+47{rng.randrange(10**7, 10**8)}",
        street=f"{rng.choice(['Main', 'Harbour', 'Elm', 'Station'])} Street {rng.randint(1, 99)}",
        city=city,
        postal_code=postal,
        country=country,
    )


#: People who buy through several backends: the same email appears in every simulator.
SHARED_PEOPLE: tuple[Person, ...] = tuple(
    _person(random.Random(f"shared-{i}"), i, "example.com") for i in range(6)
)


def people(kind: str, count: int) -> list[Person]:
    """The shared people followed by ``count`` people only this simulator knows."""
    rng = random.Random(f"people-{kind}")
    return [*SHARED_PEOPLE, *(_person(rng, i, f"{kind}.example.net") for i in range(count))]


def created_times(kind: str, count: int) -> list[datetime]:
    """Deterministic creation times over the two years before NOW, with some exact ties."""
    rng = random.Random(f"times-{kind}")
    times = [NOW - timedelta(minutes=rng.randrange(0, 2 * 365 * 24 * 60)) for _ in range(count)]
    for i in range(0, count - 1, 9):  # ties, so ordering rules are exercised
        times[i + 1] = times[i]
    return times


def demo_rng(kind: str) -> random.Random:
    return random.Random(f"data-{kind}")


def drf_page(
    base_url: str, items: list[Any], *, limit: int, offset: int, **keep: Any
) -> dict[str, Any]:
    """A Django REST framework limit/offset page: ``{count, next, previous, results}``."""
    from urllib.parse import urlencode

    def link(at: int) -> str:
        return f"{base_url}?{urlencode({**keep, 'limit': limit, 'offset': at})}"

    end = offset + limit
    return {
        "count": len(items),
        "next": link(end) if end < len(items) else None,
        "previous": link(max(0, offset - limit)) if offset > 0 else None,
        "results": items[offset:end],
    }


def int_param(value: str | None, default: int, *, low: int = 0, high: int = 10**6) -> int:
    """A query parameter as an int; out-of-range or junk falls back like lenient APIs do."""
    try:
        return min(max(int(value), low), high) if value is not None else default
    except ValueError:
        return default


# -- fault injection ---------------------------------------------------------------------

FAULT_HEADER = "x-simulate-fault"


@dataclass
class Fault:
    """What a simulator does instead of answering normally.

    Spec: ``<kind>[=<value>][;times=N][;rate=P][;path=/prefix]`` with kind one of
    ``status=<code>``, ``hang``, ``garbage`` (HTML instead of JSON), ``latency=<ms>``,
    ``rate-limit=<retry-after seconds>`` (429). ``times`` limits it to the first N matching
    requests, ``rate`` to a share of them, ``path`` to paths under a prefix.
    """

    kind: str
    value: float = 0.0
    times: int | None = None
    rate: float = 1.0
    path: str = ""

    def applies(self, path: str, rng: random.Random) -> bool:
        if not path.startswith(self.path) or self.times == 0:
            return False
        if self.rate < 1.0 and rng.random() >= self.rate:
            return False
        if self.times is not None:
            self.times -= 1
        return True


FAULT_KINDS = ("status", "hang", "garbage", "latency", "rate-limit")


def parse_fault(spec: str) -> Fault:
    head, *options = [part.strip() for part in spec.split(";") if part.strip()]
    kind, _, value = head.partition("=")
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault '{kind}' (known: {', '.join(FAULT_KINDS)})")
    fault = Fault(kind=kind, value=float(value) if value else 0.0)
    if kind == "status" and not 400 <= fault.value < 600:
        raise ValueError("status= needs an HTTP error status")
    for option in options:
        key, _, raw = option.partition("=")
        if key == "times":
            fault.times = int(raw)
        elif key == "rate":
            fault.rate = float(raw)
        elif key == "path":
            fault.path = raw
        else:
            raise ValueError(f"unknown fault option '{key}'")
    return fault


@dataclass
class FaultBoard:
    """The faults of every simulator mount, set at start or by tests while running."""

    faults: dict[str, Fault] = field(default_factory=dict)
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    def set(self, mount: str, spec: str) -> None:
        self.faults[mount] = parse_fault(spec)

    def clear(self) -> None:
        self.faults.clear()

    def pick(self, mount: str, header: str | None, path: str) -> Fault | None:
        fault = parse_fault(header) if header else self.faults.get(mount)
        return fault if fault is not None and fault.applies(path, self.rng) else None


class Faulty:
    """ASGI middleware that plays the mount's fault, if any, instead of the simulator."""

    #: a hang ends when the client gives up, or after this long at most
    HANG_LIMIT_S = 120.0

    def __init__(self, app: ASGIApp, mount: str, board: FaultBoard) -> None:
        self.app, self.mount, self.board = app, mount, board

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = next(
            (
                v.decode("latin-1")
                for k, v in scope["headers"]
                if k.decode("latin-1").lower() == FAULT_HEADER
            ),
            None,
        )
        root, path = scope.get("root_path", ""), scope["path"]
        fault = self.board.pick(self.mount, header, path[len(root) :] if root else path)
        if fault is None:
            await self.app(scope, receive, send)
        elif fault.kind == "latency":
            await asyncio.sleep(fault.value / 1000)
            await self.app(scope, receive, send)
        elif fault.kind == "hang":
            await _until_disconnect(receive, self.HANG_LIMIT_S)
        elif fault.kind == "garbage":
            await Response(
                b"<html><body>502 Bad Gateway</body></html>", 200, media_type="text/html"
            )(scope, receive, send)
        elif fault.kind == "rate-limit":
            await JSON(
                {"statusCode": 429, "message": "Too many requests"},
                429,
                headers={"Retry-After": str(int(fault.value))},
            )(scope, receive, send)
        else:
            await JSON(
                {"message": "simulated failure", "detail": "simulated failure"}, int(fault.value)
            )(scope, receive, send)


async def _until_disconnect(receive: Receive, limit_s: float) -> None:
    async def wait() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(wait(), limit_s)


class SlidingWindow:
    """A simulator's own rate limit (HighLevel's 100 requests per 10 s)."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit, self.window_s = limit, window_s
        self._times: list[float] = []

    def admit(self) -> tuple[bool, int]:
        """Whether this request is within the limit, and how many remain."""
        now = time.monotonic()
        self._times = [t for t in self._times if t > now - self.window_s]
        if len(self._times) >= self.limit:
            return False, 0
        self._times.append(now)
        return True, self.limit - len(self._times)


# -- token endpoints ---------------------------------------------------------------------

#: How long the simulators' access tokens live unless a test says otherwise: short, so
#: `make run` renews them every couple of minutes.
TOKEN_LIFETIME_S = 120.0


@dataclass
class TokenIssuer:
    """A token endpoint's state (RFC 6749): one client, the access tokens it issued and
    when they expire, and for a rotating grant the one refresh token that is valid now
    (presenting it spends it and issues the next). Part of a simulator's Data, so a test's
    tokens are forgotten with its data."""

    client_id: str
    client_secret: str
    lifetime_s: float = TOKEN_LIFETIME_S
    #: the refresh token a rotating grant accepts now; None: client credentials only
    refresh_token: str | None = None
    #: access token → when it expires (time.monotonic())
    issued: dict[str, float] = field(default_factory=dict)
    #: tokens issued, and refusals by error code (for tests)
    grants: int = 0
    refusals: dict[str, int] = field(default_factory=dict)
    #: every refresh token presented, in order (for tests)
    presented: list[str] = field(default_factory=list)
    #: refresh tokens already spent (each one used once), and how often one was presented
    #: again (refused with invalid_grant, as HighLevel refuses it)
    spent: set[str] = field(default_factory=set)
    spent_presented: int = 0

    def accepts(self, token: str) -> bool:
        expires = self.issued.get(token)
        return expires is not None and time.monotonic() < expires

    def expire_all(self) -> None:
        """Every issued access token runs out now (as if the backend's clock jumped)."""
        self.issued = dict.fromkeys(self.issued, 0.0)

    def refuse(self, status: int, code: str, description: str) -> Response:
        self.refusals[code] = self.refusals.get(code, 0) + 1
        return JSON({"error": code, "error_description": description}, status)

    def client_refusal(self, form: Mapping[str, str]) -> Response | None:
        if form.get("client_id") != self.client_id:
            return self.refuse(400, "invalid_client", "invalid client_id parameter")
        if form.get("client_secret") != self.client_secret:
            return self.refuse(401, "invalid_client", "invalid client_secret parameter")
        return None

    def issue(self, **extra: Any) -> dict[str, Any]:
        token = f"sim-at-{secrets.token_urlsafe(18)}"
        self.issued[token] = time.monotonic() + self.lifetime_s
        self.grants += 1
        lifetime = int(self.lifetime_s) if self.lifetime_s == int(self.lifetime_s) else None
        return {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": lifetime if lifetime is not None else self.lifetime_s,
            **extra,
        }

    def rotate(self, presented: str | None) -> dict[str, Any] | Response:
        """A refresh grant: the presented token spent, the next one in the answer."""
        self.presented.append(presented or "")
        if not presented or presented != self.refresh_token:
            if presented in self.spent:
                self.spent_presented += 1
            return self.refuse(400, "invalid_grant", "Invalid grant: refresh token is invalid")
        self.spent.add(presented)
        self.refresh_token = f"sim-rt-{secrets.token_urlsafe(18)}"
        return self.issue(refresh_token=self.refresh_token)


async def read_form(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body (without python-multipart)."""
    return dict(parse_qsl((await request.body()).decode("latin-1"), keep_blank_values=True))
