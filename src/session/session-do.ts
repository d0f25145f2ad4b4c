/**
 * @module session-do
 * One Durable Object per tenant and session: its usage, its circuit breaker,
 * its approvals, its place in a delegation tree, and the answer it gave each
 * decision id.
 *
 * `commit` is the single call the edge makes per decision. Everything that
 * must be exact runs synchronously against SQLite with no await in between —
 * the idempotency check, the breaker, the approval check, the budget check,
 * the debit, using or creating the approval — so concurrent requests are
 * serialised by the object and can never push usage past a limit, an
 * approval is used by exactly one allowed decision, and a retried decision
 * gets the stored answer instead of a second debit. Only two rarer paths talk
 * to another object, before that section: a child session's first decision
 * (the parent's registration) and a tool with an agent-wide limit (the
 * agent's object).
 *
 * It also grants budget leases for the decisions an agent makes offline,
 * records what those decisions spent when they are uploaded, and takes
 * back what a released lease did not spend (leases.ts); online decisions
 * can never spend what a lease holds.
 *
 * The alarm does the time-based work: expiring approvals (and waking whoever
 * waits on them), moving the breaker to half-open, sending changed approvals
 * to the tenant's index, and forgetting decision ids after a day.
 *
 * What every decision reads (the breaker, the usage, what leases hold back,
 * the data classes) is kept in memory once read, each write changing the copy
 * with the row: the object is its storage's only writer, so a decision reads
 * SQLite once (is this decision id known?) and writes what it changed. After
 * anything that may have rolled a write back, the copies are read again.
 */
import { DurableObject } from "cloudflare:workers";
import { released } from "../rpc-result";
import type { Reason } from "../types";
import { Approvals, publicView, toRecord, type ApprovalRow } from "./approvals";
import { Breaker, type BreakerRow } from "./breaker";
import { Budget } from "./budget";
import { Leases, type Amounts, type LeaseView } from "./leases";
import { Lineage, type Grant } from "./lineage";
import { migrate, SESSION_MIGRATIONS } from "./migrations";
import { agentObject, approvalsIndex, breakerIndex, sessionObject } from "./objects";
import type { AgentLimit, ApprovalChanges, ApprovalRecord, BreakerReport, BreakerState, CommitRequest, CommitResult, RecordedClasses, Usage } from "./types";

/** Decision ids and idempotency keys are remembered this long; denials for the breaker this long at most. */
const RETENTION_MS = 24 * 3600 * 1000;
/**
 * A session that keeps deciding schedules the retention sweep every this many
 * decisions (a cheap comparison once the alarm is set); one that makes only a
 * few keeps its few rows, and its first decision pays for no alarm write.
 */
const SWEEP_EVERY = 100;
/** A session's taint is bounded like any stored set; the policy reads it on every decision. */
const MAX_DATA_CLASSES = 64;
/** When the tenant's index cannot be reached, the alarm tries again after this long. */
const OUTBOX_RETRY_MS = 5_000;
/**
 * Offline spends are remembered (so an upload sent twice is counted once)
 * this long after their lease was released; the edge refuses offline
 * records older than OFFLINE_RECORD_MAX_AGE_MS, which is shorter.
 */
const LEASE_RETENTION_MS = 8 * 24 * 3600 * 1000;

export interface LeaseRequest {
  agent_id: string;
  /** The session's limits by the governing policy's data. */
  limits: Partial<Usage>;
  /** The share of what remains a lease may take (policy data: offline.lease_fraction). */
  fraction: number;
  ttl_s: number;
  now_ms: number;
}

export type LeaseGrantResult =
  | { ok: true; lease: LeaseView; usage: Usage; reused: boolean }
  | { ok: false; code: "circuit_open" | "budget_exhausted"; message: string };

export interface OfflineSpend {
  decision_id: string;
  lease_id: string | null;
  cost: Amounts;
}

/** What one decision changed, kept when it may have to be undone (see `revert`). */
interface Effects {
  debit?: CommitRequest["cost"];
  approval_used?: string;
  child?: { agent_id: string; previous: { scopes: string; depth: number; at_ms: number } | null };
  denial_at?: number;
  breaker_closed?: true;
  breaker_before?: BreakerRow | null;
  agent_counted?: string;
}

