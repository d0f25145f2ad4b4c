/**
 * Hostile input against every route the Worker serves, taken from the
 * app's own route table (`app.routes`), so a route added later is swept
 * without anyone listing it here. Each route is called as someone allowed
 * to call it (an admin token holding its role over tenant acme, a console
 * session of such a token with its CSRF token, or a live agent key of
 * acme), so what answers is the route's reading of its body, not the gate.
 *
 * Every route that takes a body gets: text that is not JSON, nothing, JSON
 * that is not an object (null, a number, an array, a string), 5,000 levels
 * of nesting (as the body, unclosed, and in a field), a body past the
 * largest limit the edge sets (12 MiB) declared and streamed, a JSON body
 * sent as text/plain, and bytes that are not UTF-8 (alone and inside a body
 * the route would otherwise take). Each must be refused with a 4xx in the
 * route's own error shape: `{error: {code}}` on the API, the AuthZEN
 * spec's text with the code in `x-tollgate-error`, a JSON-RPC error on the
 * MCP gateway, an error page on the console. Never a 5xx, never a hang,
 * never a 2xx for garbage. Routes that read no body only must not fail.
 * Every GET route gets hostile query strings and must not fail either.
 */
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { app } from "../../src/app";
import { CONSOLE_ACCESS } from "../../src/console/console-access";
import { ADMIN_ACCESS, type AccessRule } from "../../src/routes/admin-access";
import { ORIGIN, signIn, type ConsoleBrowser } from "../console/console-client";
import { TEST_TOKENS } from "../fixtures/test-config";
import { agentKey } from "../identity/credentials";
import { decide, REFUND_AGENT, refundInput, uniqueId } from "../session/helpers";

/** The agent whose key calls the agent-facing routes: the one the approval below is asked for (not one the admin routes act on). */
const AGENT = REFUND_AGENT;

/** Plausible path parameters; a route with a parameter not named here fails loudly until one is added. */
const PARAMS: Record<string, string> = {
  tenant: "acme",
  agent: "agent-1",
  session: "s-1",
  scope: "tenant:acme",
  version: "1",
  key: "k0123456789abcdef",
  server: "hostile-upstream",
};

/** A pending approval of acme's (made before the sweep), so the approval routes get as far as reading their bodies. */
let approvalId: string | undefined;

/** `:id` means a different thing on different routes. */
function idFor(path: string): string {
  if (path.includes("/leases/")) return `lse_${"0".repeat(24)}`;
  if (path.includes("/webhooks/")) return "wh_0123456789abcdef";
  if (path.includes("/decisions/")) return "0190f5d2-7b1c-7a00-8000-000000000001";
  if (path.includes("/approvals/")) {
    if (!approvalId) throw new Error("no approval was made before the sweep");
    return approvalId;
  }
  throw new Error(`no sample value for :id in ${path}: add one to idFor`);
}

function concrete(path: string): string {
  return path.replace(/:(\w+)/g, (_, name: string) => {
    const value = name === "id" ? idFor(path) : PARAMS[name];
    if (value === undefined) throw new Error(`no sample value for :${name} in ${path}: add one to PARAMS`);
    return encodeURIComponent(value);
  });
}

/**
 * Routes that read no body, so a hostile one is simply ignored and only
 * "not 5xx" is asserted. A new POST, PUT or PATCH that takes no body fails
 * this sweep (it answers 2xx to garbage) until it is named here. No DELETE
 * route reads a body; they are swept too, as routes that ignore it.
 */
const READS_NO_BODY = new Set(["POST /v1/admin/refresh", "POST /v1/admin/sessions/:tenant/:agent/:session/breaker/reset", "POST /v1/admin/agents/:tenant/:agent/breaker/reset"]);

/** Marks where, in a sample body, the bytes that are not UTF-8 go. */
const MARK = "\u0000MARK\u0000";

/**
 * A body each route would take (or would refuse only for what it names,
 * not for its shape), for the text/plain case and for invalid UTF-8 inside
 * an otherwise acceptable body. A route not here gets `{"a": …}`.
 */
