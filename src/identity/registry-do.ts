/**
 * @module registry-do
 * One Durable Object per tenant: the tenant's agent registry, its agent keys
 * (as hashes), its identity provider, and the record of every change to
 * them (who, what, when). It is the single writer of all of this, so a
 * revocation can never be lost to a concurrent write. Edges do not ask it
 * per decision: they cache its `snapshot` and verify credentials locally,
 * refreshing within one refresh interval (registry-cache.ts).
 *
 * When the provider publishes its keys at a `jwks_uri`, this object fetches
 * them (on registration, when they are older than the refresh period, and
 * when an edge meets a key id it does not know, at most once a minute), so
 * the tenant's provider sees one fetch per period, not one per edge. A failed
 * fetch keeps the keys it had; they stop being accepted once older than the
 * provider's `keys_max_age_s`.
 */
import { DurableObject } from "cloudflare:workers";
import { cappedText } from "../streams/capped-text";
import { migrate, type Migration } from "../session/migrations";
import { mintAgentKey, newKeyId, secretHash } from "./agent-key";
import { issuerDirectory } from "./directory-do";
import { MAX_JWKS_BYTES, usableKeys, type ProviderConfig } from "./provider";
import { certifiedUntil, type RegistrationInput } from "./registration";
import type { KeyEntry, ProviderSnapshot, Registration, RegistrySnapshot } from "./types";

const MIGRATIONS: Migration[] = [
  [
    "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE agents (agent_id TEXT PRIMARY KEY, registration TEXT NOT NULL, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL)",
    "CREATE TABLE keys (key_id TEXT PRIMARY KEY, agent_id TEXT NOT NULL, secret_sha256 TEXT NOT NULL, label TEXT, scopes TEXT, created_ms INTEGER NOT NULL, created_by TEXT NOT NULL, expires_ms INTEGER, revoked_ms INTEGER, revoked_by TEXT)",
    "CREATE INDEX keys_by_agent ON keys (agent_id)",
    "CREATE TABLE provider (id INTEGER PRIMARY KEY CHECK (id = 1), config TEXT NOT NULL, keys TEXT NOT NULL, keys_confirmed_ms INTEGER NOT NULL, last_attempt_ms INTEGER, last_error TEXT)",
    "CREATE TABLE changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT)",
  ],
];

/** A tenant registers at most this many agents, each with at most this many live keys. */
export const MAX_AGENTS = 10_000;
export const MAX_LIVE_KEYS_PER_AGENT = 10;
/** Fetched provider keys are refreshed this often, and at most this often on an unknown key id. */
const KEYS_REFRESH_MS = 5 * 60_000;
const KEYS_REFETCH_MIN_MS = 60_000;
const FETCH_TIMEOUT_MS = 5_000;

export interface KeyView {
  key_id: string;
  agent: string;
  label: string | null;
  scopes: string[] | null;
  created_at: string;
  created_by: string;
  expires_at: string | null;
  revoked_at: string | null;
  revoked_by: string | null;
}

export interface AgentView {
  agent: string;
  registration: Registration;
  created_at: string;
  updated_at: string;
  keys: KeyView[];
}

export interface Change {
  seq: number;
  at: string;
  actor: string;
  action: string;
  target: string;
  detail: unknown;
}

/** A provider as its admins see it: the configuration, the key ids in use, and how fetching them goes. */
export type ProviderView = ProviderConfig & {
  key_ids: Array<string | null>;
  keys_confirmed_at: string | null;
  last_fetch_attempt: string | null;
  last_fetch_error: string | null;
};

export type RegistryRefusal = { ok: false; status: 404 | 409 | 422; code: string; message: string };
type Outcome<T> = ({ ok: true } & T) | RegistryRefusal;

type KeyRow = {
  key_id: string;
  agent_id: string;
  secret_sha256: string;
  label: string | null;
  scopes: string | null;
  created_ms: number;
  created_by: string;
  expires_ms: number | null;
  revoked_ms: number | null;
  revoked_by: string | null;
};

