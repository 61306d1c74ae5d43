"""What Redis holds is sealed, and HighLevel's rotated refresh token outlives Redis: a real
redis-server (stopped by PID and started again empty on the same port), the simulators over
real HTTP, and the gateway through Starlette's TestClient."""

from __future__ import annotations

import base64
import hashlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from starlette.testclient import TestClient

from gateway import ids
from gateway.config import Settings, settings_from_mapping
from gateway.credentials.token_file import Stored, origin_of
from gateway.errors import ConfigError
from gateway.simulation import TokenIssuer
from gateway.sources.adobe_vip import simulator as adobe_sim
from gateway.sources.highlevel import simulator as hl_sim
from gateway.state.sealing import Sealer, key_id, new_key
from tests.conftest import SOURCE_OF, Simulators, codes, gateway_client, gql
from tests.redis_server import CACHE_KEY, RedisServer, redis_cache

HL_ORDER = "653f5e0cde5a1314e62a837c"
HL_QUERY = f'{{ orderBySourceId(source: "hl-main", sourceId: "{HL_ORDER}") {{ sourceId }} }}'
HL_ANSWER = {"orderBySourceId": {"sourceId": HL_ORDER}}

#: Keys of the simulators' payloads that hold a person's data or a secret.
PERSONAL = {
    "email", "true_email", "customer_email", "default",
    "first_name", "last_name", "firstname", "lastname", "firstName", "lastName",
    "full_name", "contactName", "billing_first_name", "billing_last_name", "username",
    "phone", "phone_number", "phoneNumber", "mobile_number", "billing_mobile_number",
    "address", "address1", "address_1", "addressLine1", "street", "billing_address",
    "initial_password", "national_code", "billing_national_code", "birth_date",
    "license_key",
}  # fmt: skip


def renewing_config(sims: Simulators, redis_url: str, **cache: str) -> dict[str, Any]:
    """All five demo sources over Redis, answers cached 30 s; adobe and hl-main renew their
    tokens at the simulators' token endpoints (hl-main's refresh token rotating)."""
    overrides = {name: {"cache_ttl_s": 30} for name in SOURCE_OF.values()}
    conf = sims.config(overrides=overrides)
    sources = conf["sources"]
    sources["adobe"] = {
        **adobe_sim.demo_source(f"{sims.base_url}/adobe_vip", renewing=True),
        "cache_ttl_s": 30,
    }
    sources["hl-main"] = {
        **hl_sim.demo_source(f"{sims.base_url}/highlevel", renewing=True),
        "cache_ttl_s": 30,
        **({"token_store": cache.pop("token_store")} if "token_store" in cache else {}),
    }
    conf["cache"] = redis_cache(redis_url, **cache)
    return conf


def settings_of(sims: Simulators, redis_url: str, **cache: str) -> Settings:
    return settings_from_mapping(renewing_config(sims, redis_url, **cache))


def hl_tokens(sims: Simulators) -> TokenIssuer:
    tokens: TokenIssuer = sims.set.data["highlevel"].tokens
    return tokens


def hl_calls(sims: Simulators) -> int:
    return len(sims.log.of("highlevel", "/payments/"))


def hl_order(sims: Simulators, n: int) -> tuple[str, dict[str, Any]]:
    """A query of HighLevel's ``n``-th order (a backend call unless cached), its answer."""
    sid = sims.set.data["highlevel"].orders[n]["_id"]
    query = f'{{ orderBySourceId(source: "hl-main", sourceId: "{sid}") {{ sourceId }} }}'
    return query, {"orderBySourceId": {"sourceId": sid}}


def apq(document: str) -> dict[str, Any]:
    sha = hashlib.sha256(document.encode()).hexdigest()
    return {"persistedQuery": {"version": 1, "sha256Hash": sha}}