const SAMPLE_BODIES: Record<string, Record<string, unknown>> = {
  "POST /v1/decide": { session: { id: `s-${MARK}` }, action: { type: "tool_call", tool: "tickets.read", args: { id: "T-1" } } },
  "POST /v1/leases": { session: `s-${MARK}` },
  "POST /v1/leases/:id/release": { session: `s-${MARK}` },
  "POST /v1/sessions/:session/data-classes": { data_classes: [`pii${MARK}`] },
  "POST /access/v1/evaluation": { subject: { type: "agent", id: AGENT.agent! }, action: { name: "tool_call" }, resource: { type: "tool", id: `tickets.read${MARK}` }, context: { session: { id: "s-1" } } },
  "POST /access/v1/evaluations": {
    subject: { type: "agent", id: AGENT.agent! },
    context: { session: { id: "s-1" } },
    evaluations: [{ action: { name: "tool_call" }, resource: { type: "tool", id: `tickets.read${MARK}` } }],
  },
  "POST /mcp/:server": { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: `hostile${MARK}`, version: "1" } } },
  "POST /v1/admin/approvals/:tenant/:id": { decision: "approve", reason: `fine${MARK}` },
  "POST /v1/admin/alerts/:tenant/webhooks": { url: `https://example.com/hook${MARK}`, events: ["critical_deny"] },
  "PUT /v1/admin/registry/:tenant/agents/:agent": { owner: `ops${MARK}@example.com`, role: "support", scopes: [], risk_tier: "low", max_risk_tier: "critical", certified_until: "2099-12-31" },
  "POST /v1/admin/registry/:tenant/agents/:agent/keys": { label: `hostile${MARK}` },
  "PUT /v1/admin/rollout/:scope": { rollout: `${MARK}` },
};

type Dialect = "api" | "authzen" | "mcp" | "console";

interface Target {
  label: string;
  method: string;
  path: string;
  /** The path with its parameters filled in (and the query the gate needs), once the sweep's fixtures exist. */
  url: () => string;
  dialect: Dialect;
  readsBody: boolean;
  /** Credentials and the headers the route needs to get past its gate, resolved once the Worker is up. */
  headers: () => Promise<Record<string, string>>;
  /** The console's forms carry the session's CSRF token; '' where there is none (sign-in). */
  csrf: () => Promise<string>;
}

const dialectOf = (path: string): Dialect => (path.startsWith("/access/v1/") ? "authzen" : path.startsWith("/mcp/") ? "mcp" : path.startsWith("/console") ? "console" : "api");

// ---- Who may call what, from the deployment's own token table.

interface Grant {
  token: string;
  roles: string[];
  scopes: string[];
}

let grants: Promise<Grant[]> | undefined;
function grantsOf(): Promise<Grant[]> {
  grants ??= (async () => {
    const table = JSON.parse(env.ADMIN_TOKENS as string) as Record<string, { roles: string[]; scopes: string[] }>;
    const hex = async (text: string) => [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)))].map((b) => b.toString(16).padStart(2, "0")).join("");
    const all = await Promise.all(Object.values(TEST_TOKENS).map(async (token) => ({ token, ...table[await hex(token)] })));
    return all.filter((grant) => grant.roles);
  })();
  return grants;
}

/** A token with one of the rule's roles over tenant acme (or over everything, where the rule is deployment-wide); acme's own first. */
async function adminTokenFor(rule: AccessRule): Promise<string> {
  const roleOk = (grant: Grant) => grant.roles.some((role) => (rule.roles as string[]).includes(role));
  const all = await grantsOf();
  const acme = all.find((grant) => roleOk(grant) && grant.scopes.includes("tenant:acme") && rule.scope.kind !== "global");
  const everything = all.find((grant) => roleOk(grant) && grant.scopes.includes("*"));
  const found = acme ?? everything;
  if (!found) throw new Error(`no test token holds ${rule.roles.join("|")} over acme for ${rule.method} ${rule.path}`);
  return found.token;
}

function adminRule(method: string, path: string): AccessRule {
  const rule = ADMIN_ACCESS.find((candidate) => candidate.method === method && candidate.path === path);
  if (!rule) throw new Error(`${method} ${path} has no access rule`);
  return rule;
}

const browsers = new Map<string, Promise<ConsoleBrowser>>();
const browserOf = (token: string) => {
  if (!browsers.has(token)) browsers.set(token, signIn(token));
  return browsers.get(token)!;
};

