/**
 * @module capabilities-command
 * `npm run capabilities`: regenerates the edge's capabilities from the pinned
 * OPA and the host builtins in src/engine/builtins/, writes
 * scripts/edge-capabilities.json (what builds compile against) and
 * scripts/edge-builtins.json (who provides each builtin), and rewrites the
 * README's builtin table between its markers. Run it after adding a host
 * builtin or changing OPA's version; a test fails while these files are stale.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { classifyBuiltins, EDGE_BUILTINS_PATH, EDGE_CAPABILITIES_PATH, edgeCapabilities, hostBuiltinNames, opaCapabilities } from "./lib/capabilities.ts";
import { builtinTableMarkdown, replaceBuiltinTable } from "./lib/builtin-table.ts";
import { OPA_VERSION, ROOT } from "./toolchain.mjs";

if (import.meta.main) {
  const capabilities = opaCapabilities();
  const table = await classifyBuiltins(capabilities, await hostBuiltinNames());
  writeFileSync(EDGE_CAPABILITIES_PATH, `${JSON.stringify(edgeCapabilities(capabilities, table), null, 1)}\n`);
  writeFileSync(EDGE_BUILTINS_PATH, `${JSON.stringify({ opa_version: OPA_VERSION, builtins: table }, null, 1)}\n`);
  const readme = join(ROOT, "README.md");
  writeFileSync(readme, replaceBuiltinTable(readFileSync(readme, "utf8"), builtinTableMarkdown(table)));
  const count = (provider: string) => table.filter((entry) => entry.provider === provider).length;
  console.log(
    `OPA ${OPA_VERSION}: ${table.length} builtins; wasm ${count("wasm")}, compiler ${count("compiler")}, Tollgate ${count("tollgate")}, refused ${count("refused")}`,
  );
}
