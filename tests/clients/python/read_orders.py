"""What a Python BI script does with gql against the gateway; one JSON report on stdout.

    python read_orders.py http://127.0.0.1:8000/graphql SOURCE SOURCE_ID PAGE_SIZE

gql fetches the schema by introspection (graphql-core 3.2 builds it), validates every
document against it before sending, runs a query with variables, then pages through one
source's orders with cursors. Run by tests/test_clients.py with .venv-clients' python.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import graphql
from gql import Client, gql
from gql.transport.requests import RequestsHTTPTransport

ONE_ORDER = gql(
    """
    query One($source: String!, $sourceId: String!) {
      orderBySourceId(source: $source, sourceId: $sourceId) {
        id number status sourceStatus
        price { total { amount currency } }
        customer { email }
        lineItems { productName quantity }
      }
    }
    """
)
PAGE = gql(
    """
    query Page($filter: OrderFilter, $first: Int, $after: String) {
      orders(filter: $filter, first: $first, after: $after) {
        edges { cursor node { sourceId createdAt } }
        pageInfo { hasNextPage endCursor }
      }
    }
    """
)
MISSPELT = gql("{ orders { nodes { custome { email } } } }")


def main(url: str, source: str, source_id: str, page_size: int) -> dict[str, Any]:
    transport = RequestsHTTPTransport(url=url, timeout=30, retries=0)
    client = Client(
        transport=transport,
        fetch_schema_from_transport=True,
        # all graphql-core 3.2 can ask for, so the schema it builds is the whole one
        introspection_args={"specified_by_url": True, "directive_is_repeatable": True},
    )
    report: dict[str, Any] = {"graphqlCore": graphql.__version__}
    with client as session:
        report["order"] = session.execute(
            ONE_ORDER, variable_values={"source": source, "sourceId": source_id}
        )["orderBySourceId"]
        pages: list[list[str]] = []
        after: str | None = None
        while len(pages) < 100:  # bounded: the test's source has far fewer pages
            variables = {"filter": {"sources": [source]}, "first": page_size, "after": after}
            found = session.execute(PAGE, variable_values=variables)["orders"]
            pages.append([edge["node"]["sourceId"] for edge in found["edges"]])
            if not found["pageInfo"]["hasNextPage"]:
                break
            after = found["pageInfo"]["endCursor"]
        report["pages"] = pages
        try:
            session.execute(MISSPELT)
        except graphql.GraphQLError as exc:  # gql's own check against the fetched schema
            report["localError"] = exc.message
        assert client.schema is not None
        report["sdl"] = graphql.print_schema(client.schema)
    return report


if __name__ == "__main__":
    url, source, source_id, size = sys.argv[1:5]
    print(json.dumps(main(url, source, source_id, int(size))))
