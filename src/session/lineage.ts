/**
 * @module lineage
 * A session's place in a delegation tree, in its object's SQLite: the scopes
 * and depth it was granted, and the sub-agents it spawned. A root session is
 * granted what its agent presents on its first decision (nothing above it
 * can say otherwise); a child session is granted what its parent's session
 * registered when the spawn was allowed. Every later claim is checked
 * against the record, never the other way round.
 */
import type { Reason } from "../types";
import type { CommitRequest } from "./types";

export interface Grant {
  scopes: string[];
  depth: number;
}

export class Lineage {
  /** A grant never changes once recorded, so it is read from SQLite once per instance. */
  private grant: Grant | undefined;

  constructor(private readonly sql: SqlStorage) {}

  granted(): Grant | undefined {
    if (this.grant) return this.grant;
    const row = this.sql.exec<{ scopes: string; depth: number }>("SELECT scopes, depth FROM lineage").toArray()[0];
    this.grant = row ? { scopes: JSON.parse(row.scopes) as string[], depth: row.depth } : undefined;
    return this.grant;
  }

  /** Records the grant on a session's first decision; a concurrent first decision keeps the one recorded first. */
  record(parentSessionId: string | undefined, grant: Grant): void {
    this.sql.exec("INSERT OR IGNORE INTO lineage (id, parent_session_id, scopes, depth) VALUES (1, ?, ?, ?)", parentSessionId ?? null, JSON.stringify(grant.scopes), grant.depth);
  }

  /** Why the caller's claims do not match the record, or undefined when they do. */
  check(request: CommitRequest): Reason | undefined {
    const grant = this.granted();
    if (!grant) return undefined;
    const claimed = request.delegation;
    const granted = new Set(grant.scopes);
    const extra = claimed.scopes.filter((scope) => !granted.has(scope));
    if (extra.length > 0) return { rule: "scope_not_granted", message: `this session was granted no ${extra.join(", ")}` };
    if (claimed.depth !== grant.depth) {
      return { rule: "delegation_depth_mismatch", message: `the agent claims delegation depth ${claimed.depth}; this session was registered at depth ${grant.depth}` };
    }
    return undefined;
  }

  /** An allowed spawn: the child is registered one level below this session, with the scopes it was given. */
  registerChild(spawn: { agent_id: string; scopes: string[] }, now: number): void {
    const depth = (this.granted()?.depth ?? 0) + 1;
    this.sql.exec(
      "INSERT INTO children (agent_id, scopes, depth, at_ms) VALUES (?, ?, ?, ?) ON CONFLICT (agent_id) DO UPDATE SET scopes = excluded.scopes, depth = excluded.depth",
      spawn.agent_id,
      JSON.stringify(spawn.scopes),
      depth,
      now,
    );
  }

  /** A child's registration as stored, to put back if the spawn that changed it is undone. */
  childRow(agentId: string): { scopes: string; depth: number; at_ms: number } | null {
    return this.sql.exec<{ scopes: string; depth: number; at_ms: number }>("SELECT scopes, depth, at_ms FROM children WHERE agent_id = ?", agentId).toArray()[0] ?? null;
  }

  restoreChild(agentId: string, previous: { scopes: string; depth: number; at_ms: number } | null): void {
    this.sql.exec("DELETE FROM children WHERE agent_id = ?", agentId);
    if (previous) this.sql.exec("INSERT INTO children (agent_id, scopes, depth, at_ms) VALUES (?, ?, ?, ?)", agentId, previous.scopes, previous.depth, previous.at_ms);
  }

  child(agentId: string): Grant | null {
    const row = this.sql.exec<{ scopes: string; depth: number }>("SELECT scopes, depth FROM children WHERE agent_id = ?", agentId).toArray()[0];
    return row ? { scopes: JSON.parse(row.scopes) as string[], depth: row.depth } : null;
  }

  children(): Array<{ agent_id: string; depth: number; scopes: string[] }> {
    return this.sql
      .exec<{ agent_id: string; depth: number; scopes: string }>("SELECT agent_id, depth, scopes FROM children ORDER BY at_ms")
      .toArray()
      .map((row) => ({ agent_id: row.agent_id, depth: row.depth, scopes: JSON.parse(row.scopes) as string[] }));
  }
}