def restart_empty(redis_server: RedisServer, *clients: TestClient) -> None:
    """Redis stopped by its PID and a new, empty one started on the same port; then each
    gateway is waited for (bounded) until it uses Redis again (its /readyz pings it)."""
    redis_server.stop()
    redis_server.start()
    assert redis_server.command("DBSIZE").strip() == b":0"
    for client in clients:
        deadline = time.monotonic() + 15
        while not client.get("/readyz").json()["cache"]["healthy"]:
            assert time.monotonic() < deadline, "the gateway did not use Redis again"
            time.sleep(0.05)


@pytest.fixture
def direct(redis_url: str) -> Iterator[Any]:
    # Any: redis-py types replies as bytes | str whatever decode_responses says
    with redis.Redis.from_url(redis_url) as client:
        yield client


# -- the sealing itself ----------------------------------------------------------------


def test_a_sealed_value_opens_under_its_name_with_its_key_or_the_previous_one() -> None:
    old, new, other = (base64.b64decode(new_key()) for _ in range(3))
    sealed = Sealer(old).seal("gw:apq:abc", b"alice@example.com")
    assert b"alice" not in sealed and sealed.startswith(b"GWS1" + key_id(old))
    assert Sealer(old).open("gw:apq:abc", sealed) == b"alice@example.com"
    assert Sealer(new, previous=old).open("gw:apq:abc", sealed) == b"alice@example.com"
    assert Sealer(new, previous=old).seal("k", b"v")[4:12] == key_id(new)  # seals with new
    assert Sealer(new).open("gw:apq:abc", sealed) is None  # a key it does not have
    assert Sealer(other, previous=new).open("gw:apq:abc", sealed) is None
    assert Sealer(old).open("gw:apq:abd", sealed) is None  # copied under another name
    changed = sealed[:-1] + bytes([sealed[-1] ^ 1])
    assert Sealer(old).open("gw:apq:abc", changed) is None
    assert Sealer(old).open("gw:apq:abc", b'{"clear": "text"}') is None
    assert Sealer(old).open("gw:apq:abc", b"GWS1") is None
    assert Sealer(old).seal("k", b"v") != Sealer(old).seal("k", b"v")  # a nonce per value
    assert repr(Sealer(new, previous=old)) == "Sealer(keys=2)"  # never a key in a traceback


