"""What graphql-cop (a public GraphQL security scanner) found, each made clean.

Alias overloading: every alias counts toward ``max_aliases``, ``__typename``'s too.
Directive overloading: ``max_directives`` refuses a document before validation, so 300
unknown directives are one error, not 101 validated ones; under the limit, identical
errors are one error with every location (tests/test_validation_errors.py). GraphQL
IDE: no GraphiQL page where introspection is off. GET for queries stays (the
GraphQL-over-HTTP spec).
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway.config import Settings, settings_from_mapping
from tests.conftest import SOURCE_OF, Simulators, codes, gateway_client, gql


def settings(sims: Simulators, *, introspection: bool, **limits: int) -> Settings:
    conf = sims.config()
    conf["security"]["introspection"] = introspection
    conf["security"]["limits"] = limits
    return settings_from_mapping(conf)


def too_complex(body: dict[str, Any]) -> dict[str, Any]:
    """The one error of a refused query, which has no data."""
    assert "data" not in body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    extensions: dict[str, Any] = error["extensions"]
    assert error["message"] == (
        f"query {extensions['limit']} is {extensions['actual']}, "
        f"over the limit of {extensions['max']}"
    )
    return extensions


def typenames(count: int) -> str:
    return "{ " + " ".join(f"a{i}: __typename" for i in range(count)) + " }"


@pytest.mark.parametrize("introspection", [False, True])
def test_every_alias_counts_toward_max_aliases(sims: Simulators, introspection: bool) -> None:
    with gateway_client(settings(sims, introspection=introspection)) as client:
        answered = gql(client, typenames(30))
        assert answered["data"] == {f"a{i}": "Query" for i in range(30)}
        for count in (31, 101, 500):  # graphql-cop sends 101 (and 500 also passed before)
            extensions = too_complex(gql(client, typenames(count)))
            assert extensions == {
                "code": "QUERY_TOO_COMPLEX", "limit": "aliases", "max": 30, "actual": count
            }  # fmt: skip
    assert sims.log.entries == []


def test_aliases_of_typename_and_fields_add_up(sims: Simulators) -> None:
    # 20 aliases of __typename, 5 of a field and 5 inside it: 30 pass, one more does not
    part = " ".join(f"t{i}: __typename" for i in range(20))
    fields = " ".join(f"s{i}: sources {{ n: name }}" for i in range(5))
    with gateway_client(settings(sims, introspection=False)) as client:
        body = gql(client, f"{{ {part} {fields} }}")
        assert body["data"]["t19"] == "Query" and body["data"]["s4"][0]["n"] == "licensing"
        extensions = too_complex(gql(client, f"{{ {part} {fields} x: __typename }}"))
        assert (extensions["limit"], extensions["actual"]) == ("aliases", 31)


def test_aliases_inside_introspection_count_too(sims: Simulators) -> None:
    inner = " ".join(f"q{i}: queryType {{ name }}" for i in range(31))
    with gateway_client(settings(sims, introspection=True)) as client:
        extensions = too_complex(gql(client, f"{{ __schema {{ {inner} }} }}"))
        assert (extensions["limit"], extensions["actual"]) == ("aliases", 31)
        body = gql(client, "{ __schema { q: queryType { n: name } } }")
        assert body["data"] == {"__schema": {"q": {"n": "Query"}}}


def unknown_directives(count: int) -> str:
    return "{ __typename " + " ".join(f"@d{i}" for i in range(count)) + " }"


def test_directives_over_the_limit_are_refused_before_validation(sims: Simulators) -> None:
    with gateway_client(settings(sims, introspection=False)) as client:
        # graphql-cop's 300 unknown directives: one refusal, not 101 validation errors
        assert too_complex(gql(client, unknown_directives(300))) == {
            "code": "QUERY_TOO_COMPLEX", "limit": "directives", "max": 50, "actual": 300
        }  # fmt: skip
        # 50, the default limit, pass; directives count wherever they stand
        fields = " ".join("__typename @include(if: true)" for _ in range(25))
        inner = " ".join("__typename @skip(if: false)" for _ in range(24))
        body = gql(client, f"{{ {fields} ...on Query @skip(if: false) {{ {inner} }} }}")
        assert body == {"data": {"__typename": "Query"}}
        fragment = "query Q @skip(if: false) { ...F @include(if: true) } "
        fragment += "fragment F on Query @d { " + " ".join(
            f"c{i}: __typename @include(if: true)" for i in range(48)
        )
        fragment += " }"
        assert too_complex(gql(client, fragment))["actual"] == 51
    # with the limit raised, the same 300 reach validation: graphql-core stops at 100
    # errors, of which a response lists 20 and says how many more there were at least
    with gateway_client(settings(sims, introspection=False, max_directives=400)) as client:
        body = gql(client, unknown_directives(300))
        assert [e["message"] for e in body["errors"]] == [
            *(f"Unknown directive '@d{i}'." for i in range(20)),
            "at least 80 more validation errors not listed: a response lists at most 20",
        ]
        assert set(codes(body)) == {"GRAPHQL_VALIDATION_FAILED"}
    assert sims.log.entries == []


def test_max_directives_is_read_from_the_config(sims: Simulators) -> None:
    s = settings(sims, introspection=False, max_directives=2)
    assert s.security.limits.max_directives == 2
    assert settings(sims, introspection=False).security.limits.max_directives == 50
    with gateway_client(s) as client:
        assert gql(client, "{ a: __typename @skip(if: false) @include(if: true) }")["data"]
        extensions = too_complex(gql(client, "{ __typename @a @b @c }"))
        assert (extensions["max"], extensions["actual"]) == (2, 3)


def test_no_graphiql_where_introspection_is_off_but_get_queries_stay(sims: Simulators) -> None:
    browser = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    with gateway_client(settings(sims, introspection=False)) as client:
        page = client.get("/graphql", headers=browser)
        assert page.status_code == 404
        assert page.headers["content-type"] == "application/json"
        (error,) = page.json()["errors"]
        assert error["extensions"] == {"code": "NOT_FOUND"}
        assert "introspection is off" in error["message"] and "GraphiQL" in error["message"]
        assert "<html" not in page.text.lower()
        # GET for queries stays, from a browser too
        r = client.get("/graphql", params={"query": "{ sources { name } }"}, headers=browser)
        assert r.status_code == 200 and len(r.json()["data"]["sources"]) == len(SOURCE_OF)
    with gateway_client(settings(sims, introspection=True)) as client:
        page = client.get("/graphql", headers=browser)
        assert page.status_code == 200 and "graphiql" in page.text.lower()
