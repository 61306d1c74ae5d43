// Apollo Client 4 asks the gateway for a query with @defer as a browser app would: its
// HttpLink (Accept: multipart/mixed;deferSpec=20220824), its Defer20220824Handler, its
// cache. Prints one JSON report on stdout: each result Apollo emitted while the parts
// arrived (dataState "streaming" then "complete"), and the last one's data and errors.
//   node defer.mjs URL QUERY VARIABLES_JSON
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { Defer20220824Handler } from "@apollo/client/incremental";

const [url, query, variables] = process.argv.slice(2);
const client = new ApolloClient({
  link: new HttpLink({ uri: url }),
  cache: new InMemoryCache(),
  incrementalHandler: new Defer20220824Handler(),
});
const emitted = [];
const last = await new Promise((resolve, reject) => {
  let latest = null;
  client
    .watchQuery({
      query: gql(query),
      variables: JSON.parse(variables),
      fetchPolicy: "network-only",
      errorPolicy: "all",
    })
    .subscribe({
      next(result) {
        if (result.loading && result.data === undefined) return;
        emitted.push({ dataState: result.dataState, data: result.data ?? null });
        latest = result;
        if (result.dataState === "complete" || !result.loading) resolve(latest);
      },
      error: reject,
    });
});
console.log(
  JSON.stringify({
    emitted,
    data: last.data ?? null,
    errors: last.error ? (last.error.errors ?? [{ message: String(last.error) }]) : [],
  }),
);
process.exit(0);
