// A frontend's live subscription with graphql-ws (graphql-transport-ws), the client
// GraphiQL and Apollo Client use; one JSON line per event on stdout, "ready" first.
//
//     node subscribe.mjs ws://127.0.0.1:8000/graphql TOKEN COUNT
//
// The credential goes in connection_init's payload. Run by tests/test_live_clients.py.
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [url, token, count] = process.argv.slice(2);
const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { Authorization: `Bearer ${token}` },
  on: { connected: () => console.log("ready") },
});
const query = `subscription {
  orderEvents(filter: {sources: ["hl-main"]}) {
    id type sourceId origin
    order { sourceId status customer { email } }
  }
}`;
let seen = 0;
for await (const result of client.iterate({ query })) {
  console.log(JSON.stringify(result));
  seen += 1;
  if (seen === Number(count)) break;
}
await client.dispose();
