// Starts GraphiQL on the gateway's page. A served file rather than an inline script, so the
// page's Content-Security-Policy can keep script-src to 'self'.
(function () {
  "use strict";

  var EXAMPLE_QUERY = [
    "# The order graph: one schema over every order backend.",
    "#",
    "# Ctrl-Enter (or the pink button) runs the query. On the",
    "# left: Docs describes every type, field and argument;",
    "# Explorer builds a query as you tick fields.",
    "#",
    "# Your API key goes in the Headers tab below,",
    '#   {"X-Api-Key": "<your key>"}',
    "# then the round arrow (bottom left) loads the schema.",
    "# customer.email needs the pii:read scope.",
    "#",
    "# The ten newest orders, with totals and customer email:",
    "",
    "query NewestOrders {",
    "  orders(first: 10) {",
    "    nodes {",
    "      source",
    "      sourceKind",
    "      sourceId",
    "      number",
    "      status",
    "      createdAt",
    "      price {",
    "        total {",
    "          amount",
    "          currency",
    "        }",
    "      }",
    "      customer {",
    "        email",
    "        name",
    "      }",
    "    }",
    "    pageInfo {",
    "      hasNextPage",
    "      endCursor",
    "    }",
    "  }",
    "}",
    "",
  ].join("\n");

  var container = document.getElementById("graphiql");

  // ?q=...&variables=... in the page's address opens that query (a link to share).
  var params = new URLSearchParams(window.location.search);

  function updateURL(name, value) {
    if (value) {
      params.set(name, value);
    } else {
      params.delete(name);
    }
    var search = params.toString();
    history.replaceState(null, "", search ? "?" + search : window.location.pathname);
  }

  // Subscriptions go over graphql-transport-ws on the same path (its client is in
  // GraphiQL's bundle); the page's CSP allows 'self', which covers ws: on this host.
  var fetcher = GraphiQL.createFetcher({
    url: window.location.pathname,
    subscriptionUrl:
      (window.location.protocol === "https:" ? "wss://" : "ws://") +
      window.location.host +
      window.location.pathname,
  });
  var explorer = GraphiQLPluginExplorer.explorerPlugin();

  function Page() {
    var query = React.useState(params.get("q") || EXAMPLE_QUERY);
    var variables = React.useState(params.get("variables") || undefined);
    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      plugins: [explorer],
      query: query[0],
      variables: variables[0],
      onEditQuery: function (text) {
        query[1](text);
        updateURL("q", text === EXAMPLE_QUERY ? "" : text);
      },
      onEditVariables: function (text) {
        variables[1](text);
        updateURL("variables", text);
      },
      defaultHeaders: container.dataset.defaultHeaders || undefined,
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      // Keys stay out of the browser's storage: the headers are typed again after a reload.
      shouldPersistHeaders: false,
      inputValueDeprecation: true,
    });
  }

  ReactDOM.createRoot(container).render(React.createElement(Page));
})();
