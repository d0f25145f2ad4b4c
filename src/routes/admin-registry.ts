/**
 * @module admin-registry
 * A tenant's agent registry and identity provider, through the admin API
 * (`tollgate agent …`, `tollgate provider …`). Changes need the agent_admin
 * role on the tenant; reading also suits its operators and auditors (the
 * access table, routes/admin-access.ts). Every change is recorded with who,
 * what and when (`…/changes`).
 *
 *   GET    /v1/admin/registry/:tenant/agents                 the registered agents and their keys
 *   GET    /v1/admin/registry/:tenant/agents/:agent          one agent
 *   PUT    /v1/admin/registry/:tenant/agents/:agent          register or update {owner, role, max_risk_tier,
 *                                                            risk_tier?, certified_until, scopes?}
 *   DELETE /v1/admin/registry/:tenant/agents/:agent          deregister (revokes its keys)
 *   POST   /v1/admin/registry/:tenant/agents/:agent/keys     mint a key {label?, scopes?, expires_in_days?};
 *                                                            the key is in this answer only
 *   DELETE /v1/admin/registry/:tenant/keys/:key              revoke a key
 *   GET|PUT|DELETE /v1/admin/registry/:tenant/provider       the tenant's JWT issuer, audience, keys, claims
 *   GET    /v1/admin/registry/:tenant/changes[?after_seq=&limit=]   the change record, oldest first
 *
 * This isolate sees a change at once; every other edge within one refresh
 * interval (IDENTITY_REFRESH_SECONDS).
 */
import { Hono, type Context } from "hono";
import { ApiError } from "../errors";
import { identityCaches, registryObject } from "../identity/registry-cache";
import { jwksDestinationProblem, providerConfigSchema } from "../identity/provider";
import type { Change, ProviderView, RegistryRefusal } from "../identity/registry-do";
import { AGENT_ID_MESSAGE, AGENT_ID_PATTERN, keyRequestSchema, registrationSchema } from "../identity/registration";
import { principalOf, type AdminVariables } from "../middleware/admin-auth";
import { jsonBody } from "../middleware/json-body";
import { tenantParam } from "./admin-params";
import { readJson, validated } from "./request-body";

type AdminContext = Context<{ Bindings: Env; Variables: AdminVariables }>;

const MAX_BODY_BYTES = 64 * 1024;

/** The path's tenant and who is acting; the admin gate has checked the token's role and scope. */
function acting(c: AdminContext): { tenant: string; actor: string } {
  return { tenant: tenantParam(c.req.param("tenant")), actor: principalOf(c).subject };
}

function agentParam(c: AdminContext): string {
  const agent = c.req.param("agent") ?? "";
  if (!AGENT_ID_PATTERN.test(agent)) throw new ApiError(400, "invalid_agent", AGENT_ID_MESSAGE, "agent");
  return agent;
}

export const refused = (outcome: RegistryRefusal) => new ApiError(outcome.status, outcome.code, outcome.message);

/** This isolate forgets its copy, so it decides with the change from the next request on. */
export function changed(env: Env, tenant: string, issuers = false): void {
  const caches = identityCaches(env);
  caches.registries.invalidate(tenant);
  if (issuers) caches.directory.invalidate("issuers");
}

