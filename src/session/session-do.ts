/**
 * @module session-do
 * One Durable Object per tenant and session: its usage, its circuit breaker,
 * its place in a delegation tree, and the answer it gave each decision id.
 *
 * `commit` is the single call the edge makes per decision. Everything that
 * must be exact runs synchronously against SQLite with no await in between —
 * the idempotency check, the breaker, the budget check and the debit — so
 * concurrent requests are serialised by the object and can never push usage
 * past a limit, and a retried decision id gets the stored answer instead of a
 * second debit. Calls to other objects (the parent session, the tenant's
 * approvals, the agent's rate limits) happen only on the paths that need
 * them, before that synchronous section.
 */
import { DurableObject } from "cloudflare:workers";
import { migrate, SESSION_MIGRATIONS } from "./migrations";
import type { BreakerState, CommitRequest, CommitResult, Usage } from "./types";
import type { Reason, Verdict } from "../types";

/** Decision ids are remembered this long for idempotency; violations this long at most. */
const RETENTION_MS = 24 * 3600 * 1000;

type Fault = { kind: "overloaded" | "retryable" | "slow"; remaining: number; delayMs?: number };

export class SessionDO extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  /** Test and drill hook: makes the next commits fail the way an overloaded or slow object does. */
  private fault: Fault | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => migrate(this.sql, SESSION_MIGRATIONS));
  }

  async commit(request: CommitRequest): Promise<CommitResult> {
    await this.applyFault();
    const seen = this.stored(request.decision_id);
    if (seen) return seen;
    const reasons: Reason[] = [];
    let verdict: Verdict = request.verdict;
    let approval: CommitResult["approval"];

    const lineageProblem = await this.checkLineage(request);
    if (lineageProblem) {
      verdict = "deny";
      reasons.push(lineageProblem);
    }
    if (verdict === "require_approval") {
      const approvals = this.env.APPROVALS.get(this.env.APPROVALS.idFromName(request.tenant));
      if (request.approval_id) {
        const used = await approvals.consume(request.approval_id, request.action_hash, request.now_ms);
        if (used.ok) {
          verdict = "allow";
          approval = { id: request.approval_id, status: "used", expires_at: used.expires_at };
        } else {
          reasons.push({ rule: "approval_not_valid", message: `approval ${request.approval_id} cannot be used: ${used.why}` });
        }
      }
      if (verdict === "require_approval") {
        const created = await approvals.create(request);
        approval = { id: created.id, status: created.status, expires_at: created.expires_at };
      }
    }
    if (verdict === "allow" && request.agent_limit) {
      const agent = this.env.AGENTS.get(this.env.AGENTS.idFromName(`${request.tenant}/${request.agent_id}`));
      const counted = await agent.count(request.agent_limit, request.decision_id, request.now_ms);
      if (!counted.allowed) {
        verdict = "deny";
        reasons.push({ rule: counted.rule, message: counted.message });
      }
    }

    // From here on: synchronous, so it is atomic with respect to every other request.
    const again = this.stored(request.decision_id);
    if (again) return again;
    const result = this.decide(request, verdict, reasons, approval);
    this.sql.exec("INSERT INTO decisions (decision_id, at_ms, result) VALUES (?, ?, ?)", request.decision_id, request.now_ms, JSON.stringify(result));
    if (request.spawn && result.verdict === "allow") this.registerChild(request);
    return result;
  }

  private decide(request: CommitRequest, policyVerdict: Verdict, reasons: Reason[], approval: CommitResult["approval"]): CommitResult {
    const now = request.now_ms;
    let state = this.breakerState(now);
    if (state === "open") {
      reasons.push({ rule: "circuit_open", message: this.breakerReason() });
      return { verdict: "deny", reasons, usage: this.usage(now), breaker: state, approval, replayed: false };
    }
    let verdict = policyVerdict;
    if (verdict === "allow") {
      const exhausted = this.exhausted(request, now);
      if (exhausted) {
        verdict = "deny";
        reasons.push(exhausted);
      } else {
        this.debit(request, now);
      }
    }
    if (verdict === "deny") {
      this.sql.exec("INSERT INTO violations (at_ms) VALUES (?)", now);
      const since = now - request.breaker.window_s * 1000;
      const recent = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM violations WHERE at_ms > ?", since).one().n;
      if (state === "half_open" || recent >= request.breaker.threshold) {
        const why = state === "half_open" ? "a denied action during the half-open trial" : `${recent} denied actions within ${request.breaker.window_s} s`;
        this.openBreaker(now, request.breaker.cooldown_s, why);
        state = "open";
      }
    } else if (state === "half_open") {
      this.closeBreaker();
      state = "closed";
    }
    return { verdict, reasons, usage: this.usage(now), breaker: state, approval, replayed: false };
  }

  private stored(decisionId: string): CommitResult | undefined {
    const row = this.sql.exec<{ result: string }>("SELECT result FROM decisions WHERE decision_id = ?", decisionId).toArray()[0];
    return row ? { ...(JSON.parse(row.result) as CommitResult), replayed: true } : undefined;
  }

  private usageRow(now: number): { tokens: number; api_calls: number; cost_usd: number; started_ms: number } {
    const row = this.sql.exec<{ tokens: number; api_calls: number; cost_usd: number; started_ms: number }>("SELECT tokens, api_calls, cost_usd, started_ms FROM usage").toArray()[0];
    if (row) return row;
    this.sql.exec("INSERT INTO usage (id, tokens, api_calls, cost_usd, started_ms) VALUES (1, 0, 0, 0, ?)", now);
    return { tokens: 0, api_calls: 0, cost_usd: 0, started_ms: now };
  }

  private usage(now: number): Usage {
    const row = this.usageRow(now);
    return { tokens: row.tokens, api_calls: row.api_calls, cost_usd: row.cost_usd, wall_clock_s: Math.max(0, Math.floor((now - row.started_ms) / 1000)) };
  }

  private exhausted(request: CommitRequest, now: number): Reason | undefined {
    const used = this.usage(now);
    const projected: Usage = {
      tokens: used.tokens + request.cost.tokens,
      api_calls: used.api_calls + request.cost.api_calls,
      cost_usd: used.cost_usd + request.cost.cost_usd,
      wall_clock_s: used.wall_clock_s,
    };
    for (const dimension of ["tokens", "api_calls", "cost_usd", "wall_clock_s"] as const) {
      const limit = request.limits[dimension];
      if (limit !== undefined && projected[dimension] > limit) {
        return { rule: "budget_exhausted", message: `${dimension} budget exhausted: ${projected[dimension]} would exceed the limit of ${limit}` };
      }
    }
    return undefined;
  }

  private debit(request: CommitRequest, now: number): void {
    this.usageRow(now);
    this.sql.exec(
      "UPDATE usage SET tokens = tokens + ?, api_calls = api_calls + ?, cost_usd = cost_usd + ?",
      request.cost.tokens,
      request.cost.api_calls,
      request.cost.cost_usd,
    );
  }

  private breakerState(now: number): BreakerState {
    const row = this.sql.exec<{ state: BreakerState; opened_ms: number; cooldown_s: number }>("SELECT state, opened_ms, cooldown_s FROM breaker").toArray()[0];
    if (!row) return "closed";
    if (row.state === "open" && row.cooldown_s > 0 && now >= row.opened_ms + row.cooldown_s * 1000) {
      this.sql.exec("UPDATE breaker SET state = 'half_open'");
      return "half_open";
    }
    return row.state;
  }

  private breakerReason(): string {
    const row = this.sql.exec<{ reason: string }>("SELECT reason FROM breaker").one();
    return `the session's circuit breaker is open (${row.reason}); an operator must reset it`;
  }

  private openBreaker(now: number, cooldownSeconds: number, reason: string): void {
    this.sql.exec(
      "INSERT INTO breaker (id, state, opened_ms, cooldown_s, reason) VALUES (1, 'open', ?, ?, ?) ON CONFLICT (id) DO UPDATE SET state = 'open', opened_ms = excluded.opened_ms, cooldown_s = excluded.cooldown_s, reason = excluded.reason",
      now,
      cooldownSeconds,
      reason,
    );
    // The alarm moves the breaker to half-open after the cool-down, and trims old records.
    void this.ctx.storage.setAlarm(cooldownSeconds > 0 ? now + cooldownSeconds * 1000 : now + RETENTION_MS);
  }

  private closeBreaker(): void {
    this.sql.exec("DELETE FROM breaker");
    this.sql.exec("DELETE FROM violations");
  }

  /** An operator's reset, through the admin API. */
  async resetBreaker(): Promise<{ breaker: BreakerState }> {
    this.closeBreaker();
    return { breaker: "closed" };
  }

  async alarm(): Promise<void> {
    const now = Date.now();
    this.breakerState(now);
    this.sql.exec("DELETE FROM decisions WHERE at_ms < ?", now - RETENTION_MS);
    this.sql.exec("DELETE FROM violations WHERE at_ms < ?", now - RETENTION_MS);
  }

  /** Checks the caller's claimed scopes and depth against what this session recorded (or its parent registered). */
  private async checkLineage(request: CommitRequest): Promise<Reason | undefined> {
    const claimed = request.delegation;
    let lineage = this.sql.exec<{ scopes: string; depth: number }>("SELECT scopes, depth FROM lineage").toArray()[0];
    if (!lineage) {
      if (claimed.parent_session_id) {
        const parent = this.env.SESSIONS.get(this.env.SESSIONS.idFromName(`${request.tenant}/${claimed.parent_session_id}`));
        const registered = await parent.childRegistration(request.agent_id);
        if (!registered) {
          return { rule: "delegation_not_registered", message: `agent ${request.agent_id} was never spawned by session ${claimed.parent_session_id}` };
        }
        lineage = { scopes: JSON.stringify(registered.scopes), depth: registered.depth };
      } else {
        lineage = { scopes: JSON.stringify(claimed.scopes), depth: 0 };
      }
      this.sql.exec(
        "INSERT OR IGNORE INTO lineage (id, parent_session_id, scopes, depth) VALUES (1, ?, ?, ?)",
        claimed.parent_session_id ?? null,
        lineage.scopes,
        lineage.depth,
      );
    }
    const granted = new Set(JSON.parse(lineage.scopes) as string[]);
    const extra = claimed.scopes.filter((scope) => !granted.has(scope));
    if (extra.length > 0) return { rule: "scope_not_granted", message: `this session was granted no ${extra.join(", ")}` };
    if (claimed.depth !== lineage.depth) {
      return { rule: "delegation_depth_mismatch", message: `the agent claims delegation depth ${claimed.depth}; this session was registered at depth ${lineage.depth}` };
    }
    return undefined;
  }

  private registerChild(request: CommitRequest): void {
    const lineage = this.sql.exec<{ depth: number }>("SELECT depth FROM lineage").one();
    this.sql.exec(
      "INSERT INTO children (agent_id, scopes, depth, at_ms) VALUES (?, ?, ?, ?) ON CONFLICT (agent_id) DO UPDATE SET scopes = excluded.scopes, depth = excluded.depth",
      request.spawn!.agent_id,
      JSON.stringify(request.spawn!.scopes),
      lineage.depth + 1,
      request.now_ms,
    );
  }

  async childRegistration(agentId: string): Promise<{ scopes: string[]; depth: number } | null> {
    const row = this.sql.exec<{ scopes: string; depth: number }>("SELECT scopes, depth FROM children WHERE agent_id = ?", agentId).toArray()[0];
    return row ? { scopes: JSON.parse(row.scopes) as string[], depth: row.depth } : null;
  }

  async view(): Promise<{ usage: Usage; breaker: BreakerState; children: Array<{ agent_id: string; depth: number }> }> {
    const now = Date.now();
    const children = this.sql.exec<{ agent_id: string; depth: number }>("SELECT agent_id, depth FROM children").toArray();
    return { usage: this.usage(now), breaker: this.breakerState(now), children };
  }

  async injectFault(fault: Fault | null): Promise<void> {
    this.fault = fault ?? undefined;
  }

  private async applyFault(): Promise<void> {
    if (!this.fault || this.fault.remaining <= 0) return;
    this.fault.remaining--;
    if (this.fault.kind === "slow") {
      await new Promise((resolve) => setTimeout(resolve, this.fault!.delayMs ?? 1000));
      return;
    }
    if (this.fault.kind === "retryable") {
      throw Object.assign(new Error("Network connection lost."), { retryable: true });
    }
    throw Object.assign(new Error("Durable Object is overloaded. Too many requests queued."), { overloaded: true });
  }
}