/** The console session a console route needs (of a token its admin call allows), or undefined for the public ones (sign-in). */
function consoleTokenFor(method: string, path: string): (() => Promise<string>) | undefined {
  const rule = CONSOLE_ACCESS.find((candidate) => candidate.method === method && candidate.path === path);
  if (!rule) return undefined;
  return () => (rule.admin ? adminTokenFor(adminRule(rule.admin.method, rule.admin.path)) : Promise.resolve(TEST_TOKENS.acmeOperator));
}

function targetOf(method: string, path: string): Target {
  const dialect = dialectOf(path);
  const label = `${method} ${path}`;
  let query = "";
  let headers: () => Promise<Record<string, string>>;
  let csrf: () => Promise<string> = async () => "";
  if (path.startsWith("/v1/admin/")) {
    const rule = adminRule(method, path);
    if (rule.scope.kind === "tenant_query") query = "?tenant=acme";
    headers = async () => ({ authorization: `Bearer ${await adminTokenFor(rule)}` });
  } else if (dialect === "console") {
    const tokenOf = consoleTokenFor(method, path);
    // Signing out ends, on the server, the session it was sent with: each request to it signs in anew.
    const ownSession = label === "POST /console/sign-out";
    let current: Promise<{ browser: ConsoleBrowser; csrf: string }> | undefined;
    const session = (admin: () => Promise<string>) =>
      (current ??= admin()
        .then((token) => (ownSession ? signIn(token) : browserOf(token)))
        .then(async (browser) => ({ browser, csrf: await browser.csrf() })));
    headers = async (): Promise<Record<string, string>> => {
      if (!tokenOf) return { origin: ORIGIN };
      if (ownSession) current = undefined;
      return { origin: ORIGIN, cookie: (await session(tokenOf)).browser.cookie };
    };
    if (tokenOf) csrf = async () => (await session(tokenOf)).csrf;
  } else {
    // Agent-facing (and public) routes: a live agent key of acme. The MCP gateway also wants both media types accepted.
    const accept: Record<string, string> = dialect === "mcp" ? { accept: method === "GET" ? "text/event-stream" : "application/json, text/event-stream" } : {};
    headers = async () => ({ authorization: `Bearer ${await agentKey(AGENT)}`, ...accept });
  }
  const readsBody = !READS_NO_BODY.has(label) && method !== "DELETE";
  // Every parameter must have a sample value now, not only when the route is first called.
  if (!path.includes(":id")) concrete(path);
  return { label, method, path, url: () => concrete(path) + query, dialect, readsBody, headers, csrf };
}

/** Every route the app serves with `methods`, once each (middleware shares a route's path; wildcards are middleware). */
function served(methods: string[]): Target[] {
  const seen = new Set<string>();
  const targets: Target[] = [];
  for (const route of app.routes) {
    if (!methods.includes(route.method) || route.path.includes("*")) continue;
    const label = `${route.method} ${route.path}`;
    if (seen.has(label)) continue;
    seen.add(label);
    targets.push(targetOf(route.method, route.path));
  }
  return targets;
}

const WITH_BODY = served(["POST", "PUT", "PATCH", "DELETE"]);
const READING = served(["GET"]);

// ---- The hostile bodies.

/** Past the largest body limit the edge sets (12 MiB, a publish or a shadow candidate). */
const OVERSIZED_BYTES = 13 * 1024 * 1024;
const DEPTH = 5000;
const deepArray = "[".repeat(DEPTH) + "]".repeat(DEPTH);
const deepObject = '{"a":'.repeat(DEPTH) + "1" + "}".repeat(DEPTH);
/** Overlong, lone continuation, truncated sequence, an invalid lead byte: none of it decodes. */
const NOT_UTF8 = [0xc0, 0xaf, 0x80, 0xe2, 0x82, 0xff, 0xfe];

const encoder = new TextEncoder();
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
};

function sampleText(target: Target): string {
  return JSON.stringify(SAMPLE_BODIES[target.label] ?? { a: `x${MARK}` });
}

let oversized: Uint8Array | undefined;
const oversizedBody = () => (oversized ??= concat(encoder.encode('{"a":"'), new Uint8Array(OVERSIZED_BYTES).fill(0x78), encoder.encode('"}')));

function streamed(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + 256 * 1024));
      at += 256 * 1024;
    },
  });
}

