/**
 * @module agents
 * A tenant's agent registry and identity provider, for its identity admins
 * (token role agent_admin on the tenant):
 *
 *   agent register --tenant <t> --agent <id> --owner <who> --role <role> --max-tier <tier>
 *                  --certified-until <date> [--tier <tier>] [--scopes a,b] [--key]
 *                                        register or update; --key also mints a key and prints it
 *   agent key --tenant <t> --agent <id> [--label <text>] [--scopes a,b] [--expires-days <n>]
 *   agent revoke --tenant <t> --key <key id>
 *   agent remove --tenant <t> --agent <id>    deregister (revokes its keys)
 *   agent list --tenant <t> [--format json]
 *   agent changes --tenant <t>                who changed what, and when
 *   provider set --tenant <t> --issuer <iss> --audience <aud> (--jwks-uri <url> | --jwks <file>)
 *                [--agent-claim sub] [--role-claim <claim>] [--scopes-claim <claim>]
 *   provider show|remove --tenant <t>
 *
 * A minted key is printed once, on stdout alone, so `… agent key … > key.txt` captures only the key.
 */
import { readFileSync } from "node:fs";
import { adminCall, adminTarget } from "../lib/admin-client.ts";
import { ADMIN_FLAGS, parseFlags, UsageError } from "../lib/args.ts";

interface KeyView {
  key_id: string;
  agent: string;
  label: string | null;
  created_at: string;
  created_by: string;
  expires_at: string | null;
  revoked_at: string | null;
}

interface AgentView {
  agent: string;
  registration: { owner: string; role: string; risk_tier: string; max_risk_tier: string; certified_until: string; scopes: string[] };
  keys: KeyView[];
}

const list = (value: string | undefined) => (value === undefined ? undefined : value.split(",").map((item) => item.trim()).filter(Boolean));

function required(values: Record<string, string | undefined>, names: string[], command: string): void {
  const missing = names.filter((name) => !values[name]);
  if (missing.length > 0) throw new UsageError(`${command} needs ${missing.map((name) => `--${name}`).join(", ")}`);
}

const agentPath = (tenant: string, agent: string) => `/registry/${tenant}/agents/${encodeURIComponent(agent)}`;

async function mintKey(values: Record<string, string | undefined>): Promise<void> {
  const key = await adminCall<KeyView & { key: string }>(adminTarget(values), "POST", `${agentPath(values.tenant!, values.agent!)}/keys`, {
    ...(values.label ? { label: values.label } : {}),
    ...(values["key-scopes"] ? { scopes: list(values["key-scopes"]) } : {}),
    ...(values["expires-days"] ? { expires_in_days: Number(values["expires-days"]) } : {}),
  });
  console.error(`key ${key.key_id} for ${key.agent}${key.expires_at ? `, expires ${key.expires_at}` : ""}; shown once, store it as a secret:`);
  console.log(key.key);
}

