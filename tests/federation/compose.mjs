// Composes subgraphs into a supergraph with @theguild/federation-composition.
// Usage: node compose.mjs NAME=URL=SDL_FILE... ; prints the supergraph SDL, or the
// composition's errors (one per line) on stderr with exit status 1.
import { readFileSync } from "node:fs";
import { parse } from "graphql";
import { composeServices, compositionHasErrors } from "@theguild/federation-composition";

const services = process.argv.slice(2).map((arg) => {
  const [name, url, file] = arg.split("=");
  return { name, url, typeDefs: parse(readFileSync(file, "utf8")) };
});
const result = composeServices(services);
if (compositionHasErrors(result)) {
  for (const error of result.errors) console.error(error.message);
  process.exit(1);
}
process.stdout.write(result.supergraphSdl);