export interface SessionView {
  usage: Usage;
  /** The limits the policy last named for this session. */
  limits: Partial<Usage>;
  breaker: BreakerState;
  breaker_resets: Array<{ by: string; at: string }>;
  lineage: (Grant & { parent_session_id: string | null }) | null;
  children: Array<{ agent_id: string; depth: number; scopes: string[] }>;
  approvals: ApprovalRecord[];
  data_classes: string[];
  /** Budget leases still holding part of the budget back. */
  leases: LeaseView[];
}

export class SessionDO extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly budget: Budget;
  private readonly breaker: Breaker;
  private readonly approvals: Approvals;
  private readonly lineage: Lineage;
  private readonly leases: Leases;
  /** The alarm as this instance last set it; read from storage when the object starts. */
  private alarmAt: number | null = null;
  private housekeeping: Promise<void> | undefined;
  /** The session's data classes as stored, oldest first, once read. */
  private classesKept: string[] | undefined;
  /** Decisions committed by this instance, to schedule the retention sweep. */
  private committed = 0;
  /** Long-polls waiting for an approval to be decided, by approval id. */
  private readonly waiters = new Map<string, Set<(record: ApprovalRecord) => void>>();
  /** Long-polls waiting for any of this session's approvals to change (approvalChanges). */
  private readonly approvalWatchers = new Set<() => void>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.budget = new Budget(this.sql);
    this.breaker = new Breaker(this.sql);
    this.approvals = new Approvals(this.sql, ctx.id.toString());
    this.lineage = new Lineage(this.sql);
    this.leases = new Leases(this.sql);
    ctx.blockConcurrencyWhile(async () => {
      migrate(this.sql, SESSION_MIGRATIONS);
      this.alarmAt = await ctx.storage.getAlarm();
    });
  }

  async commit(request: CommitRequest): Promise<CommitResult> {
    const key = request.idempotency_key === undefined ? request.decision_id : `key:${request.idempotency_key}`;
    const seen = this.replay(key, request);
    if (seen) return seen;
    let classes = this.heldClasses(request);
    if (classes.stale) return classes.stale;

    // The paths that need another object, before the atomic section.
    const needsParent = this.lineage.granted() === undefined && request.delegation.parent_session_id !== undefined && request.delegation.parent_agent_id !== undefined;
    let denial = needsParent ? await this.establishLineage(request) : this.establishRoot(request);
    const agentLimit = request.agent_limit;
    let counted = false;
    // Chosen before the agent's object is asked, so an approval the MCP gateway uses without naming it is
    // counted against an agent-wide limit (and refused while its breaker is open) like one the agent names.
    const approvalId = request.approval_id ?? (request.approval_by_action ? this.approvals.approvedFor(request.action_hash, request.now_ms) : undefined);
    const mayBeAllowed = request.verdict === "allow" || (request.verdict === "require_approval" && approvalId !== undefined);
    const needsAgent = !denial && agentLimit !== null && mayBeAllowed && this.breaker.state(request.now_ms) !== "open";
    if (needsAgent) {
      const count = released(await this.agentCounts(request, key).count(agentLimit!));
      if (count.allowed) counted = true;
      else denial = { rule: count.rule, message: count.message };
    }

    // From here to the return: synchronous, so atomic with respect to every other request.
    // A duplicate may have been committed, or a class recorded, while this one awaited another object.
    let result = needsParent || needsAgent ? this.replay(key, request) : undefined;
    if (!result && (needsParent || needsAgent)) {
      classes = this.heldClasses(request);
      result = classes.stale;
    }
    result ??= this.keptThrough(() => this.decide(request, key, classes.held, denial, counted ? agentLimit!.key : undefined, approvalId));
    if (counted && (result.verdict !== "allow" || result.stale_classes)) {
      // The agent counted an action the session then denied; only allowed actions count against its limit.
      await this.agentCounts(request, key).release(agentLimit!.key);
    }
    return result;
  }

  /**
   * `held`: the session's data classes, read in the same synchronous section (nothing in it adds one).
   * `approvalId`: the approval this decision may use, as chosen before any other object was asked.
   */
  private decide(request: CommitRequest, key: string, held: string[], denial: Reason | undefined, agentCounted: string | undefined, approvalId: string | undefined): CommitResult {
    const now = request.now_ms;
    const reasons: Reason[] = [];
    const breakerBefore = this.breaker.current(now);
    let state = breakerBefore?.state ?? "closed";
    let verdict = request.verdict;
    let approval: CommitResult["approval"];
    let usage: Usage | undefined;
    const effects: Effects = {};
    if (agentCounted) effects.agent_counted = agentCounted;

    if (state === "open") {
      verdict = "deny";
      reasons.push({ rule: "circuit_open", message: this.breaker.openReason(breakerBefore) });
    } else {
      const mismatch = denial ?? this.lineage.check(request);
      if (mismatch) {
        verdict = "deny";
        reasons.push(mismatch);
      }
      let granted: ApprovalRow | undefined;
      if (verdict === "require_approval" && approvalId !== undefined) {
        const asking = request.approval_context?.reasons.map((reason) => reason.rule) ?? [];
        const usable = this.approvals.usable(approvalId, request.action_hash, now, asking);
        if (usable.ok) {
          verdict = "allow";
          granted = this.approvals.row(approvalId, now);
        } else {
          reasons.push({ rule: "approval_not_valid", message: `approval ${approvalId} cannot be used: ${usable.why}` });
        }
      }
      if (verdict === "allow") {
        const exhausted = this.budget.exhausted(request, now, this.leases.reserved());
        if (exhausted) {
          verdict = "deny";
          reasons.push(exhausted);
          // Not used: the approval stays valid for when the budget allows.
          if (granted) approval = summary(granted);
        } else {
          usage = this.budget.debit(request, now);
          effects.debit = request.cost;
          if (granted) {
            approval = summary(this.approvals.use(granted.id, request.decision_id, now));
            effects.approval_used = granted.id;
          }
          if (request.spawn) {
            effects.child = { agent_id: request.spawn.agent_id, previous: this.lineage.childRow(request.spawn.agent_id) };
            this.lineage.registerChild(request.spawn, now);
          }
        }
      }
      if (verdict === "require_approval" && !request.observe) approval = summary(this.approvals.create(request));
      // A denial only the infrastructure caused (the policy could not answer) says nothing about the agent.
      const infrastructureOnly = verdict === "deny" && request.verdict === "deny" && request.policy_denial_counts === false && reasons.length === 0;
      if (verdict === "deny" && !infrastructureOnly && !request.observe) {
        state = this.breaker.recordDenial(now, request.breaker, state);
        effects.denial_at = now;
      } else if (verdict === "allow" && state === "half_open") {
        this.breaker.close();
        state = "closed";
        effects.breaker_closed = true;
      }
    }
    if (effects.denial_at !== undefined || effects.breaker_closed) effects.breaker_before = breakerBefore ?? null;
    // The tenant's breaker index hears of every opening and closing (from the alarm, off this path).
    if (state === "open" && breakerBefore?.state !== "open") this.reportBreaker("open", request);
    else if (effects.breaker_closed) this.reportBreaker("closed");

    const result: CommitResult = { verdict, reasons, usage: usage ?? this.budget.usage(now), breaker: state, replayed: false, decision_id: request.decision_id, data_classes: held };
    if (approval) result.approval = approval;
    this.sql.exec(
      "INSERT INTO decisions (decision_id, at_ms, result, action_hash, effects) VALUES (?, ?, ?, ?, ?)",
      key,
      now,
      JSON.stringify(result),
      request.action_hash,
      request.revertible ? JSON.stringify(effects) : null,
    );
    if (++this.committed % SWEEP_EVERY === 0) this.wakeAt(now + RETENTION_MS);
    if (this.approvals.takeChanged()) this.approvalsMoved(now);
    if (state === "open") this.wakeAt(this.breaker.halfOpenAt() ?? now + RETENTION_MS);
    return result;
  }

  /** The stored answer for a decision id or idempotency key, or a conflict if the key was used for another action. */
  private replay(key: string, request: CommitRequest): CommitResult | undefined {
    const row = this.sql.exec<{ result: string; action_hash: string | null; at_ms: number }>("SELECT result, action_hash, at_ms FROM decisions WHERE decision_id = ?", key).toArray()[0];
    if (!row) return undefined;
    const stored = JSON.parse(row.result) as CommitResult;
    if (row.action_hash !== null && row.action_hash !== request.action_hash) {
      return { ...stored, replayed: true, conflict: { message: `idempotency key ${request.idempotency_key ?? key} was used for a different action by decision ${stored.decision_id}` } };
    }
    // Once its answer has been given again (a retry the edge may answer allow), the decision stands: it can no
    // longer be undone, or the retry's allow would keep neither its debit nor its use of an approval.
    this.sql.exec("UPDATE decisions SET effects = NULL WHERE decision_id = ? AND effects IS NOT NULL", key);
    return { ...stored, replayed: true, decided_at_ms: row.at_ms };
  }

  /**
   * A session's first decision records what it was granted: a root session
   * what its agent presents (nothing above it can say otherwise), a child
   * session what its parent's session registered for this agent. Each returns
   * why the request must be denied, if so.
   */
  private establishRoot(request: CommitRequest): Reason | undefined {
    if (this.lineage.granted()) return undefined;
    const claimed = request.delegation;
    if (claimed.depth > 0) {
      return { rule: "delegation_not_registered", message: `an agent at delegation depth ${claimed.depth} must name the session that spawned it (session.parent_session_id)` };
    }
    this.lineage.record(undefined, { scopes: claimed.scopes, depth: 0 });
    return undefined;
  }

  private async establishLineage(request: CommitRequest): Promise<Reason | undefined> {
    const claimed = request.delegation;
    const parent = sessionObject(this.env, request.tenant, claimed.parent_agent_id!, claimed.parent_session_id!);
    const registered = released(await parent.childRegistration(request.agent_id));
    if (this.lineage.granted()) return undefined; // a concurrent first decision recorded it meanwhile
    if (!registered) {
      return { rule: "delegation_not_registered", message: `agent ${request.agent_id} was never spawned by session ${claimed.parent_session_id}` };
    }
    this.lineage.record(claimed.parent_session_id!, registered);
    // The child starts holding what its parent's session held: data it was handed may be in its context.
    // Past the cap too: a child that filled its session with made-up classes before its first decision
    // must not start without its parent's. The parent's own cap bounds what is inherited.
    this.addClasses(registered.data_classes ?? [], null, request.now_ms, false);
    return undefined;
  }

  /**
   * The agent-wide counts of this commit. A sub-agent's actions count at the
   * registered agent its tree descends from, so spawning never resets them;
   * each count is named by the acting agent, this session and the commit's
   * key, so one Idempotency-Key reused in another session counts again.
   */
  private agentCounts(request: CommitRequest, key: string) {
    const counts = agentObject(this.env, request.tenant, request.delegation.root_agent_id ?? request.agent_id);
    const event = JSON.stringify([request.agent_id, request.session_id, key]);
    return {
      count: (limit: AgentLimit) => counts.count(limit, event, request.now_ms),
      release: (limitKey: string) =>
        counts.release(limitKey, event).catch((error: Error) => console.error(`agent count not released for ${key}: ${error.message}`)),
    };
  }

  /**
   * Undoes a committed decision the edge could not let stand (the policy
   * demanded an acknowledged audit record and none could be written): its
   * debit, the approval it used, the denial it counted toward the breaker
   * (and the breaker's state before it), the child it registered, and its
   * place in the agent-wide count. Its stored answer is forgotten, so a
   * retry is judged afresh. Undoing twice changes nothing, and a decision
   * whose answer was already replayed to a retry is not undone.
   */
  async revert(request: CommitRequest): Promise<{ reverted: boolean }> {
    const key = request.idempotency_key === undefined ? request.decision_id : `key:${request.idempotency_key}`;
    const row = this.sql.exec<{ result: string; effects: string | null }>("SELECT result, effects FROM decisions WHERE decision_id = ?", key).toArray()[0];
    if (!row || row.effects === null || (JSON.parse(row.result) as CommitResult).decision_id !== request.decision_id) return { reverted: false };
    const effects = JSON.parse(row.effects) as Effects;
    this.inTransaction(() => {
      if (effects.debit) this.budget.refund(effects.debit);
      if (effects.approval_used) this.approvals.unuse(effects.approval_used, request.decision_id);
      if (effects.child) this.lineage.restoreChild(effects.child.agent_id, effects.child.previous);
      if (effects.denial_at !== undefined) this.breaker.undoDenial(effects.denial_at, effects.breaker_before ?? undefined);
      else if (effects.breaker_closed) this.breaker.restore(effects.breaker_before ?? undefined);
      this.sql.exec("DELETE FROM decisions WHERE decision_id = ?", key);
    });
    if (this.approvals.takeChanged()) this.approvalsMoved(Date.now());
    // An undone denial may have been the one that opened the breaker.
    if (this.breaker.state(Date.now()) !== "open") this.reportBreaker("closed");
    if (effects.agent_counted) {
      await this.agentCounts(request, key).release(effects.agent_counted);
    }
    return { reverted: true };
  }

  /** The classes of data this session has touched, oldest first (a copy the caller may keep). */
  private dataClasses(): string[] {
    this.classesKept ??= this.sql.exec<{ class: string }>("SELECT class FROM data_classes ORDER BY at_ms, class").toArray().map((row) => row.class);
    return [...this.classesKept];
  }

  /** Runs `work`; if it throws, what is kept in memory is read from SQLite again, since a write may not have landed. */
  private keptThrough<T>(work: () => T): T {
    try {
      return work();
    } catch (error) {
      this.forgetKept();
      throw error;
    }
  }

  /** A transaction: all of it or none, and on none the copies in memory are read again too. */
  private inTransaction(work: () => void): void {
    this.keptThrough(() => this.ctx.storage.transactionSync(work));
  }

  private forgetKept(): void {
    this.breaker.forget();
    this.budget.forget();
    this.leases.forget();
    this.classesKept = undefined;
  }

  /**
   * The classes this session holds, and a refusal to commit a decision
   * evaluated without one of them: a per-isolate copy may be behind (another
   * edge recorded PII a moment ago), and the decision would be looser than
   * the session's record.
   */
  private heldClasses(request: CommitRequest): { held: string[]; stale?: CommitResult } {
    const held = this.dataClasses();
    if (request.data_classes_seen === undefined || held.every((c) => request.data_classes_seen!.includes(c))) return { held };
    const stale: CommitResult = { verdict: request.verdict, reasons: [], usage: this.budget.usage(request.now_ms), breaker: this.breaker.state(request.now_ms), replayed: false, decision_id: request.decision_id, data_classes: held, stale_classes: held };
    return { held, stale };
  }

  /**
   * Records classes of data a result of this session carried (the MCP
   * gateway, or a caller of /v1/decide after its tool returned). The set
   * only grows: nothing removes a class. Returns every class now held.
   */
  async recordDataClasses(classes: string[], decisionId: string | null): Promise<RecordedClasses> {
    if (!this.addClasses(classes, decisionId, Date.now())) return { refused: `a session holds at most ${MAX_DATA_CLASSES} data classes` };
    return { data_classes: this.dataClasses() };
  }

  /** Adds the classes this session does not hold yet; false (and nothing added) past MAX_DATA_CLASSES, when `capped`. */
  private addClasses(classes: string[], decisionId: string | null, now: number, capped = true): boolean {
    const held = this.dataClasses();
    const fresh = [...new Set(classes)].filter((c) => !held.includes(c));
    if (capped && held.length + fresh.length > MAX_DATA_CLASSES) return false;
    if (fresh.length === 0) return true;
    this.classesKept = undefined; // read again, in storage's order
    for (const c of fresh) this.sql.exec("INSERT INTO data_classes (class, at_ms, decision_id) VALUES (?, ?, ?)", c, now, decisionId);
    return true;
  }

  /**
   * A budget lease for offline decisions: the agent's open, unexpired lease
   * if it has one, else a new slice of what remains, ending no later than
   * the session's wall-clock budget. None while the breaker is open, and
   * none when nothing is left to slice.
   */
  async grantLease(request: LeaseRequest): Promise<LeaseGrantResult> {
    const now = request.now_ms;
    if (this.breaker.state(now) === "open") return { ok: false, code: "circuit_open", message: `no lease while the session's breaker is open: ${this.breaker.openReason()}` };
    const usage = this.budget.usage(now);
    const current = this.leases.open().find((lease) => lease.agent_id === request.agent_id && Date.parse(lease.expires_at) > now);
    if (current) return { ok: true, lease: current, usage, reused: true };
    // Wall-clock time is not leased, but no lease outlasts it: past it every decision is refused online,
    // and one made offline would be made on a spent budget.
    const wallClockLeftS = request.limits.wall_clock_s === undefined ? request.ttl_s : request.limits.wall_clock_s - usage.wall_clock_s;
    if (wallClockLeftS <= 0) return { ok: false, code: "budget_exhausted", message: `the session's wall-clock budget of ${request.limits.wall_clock_s} s is spent` };
    const lease = this.leases.grant(request.agent_id, request.limits, usage, request.fraction, Math.min(request.ttl_s, wallClockLeftS), now);
    if (!lease) return { ok: false, code: "budget_exhausted", message: "the session has too little budget left to lease any of it" };
    return { ok: true, lease, usage, reused: false };
  }

  /**
   * Records what uploaded offline decisions spent, each once by decision id,
   * all or nothing. Spent is used, whether or not its lease covered it.
   */
  async spendOffline(spends: OfflineSpend[], nowMs: number): Promise<{ recorded: string[]; duplicates: string[] }> {
    const recorded: string[] = [];
    const duplicates: string[] = [];
    this.inTransaction(() => {
      this.budget.usage(nowMs); // makes sure the usage row exists
      for (const spend of spends) {
        if (this.leases.spend(spend.lease_id ?? "", spend.decision_id, spend.cost, nowMs)) {
          this.budget.debit({ cost: spend.cost }, nowMs);
          recorded.push(spend.decision_id);
        } else {
          duplicates.push(spend.decision_id);
        }
      }
    });
    return { recorded, duplicates };
  }

  /** Offline spends held against the leases they name, before they are recorded (Leases.judge): reasons by decision id. */
  async judgeOfflineSpends(agentId: string, spends: Array<OfflineSpend & { lease_id: string; at_ms: number }>, skewMs: number): Promise<Record<string, string[]>> {
    return Object.fromEntries(this.leases.judge(agentId, spends, skewMs));
  }

  /** Ends a lease: what it did not spend is the session's again. Another agent's lease is not found. */
  async releaseLease(id: string, agentId: string, nowMs: number): Promise<{ lease: LeaseView; usage: Usage } | undefined> {
    const lease = this.leases.get(id);
    if (!lease || lease.agent_id !== agentId) return undefined;
    const released = this.leases.release(id, nowMs)!;
    this.wakeAt(nowMs + LEASE_RETENTION_MS);
    return { lease: released, usage: this.budget.usage(nowMs) };
  }

  /** What this session registered for a sub-agent it spawned; asked by the sub-agent's session. */
  /** What this session granted a child it spawned, and the data classes this session holds now (the child inherits them). */
  async childRegistration(agentId: string): Promise<(Grant & { data_classes: string[] }) | null> {
    const grant = this.lineage.child(agentId);
    return grant ? { ...grant, data_classes: this.dataClasses() } : null;
  }

  /** An operator's reset, through the admin API. */
  async resetBreaker(by: string): Promise<{ breaker: BreakerState; was: BreakerState; reset_by: string }> {
    const was = this.breaker.reset(by, Date.now());
    if (was !== "closed") this.reportBreaker("closed");
    return { breaker: "closed", was, reset_by: by };
  }

  /**
   * Queues the breaker's state for the tenant's index, which the alarm sends.
   * The names come from the decision that opened it; a closing without a
   * report of its opening has nothing to correct and is not sent.
   */
  private reportBreaker(state: "open" | "closed", request?: CommitRequest): void {
    const row = this.breaker.row();
    if (state === "open" && request) {
      this.sql.exec(
        `INSERT INTO breaker_report (id, tenant, agent_id, session_id, state, opened_ms, reason, cooldown_s, version, sent) VALUES (1, ?, ?, ?, 'open', ?, ?, ?, 1, 0)
         ON CONFLICT (id) DO UPDATE SET state = 'open', opened_ms = excluded.opened_ms, reason = excluded.reason, cooldown_s = excluded.cooldown_s, version = breaker_report.version + 1, sent = 0`,
        request.tenant,
        request.agent_id,
        request.session_id,
        row?.opened_ms ?? request.now_ms,
        row?.reason ?? null,
        row?.cooldown_s ?? 0,
      );
    } else if (this.sql.exec("UPDATE breaker_report SET state = 'closed', version = version + 1, sent = 0 WHERE state = 'open'").rowsWritten === 0) {
      return;
    }
    this.wakeAt(Date.now());
  }

  async view(): Promise<SessionView> {
    const now = Date.now();
    const lineage = this.sql.exec<{ parent_session_id: string | null }>("SELECT parent_session_id FROM lineage").toArray()[0];
    const granted = this.lineage.granted();
    return {
      usage: this.budget.usage(now),
      limits: this.budget.knownLimits(now),
      breaker: this.breaker.state(now),
      breaker_resets: this.breaker.resets(),
      lineage: granted ? { ...granted, parent_session_id: lineage?.parent_session_id ?? null } : null,
      data_classes: this.dataClasses(),
      children: this.lineage.children(),
      approvals: this.approvals.all(now).map(toRecord),
      leases: this.leases.open(),
    };
  }

  // Approvals: the agent waits, approvers decide. The id was checked to name this object.

  async approval(id: string): Promise<ApprovalRecord | null> {
    const row = this.approvals.row(id, Date.now());
    return row ? toRecord(row) : null;
  }

  /** Long-poll: resolves when the approval is decided or expires, or after `timeoutMs` with its state then. */
  async waitFor(id: string, timeoutMs: number): Promise<ApprovalRecord | null> {
    const row = this.approvals.row(id, Date.now());
    if (!row || row.status !== "pending") return row ? toRecord(row) : null;
    const waiters = this.waiters.get(id) ?? new Set();
    this.waiters.set(id, waiters);
    return new Promise((resolve) => {
      const done = (record: ApprovalRecord) => {
        clearTimeout(timer);
        waiters.delete(done);
        resolve(record);
      };
      // Never past the expiry: the waiter learns it expired even if the alarm is late.
      const timer = setTimeout(() => done(toRecord(this.approvals.row(id, Date.now())!)), Math.max(0, Math.min(timeoutMs, row.expires_ms - Date.now())));
      waiters.add(done);
    });
  }

  /**
   * Long-poll for the MCP gateway's `notifications/elicitation/complete`:
   * of the approvals `agentId` asked for since `sinceMs`, which are pending
   * and which of `known` (pending when the caller last asked) are no longer.
   * With `known` null (a stream just opened) every one that ended approved
   * and unused, rejected or expired counts as settled, so a client that
   * missed a notice while disconnected is told again (it ignores ids it
   * knows are complete). Answers at once when there is news; otherwise when
   * an approval is created, decided, used or expires, or after `timeoutMs`.
   */
  async approvalChanges(agentId: string, sinceMs: number, known: string[] | null, timeoutMs: number): Promise<ApprovalChanges> {
    const look = (): ApprovalChanges & { nextExpiry?: number } => {
      const now = Date.now();
      for (const row of this.approvals.expireDue(now)) this.notify(toRecord(row));
      if (this.approvals.takeChanged()) this.approvalsMoved(now);
      const rows = this.approvals.askedSince(agentId, sinceMs);
      const pending = rows.filter((row) => row.status === "pending").map((row) => row.id);
      const settled = rows.filter((row) => (known === null ? row.status !== "pending" && row.status !== "used" : row.status !== "pending" && known.includes(row.id)));
      return { pending, settled: settled.map(({ id, status }) => ({ id, status })), nextExpiry: this.approvals.nextExpiry() };
    };
    const first = look();
    const news = first.settled.length > 0 || known === null || first.pending.length !== known.length || first.pending.some((id) => !known.includes(id));
    if (!news) {
      // Never past the next expiry, so an approval that expires unattended is reported on time even if the alarm is late.
      const waitMs = Math.max(0, Math.min(timeoutMs, (first.nextExpiry ?? Number.POSITIVE_INFINITY) - Date.now()));
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.approvalWatchers.delete(done);
          resolve();
        };
        const timer = setTimeout(done, waitMs);
        this.approvalWatchers.add(done);
      });
    }
    const { pending, settled } = news ? first : look();
    return { pending, settled };
  }

  async decideApproval(id: string, tenant: string, outcome: "approved" | "rejected", by: string, reason: string): Promise<{ ok: true; record: ApprovalRecord } | { ok: false; status: 404 | 409; why: string }> {
    const now = Date.now();
    const decided = this.approvals.decide(id, tenant, outcome, by, reason, now);
    if (!decided.ok) return decided;
    const record = toRecord(decided.row);
    if (this.approvals.takeChanged()) this.approvalsMoved(now);
    this.notify(record);
    return { ok: true, record };
  }

  /**
   * `GET /v1/approvals/:id` with `Upgrade: websocket`: the socket receives the
   * approval once it is decided or expires, then closes. It is accepted with
   * the hibernation API, so an object whose agents are all waiting costs
   * nothing while nobody decides.
   */
  async fetch(request: Request): Promise<Response> {
    const id = new URL(request.url).searchParams.get("approval") ?? "";
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return new Response("expected a WebSocket upgrade", { status: 426 });
    const row = this.approvals.row(id, Date.now());
    if (!row) return new Response("no such approval", { status: 404 });
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server, [id]);
    if (row.status !== "pending") this.notify(toRecord(row));
    return new Response(null, { status: 101, webSocket: client });
  }

  /** Any message on an approval socket asks for its current state. */
  async webSocketMessage(ws: WebSocket): Promise<void> {
    const [id] = this.ctx.getTags(ws);
    const row = id === undefined ? undefined : this.approvals.row(id, Date.now());
    if (row) ws.send(JSON.stringify(publicView(toRecord(row))));
  }

  async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    try {
      ws.close(code, reason);
    } catch {
      // Already closed: the runtime may have answered the close itself.
    }
  }

  /** An approval was created or changed: the approvals index is owed its copy, and session-wide watchers look again. */
  private approvalsMoved(now: number): void {
    this.wakeAt(now);
    for (const done of [...this.approvalWatchers]) done();
  }

  /** Tells everyone waiting on this approval (long-polls and sockets) that it was decided, used or expired. */
  private notify(record: ApprovalRecord): void {
    for (const done of [...this.approvalWatchers]) done();
    for (const done of [...(this.waiters.get(record.id) ?? [])]) done(record);
    this.waiters.delete(record.id);
    if (record.status === "pending") return;
    for (const ws of this.ctx.getWebSockets(record.id)) {
      ws.send(JSON.stringify(publicView(record)));
      ws.close(1000, record.status);
    }
  }

  /** One housekeeping pass at a time: a second call (a retried alarm, a test) joins the one running. */
  async alarm(): Promise<void> {
    this.housekeeping ??= this.keepHouse().finally(() => {
      this.housekeeping = undefined;
    });
    return this.housekeeping;
  }

  private async keepHouse(): Promise<void> {
    this.alarmAt = null;
    this.approvals.takeChanged(); // the outbox itself is read below
    const now = Date.now();
    for (const row of this.approvals.expireDue(now)) this.notify(toRecord(row));
    this.breaker.state(now);
    this.sql.exec("DELETE FROM decisions WHERE at_ms <= ?", now - RETENTION_MS);
    this.sql.exec("DELETE FROM violations WHERE at_ms <= ?", now - RETENTION_MS);
    this.leases.sweep(now - LEASE_RETENTION_MS);
    const owed = this.approvals.outbox();
    let retry = false;
    if (owed.length > 0) {
      try {
        await approvalsIndex(this.env, owed[0].tenant).upsert(owed);
        this.approvals.sent(owed);
      } catch (error) {
        console.error(`approvals index unreachable, retrying: ${(error as Error).message}`);
        retry = true;
      }
    }
    const report = this.sql.exec("SELECT tenant, agent_id, session_id, state, opened_ms, reason, cooldown_s, version FROM breaker_report WHERE sent = 0").toArray()[0] as unknown as BreakerReport | undefined;
    if (report) {
      try {
        await breakerIndex(this.env, report.tenant).report(report);
        this.sql.exec("UPDATE breaker_report SET sent = 1 WHERE version = ?", report.version);
      } catch (error) {
        console.error(`breaker index unreachable, retrying: ${(error as Error).message}`);
        retry = true;
      }
    }
    const next = [
      retry ? now + OUTBOX_RETRY_MS : undefined,
      this.approvals.hasOutbox() ? now : undefined,
      this.approvals.nextExpiry(),
      this.breaker.halfOpenAt(),
      this.oldest("decisions"),
      this.oldest("violations"),
    ].filter((at): at is number => at !== undefined);
    if (next.length > 0) this.wakeAt(Math.max(now, Math.min(...next)));
  }

  private oldest(table: "decisions" | "violations"): number | undefined {
    const at = this.sql.exec<{ at: number | null }>(`SELECT MIN(at_ms) AS at FROM ${table}`).one().at;
    return at === null ? undefined : at + RETENTION_MS;
  }

  /** Makes sure the alarm fires no later than `at`; a cheap comparison when it already will. */
  private wakeAt(at: number): void {
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    void this.ctx.storage.setAlarm(at);
  }
}

function summary(row: ApprovalRow): NonNullable<CommitResult["approval"]> {
  return { id: row.id, status: row.status, expires_at: new Date(row.expires_ms).toISOString() };
}