export async function agent(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  // `register --key` takes no value (it asks for a key too); elsewhere --key names one.
  const alsoMint = sub === "register" && rest.includes("--key");
  const flags = alsoMint ? rest.filter((arg) => arg !== "--key") : rest;
  const { values } = parseFlags(flags, [...ADMIN_FLAGS, "tenant", "agent", "owner", "role", "tier", "max-tier", "certified-until", "scopes", "key", "label", "key-scopes", "expires-days", "format"]);
  if (!values.tenant) throw new UsageError(`agent ${sub ?? ""} needs --tenant`);
  const target = () => adminTarget(values);
  switch (sub) {
    case "register": {
      required(values, ["agent", "owner", "role", "max-tier", "certified-until"], "agent register");
      const view = await adminCall<AgentView>(target(), "PUT", agentPath(values.tenant, values.agent!), {
        owner: values.owner,
        role: values.role,
        max_risk_tier: values["max-tier"],
        ...(values.tier ? { risk_tier: values.tier } : {}),
        certified_until: values["certified-until"],
        ...(values.scopes ? { scopes: list(values.scopes) } : {}),
      });
      const r = view.registration;
      console.error(`registered ${view.agent} in ${values.tenant}: role ${r.role}, tiers ${r.risk_tier}..${r.max_risk_tier}, certified until ${r.certified_until}, owner ${r.owner}`);
      if (alsoMint) await mintKey(values);
      return 0;
    }
    case "key":
      required(values, ["agent"], "agent key");
      await mintKey(values);
      return 0;
    case "revoke": {
      required(values, ["key"], "agent revoke");
      const revoked = await adminCall<KeyView>(target(), "DELETE", `/registry/${values.tenant}/keys/${values.key}`);
      console.log(`revoked ${revoked.key_id} of ${revoked.agent} at ${revoked.revoked_at}; every edge refuses it within one refresh interval`);
      return 0;
    }
    case "remove": {
      required(values, ["agent"], "agent remove");
      const removed = await adminCall<{ revoked_keys: number }>(target(), "DELETE", agentPath(values.tenant, values.agent!));
      console.log(`removed ${values.agent} from ${values.tenant}; ${removed.revoked_keys} key(s) revoked`);
      return 0;
    }
    case "list": {
      const { agents } = await adminCall<{ agents: AgentView[] }>(target(), "GET", `/registry/${values.tenant}/agents`);
      if (values.format === "json") {
        console.log(JSON.stringify(agents, null, 2));
        return 0;
      }
      if (agents.length === 0) console.log(`no agents registered in ${values.tenant}`);
      for (const view of agents) {
        const r = view.registration;
        const live = view.keys.filter((k) => !k.revoked_at && (!k.expires_at || Date.parse(k.expires_at) > Date.now()));
        const lapsed = Date.parse(r.certified_until) <= Date.now() ? " (certification lapsed)" : "";
        console.log(`${view.agent}  role ${r.role}  tiers ${r.risk_tier}..${r.max_risk_tier}  certified until ${r.certified_until}${lapsed}  owner ${r.owner}  keys ${live.map((k) => k.key_id).join(", ") || "none"}`);
      }
      return 0;
    }
    case "changes": {
      const { changes } = await adminCall<{ changes: Array<{ at: string; actor: string; action: string; target: string }> }>(target(), "GET", `/registry/${values.tenant}/changes?limit=1000`);
      for (const change of changes) console.log(`${change.at}  ${change.actor}  ${change.action}  ${change.target}`);
      return 0;
    }
    default:
      throw new UsageError("agent takes register, key, revoke, remove, list or changes");
  }
}

export async function provider(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const { values } = parseFlags(rest, [...ADMIN_FLAGS, "tenant", "issuer", "audience", "jwks-uri", "jwks", "agent-claim", "role-claim", "scopes-claim", "clock-skew"]);
  if (!values.tenant) throw new UsageError(`provider ${sub ?? ""} needs --tenant`);
  const path = `/registry/${values.tenant}/provider`;
  if (sub === "set") {
    required(values, ["issuer", "audience"], "provider set");
    if (!values["jwks-uri"] === !values.jwks) throw new UsageError("provider set needs exactly one of --jwks-uri and --jwks <file>");
    const config = {
      issuer: values.issuer,
      audience: values.audience!.includes(",") ? list(values.audience) : values.audience,
      ...(values["jwks-uri"] ? { jwks_uri: values["jwks-uri"] } : { jwks: JSON.parse(readFileSync(values.jwks!, "utf8")) }),
      claims: {
        agent: values["agent-claim"] ?? "sub",
        ...(values["role-claim"] ? { role: values["role-claim"] } : {}),
        ...(values["scopes-claim"] ? { scopes: values["scopes-claim"] } : {}),
      },
      ...(values["clock-skew"] ? { clock_skew_s: Number(values["clock-skew"]) } : {}),
    };
    const result = await adminCall<{ issuer: string; key_ids: Array<string | null> }>(adminTarget(values), "PUT", path, config);
    console.log(`${values.tenant} accepts JWTs from ${result.issuer} (keys: ${result.key_ids.map((k) => k ?? "(no kid)").join(", ")})`);
    return 0;
  }
  if (sub === "show") {
    console.log(JSON.stringify(await adminCall(adminTarget(values), "GET", path), null, 2));
    return 0;
  }
  if (sub === "remove") {
    await adminCall(adminTarget(values), "DELETE", path);
    console.log(`${values.tenant} no longer accepts JWTs from its provider`);
    return 0;
  }
  throw new UsageError("provider takes set, show or remove");
}
