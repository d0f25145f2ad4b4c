/**
 * @module mcp-servers
 * A tenant's upstream MCP servers, for its identity admins (token role
 * agent_admin on the tenant; list and show also for operators and auditors):
 *
 *   mcp add --tenant <t> --server <name> --upstream <url> --tools <tools.json>
 *           [--resources <resources.json>] [--prompts <prompts.json>]
 *           [--answers <tool>] [--credentials <headers.json>] [--timeout-ms <n>]
 *                                        register or replace; without --credentials an
 *                                        update keeps the stored ones
 *   mcp list --tenant <t> [--format json]
 *   mcp show --tenant <t> --server <name>
 *   mcp remove --tenant <t> --server <name>
 *   mcp changes --tenant <t>
 *
 * tools.json maps each upstream tool to how Tollgate judges it:
 * `{"lookup_customer": {"tool": "crm.read_customer", "risk_floor": "medium", "data_classes": ["pii"]}}`;
 * resources.json maps resource URI prefixes (the longest that starts a URI
 * wins) and prompts.json prompt names the same way. A resource or prompt
 * left out is refused by the policy as an unknown tool. --answers names the
 * tool the client's answers to the upstream's own requests (sampling,
 * elicitation, roots) are judged as; without it they are refused.
 * headers.json holds the headers that carry the upstream's credentials,
 * `{"authorization": "Bearer …"}`: read from a file so the secret is on no
 * command line; it is sealed by the edge and never shown again.
 */
import { readFileSync } from "node:fs";
import { adminCall, adminTarget } from "../lib/admin-client.ts";
import { ADMIN_FLAGS, parseFlags, UsageError } from "../lib/args.ts";

interface Mapping {
  tool: string;
  risk_floor?: string;
  data_classes?: string[];
}

interface ServerView {
  server: string;
  url: string;
  timeout_ms?: number;
  tools: Record<string, Mapping>;
  resources?: Record<string, Mapping>;
  prompts?: Record<string, Mapping>;
  answers?: Mapping;
  credentials: "stored" | "none";
  updated_at: string;
  updated_by: string;
}

function jsonFile(path: string, flag: string): unknown {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new UsageError(`--${flag} ${path}: ${(error as Error).message}`);
  }
}

const mapped = (table: Record<string, Mapping> | undefined) =>
  Object.entries(table ?? {})
    .map(([name, mapping]) => `${name}→${mapping.tool}${mapping.data_classes?.length ? ` [${mapping.data_classes.join(",")}]` : ""}`)
    .join(" ") || "none";

function describe(view: ServerView): string {
  const more = `${view.resources && Object.keys(view.resources).length > 0 ? `  resources ${mapped(view.resources)}` : ""}${view.prompts && Object.keys(view.prompts).length > 0 ? `  prompts ${mapped(view.prompts)}` : ""}  answers ${view.answers ? `→${view.answers.tool}` : "refused"}`;
  return `${view.server}  ${view.url}  credentials ${view.credentials}  timeout ${view.timeout_ms ?? 10000} ms  tools ${mapped(view.tools)}${more}  (${view.updated_by}, ${view.updated_at})`;
}

export async function mcp(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const { values } = parseFlags(rest, [...ADMIN_FLAGS, "tenant", "server", "upstream", "tools", "resources", "prompts", "answers", "credentials", "timeout-ms", "format"]);
  if (!values.tenant) throw new UsageError(`mcp ${sub ?? ""} needs --tenant`);
  const target = () => adminTarget(values);
  const serverPath = () => {
    if (!values.server) throw new UsageError(`mcp ${sub} needs --server`);
    return `/mcp/${values.tenant}/servers/${encodeURIComponent(values.server)}`;
  };
  switch (sub) {
    case "add": {
      if (!values.upstream || !values.tools) throw new UsageError("mcp add needs --upstream and --tools");
      const body = {
        url: values.upstream,
        tools: jsonFile(values.tools, "tools"),
        ...(values.resources ? { resources: jsonFile(values.resources, "resources") } : {}),
        ...(values.prompts ? { prompts: jsonFile(values.prompts, "prompts") } : {}),
        ...(values.answers ? { answers: { tool: values.answers } } : {}),
        ...(values["timeout-ms"] ? { timeout_ms: Number(values["timeout-ms"]) } : {}),
        ...(values.credentials ? { credentials: { headers: jsonFile(values.credentials, "credentials") } } : {}),
      };
      const view = await adminCall<ServerView>(target(), "PUT", serverPath(), body);
      console.log(`registered ${describe(view)}`);
      console.error(`agents of ${values.tenant} reach it at <edge>/mcp/${view.server}`);
      return 0;
    }
    case "show":
      console.log(describe(await adminCall<ServerView>(target(), "GET", serverPath())));
      return 0;
    case "list": {
      const { servers } = await adminCall<{ servers: ServerView[] }>(target(), "GET", `/mcp/${values.tenant}/servers`);
      if (values.format === "json") console.log(JSON.stringify(servers, null, 2));
      else if (servers.length === 0) console.log(`no MCP servers registered in ${values.tenant}`);
      else for (const view of servers) console.log(describe(view));
      return 0;
    }
    case "remove":
      await adminCall(target(), "DELETE", serverPath());
      console.log(`removed ${values.server} from ${values.tenant}; every edge stops serving it within one refresh interval`);
      return 0;
    case "changes": {
      const { changes } = await adminCall<{ changes: Array<{ at: string; actor: string; action: string; server: string }> }>(target(), "GET", `/mcp/${values.tenant}/changes?limit=1000`);
      for (const change of changes) console.log(`${change.at}  ${change.actor}  ${change.action}  ${change.server}`);
      return 0;
    }
    default:
      throw new UsageError("mcp takes add, list, show, remove or changes");
  }
}