interface Hostile {
  name: string;
  contentType?: string;
  /** The body's bytes (the console's forms get the session's CSRF field in front of them). */
  bytes: (target: Target) => Uint8Array;
  /** Sent as a stream, so it declares no Content-Length. */
  stream?: true;
  /** For a form whose only field is its CSRF token, this is a complete form (see below). */
  empty?: true;
}

const text = (value: string) => () => encoder.encode(value);

const HOSTILE: Hostile[] = [
  { name: "text that is not JSON", bytes: text("{not json") },
  { name: "an empty body", bytes: text(""), empty: true },
  { name: "JSON null", bytes: text("null") },
  { name: "a JSON number", bytes: text("42") },
  { name: "a JSON array", bytes: text('[1,"two",{"three":3}]') },
  { name: "a JSON string", bytes: text('"a string"') },
  { name: "an array nested 5,000 deep", bytes: text(deepArray) },
  { name: "5,000 unclosed brackets", bytes: text("[".repeat(DEPTH)) },
  {
    name: "an object nested 5,000 deep in a field",
    bytes: (target) => {
      const sample = JSON.parse(sampleText(target).replaceAll(JSON.stringify(MARK).slice(1, -1), "")) as Record<string, unknown>;
      const [first] = Object.keys(sample);
      return encoder.encode(JSON.stringify({ ...sample, [first]: "DEEP" }).replace('"DEEP"', deepObject));
    },
  },
  { name: "13 MiB with its Content-Length", bytes: oversizedBody },
  { name: "13 MiB streamed with no Content-Length", bytes: oversizedBody, stream: true },
  { name: "a valid-looking JSON body sent as text/plain", contentType: "text/plain", bytes: (target) => encoder.encode(sampleText(target).replaceAll(JSON.stringify(MARK).slice(1, -1), "")) },
  { name: "bytes that are not UTF-8", bytes: () => new Uint8Array(NOT_UTF8) },
  {
    name: "bytes that are not UTF-8 inside a body it would otherwise take",
    bytes: (target) => {
      const [before, after] = sampleText(target).split(JSON.stringify(MARK).slice(1, -1));
      return concat(encoder.encode(before), new Uint8Array(NOT_UTF8), encoder.encode(after));
    },
  },
];

async function send(target: Target, hostile: Hostile): Promise<Response> {
  const headers = await target.headers();
  let bytes = hostile.bytes(target);
  let contentType = hostile.contentType ?? "application/json";
  if (target.dialect === "console") {
    // The console takes forms: the hostile bytes go in as the form, after the field that gets them past the CSRF check.
    contentType = hostile.contentType ?? "application/x-www-form-urlencoded";
    const token = await target.csrf();
    if (token) bytes = concat(encoder.encode(`_csrf=${token}${bytes.length > 0 ? "&" : ""}`), bytes);
  }
  const body = hostile.stream ? streamed(bytes) : bytes;
  return exports.default.fetch(`http://edge${target.url()}`, { method: target.method, headers: { ...headers, "content-type": contentType }, body, redirect: "manual" });
}

/** The route's own error shape, with its stable code. */
async function expectErrorShape(target: Target, response: Response): Promise<void> {
  const type = response.headers.get("content-type") ?? "";
  const raw = await response.text();
  switch (target.dialect) {
    case "api": {
      expect(type, raw).toContain("application/json");
      const body = JSON.parse(raw) as { error?: { code?: unknown; message?: unknown } };
      expect(body.error?.code, raw).toMatch(/^[a-z_]+$/);
      expect(typeof body.error?.message, raw).toBe("string");
      return;
    }
    case "authzen":
      // AuthZEN 1.0 §10.1.2: the message as text; Tollgate's code beside it.
      expect(type, raw).toContain("text/plain");
      expect(response.headers.get("x-tollgate-error"), raw).toMatch(/^[a-z_]+$/);
      expect(raw.length).toBeGreaterThan(0);
      return;
    case "mcp": {
      expect(type, raw).toContain("application/json");
      const body = JSON.parse(raw) as { jsonrpc?: unknown; error?: { code?: unknown; message?: unknown } };
      expect(body.jsonrpc, raw).toBe("2.0");
      expect(Number.isInteger(body.error?.code), raw).toBe(true);
      expect(typeof body.error?.message, raw).toBe("string");
      return;
    }
    case "console":
      // People read the console's errors as pages.
      expect(type, raw.slice(0, 500)).toContain("text/html");
      expect(raw).toMatch(/<p class="error" role="alert">\s*\S/);
      return;
  }
}

