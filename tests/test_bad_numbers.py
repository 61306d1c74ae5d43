"""Numbers a client sends, of any length: a clear 400 (or the usual validation error),
never an internal error. Python refuses to read an int of more than 4,300 digits; a
5,000-digit ``limit`` was once an uncaught ValueError and HTTP 500."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import Simulators, codes

HUGE = "9" * 5000
ORDERS = "{ orders { nodes { id } } }"
BY_FIRST = "query($n: Int) { orders(first: $n) { nodes { id } } }"


@pytest.mark.parametrize(
    "limit",
    [HUGE, "-" + HUGE, "0" * 5000, "2147483648", "-1", "0", "", "abc", "1e3", "0x10", " 7", "٣"],
)
def test_a_bad_limit_of_any_length_is_refused(
    sims: Simulators, client: TestClient, limit: str
) -> None:
    response = client.get("/export", params={"query": ORDERS, "limit": limit})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith("limit must be a positive whole number")
    assert len(error["message"]) < 120  # the value is quoted, not echoed whole
    assert sims.log.count == 0  # refused before any backend call


@pytest.mark.parametrize("limit", [2**31, -1, 0, 1.5, True, HUGE, [3], {"n": 3}])
def test_a_bad_posted_limit_is_refused(client: TestClient, limit: Any) -> None:
    response = client.post("/export", json={"query": ORDERS, "limit": limit})
    assert response.status_code == 400
    assert codes(response.json()) == ["BAD_USER_INPUT"]


def test_good_limits_still_count_rows(client: TestClient) -> None:
    whole = client.post("/export", json={"query": ORDERS}).text
    for given, rows in (("007", 7), (3, 3), ("2147483647", len(whole.splitlines()) - 1)):
        response = client.post("/export", json={"query": ORDERS, "limit": given})
        assert response.status_code == 200
        assert response.text.splitlines() == whole.splitlines()[: rows + 1]


def test_other_numbers_of_an_export(sims: Simulators, client: TestClient) -> None:
    raw = f'{{"query": "{ORDERS}", "limit": {HUGE}}}'
    posted = client.post("/export", content=raw, headers={"content-type": "application/json"})
    assert posted.status_code == 400
    assert codes(posted.json()) == ["BAD_USER_INPUT"]
    variables = client.get("/export", params={"query": BY_FIRST, "variables": f'{{"n": {HUGE}}}'})
    assert variables.status_code == 400
    assert codes(variables.json()) == ["BAD_USER_INPUT"]
    literal = client.get(
        "/export", params={"query": f"{{ orders(first: {HUGE}) {{ nodes {{ id }} }} }}"}
    )
    assert literal.status_code == 400
    error = literal.json()["errors"][0]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"  # as a 50-digit Int is
    assert "Int" in error["message"] and "sys." not in error["message"]
    assert sims.log.count == 0


def test_graphql_input_python_will_not_read(sims: Simulators, client: TestClient) -> None:
    big_variable = {"query": BY_FIRST, "variables": f'{{"n": {HUGE}}}'}
    for response in (
        client.get("/graphql", params=big_variable),
        client.post(
            "/graphql",
            content=json.dumps({"query": BY_FIRST})[:-1] + f', "variables": {{"n": {HUGE}}}}}',
            headers={"content-type": "application/json"},
        ),
        client.get(
            "/graphql",
            params={
                "query": ORDERS,
                "extensions": f'{{"persistedQuery": {{"version": {HUGE}, "sha256Hash": "ab"}}}}',
            },
        ),
    ):
        assert response.status_code == 400
        assert response.json()["errors"][0] == {
            "message": "a number in the request has too many digits",
            "extensions": {"code": "BAD_USER_INPUT"},
        }
    not_utf8 = client.post(
        "/graphql",
        content=b'{"query": "{ __typename \xff }"}',
        headers={"content-type": "application/json"},
    )
    assert not_utf8.status_code == 400
    assert not_utf8.json()["errors"][0]["message"] == "the request body is not UTF-8 text"
    nested = '{"query": "{ __typename }", "variables": {"a": ' + "[" * 50000 + "]" * 50000 + "}}"
    deep = client.post("/graphql", content=nested, headers={"content-type": "application/json"})
    assert deep.status_code == 400
    assert codes(deep.json()) == ["BAD_USER_INPUT"]
    # a document's literals are validated: 5,000 digits as 50 are
    for digits in (50, 5000):
        literal = f"{{ orders(first: {'9' * digits}) {{ nodes {{ id }} }} }}"
        body = client.post("/graphql", json={"query": literal}).json()
        assert codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
        assert "Int" in body["errors"][0]["message"]
        assert "sys." not in body["errors"][0]["message"]
    length = client.post(
        "/graphql",
        content=b'{"query": "{ __typename }"}',
        headers={"content-type": "application/json", "content-length": HUGE},
    )
    assert length.status_code == 413
    assert codes(length.json()) == ["BAD_USER_INPUT"]
    assert sims.log.count == 0
