/**
 * @module migrations
 * Versioned SQLite schemas for the session state objects. Each object runs
 * the migrations it has not run yet when it starts, inside
 * blockConcurrencyWhile, so no request sees a half-migrated schema. A
 * migration is only ever appended, never edited: objects created by an older
 * deploy upgrade in place.
 */
export type Migration = string[];

export function migrate(sql: SqlStorage, migrations: Migration[]): void {
  sql.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
  const row = sql.exec<{ version: number }>("SELECT version FROM schema_version").toArray()[0];
  let version = row?.version ?? 0;
  if (!row) sql.exec("INSERT INTO schema_version (version) VALUES (0)");
  for (; version < migrations.length; version++) {
    for (const statement of migrations[version]) sql.exec(statement);
    sql.exec("UPDATE schema_version SET version = ?", version + 1);
  }
}

export const SESSION_MIGRATIONS: Migration[] = [
  [
    "CREATE TABLE usage (id INTEGER PRIMARY KEY CHECK (id = 1), tokens REAL NOT NULL, api_calls REAL NOT NULL, cost_usd REAL NOT NULL, started_ms INTEGER NOT NULL)",
    "CREATE TABLE decisions (decision_id TEXT PRIMARY KEY, at_ms INTEGER NOT NULL, result TEXT NOT NULL)",
    "CREATE TABLE violations (at_ms INTEGER NOT NULL)",
    "CREATE TABLE breaker (id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL, opened_ms INTEGER, cooldown_s INTEGER NOT NULL DEFAULT 0, reason TEXT)",
    "CREATE TABLE lineage (id INTEGER PRIMARY KEY CHECK (id = 1), parent_session_id TEXT, scopes TEXT NOT NULL, depth INTEGER NOT NULL)",
    "CREATE TABLE children (agent_id TEXT PRIMARY KEY, scopes TEXT NOT NULL, depth INTEGER NOT NULL, at_ms INTEGER NOT NULL)",
  ],
  [
    // Approvals live with the session, so creating and consuming one is part of the same atomic commit.
    "CREATE TABLE approvals (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, session_id TEXT NOT NULL, agent_id TEXT NOT NULL, action_hash TEXT NOT NULL, action_summary TEXT NOT NULL, status TEXT NOT NULL, created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL, decided_by TEXT, decided_ms INTEGER, reason TEXT, used_by TEXT, used_ms INTEGER, version INTEGER NOT NULL)",
    "CREATE INDEX approvals_by_action ON approvals (action_hash, status)",
    // Approvals whose copy in the tenant's index is behind; the alarm sends them.
    "CREATE TABLE outbox (approval_id TEXT PRIMARY KEY)",
    // The limits the policy last gave, for decisions where it could give none.
    "ALTER TABLE usage ADD COLUMN limits TEXT",
    // What a decision was for, so an idempotency key reused for another action is refused.
    "ALTER TABLE decisions ADD COLUMN action_hash TEXT",
    // Who closed the breaker, and when.
    "CREATE TABLE breaker_resets (at_ms INTEGER NOT NULL, by TEXT NOT NULL)",
  ],
  [
    // What a decision changed, kept for decisions that may have to be undone (a record the policy
    // demanded could not be written): the debit, the approval used, the denial counted, the child registered.
    "ALTER TABLE decisions ADD COLUMN effects TEXT",
  ],
  [
    // Budget leases for offline decisions (leases.ts), and the offline decisions spent from them, once each.
    "CREATE TABLE leases (id TEXT PRIMARY KEY, agent_id TEXT NOT NULL, granted TEXT NOT NULL, spent_tokens REAL NOT NULL, spent_api_calls REAL NOT NULL, spent_cost_usd REAL NOT NULL, created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL, status TEXT NOT NULL, released_ms INTEGER)",
    "CREATE TABLE lease_spends (decision_id TEXT PRIMARY KEY, lease_id TEXT NOT NULL, at_ms INTEGER NOT NULL, cost TEXT NOT NULL)",
  ],
  [
    // Session taint: the classes of data the session's tool results carried. Rows are only ever added.
    "CREATE TABLE data_classes (class TEXT PRIMARY KEY, at_ms INTEGER NOT NULL, decision_id TEXT)",
  ],
  [
    // What an approver needs to judge a request: the decision that asked, its reasons, tier and cost (JSON).
    "ALTER TABLE approvals ADD COLUMN context TEXT",
  ],
  [
    // The breaker's state as the tenant's breaker index last has to hear it (sent = 0: owed).
    "CREATE TABLE breaker_report (id INTEGER PRIMARY KEY CHECK (id = 1), tenant TEXT NOT NULL, agent_id TEXT NOT NULL, session_id TEXT NOT NULL, state TEXT NOT NULL, opened_ms INTEGER, reason TEXT, cooldown_s INTEGER NOT NULL DEFAULT 0, version INTEGER NOT NULL, sent INTEGER NOT NULL DEFAULT 0)",
  ],
];

export const BREAKER_INDEX_MIGRATIONS: Migration[] = [
  [
    "CREATE TABLE breakers (agent_id TEXT NOT NULL, session_id TEXT NOT NULL, state TEXT NOT NULL, opened_ms INTEGER, reason TEXT, cooldown_s INTEGER NOT NULL, version INTEGER NOT NULL, updated_ms INTEGER NOT NULL, PRIMARY KEY (agent_id, session_id))",
    "CREATE INDEX breakers_by_state ON breakers (state, opened_ms)",
  ],
];

export const AGENT_MIGRATIONS: Migration[] = [
  [
    "CREATE TABLE events (key TEXT NOT NULL, decision_id TEXT NOT NULL, at_ms INTEGER NOT NULL, PRIMARY KEY (key, decision_id))",
    "CREATE TABLE breaker (key TEXT PRIMARY KEY, opened_ms INTEGER NOT NULL, reason TEXT NOT NULL)",
  ],
  [
    // The hashes of the agent's spool entries the edge has taken, so an upload that does not follow
    // on from any of them is known to have left entries out (offline-decisions.ts).
    "CREATE TABLE spool_hashes (hash TEXT PRIMARY KEY, at_ms INTEGER NOT NULL)",
    "CREATE INDEX spool_hashes_by_age ON spool_hashes (at_ms)",
  ],
  [
    // The classes of data results carried to any of the agent's sessions, each with when it last did
    // (agent-taint.ts): an agent cannot shed its taint by moving to another session.
    "CREATE TABLE data_classes (class TEXT PRIMARY KEY, at_ms INTEGER NOT NULL)",
  ],
];

export const APPROVAL_MIGRATIONS: Migration[] = [
  [
    "CREATE TABLE approvals (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, session_id TEXT NOT NULL, agent_id TEXT NOT NULL, action_hash TEXT NOT NULL, action_summary TEXT NOT NULL, status TEXT NOT NULL, created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL, decided_by TEXT, decided_ms INTEGER, reason TEXT)",
    "CREATE INDEX approvals_by_status ON approvals (status, created_ms)",
  ],
  [
    "ALTER TABLE approvals ADD COLUMN used_by TEXT",
    "ALTER TABLE approvals ADD COLUMN used_ms INTEGER",
    "ALTER TABLE approvals ADD COLUMN version INTEGER NOT NULL DEFAULT 0",
  ],
  ["ALTER TABLE approvals ADD COLUMN context TEXT"],
];
