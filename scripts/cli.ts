/**
 * @module cli
 * The `tollgate` command for policy authors and operators.
 *
 *   tollgate eval <rego-dir> <entrypoint> <input.json>
 *       Compile with OPA and evaluate through the edge's sandbox code in
 *       workerd; prints the result JSON. Exit 1 on a compile error, 2 on
 *       usage errors, 3 when the policy cannot be evaluated.
 *   tollgate keygen|build|sign|verify|publish|status|rollback
 *       The bundle store (see commands/bundles.ts).
 *   tollgate audit verify|export
 *       The decision log (see commands/audit.ts).
 *   tollgate mode | shadow attach|report|detach
 *       Rolling policy out by observation (see commands/rollout.ts).
 *   tollgate agent register|key|revoke|remove|list|changes, provider set|show|remove
 *       A tenant's agents and identity provider (see commands/agents.ts).
 *   tollgate mcp add|list|show|remove|changes
 *       A tenant's upstream MCP servers (see commands/mcp-servers.ts).
 *   tollgate token create
 *       An admin token and its ADMIN_TOKENS entry (see commands/tokens.ts).
 */
import { existsSync, readFileSync } from "node:fs";
import { OpaError, opaBuildWasm } from "./lib/opa.ts";
import { evaluateInSandbox } from "./lib/sandbox-eval.ts";
import { build, keygen, publish, rollback, sign, status, verify } from "./commands/bundles.ts";
import { UsageError } from "./lib/args.ts";
import { audit } from "./commands/audit.ts";
import { mode, shadow } from "./commands/rollout.ts";
import { agent, provider } from "./commands/agents.ts";
import { token } from "./commands/tokens.ts";
import { mcp } from "./commands/mcp-servers.ts";
import { LayerBuildError } from "./lib/layer-build.ts";
import { AdminApiError } from "./lib/admin-client.ts";
import { BundleError } from "../src/bundles/verify.ts";

const USAGE = `usage:
  tollgate eval <rego-dir> <entrypoint> <input.json>   evaluate as the edge would (entrypoint like tollgate/decision)
  tollgate keygen --id <id> --scopes <scope,…> [--out keys]
  tollgate build --scope global|region:<r>|tenant:<t> [--source <dir>] [--out <dir>]
  tollgate sign <bundle-dir> --key <private.jwk> [--expires-days 30]
  tollgate verify <bundle-dir> --trust <trust-store.json>
  tollgate publish <bundle-dir> [--url <edge>] [--token <admin-token>]
  tollgate status [--url] [--token]
  tollgate rollback --scope <scope> --to <version> --key <private.jwk> --trust <trust-store.json> [--url] [--token]
  tollgate audit verify --tenant <t> --trust <trust-store.json> [--expect-records <n>] [--file <export.ndjson>]
  tollgate audit export --tenant <t> [--from <iso>] [--to <iso>] [--decision allow|deny|require_approval]
                       [--decision-id <id>] [--session <id>] [--agent <id>] [--rule <id>] [--format json|csv] [--out <file>]
  tollgate mode --scope <scope> --set enforce|observe --key <private.jwk>
  tollgate shadow attach <bundle-dir> --key <private.jwk> | report --scope <scope> | detach --scope <scope> --key <private.jwk>
  tollgate agent register --tenant <t> --agent <id> --owner <who> --role <role> --max-tier <tier>
                          --certified-until <date> [--tier <tier>] [--scopes a,b] [--key]
  tollgate agent key --tenant <t> --agent <id> [--label <text>] [--key-scopes a,b] [--expires-days <n>]
  tollgate agent revoke --tenant <t> --key <key id> | remove --tenant <t> --agent <id>
  tollgate agent list|changes --tenant <t>
  tollgate mcp add --tenant <t> --server <name> --upstream <url> --tools <tools.json> [--resources <resources.json>] [--prompts <prompts.json>] [--credentials <headers.json>] [--timeout-ms <n>]
  tollgate mcp list|changes --tenant <t> | show|remove --tenant <t> --server <name>
  tollgate provider set --tenant <t> --issuer <iss> --audience <aud> (--jwks-uri <url> | --jwks <file>)
                        [--agent-claim sub] [--role-claim <claim>] [--scopes-claim <claim>]
  tollgate provider show|remove --tenant <t>
  tollgate token create --subject <who> --roles <role,…> --scopes <scope,…>
  (--url and --token default to TOLLGATE_URL and TOLLGATE_TOKEN)`;

async function evalCommand(args: string[]): Promise<number> {
  const [dir, entrypoint, inputPath] = args;
  if (!dir || !entrypoint || !inputPath) throw new UsageError("eval needs <rego-dir> <entrypoint> <input.json>");
  if (!existsSync(dir)) throw new UsageError(`no such policy directory: ${dir}`);
  if (!existsSync(inputPath)) throw new UsageError(`no such input file: ${inputPath}`);
  let input: unknown;
  try {
    input = JSON.parse(readFileSync(inputPath, "utf8"));
  } catch (error) {
    throw new UsageError(`${inputPath} is not valid JSON: ${(error as Error).message}`);
  }
  let compiled;
  try {
    compiled = await opaBuildWasm(dir, entrypoint.replace(/^data[./]/, "").replaceAll(".", "/"));
  } catch (error) {
    if (error instanceof OpaError) {
      console.error(`tollgate eval: the policy does not compile:\n${error.output.trim()}`);
      return 1;
    }
    throw error;
  }
  const [outcome] = await evaluateInSandbox(compiled, [input]);
  if (outcome.error) {
    console.error(`tollgate eval: ${outcome.error.code}: ${outcome.error.message}`);
    return 3;
  }
  console.log(JSON.stringify(outcome.result, null, 2));
  return 0;
}

const commands: Record<string, (args: string[]) => Promise<number>> = {
  eval: evalCommand,
  keygen,
  build,
  sign,
  verify,
  publish,
  status,
  rollback,
  audit,
  mode,
  shadow,
  agent,
  provider,
  token,
  mcp,
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "help" || name === "--help" || name === "-h") {
    console.log(USAGE);
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    console.error(`tollgate: unknown command ${name}\n${USAGE}`);
    return 2;
  }
  try {
    return await command(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`tollgate ${name}: ${error.message}\n${USAGE}`);
      return 2;
    }
    if (error instanceof OpaError) {
      console.error(`tollgate ${name}: ${error.message}`);
      return 1;
    }
    if (error instanceof LayerBuildError || error instanceof AdminApiError || error instanceof BundleError) {
      const code = error instanceof BundleError ? `${error.code}: ` : "";
      console.error(`tollgate ${name}: refused: ${code}${error.message}`);
      return 1;
    }
    console.error(`tollgate ${name}: ${(error as Error).message}`);
    return 1;
  }
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