const cases = WITH_BODY.flatMap((target) => HOSTILE.map((hostile) => [`${target.label} ← ${hostile.name}`, target, hostile] as const));

beforeAll(async () => {
  await agentKey(AGENT);
  const asked = await decide(refundInput(uniqueId("hostile"), 900));
  expect(asked.decision).toBe("require_approval");
  approvalId = asked.session.approval.id as string;
});

describe("the sweep covers what the Worker serves", () => {
  it("finds the routes that take bodies and the ones that answer GET", () => {
    // Not a list to keep in step: only that the route table was read at all, across every kind of route.
    const dialects = new Set(WITH_BODY.map((target) => target.dialect));
    expect([...dialects].sort()).toEqual(["api", "authzen", "console", "mcp"]);
    expect(WITH_BODY.filter((target) => target.readsBody).length).toBeGreaterThan(10);
    expect(READING.length).toBeGreaterThan(10);
  });

  it("names in READS_NO_BODY only routes the Worker serves", () => {
    const labels = new Set(WITH_BODY.map((target) => target.label));
    for (const label of READS_NO_BODY) expect(labels, label).toContain(label);
  });
});

describe("hostile bodies", () => {
  it.each(cases)("%s", async (_name, target, hostile) => {
    const response = await send(target, hostile);
    const status = response.status;
    // Past the gate: whatever answers is the route, not a refusal of who is asking.
    expect(status, target.label).not.toBe(401);
    expect(status, target.label).not.toBe(403);
    expect(status, target.label).toBeLessThan(500);
    // A form whose only field is its CSRF token is complete for the console's actions that take none
    // (sign out, reset a breaker, revoke a key, remove a webhook): there the "empty" form is legitimate.
    const legitimatelyEmpty = hostile.empty === true && target.dialect === "console" && (await target.csrf()) !== "";
    if (!target.readsBody || legitimatelyEmpty) {
      await response.body?.cancel();
      return;
    }
    expect(status, `${target.label}: ${hostile.name}`).toBeGreaterThanOrEqual(400);
    await expectErrorShape(target, response);
  });
});

// ---- Hostile query strings on every GET route.

/** Every query parameter a route reads somewhere in src/ (grep c.req.query). */
const QUERY_NAMES = ["tenant", "limit", "cursor", "after_seq", "from", "to", "days", "status", "agent", "session", "decision", "decision_id", "rule", "next", "wait", "done", "a", "b"];
const LONG = "t".repeat(10_000);
const UNDECODABLE = "%E0%A4%A";

const QUERIES: Array<[string, () => string]> = [
  ["a tenant of 10,000 characters", () => `tenant=${LONG}`],
  ["a tenant that does not percent-decode", () => `tenant=${UNDECODABLE}`],
  ["a parameter name that does not percent-decode, and a stray %", () => `${UNDECODABLE}=1&tenant=acme&%`],
  ["every parameter given twice, acme's tenant first", () => QUERY_NAMES.map((name) => `${name}=1&${name}=2`).join("&").replace("tenant=1&tenant=2", "tenant=acme&tenant=initech")],
  ["every parameter 10,000 characters long", () => QUERY_NAMES.map((name) => `${name}=${LONG}`).join("&")],
  ["every parameter undecodable", () => QUERY_NAMES.map((name) => `${name}=${UNDECODABLE}`).join("&")],
];

const queryCases = READING.flatMap((target) => QUERIES.map(([name, query]) => [`GET ${target.path} ?${name}`, target, query] as const));

describe("hostile query strings", () => {
  it.each(queryCases)("%s", async (_name, target, query) => {
    const headers = await target.headers();
    const base = target.url().split("?")[0];
    const response = await exports.default.fetch(`http://edge${base}?${query()}`, { headers, redirect: "manual" });
    expect(response.status, target.label).not.toBe(401);
    expect(response.status, target.label).toBeLessThan(500);
    // A stream (the console's live approvals, the MCP gateway's) is let go; anything else is read to its end.
    if ((response.headers.get("content-type") ?? "").includes("text/event-stream")) await response.body?.cancel();
    else await response.arrayBuffer();
  });
});