type ProviderRow = {
  config: string;
  keys: string;
  keys_confirmed_ms: number;
  last_attempt_ms: number | null;
  last_error: string | null;
};

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function keyView(row: KeyRow): KeyView {
  return {
    key_id: row.key_id,
    agent: row.agent_id,
    label: row.label,
    scopes: row.scopes === null ? null : (JSON.parse(row.scopes) as string[]),
    created_at: new Date(row.created_ms).toISOString(),
    created_by: row.created_by,
    expires_at: iso(row.expires_ms),
    revoked_at: iso(row.revoked_ms),
    revoked_by: row.revoked_by,
  };
}

/** Reads at most `max` bytes of a response body; a longer one is refused without reading the rest. */
async function readCapped(response: Response, max: number): Promise<string> {
  const read = await cappedText(response.body, max);
  if ("tooLarge" in read) throw new Error(`the JWKS is larger than ${max} bytes`);
  return read.text;
}

export async function fetchJwks(uri: string, algorithms: ProviderConfig["algorithms"]): Promise<JsonWebKey[]> {
  // A redirect is not followed (it is not ok, below): the registered URL is the one trusted.
  const response = await fetch(uri, { headers: { accept: "application/json" }, redirect: "manual", signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`${uri} answered ${response.status}`);
  }
  const text = await readCapped(response, MAX_JWKS_BYTES);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${uri} did not return JSON`);
  }
  return usableKeys(parsed, algorithms);
}

export class AgentRegistryDO extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private refreshing: Promise<void> | undefined;
  private migrated = false;

  /**
   * A registry is created by its first use other than a snapshot: a
   * credential naming a tenant nobody registered is answered from an empty
   * snapshot and leaves nothing stored, so made-up tenant names cannot
   * litter the namespace with objects.
   */
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => {
      if (this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").toArray().length > 0) this.ready();
    });
  }

  /** Brings the schema up to date, creating it on first use. */
  private ready(): void {
    if (this.migrated) return;
    migrate(this.sql, MIGRATIONS);
    this.migrated = true;
  }

  private version(): number {
    return Number(this.sql.exec<{ value: string }>("SELECT value FROM meta WHERE name = 'version'").toArray()[0]?.value ?? 0);
  }

  /** Records a change and moves the version on, in the same synchronous step as the change itself. */
  private record(nowMs: number, actor: string, action: string, target: string, detail: unknown): void {
    this.sql.exec("INSERT INTO changes (at_ms, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)", nowMs, actor, action, target, detail === undefined ? null : JSON.stringify(detail));
    this.sql.exec("INSERT INTO meta (name, value) VALUES ('version', '1') ON CONFLICT (name) DO UPDATE SET value = CAST(value AS INTEGER) + 1");
  }

  private registration(agentId: string): Registration | undefined {
    const row = this.sql.exec<{ registration: string }>("SELECT registration FROM agents WHERE agent_id = ?", agentId).toArray()[0];
    return row ? (JSON.parse(row.registration) as Registration) : undefined;
  }

  private provider(): ProviderRow | undefined {
    return this.sql.exec<ProviderRow>("SELECT config, keys, keys_confirmed_ms, last_attempt_ms, last_error FROM provider").toArray()[0];
  }

  /** Everything an edge needs to verify this tenant's credentials; revoked and expired keys are left out. */
  async snapshot(tenant: string): Promise<RegistrySnapshot> {
    if (!this.migrated) return { tenant, version: 0, agents: {}, keys: {}, provider: null };
    const now = Date.now();
    // fromEntries defines own members: an agent named "__proto__" is an entry, not the table's prototype.
    const agents: Record<string, Registration> = Object.fromEntries(
      this.sql
        .exec<{ agent_id: string; registration: string }>("SELECT agent_id, registration FROM agents")
        .toArray()
        .map((row) => [row.agent_id, JSON.parse(row.registration) as Registration]),
    );
    const live = this.sql.exec<KeyRow>("SELECT * FROM keys WHERE revoked_ms IS NULL AND (expires_ms IS NULL OR expires_ms > ?)", now).toArray();
    const keys: Record<string, KeyEntry> = Object.fromEntries(
      live.map((row) => [row.key_id, { agent: row.agent_id, secret_sha256: row.secret_sha256, scopes: row.scopes === null ? null : (JSON.parse(row.scopes) as string[]), expires_ms: row.expires_ms }]),
    );
    const row = this.provider();
    let provider: ProviderSnapshot | null = null;
    if (row) {
      const config = JSON.parse(row.config) as ProviderConfig;
      if (config.jwks_uri && now - row.keys_confirmed_ms > KEYS_REFRESH_MS) void this.refreshKeys(false);
      provider = {
        issuer: config.issuer,
        audiences: typeof config.audience === "string" ? [config.audience] : config.audience,
        algorithms: config.algorithms,
        claims: config.claims,
        clock_skew_s: config.clock_skew_s,
        keys: JSON.parse(row.keys) as JsonWebKey[],
        // Keys given inline are the configuration itself: they never grow old.
        keys_confirmed_ms: config.jwks_uri ? row.keys_confirmed_ms : Number.MAX_SAFE_INTEGER,
        keys_max_age_s: config.keys_max_age_s,
      };
    }
    return { tenant, version: this.version(), agents, keys, provider };
  }

  async register(agentId: string, input: RegistrationInput, actor: string): Promise<Outcome<{ created: boolean; agent: AgentView }>> {
    this.ready();
    const now = Date.now();
    const existing = this.registration(agentId);
    if (!existing && this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM agents").one().n >= MAX_AGENTS) {
      return { ok: false, status: 409, code: "registry_full", message: `a tenant registers at most ${MAX_AGENTS} agents` };
    }
    const registration: Registration = { ...input, certified_until: certifiedUntil(input.certified_until) };
    this.sql.exec(
      "INSERT INTO agents (agent_id, registration, created_ms, updated_ms) VALUES (?, ?, ?, ?) ON CONFLICT (agent_id) DO UPDATE SET registration = excluded.registration, updated_ms = excluded.updated_ms",
      agentId,
      JSON.stringify(registration),
      now,
      now,
    );
    this.record(now, actor, existing ? "agent_updated" : "agent_registered", agentId, existing ? { from: existing, to: registration } : registration);
    return { ok: true, created: !existing, agent: this.agentView(agentId)! };
  }

  async deregister(agentId: string, actor: string): Promise<Outcome<{ revoked_keys: number }>> {
    this.ready();
    const now = Date.now();
    if (!this.registration(agentId)) return { ok: false, status: 404, code: "not_found", message: `no agent ${agentId}` };
    const revoked = this.sql.exec("UPDATE keys SET revoked_ms = ?, revoked_by = ? WHERE agent_id = ? AND revoked_ms IS NULL", now, actor, agentId).rowsWritten;
    this.sql.exec("DELETE FROM agents WHERE agent_id = ?", agentId);
    this.record(now, actor, "agent_removed", agentId, { revoked_keys: revoked });
    return { ok: true, revoked_keys: revoked };
  }

  private agentView(agentId: string): AgentView | undefined {
    const row = this.sql.exec<{ registration: string; created_ms: number; updated_ms: number }>("SELECT registration, created_ms, updated_ms FROM agents WHERE agent_id = ?", agentId).toArray()[0];
    if (!row) return undefined;
    const keys = this.sql.exec<KeyRow>("SELECT * FROM keys WHERE agent_id = ? ORDER BY created_ms", agentId).toArray().map(keyView);
    return { agent: agentId, registration: JSON.parse(row.registration) as Registration, created_at: new Date(row.created_ms).toISOString(), updated_at: new Date(row.updated_ms).toISOString(), keys };
  }

  async agent(agentId: string): Promise<AgentView | null> {
    this.ready();
    return this.agentView(agentId) ?? null;
  }

  async list(): Promise<AgentView[]> {
    this.ready();
    return this.sql
      .exec<{ agent_id: string }>("SELECT agent_id FROM agents ORDER BY agent_id")
      .toArray()
      .map((row) => this.agentView(row.agent_id)!);
  }

  /** Mints a key for a registered agent; its secret is returned here once and never stored. */
  async issueKey(
    tenant: string,
    agentId: string,
    request: { label?: string; scopes?: string[]; expires_in_days?: number },
    actor: string,
  ): Promise<Outcome<{ key: string; view: KeyView }>> {
    this.ready();
    const now = Date.now();
    const registration = this.registration(agentId);
    if (!registration) return { ok: false, status: 404, code: "agent_not_registered", message: `agent ${agentId} is not registered; keys are issued only to registered agents` };
    if (request.scopes) {
      const extra = request.scopes.filter((scope) => !registration.scopes.includes(scope));
      if (extra.length > 0) return { ok: false, status: 422, code: "scope_not_registered", message: `agent ${agentId} is not registered for ${extra.join(", ")}` };
    }
    const live = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM keys WHERE agent_id = ? AND revoked_ms IS NULL AND (expires_ms IS NULL OR expires_ms > ?)", agentId, now).one().n;
    if (live >= MAX_LIVE_KEYS_PER_AGENT) {
      return { ok: false, status: 409, code: "too_many_keys", message: `agent ${agentId} has ${live} live keys; revoke one first (at most ${MAX_LIVE_KEYS_PER_AGENT})` };
    }
    const keyId = newKeyId();
    const { key, secret } = mintAgentKey(tenant, keyId);
    const expires = request.expires_in_days ? now + request.expires_in_days * 86_400_000 : null;
    this.sql.exec(
      "INSERT INTO keys (key_id, agent_id, secret_sha256, label, scopes, created_ms, created_by, expires_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      keyId,
      agentId,
      await secretHash(secret),
      request.label ?? null,
      request.scopes ? JSON.stringify(request.scopes) : null,
      now,
      actor,
      expires,
    );
    this.record(now, actor, "key_issued", keyId, { agent: agentId, label: request.label ?? null, expires_at: iso(expires) });
    const row = this.sql.exec<KeyRow>("SELECT * FROM keys WHERE key_id = ?", keyId).one();
    return { ok: true, key, view: keyView(row) };
  }

  async revokeKey(keyId: string, actor: string): Promise<Outcome<{ view: KeyView }>> {
    this.ready();
    const now = Date.now();
    const row = this.sql.exec<KeyRow>("SELECT * FROM keys WHERE key_id = ?", keyId).toArray()[0];
    if (!row) return { ok: false, status: 404, code: "not_found", message: `no key ${keyId}` };
    if (row.revoked_ms !== null) return { ok: false, status: 409, code: "already_revoked", message: `key ${keyId} was revoked at ${iso(row.revoked_ms)} by ${row.revoked_by}` };
    this.sql.exec("UPDATE keys SET revoked_ms = ?, revoked_by = ? WHERE key_id = ?", now, actor, keyId);
    this.record(now, actor, "key_revoked", keyId, { agent: row.agent_id });
    return { ok: true, view: keyView(this.sql.exec<KeyRow>("SELECT * FROM keys WHERE key_id = ?", keyId).one()) };
  }

  /** Registers (or replaces) the tenant's identity provider; its keys must be usable now. */
  async setProvider(tenant: string, config: ProviderConfig, actor: string): Promise<Outcome<{ provider: ProviderView }>> {
    this.ready();
    let keys: JsonWebKey[];
    try {
      keys = config.jwks ? usableKeys(config.jwks, config.algorithms) : await fetchJwks(config.jwks_uri!, config.algorithms);
    } catch (error) {
      return { ok: false, status: 422, code: "jwks_unusable", message: (error as Error).message };
    }
    const claimed = await issuerDirectory(this.env).claim(config.issuer, tenant);
    if (!claimed.ok) return { ok: false, status: 409, code: "issuer_taken", message: `issuer ${config.issuer} is registered by another tenant` };
    const now = Date.now();
    const previous = this.provider();
    this.sql.exec(
      "INSERT INTO provider (id, config, keys, keys_confirmed_ms, last_attempt_ms, last_error) VALUES (1, ?, ?, ?, ?, NULL) ON CONFLICT (id) DO UPDATE SET config = excluded.config, keys = excluded.keys, keys_confirmed_ms = excluded.keys_confirmed_ms, last_attempt_ms = excluded.last_attempt_ms, last_error = NULL",
      JSON.stringify(config),
      JSON.stringify(keys),
      now,
      now,
    );
    this.record(now, actor, "provider_set", config.issuer, { ...config, jwks: config.jwks ? { keys: config.jwks.keys.length } : undefined });
    const previousIssuer = previous ? (JSON.parse(previous.config) as ProviderConfig).issuer : undefined;
    if (previousIssuer && previousIssuer !== config.issuer) await issuerDirectory(this.env).release(previousIssuer, tenant);
    return { ok: true, provider: this.providerView()! };
  }

  async removeProvider(tenant: string, actor: string): Promise<Outcome<{ issuer: string }>> {
    this.ready();
    const row = this.provider();
    if (!row) return { ok: false, status: 404, code: "not_found", message: "no identity provider is registered" };
    const { issuer } = JSON.parse(row.config) as ProviderConfig;
    this.sql.exec("DELETE FROM provider");
    this.record(Date.now(), actor, "provider_removed", issuer, undefined);
    await issuerDirectory(this.env).release(issuer, tenant);
    return { ok: true, issuer };
  }

  private providerView(): ProviderView | null {
    const row = this.provider();
    if (!row) return null;
    const config = JSON.parse(row.config) as ProviderConfig;
    return {
      ...config,
      key_ids: (JSON.parse(row.keys) as Array<JsonWebKey & { kid?: string }>).map((key) => key.kid ?? null),
      keys_confirmed_at: iso(row.keys_confirmed_ms),
      last_fetch_attempt: iso(row.last_attempt_ms),
      last_fetch_error: row.last_error,
    };
  }

  async getProvider(): Promise<ProviderView | null> {
    this.ready();
    return this.providerView();
  }

  /**
   * Fetches the provider's keys again. An edge calls this when a token names
   * a key id it does not know (the provider may have rotated); `force` still
   * waits out the minimum interval, so unknown key ids cannot make this
   * object hammer the provider.
   */
  async refreshKeys(force: boolean): Promise<void> {
    this.ready();
    const row = this.provider();
    if (!row) return;
    const config = JSON.parse(row.config) as ProviderConfig;
    if (!config.jwks_uri) return;
    const now = Date.now();
    const due = force ? now - (row.last_attempt_ms ?? 0) >= KEYS_REFETCH_MIN_MS : now - row.keys_confirmed_ms > KEYS_REFRESH_MS && now - (row.last_attempt_ms ?? 0) >= KEYS_REFETCH_MIN_MS;
    if (!due) return;
    this.refreshing ??= (async () => {
      this.sql.exec("UPDATE provider SET last_attempt_ms = ?", now);
      try {
        const keys = await fetchJwks(config.jwks_uri!, config.algorithms);
        const changed = JSON.stringify(keys) !== row.keys;
        // Only into the provider they were fetched for: one replaced or removed meanwhile (its keys withdrawn
        // after a compromise, say) must not get the old provider's keys back, inline keys least of all, which never age.
        const written = this.sql.exec("UPDATE provider SET keys = ?, keys_confirmed_ms = ?, last_error = NULL WHERE config = ?", JSON.stringify(keys), Date.now(), row.config).rowsWritten;
        if (written === 0) return;
        if (changed) this.record(Date.now(), "jwks_uri", "provider_keys_rotated", config.issuer, { key_ids: keys.map((key) => (key as { kid?: string }).kid ?? null) });
        else this.sql.exec("INSERT INTO meta (name, value) VALUES ('version', '1') ON CONFLICT (name) DO UPDATE SET value = CAST(value AS INTEGER) + 1");
      } catch (error) {
        // The keys already held stay in use, until they are older than keys_max_age_s.
        this.sql.exec("UPDATE provider SET last_error = ? WHERE config = ?", (error as Error).message, row.config);
      }
    })().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  async changes(afterSeq: number, limit: number): Promise<{ changes: Change[]; next_after_seq?: number }> {
    this.ready();
    const rows = this.sql
      .exec<{ seq: number; at_ms: number; actor: string; action: string; target: string; detail: string | null }>(
        "SELECT * FROM changes WHERE seq > ? ORDER BY seq LIMIT ?",
        afterSeq,
        limit,
      )
      .toArray();
    const changes = rows.map((row) => ({ seq: row.seq, at: new Date(row.at_ms).toISOString(), actor: row.actor, action: row.action, target: row.target, detail: row.detail === null ? null : JSON.parse(row.detail) }));
    return rows.length === limit ? { changes, next_after_seq: rows[rows.length - 1].seq } : { changes };
  }
}