export const adminRegistryRoute = new Hono<{ Bindings: Env; Variables: AdminVariables }>()
  .get("/registry/:tenant/agents", async (c) => {
    const { tenant } = acting(c);
    return c.json({ tenant, agents: await registryObject(c.env, tenant).list() });
  })
  .get("/registry/:tenant/agents/:agent", async (c) => {
    const { tenant } = acting(c);
    const agent = agentParam(c);
    const view = await registryObject(c.env, tenant).agent(agent);
    if (!view) throw new ApiError(404, "not_found", `no agent ${agent} in ${tenant}`);
    return c.json(view);
  })
  .put("/registry/:tenant/agents/:agent", jsonBody(MAX_BODY_BYTES), async (c) => {
    const { tenant, actor } = acting(c);
    const agent = agentParam(c);
    const body = validated(registrationSchema, await readJson(c));
    const outcome = await registryObject(c.env, tenant).register(agent, body, actor);
    if (!outcome.ok) throw refused(outcome);
    changed(c.env, tenant);
    return c.json(outcome.agent, outcome.created ? 201 : 200);
  })
  .delete("/registry/:tenant/agents/:agent", async (c) => {
    const { tenant, actor } = acting(c);
    const agent = agentParam(c);
    const outcome = await registryObject(c.env, tenant).deregister(agent, actor);
    if (!outcome.ok) throw refused(outcome);
    changed(c.env, tenant);
    return c.json({ agent, removed: true, revoked_keys: outcome.revoked_keys });
  })
  .post("/registry/:tenant/agents/:agent/keys", jsonBody(MAX_BODY_BYTES), async (c) => {
    const { tenant, actor } = acting(c);
    const agent = agentParam(c);
    const request = validated(keyRequestSchema, await readJson(c));
    const outcome = await registryObject(c.env, tenant).issueKey(tenant, agent, request, actor);
    if (!outcome.ok) throw refused(outcome);
    changed(c.env, tenant);
    c.header("cache-control", "no-store");
    return c.json({ ...outcome.view, key: outcome.key, note: "this is the only time the key is shown; store it as a secret" }, 201);
  })
  .delete("/registry/:tenant/keys/:key", async (c) => {
    const { tenant, actor } = acting(c);
    const keyId = c.req.param("key");
    if (!/^k[0-9a-f]{16}$/.test(keyId)) throw new ApiError(400, "invalid_key_id", "key ids look like k<16 hex digits>", "key");
    const outcome = await registryObject(c.env, tenant).revokeKey(keyId, actor);
    if (!outcome.ok) throw refused(outcome);
    changed(c.env, tenant);
    return c.json(outcome.view);
  })
  .get("/registry/:tenant/provider", async (c) => {
    const { tenant } = acting(c);
    const provider = await registryObject(c.env, tenant).getProvider();
    if (!provider) throw new ApiError(404, "not_found", `${tenant} has no identity provider`);
    return c.json(provider);
  })
  .put("/registry/:tenant/provider", jsonBody(MAX_BODY_BYTES), async (c) => {
    const { tenant, actor } = acting(c);
    const config = validated(providerConfigSchema, await readJson(c));
    const destination = config.jwks_uri === undefined ? undefined : jwksDestinationProblem(config.jwks_uri, c.env);
    if (destination) throw new ApiError(400, "invalid_input", `jwks_uri: ${destination}`, "jwks_uri");
    const outcome = (await registryObject(c.env, tenant).setProvider(tenant, config, actor)) as { ok: true; provider: ProviderView } | RegistryRefusal;
    if (!outcome.ok) throw refused(outcome);
    changed(c.env, tenant, true);
    return c.json(outcome.provider);
  })
  .delete("/registry/:tenant/provider", async (c) => {
    const { tenant, actor } = acting(c);
    const outcome = await registryObject(c.env, tenant).removeProvider(tenant, actor);
    if (!outcome.ok) throw refused(outcome);
    changed(c.env, tenant, true);
    return c.json({ removed: true });
  })
  .get("/registry/:tenant/changes", async (c) => {
    const { tenant } = acting(c);
    const after = c.req.query("after_seq") ?? "0";
    const limit = c.req.query("limit") ?? "100";
    if (!/^\d{1,15}$/.test(after)) throw new ApiError(400, "invalid_input", "after_seq must be a non-negative integer", "after_seq");
    if (!/^\d{1,4}$/.test(limit) || Number(limit) < 1 || Number(limit) > 1000) throw new ApiError(400, "invalid_input", "limit is 1 to 1000", "limit");
    const page = (await registryObject(c.env, tenant).changes(Number(after), Number(limit))) as { changes: Change[]; next_after_seq?: number };
    return c.json({ tenant, changes: page.changes, ...(page.next_after_seq !== undefined ? { next_after_seq: page.next_after_seq } : {}) });
  });