@pytest.mark.parametrize(
    ("cache", "message"),
    [
        (
            {"backend": "redis", "url": "redis://127.0.0.1:1/0"},
            'cache: Value error, backend = "redis" needs encryption_key (32 random bytes',
        ),
        (
            {"backend": "redis", "url": "redis://x", "encryption_key": "not base64!"},
            "cache.encryption_key: Value error, must be base64",
        ),
        (
            {"backend": "redis", "url": "redis://x", "encryption_key": "c2hvcnQ="},
            "cache.encryption_key: Value error, must be 32 bytes once decoded, not 5",
        ),
        (
            {
                "backend": "redis",
                "url": "redis://x",
                "encryption_key": base64.b64encode(bytes(33)).decode(),
            },
            "cache.encryption_key: Value error, must be 32 bytes once decoded, not 33",
        ),
        (
            redis_cache("redis://x", encryption_key_previous="x"),
            "cache.encryption_key_previous: Value error, must be base64",
        ),
    ],
)
def test_redis_without_a_right_key_is_a_start_up_error_naming_it(
    cache: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        settings_from_mapping({"cache": cache})
    assert str(info.value).startswith(message)
    assert CACHE_KEY not in str(info.value)


def test_the_keys_are_secrets_masked_like_the_others(sims: Simulators, redis_url: str) -> None:
    previous = new_key()
    settings = settings_of(sims, redis_url, encryption_key_previous=previous)
    assert {CACHE_KEY, previous} <= set(settings.secrets())
    memory = settings_from_mapping({"cache": {"encryption_key": new_key()}})
    assert memory.cache.backend == "memory"  # a key is allowed, and unused, without Redis


# -- nothing personal and no credential in clear text in Redis -------------------------


def personal_values(sims: Simulators) -> set[str]:
    found: set[str] = set()

    def walk(value: Any, key: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, str) and key in PERSONAL and len(value) >= 6:
            found.add(value)

    for data in sims.set.data.values():
        for name, value in vars(data).items():
            if name != "tokens":
                walk(value, name)
    return found


def token_values(sims: Simulators, settings: Settings) -> set[str]:
    found = {s for s in settings.secrets() if len(s) >= 6}
    for data in sims.set.data.values():
        tokens: TokenIssuer | None = getattr(data, "tokens", None)
        if tokens is not None:
            found |= set(tokens.issued) | tokens.spent
            found |= {tokens.refresh_token} if tokens.refresh_token else set()
    return found


def redis_contents(direct: Any) -> dict[bytes, list[bytes]]:
    """Every key in Redis with what it holds, whatever its type."""
    contents: dict[bytes, list[bytes]] = {}
    for key in direct.scan_iter(count=1000):
        kind = direct.type(key)
        if kind == b"string":
            contents[key] = [direct.get(key)]
        elif kind == b"hash":
            contents[key] = [b for kv in direct.hgetall(key).items() for b in kv]
        elif kind == b"zset":
            contents[key] = [m for m, _ in direct.zrange(key, 0, -1, withscores=True)]
        elif kind == b"list":
            contents[key] = direct.lrange(key, 0, -1)
        elif kind == b"set":
            contents[key] = list(direct.smembers(key))
        else:
            raise AssertionError(f"a key of type {kind!r}: {key!r}")
    return contents


def test_no_personal_value_and_no_token_in_clear_text_anywhere_in_redis(
    sims: Simulators, redis_url: str, direct: Any
) -> None:
    settings = settings_of(sims, redis_url)
    emails = {
        "licensespring": next(
            c["email"]
            for c in sims.set.data["licensespring"].customers.values()
            if "@" in c["email"] and "\xa0" not in c["email"]
        ),
        "highlevel": next(iter(sims.set.data["highlevel"].contacts.values()))["email"],
        "hamgam": "sara.ahmadi@example.ir",
    }
    listing = (
        "{ orders(first: 40) { nodes { source sourceId raw customer { email firstName "
        "lastName phone address { city postalCode } } } } }"
    )
    singles = "{ " + " ".join(
        f'o{n}: orderBySourceId(source: "{name}", sourceId: "{sid}") {{ number raw '
        f"customer {{ email phone }} }}"
        for n, (name, sid) in enumerate(
            [
                ("hl-main", HL_ORDER),
                ("eu-shop", "123"),
                ("adobe", "9876543210/0123456789"),
                ("woo", "728"),  # a guest: the billing details are all there is
            ]
        )
    )
    by_email = " ".join(
        f'c{n}: customersByEmail(email: "{email}") {{ source email phone }}'
        for n, email in enumerate(emails.values())
    )
    document = "{ " + by_email + " }"
    with gateway_client(settings) as client:
        listed = gql(client, listing)
        assert "errors" not in listed
        sources = {n["source"] for n in listed["data"]["orders"]["nodes"]}
        # every source answered (WooCommerce's samples are older than these 40: asked below)
        assert sources == set(SOURCE_OF.values()) - {"woo"}
        assert "errors" not in gql(client, singles + " }")
        # ids a client typed: what the backend answers for them is cached too (a NOT_FOUND
        # for cache_ttl_s), under a key that must not spell them out
        typed = sims.set.data["hamgam"].customers["45"]["national_code"]
        for source in ("eu-shop", "hl-main"):
            asked = f'orderBySourceId(source: "{source}", sourceId: "{typed}")'
            assert gql(client, f"{{ {asked} {{ number }} }}")["data"] == {"orderBySourceId": None}
        customer = ids.encode("Customer", "hl-main", typed)
        assert gql(client, f'{{ customer(id: "{customer}") {{ email }} }}')["data"] == {
            "customer": None
        }
        registered = client.post(
            "/graphql", json={"query": document, "extensions": apq(document)}
        ).json()
        assert "errors" not in registered
        for n, email in enumerate(emails.values()):
            assert {c["email"].lower() for c in registered["data"][f"c{n}"]} == {email.lower()}
        by_hash = client.post("/graphql", json={"extensions": apq(document)}).json()
        assert by_hash == registered
        hl_tokens(sims).expire_all()  # a rotation: the refresh token in Redis is a new one
        fetched = {e.path for e in sims.log.of("highlevel", "/payments/orders/")}
        n = next(
            n
            for n, o in enumerate(sims.set.data["highlevel"].orders)
            if f"/payments/orders/{o['_id']}" not in fetched
        )
        query, answer = hl_order(sims, n)  # not cached: a backend call, a 401, a renewal
        assert gql(client, query)["data"] == answer
        assert len(hl_tokens(sims).spent) == 2

    personal = personal_values(sims)
    tokens = token_values(sims, settings)
    assert len(personal) > 100 and len(tokens) >= 6
    contents = redis_contents(direct)
    sealer = Sealer.configured(CACHE_KEY)
    opened: list[bytes] = []
    kinds = {"cache": 0, "apq": 0, "cred": 0}
    for key, values in contents.items():
        name = key.decode()
        clear = [v for v in personal | tokens if v.encode() in key]
        assert not clear, (name, clear)
        for value in values:
            clear = [v for v in personal | tokens if v.encode() in value]
            assert not clear, (name, clear)
        if direct.type(key) == b"string" and name.split(":")[1] != "interactive":
            # (a budget's "interactive traffic seen" mark holds a time, nothing else)
            (value,) = values
            plain = sealer.open(name, value)
            assert plain is not None, name  # every value Redis holds as a string is sealed
            opened.append(plain)
            part = name.split(":")[1]
            kinds["apq" if part == "apq" else "cred" if part == "cred" else "cache"] += 1
    assert kinds["cache"] >= 10 and kinds["apq"] == 1 and kinds["cred"] >= 3, kinds
    # ...and what was sealed is what the scan looked for: the backends' personal data, the
    # APQ document with its emails, the tokens
    everything = b"\n".join(opened)
    for value in (*emails.values(), "0012345678", "initial_password", document):
        assert value.encode() in everything, value
    assert (hl_tokens(sims).refresh_token or "?").encode() in everything


# -- rotating the key, and a wrong key --------------------------------------------------


def test_values_sealed_with_the_previous_key_are_read_after_rotating(
    sims: Simulators, redis_url: str
) -> None:
    tokens = hl_tokens(sims)
    old, new = CACHE_KEY, new_key()
    document = HL_QUERY
    with gateway_client(settings_of(sims, redis_url)) as before:
        sent = {"query": document, "extensions": apq(document)}
        assert before.post("/graphql", json=sent).json() == {"data": HL_ANSWER}
        rotated = tokens.refresh_token
    assert (hl_calls(sims), tokens.grants) == (1, 1)
    rotating = settings_of(sims, redis_url, encryption_key=new, encryption_key_previous=old)
    with gateway_client(rotating) as client:
        # the document and the cached answer, sealed with the old key: no backend call
        by_hash = {"extensions": apq(document)}
        assert client.post("/graphql", json=by_hash).json() == {"data": HL_ANSWER}
        assert hl_calls(sims) == 1
        # the access token the old key sealed is used as it is: no token endpoint call
        query, answer = hl_order(sims, 1)
        assert gql(client, query)["data"] == answer
        assert (hl_calls(sims), tokens.grants) == (2, 1)
        # and the refresh token it sealed is the one the next renewal presents
        tokens.expire_all()
        query, answer = hl_order(sims, 2)
        assert gql(client, query)["data"] == answer
        assert tokens.presented == [hl_sim.DEMO_REFRESH_TOKEN, rotated]
    # The old key dropped: what only it sealed is a miss (an APQ client sends its document
    # again); the tokens were sealed anew with the new key when they were renewed.
    with gateway_client(settings_of(sims, redis_url, encryption_key=new)) as client:
        assert codes(client.post("/graphql", json=by_hash).json()) == ["PERSISTED_QUERY_NOT_FOUND"]
        grants = tokens.grants
        query, answer = hl_order(sims, 3)
        assert gql(client, query)["data"] == answer
        assert tokens.grants == grants  # the access token, sealed with the new key
        tokens.expire_all()
        query, answer = hl_order(sims, 4)
        assert gql(client, query)["data"] == answer
    assert tokens.refusals == {} and tokens.spent_presented == 0
    assert len(tokens.presented) == len(set(tokens.presented)) == 3


def test_a_value_sealed_with_another_key_is_a_miss_and_the_backend_is_asked_again(
    sims: Simulators, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    ours = gateway_client(settings_of(sims, redis_url))
    theirs = gateway_client(settings_of(sims, redis_url, encryption_key=new_key()))
    query = '{ orderBySourceId(source: "eu-shop", sourceId: "123") { number customer { email } } }'

    def hamgam() -> int:
        return len(sims.log.of("hamgam", "/api/"))

    with ours, theirs, caplog.at_level(logging.WARNING, "gateway.cache"):
        first = gql(ours, query)
        assert first["data"]["orderBySourceId"]["number"] == "HG-2024-000123"
        calls = hamgam()
        assert gql(ours, query) == first and hamgam() == calls  # a hit for the same key
        assert gql(theirs, query) == first  # never garbage, never an error...
        assert hamgam() == 2 * calls  # ...a miss: the backend was asked again
        assert gql(ours, query) == first and hamgam() == 3 * calls  # theirs replaced ours
    said = [r.getMessage() for r in caplog.records if "does not open" in r.getMessage()]
    assert len(said) == 2  # once per gateway, not once per read
    assert all(CACHE_KEY not in r.getMessage() for r in caplog.records)


def test_a_refresh_token_sealed_with_another_key_is_not_guessed_at(
    sims: Simulators, redis_url: str
) -> None:
    with gateway_client(settings_of(sims, redis_url)) as client:
        assert gql(client, HL_QUERY)["data"] == HL_ANSWER
    other = settings_of(sims, redis_url, encryption_key=new_key())
    with gateway_client(other) as client:
        body = gql(client, HL_QUERY)
    assert body["data"] == {"orderBySourceId": None}
    assert codes(body) == ["BACKEND_UNAVAILABLE"]
    assert "sealed with another encryption key" in body["errors"][0]["message"]
    # the configured (spent) refresh token was not presented in its place
    assert hl_tokens(sims).presented == [hl_sim.DEMO_REFRESH_TOKEN]


# -- the rotated refresh token outlives Redis --------------------------------------------


def test_redis_restarted_empty_under_rotating_credentials_presents_no_spent_token(
    sims: Simulators, redis_server: RedisServer, redis_url: str, direct: Any
) -> None:
    tokens = hl_tokens(sims)
    settings = settings_of(sims, redis_url)
    orders = iter(range(40))
    with gateway_client(settings) as one, gateway_client(settings) as two:
        assert gql(one, HL_QUERY)["data"] == HL_ANSWER
        tokens.expire_all()  # renewed by one replica, taken up by the other
        for client in (one, two):
            query, answer = hl_order(sims, next(orders))
            assert gql(client, query)["data"] == answer
        assert tokens.grants == 2 and len(tokens.spent) == 2
        for _ in range(3):
            restart_empty(redis_server, one, two)
            tokens.expire_all()  # the next queries need a renewal, with Redis empty
            for client in (two, one, two, one):
                query, answer = hl_order(sims, next(orders))
                got = gql(client, query)
                assert got["data"] == answer, got
        assert tokens.grants == 5  # one renewal per restart, shared by both replicas
        (key,) = direct.keys("gw:cred:hl-main:*refresh")
        opened = Sealer.configured(CACHE_KEY).open(key.decode(), direct.get(key))
        stored = Stored.decode(opened or b"")
        assert stored.refresh_token == tokens.refresh_token and stored.generation == 5
        assert direct.pttl(key) > 364 * 86_400_000  # expires after a year without use
    assert tokens.spent_presented == 0 and tokens.refusals == {}
    assert len(tokens.presented) == len(set(tokens.presented)) == 5


def test_redis_holding_an_older_refresh_token_gets_the_newest_back(
    sims: Simulators, redis_server: RedisServer, redis_url: str, direct: Any
) -> None:
    # as a Redis restored from an old dump would: a record one rotation behind
    tokens = hl_tokens(sims)
    with gateway_client(settings_of(sims, redis_url)) as client:
        assert gql(client, HL_QUERY)["data"] == HL_ANSWER
        first = tokens.refresh_token
        tokens.expire_all()
        query, answer = hl_order(sims, 1)
        assert gql(client, query)["data"] == answer
        newest = tokens.refresh_token
        (key,) = direct.keys("gw:cred:hl-main:*refresh")
        old = Stored(origin_of(hl_sim.DEMO_REFRESH_TOKEN), first or "", 1)
        restart_empty(redis_server, client)
        direct.set(key, Sealer.configured(CACHE_KEY).seal(key.decode(), old.encode()))
        tokens.expire_all()
        query, answer = hl_order(sims, 2)
        assert gql(client, query)["data"] == answer
    assert tokens.presented == [hl_sim.DEMO_REFRESH_TOKEN, first, newest]
    assert tokens.spent_presented == 0 and tokens.refusals == {}


def test_a_restarted_replica_and_an_empty_redis_go_on_from_its_token_store(
    sims: Simulators, redis_server: RedisServer, redis_url: str, tmp_path: Path
) -> None:
    tokens = hl_tokens(sims)
    store = tmp_path / "tokens"
    settings = settings_of(sims, redis_url, token_store=str(store))
    with gateway_client(settings) as client:
        assert gql(client, HL_QUERY)["data"] == HL_ANSWER
        tokens.expire_all()
        query, answer = hl_order(sims, 1)
        assert gql(client, query)["data"] == answer
    assert store.stat().st_mode & 0o777 == 0o600
    redis_server.stop()  # both gone at once: only the file knows the newest token
    redis_server.start()
    with gateway_client(settings) as client:
        query, answer = hl_order(sims, 2)
        assert gql(client, query)["data"] == answer
    assert tokens.spent_presented == 0 and tokens.refusals == {}
    assert tokens.grants == 3 and len(set(tokens.presented)) == 3


def test_the_simulator_refuses_a_spent_refresh_token_as_highlevel_does(sims: Simulators) -> None:
    import httpx

    form = {
        "client_id": hl_sim.DEMO_OAUTH_CLIENT_ID,
        "client_secret": hl_sim.DEMO_OAUTH_CLIENT_SECRET,
        "grant_type": "refresh_token",
        "refresh_token": hl_sim.DEMO_REFRESH_TOKEN,
        "user_type": "Location",
    }
    url = f"{sims.base_url}/highlevel/oauth/token"
    first = httpx.post(url, data=form)
    assert first.status_code == 200 and first.json()["refresh_token"] != hl_sim.DEMO_REFRESH_TOKEN
    again = httpx.post(url, data=form)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert hl_tokens(sims).spent_presented == 1
    unknown = httpx.post(url, data={**form, "refresh_token": "never-issued"})
    assert unknown.status_code == 400 and hl_tokens(sims).spent_presented == 1
