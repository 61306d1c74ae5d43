// graphql-js 16 reads the gateway's schema as Apollo Client, GraphiQL and Codegen do:
// the standard introspection query over HTTP, buildClientSchema, validateSchema, then a
// document validated against the result. Prints one JSON report on stdout.
//   node read_schema.mjs http://127.0.0.1:8000/graphql
import {
  buildClientSchema,
  getIntrospectionQuery,
  parse,
  printSchema,
  validate,
  validateSchema,
  version,
} from "graphql";

const url = process.argv[2];
const query = getIntrospectionQuery({
  descriptions: true,
  specifiedByUrl: true,
  directiveIsRepeatable: true,
  schemaDescription: true,
  inputValueDeprecation: true,
});
const response = await fetch(url, {
  method: "POST",
  headers: { "content-type": "application/json", accept: "application/json" },
  body: JSON.stringify({ query }),
});
const body = await response.json();
if (!body.data) {
  console.log(JSON.stringify({ version, status: response.status, body }));
  process.exit(1);
}
const schema = buildClientSchema(body.data);
const document = parse(process.argv[3] ?? "{ sources { name kind healthy } }");
console.log(
  JSON.stringify({
    version,
    schemaErrors: validateSchema(schema).map((e) => e.message),
    documentErrors: validate(schema, document).map((e) => e.message),
    directives: schema.getDirectives().map((d) => ({ name: d.name, locations: d.locations })),
    sdl: printSchema(schema),
  }),
);
