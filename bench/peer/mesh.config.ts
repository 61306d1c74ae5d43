// Hive Gateway's composition over the Hamgam simulator (HAMGAM_URL, e.g. http://127.0.0.1:8001/hamgam).
import { defineConfig } from '@graphql-mesh/compose-cli';
import { loadOpenAPISubgraph } from '@omnigraph/openapi';

export const composeConfig = defineConfig({
  subgraphs: [
    {
      sourceHandler: loadOpenAPISubgraph('hamgam', {
        source: './hamgam.openapi.json',
        endpoint: process.env.HAMGAM_URL ?? 'http://127.0.0.1:8001/hamgam',
        operationHeaders: { Authorization: 'Token demo-hamgam-token' },
      }),
    },
  ],
  // OpenAPI links resolve against the whole response, so the customer link only works
  // on getOrder; a list item reaches its customer through this field instead.
  additionalTypeDefs: /* GraphQL */ `
    extend type Order {
      buyer: Customer
        @resolveTo(
          sourceName: "hamgam"
          sourceTypeName: "Query"
          sourceFieldName: "getCustomer"
          requiredSelectionSet: "{ customer_data { id } }"
          sourceArgs: { id: "{root.customer_data.id}" }
        )
    }
  `,
});
