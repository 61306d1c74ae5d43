"""A Python client's live subscription with gql's WebsocketsTransport (graphql-transport-ws);
one JSON line per event on stdout, "ready" first.

    python subscribe.py ws://127.0.0.1:8000/graphql TOKEN COUNT

The credential goes in connection_init's payload. Run by tests/test_live_clients.py with
.venv-clients' python.
"""

from __future__ import annotations

import asyncio
import json
import sys

from gql import Client, gql
from gql.transport.websockets import WebsocketsTransport

EVENTS = gql(
    """
    subscription {
      orderEvents(filter: {sources: ["hl-main"]}) {
        id type sourceId origin
        order { sourceId status customer { email } }
      }
    }
    """
)


async def main(url: str, token: str, count: int) -> None:
    transport = WebsocketsTransport(
        url=url,
        init_payload={"Authorization": f"Bearer {token}"},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    async with Client(transport=transport, fetch_schema_from_transport=False) as session:
        print("ready", flush=True)
        seen = 0
        async for result in session.subscribe(EVENTS):
            print(json.dumps(result), flush=True)
            seen += 1
            if seen == count:
                return


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
