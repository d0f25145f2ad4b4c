/**
 * @module client
 * `Tollgate`: the agent's side of the decision. `check()` asks for a
 * decision and returns it whatever it is; `enforce()` throws `Denied` or
 * `ApprovalRequired` unless it is allowed; `guard()` wraps a tool so it runs
 * only when allowed, the way agent frameworks wrap tools.
 *
 * A decision comes from the first of these that applies:
 *
 * 1. a reused receipt: an identical action (same session, same canonical
 *    action hash) the edge allowed with `ttl_s > 0`, its receipt verified
 *    against the edge's published keys and not yet expired;
 * 2. the edge, over HTTP, retried with the same `Idempotency-Key` within
 *    the call's deadline;
 * 3. when the edge cannot be reached: the last signed policy, evaluated
 *    locally (`offline.policy`, from `@tollgate/agent/offline`), only for
 *    tiers the policy lets be decided offline, within its offline window
 *    since the edge was last reached, never past a layer's expiry, and for
 *    actions with a cost only within the session's budget lease;
 * 4. otherwise the effective tier's fail mode, as the policy last named it
 *    (a tier never seen fails closed).
 *
 * Decisions made offline (3 and 4) go into a hash-chained spool; the next
 * time the edge answers, the spool is uploaded into the tenant's audit log
 * (idempotent by decision id) and the lease's unspent part is given back.
 */
import { ApprovalRequired, Denied, TollgateError, type WaitOptions } from "./errors.ts";
import { anyAmount, BudgetLeases, type Amounts } from "./budget-lease.ts";
import { actionHash } from "./canonical-json.ts";
import { decisionOf, type Decision, type Reason } from "./decision.ts";
import { defaultSpool } from "./default-spool.ts";
import { EdgeTransport, EdgeUnreachable, type TransportOptions } from "./edge-transport.ts";
import type { HeldPolicy, LocalPolicy } from "./local-policy.ts";
import { loggableArgs } from "./loggable-args.ts";
import { offlineDecisionId, type OfflineRecord, type OfflineSource } from "./offline-record.ts";
import { higherTier, OfflineState } from "./offline-state.ts";
import { ReceiptCache } from "./receipt-cache.ts";
import { ReceiptKeys } from "./receipt-keys.ts";
import { decodeReceipt, verifyReceipt, type ReceiptKey, type Verdict } from "./receipt.ts";
import { MemorySpoolStore, Spool, type SpoolEntry, type SpoolStore } from "./spool.ts";

export type Action = { type: "tool_call" | "spawn_agent" | "plan"; tool?: string; args?: Record<string, unknown>; [field: string]: unknown };

/** How often, at most, the client asks the edge what the agent read in all its sessions. */
const AGENT_CLASSES_EVERY_MS = 30_000;

/**
 * A sub-agent acts on a credential the edge mints for it (`delegated_credential`),
 * which no one can mint while the edge is unreachable: as the edge denies a spawn
 * it cannot credential, an offline spawn is denied, whatever the policy held says.
 */
const SPAWN_OFFLINE: Reason = { rule: "delegation_unavailable_offline", message: "a sub-agent's credential is minted by the edge, and none can be while it is unreachable" };

export interface CheckOptions {
  /** The session this action belongs to (default: the client's `session`). */
  session?: string;
  /** The risk tier the caller declares; the edge may raise it (tool floors, the agent's registration). */
  tier?: "low" | "medium" | "high" | "critical";
  /** Re-submitting an action a person approved. */
  approvalId?: string;
  /** Reused on retries of this call; a new one per call by default. */
  idempotencyKey?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export type TollgateEvent =
  | { type: "cache_hit"; decision: Decision }
  | { type: "edge_unreachable"; message: string }
  | { type: "offline_decision"; decision: Decision; record: OfflineRecord }
  | { type: "receipt_refused"; decision: Decision; message: string }
  | { type: "lease_granted"; session: string; lease_id: string; granted: Amounts; expires_at: string }
  | { type: "spool_uploaded"; accepted: number; refused: number; corrupt: number }
  | { type: "lease_released"; session: string; lease_id: string }
  | { type: "policy_refreshed"; key: string }
  | { type: "background_error"; step: string; message: string };

export interface TollgateOptions extends TransportOptions {
  /** The session decisions belong to when `check` names none. */
  session?: string;
  /** Pinned receipt keys; by default the edge's `/.well-known/jwks.json`. */
  receiptKeys?: { keys: ReceiptKey[] };
  /** Reused decisions kept at most (default 1000); `false` reuses none. */
  cache?: { maxEntries?: number } | false;
  offline?: {
    /** Local evaluation of the last signed policy: `localPolicy()` from `@tollgate/agent/offline`. */
    policy?: LocalPolicy;
    /** Where offline decisions are spooled: a store, or "memory"; by default a file, IndexedDB or memory (default-spool.ts). */
    spool?: SpoolStore | "memory";
  };
  /** Told what the client does on its own: cache hits, offline decisions, uploads, leases. */
  onEvent?: (event: TollgateEvent) => void;
}

export interface GuardOptions<A extends unknown[], R> {
  /** The tool's name in the policy's registry. */
  tool: string;
  tier?: CheckOptions["tier"];
  /** The data classes the tool's results carry (`pii`, `confidential`…), or a function of the result; reported to the session. */
  dataClasses?: string[] | ((result: Awaited<R>) => string[]);
  /** The session, or how to find it from the call's arguments. */
  session?: string | ((...args: A) => string);
  /** The action's `args` from the call's arguments (default: the first argument, when it is a plain object). */
  args?: (...args: A) => Record<string, unknown>;
  /** What the call is expected to cost, for budgets. */
  estimate?: (...args: A) => { tokens?: number; cost_usd?: number };
  /** On `require_approval`: throw `ApprovalRequired` (default), or wait for the approval and then run. */
  approval?: "throw" | "wait";
  /** With `approval: "wait"`: how long to wait for a person. */
  approvalTimeoutMs?: number;
}

/** How many spooled decisions go in one upload. */
const UPLOAD_BATCH = 100;
/** An approval long-poll asks the edge to hold it this long (its maximum is 60 s). */
const APPROVAL_POLL_S = 25;

const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

export class Tollgate {
  readonly transport: EdgeTransport;
  private readonly session: string | undefined;
  private readonly cache: ReceiptCache | undefined;
  private readonly keys: ReceiptKeys;
  private readonly state = new OfflineState();
  /** The latest time this client's clock has read: a clock set back before it decides nothing offline. */
  private latestClockMs = 0;
  private readonly leases = new BudgetLeases();
  private readonly spool: Spool;
  private readonly policy: LocalPolicy | undefined;
  private readonly onEvent: (event: TollgateEvent) => void;
  /** Data classes each session's results carried that the edge may not know of yet. */
  private readonly taint = new Map<string, Set<string>>();
  /** The classes the edge last said the agent read in any session, its other processes' included (for offline decisions), and when it said so. */
  private agentClasses: { classes: string[]; atMs: number } | undefined;
  /** Sessions whose classes the edge has not taken yet: reported again once it answers (afterContact). */
  private readonly unreported = new Set<string>();
  private readonly background = new Set<Promise<unknown>>();
  private syncing: Promise<void> | undefined;
  /** Whether the spool may hold entries: it is read once at start, then only after this client spooled one. */
  private spoolMayHoldEntries = true;

  constructor(options: TollgateOptions) {
    this.transport = new EdgeTransport(options);
    this.session = options.session;
    this.cache = options.cache === false ? undefined : new ReceiptCache(options.cache?.maxEntries ?? 1_000);
    this.keys = new ReceiptKeys(this.transport, options.receiptKeys);
    const spool = options.offline?.spool;
    this.spool = new Spool(spool === "memory" ? new MemorySpoolStore() : (spool ?? defaultSpool(options.credential)));
    this.policy = options.offline?.policy;
    this.onEvent = options.onEvent ?? (() => {});
  }

  /** The decision for `action`, whatever it is. Throws only for a request the edge refused (`TollgateError`). */
  async check(action: Action, options: CheckOptions = {}): Promise<Decision> {
    const session = options.session ?? this.session;
    if (!session) throw new TollgateError("a decision belongs to a session: pass { session } here or to the client", "no_session");
    if (!isPlainObject(action) || typeof action.type !== "string") throw new TollgateError("an action is an object with a type (tool_call, spawn_agent, plan)", "invalid_input");
    const hash = await actionHash(action);
    const cacheKey = ReceiptCache.key(session, hash);
    if (options.approvalId === undefined) {
      const hit = this.cache?.get(cacheKey, Date.now());
      // A receipt covers the tier it was decided at: a caller declaring a higher one asks the edge again.
      if (hit && higherTier(options.tier ?? "low", hit.claims.tier) === hit.claims.tier) {
        const decision: Decision = { ...hit.decision, source: "cache" };
        this.onEvent({ type: "cache_hit", decision });
        return decision;
      }
    }
    const tainted = this.taint.get(session);
    const body = {
      session: { id: session, ...(tainted && tainted.size > 0 ? { data_classes: [...tainted].sort() } : {}) },
      action,
      ...(options.tier ? { risk_tier: options.tier } : {}),
      ...(options.approvalId ? { approval_id: options.approvalId } : {}),
    };
    let response: Record<string, unknown>;
    try {
      ({ body: response } = await this.transport.call("POST", "/v1/decide", {
        body,
        idempotencyKey: options.idempotencyKey ?? crypto.randomUUID(),
        signal: options.signal,
        timeoutMs: options.timeoutMs,
      }));
    } catch (error) {
      if (!(error instanceof EdgeUnreachable)) throw error;
      this.onEvent({ type: "edge_unreachable", message: error.message });
      return this.decideOffline(action, session, options.tier, hash);
    }
    const now = Date.now();
    this.latestClockMs = Math.max(this.latestClockMs, now);
    const decision = decisionOf(response, "edge");
    this.state.learn(response, typeof action.tool === "string" ? action.tool : undefined);
    await this.keepReusable(decision, session, hash, cacheKey, now);
    this.afterContact(session, now);
    return decision;
  }

  /** The decision for `action` if it is allowed; `Denied` or `ApprovalRequired` otherwise. */
  async enforce(action: Action, options: CheckOptions = {}): Promise<Decision> {
    return this.outcome(await this.check(action, options), action, options);
  }

  private outcome(decision: Decision, action: Action, options: CheckOptions): Decision {
    if (decision.decision === "allow") return decision;
    if (decision.decision === "require_approval" && decision.approval) {
      throw new ApprovalRequired(decision, (wait) => this.waitForApproval(decision, action, options, wait));
    }
    throw new Denied(decision);
  }

  /**
   * Wraps a tool so that it runs only when allowed: each call is checked as
   * a `tool_call` of `options.tool` with the call's arguments; a denial
   * throws `Denied` (the tool never runs); an approval throws
   * `ApprovalRequired` or, with `approval: "wait"`, waits for it. The data
   * classes the result carries are reported to the session afterwards, so
   * the policy sees what the session has touched.
   */
  guard<A extends unknown[], R>(tool: (...args: A) => R | Promise<R>, options: GuardOptions<A, R>): (...args: A) => Promise<Awaited<R>> {
    return async (...args: A): Promise<Awaited<R>> => {
      const session = typeof options.session === "function" ? options.session(...args) : (options.session ?? this.session);
      const estimate = options.estimate?.(...args);
      const action: Action = {
        type: "tool_call",
        tool: options.tool,
        args: options.args ? options.args(...args) : isPlainObject(args[0]) ? args[0] : {},
        ...(estimate ? { estimate } : {}),
      };
      const check: CheckOptions = { session, tier: options.tier };
      let decision = await this.check(action, check);
      if (decision.decision === "require_approval" && options.approval === "wait" && decision.approval) {
        decision = await this.waitForApproval(decision, action, check, { timeoutMs: options.approvalTimeoutMs });
      } else {
        this.outcome(decision, action, check);
      }
      const result = (await tool(...args)) as Awaited<R>;
      const classes = typeof options.dataClasses === "function" ? options.dataClasses(result) : options.dataClasses;
      if (classes && classes.length > 0 && session) {
        // The result is the caller's either way; a report the edge did not take stays with this client (see reportDataClasses).
        await this.reportDataClasses(session, classes, decision.id).catch((error: Error) => this.onEvent({ type: "background_error", step: "data_classes", message: error.message }));
      }
      return result;
    };
  }

  /**
   * Tells the session the data classes a result carried. Taint only ever
   * tightens, so until the edge has it, every later decision of the session
   * carries it too, and it is reported again once the edge answers: the
   * edge also records it with the agent, which binds the agent's other
   * sessions.
   */
  async reportDataClasses(session: string, classes: string[], decisionId?: string): Promise<void> {
    const tainted = this.taint.get(session) ?? new Set<string>();
    const before = tainted.size;
    for (const name of classes) tainted.add(name);
    this.taint.set(session, tainted);
    // A decision reused from the cache was made without these classes, and taint binds all the agent's sessions.
    if (tainted.size > before) this.cache?.clear();
    if (tainted.size === 0) return;
    try {
      await this.transport.call("POST", `/v1/sessions/${encodeURIComponent(session)}/data-classes`, {
        body: { data_classes: [...tainted].sort(), ...(decisionId && !decisionId.startsWith("off-") ? { decision_id: decisionId } : {}) },
      });
      this.unreported.delete(session);
    } catch (error) {
      if (!(error instanceof EdgeUnreachable)) throw error;
      // Kept: every later decision of this session carries it, and it is reported again after the next contact.
      this.unreported.add(session);
    }
  }

  /** Waits until the approval is decided, then submits the action again with it. */
  private async waitForApproval(decision: Decision, action: Action, options: CheckOptions, wait: WaitOptions): Promise<Decision> {
    const approvalId = decision.approval!.id;
    const expires = Date.parse(decision.approval!.expires_at);
    const deadline = Math.min(wait.timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + wait.timeoutMs, Number.isFinite(expires) ? expires : Number.POSITIVE_INFINITY);
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new Denied({ ...decision, decision: "deny", allowed: false, reasons: [...decision.reasons, { rule: "approval_wait_timeout", message: `no one decided approval ${approvalId} in time` }], rules: [...decision.rules, "approval_wait_timeout"] });
      }
      const hold = Math.max(1, Math.min(APPROVAL_POLL_S, Math.floor(remaining / 1000)));
      const { body } = await this.transport.call<{ status: string; reason?: string | null }>("GET", `/v1/approvals/${approvalId}?wait=${hold}`, {
        signal: wait.signal,
        timeoutMs: (hold + 10) * 1000,
      });
      if (body.status === "pending") continue;
      if (body.status === "approved") return this.outcome(await this.check(action, { ...options, approvalId, idempotencyKey: undefined }), action, options);
      const rule = `approval_${body.status}`;
      throw new Denied({ ...decision, decision: "deny", allowed: false, reasons: [...decision.reasons, { rule, message: `approval ${approvalId} was ${body.status}${body.reason ? `: ${body.reason}` : ""}` }], rules: [...decision.rules, rule] });
    }
  }

  /** Verifies the edge's receipt and keeps the decision for reuse if the receipt allows it. */
  private async keepReusable(decision: Decision, session: string, hash: string, cacheKey: string, nowMs: number): Promise<void> {
    if (!this.cache || !decision.receipt) return;
    try {
      const kid = decodeReceipt(decision.receipt).header.kid;
      const claims = await verifyReceipt(decision.receipt, {
        keys: await this.keys.forKey(kid, nowMs),
        now: nowMs,
        expect: { session, action: hash, decision: decision.decision, ...(this.state.identity ? { tenant: this.state.identity.tenant, agent: this.state.identity.agent } : {}) },
      });
      // A replayed answer (the same Idempotency-Key) carries the receipt of the decision it repeats.
      const replayOf = (decision.response?.session as { replay_of?: unknown } | undefined)?.replay_of;
      const receiptOf = typeof replayOf === "string" ? replayOf : decision.id;
      if (claims.jti !== receiptOf) throw new Error(`the receipt is of decision ${claims.jti}, not ${receiptOf}`);
      if (decision.decision === "allow") this.cache.put(cacheKey, decision, claims);
    } catch (error) {
      this.onEvent({ type: "receipt_refused", decision, message: (error as Error).message });
    }
  }

  private async decideOffline(action: Action, session: string, declared: string | undefined, hash: string): Promise<Decision> {
    const now = Date.now();
    // A clock reading earlier than a time already read: this client's own, or the edge's last answer.
    const latest = Math.max(this.latestClockMs, this.transport.lastAnswerMs ?? 0);
    const clockWentBack = now < latest;
    this.latestClockMs = Math.max(latest, now);
    const held = this.policy?.held();
    const identity = this.state.identity;
    const tool = typeof action.tool === "string" ? action.tool : undefined;
    let why: Reason | undefined;
    if (!held || !identity) {
      why = { rule: "no_local_policy", message: this.policy ? "no signed policy was fetched from the edge yet" : "this client evaluates no policy locally" };
    } else {
      why = this.offlineRefusal(held, action, declared, now, clockWentBack);
      if (!why) return this.evaluateLocally(held, action, session, declared, hash, now);
    }
    return this.failMode(action, session, declared, hash, tool, held, why, now);
  }

  /** Why the held policy may not decide this action offline now, or undefined when it may. */
  private offlineRefusal(held: HeldPolicy, action: Action, declared: string | undefined, now: number, clockWentBack: boolean): Reason | undefined {
    const tier = held.tierOf(action, declared, this.state.identity!.registration.risk_tier);
    const lastContact = this.transport.lastAnswerMs;
    if (!held.offline.tiers.includes(tier)) return { rule: "offline_not_permitted", message: `the policy does not let ${tier} risk be decided offline` };
    // A clock set back would reopen a window that has passed, and undo the held policy's expiry.
    if (clockWentBack) {
      return { rule: "clock_went_back", message: `this machine's clock reads ${new Date(now).toISOString()}, before a time it has already read (${new Date(this.latestClockMs).toISOString()}); nothing is decided offline on it` };
    }
    if (lastContact === undefined || now - lastContact > held.offline.max_window_s * 1000) {
      return { rule: "offline_window_passed", message: `the edge was last reached more than ${held.offline.max_window_s} s ago, the policy's offline window` };
    }
    if (held.expiresMs <= now) return { rule: "policy_expired", message: `the held policy expired at ${new Date(held.expiresMs).toISOString()}` };
    return undefined;
  }

  /**
   * Every class of data the agent is known to have read: in any of this
   * client's sessions, and in any session at all as the edge last said.
   * Online, the edge judges an action that reaches outside by what all of
   * the agent's sessions read (within the policy's window); offline, this
   * client judges every action by all it knows of: no looser than the edge
   * was at its last answer, stricter only past the window.
   */
  private classesRead(): string[] {
    const classes = new Set<string>(this.agentClasses?.classes);
    for (const tainted of this.taint.values()) for (const name of tainted) classes.add(name);
    return [...classes].sort();
  }

  /**
   * Asks the edge what the agent read in all its sessions (its other
   * processes' included), at most every AGENT_CLASSES_EVERY_MS: what an
   * offline decision is judged by besides this client's own reports.
   */
  private async learnAgentClasses(now: number): Promise<void> {
    if (this.agentClasses && now - this.agentClasses.atMs < AGENT_CLASSES_EVERY_MS) return;
    const { body } = await this.transport.call("GET", "/v1/agent/data-classes");
    const named = (body as { data_classes?: unknown }).data_classes;
    if (!Array.isArray(named)) throw new TollgateError("the edge's answer names no data_classes", "bad_response");
    this.agentClasses = { classes: named.filter((name): name is string => typeof name === "string"), atMs: now };
  }

  private async evaluateLocally(held: HeldPolicy, action: Action, session: string, declared: string | undefined, hash: string, now: number): Promise<Decision> {
    const lease = this.leases.get(session);
    // The policy sees the session's usage as it was when the lease was granted, plus what was spent offline since.
    const usage = lease
      ? {
          ...lease.usage,
          tokens: (lease.usage.tokens ?? 0) + lease.spent.tokens,
          api_calls: (lease.usage.api_calls ?? 0) + lease.spent.api_calls,
          cost_usd: (lease.usage.cost_usd ?? 0) + lease.spent.cost_usd,
          wall_clock_s: (lease.usage.wall_clock_s ?? 0) + Math.max(0, Math.floor((now - lease.grantedAtMs) / 1000)),
        }
      : {};
    const classes = this.classesRead();
    const answer = await held.evaluate({ identity: this.state.identity!, session: { id: session, usage, ...(classes.length > 0 ? { data_classes: classes } : {}) }, action, tier: declared, nowMs: now });
    let verdict: Verdict = answer.decision;
    const reasons = [...answer.reasons];
    if (verdict === "require_approval") {
      verdict = "deny";
      reasons.push({ rule: "approval_unavailable_offline", message: "an approval cannot be asked for while the edge is unreachable" });
    }
    if (verdict === "allow" && action.type === "spawn_agent") {
      verdict = "deny";
      reasons.push(SPAWN_OFFLINE);
    }
    let leaseId: string | undefined;
    let cost: Amounts | undefined;
    if (verdict === "allow" && anyAmount(answer.cost)) {
      const spent = this.leases.spend(session, answer.cost, now);
      if (spent.refusal) {
        verdict = "deny";
        reasons.push(spent.refusal);
      } else {
        leaseId = spent.lease!.id;
        cost = answer.cost;
      }
    }
    return this.recordOffline("local_policy", {
      action,
      session,
      hash,
      verdict,
      reasons,
      obligations: answer.obligations,
      tier: answer.tier,
      now,
      layers: answer.layers,
      region: answer.region,
      leaseId,
      cost,
    });
  }

  private async failMode(action: Action, session: string, declared: string | undefined, hash: string, tool: string | undefined, held: HeldPolicy | undefined, why: Reason, now: number) {
    const identity = this.state.identity;
    const tier = held && identity ? held.tierOf(action, declared, identity.registration.risk_tier) : (higherTier(higherTier(declared ?? "low", this.state.toolTier(tool)), identity?.registration.risk_tier) ?? "critical");
    // Closed wins: a mode an older answer taught is not looser than the signed policy held now.
    const modes = [this.state.failMode(tier), held?.failMode(tier)].filter((m) => m !== undefined);
    const mode = modes.length > 0 && modes.every((m) => m === "open") ? "open" : "closed";
    const spawn = action.type === "spawn_agent" && mode === "open";
    const verdict: Verdict = mode === "open" && !spawn ? "allow" : "deny";
    const reasons = [why, { rule: "edge_unreachable", message: `the edge could not be reached; ${tier} risk fails ${mode}` }, ...(spawn ? [SPAWN_OFFLINE] : [])];
    const estimate = isPlainObject(action.estimate) ? action.estimate : {};
    // An allowed action's cost is still owed: it is debited when the decision is uploaded.
    const cost = verdict === "allow" ? { tokens: Number(estimate.tokens) || 0, api_calls: 1, cost_usd: Number(estimate.cost_usd) || 0 } : undefined;
    return this.recordOffline("fail_mode", { action, session, hash, verdict, reasons, obligations: [], tier, now, cost });
  }

  /** Spools the decision before returning it; a decision that cannot be spooled is denied, never made off the record. */
  private async recordOffline(
    source: OfflineSource,
    made: { action: Action; session: string; hash: string; verdict: Verdict; reasons: Reason[]; obligations: unknown[]; tier: string; now: number; layers?: OfflineRecord["layers"]; region?: string; leaseId?: string; cost?: Amounts },
  ): Promise<Decision> {
    const identity = this.state.identity;
    const { args, redacted } = await loggableArgs(made.action.args, made.obligations);
    const record: OfflineRecord = {
      decision_id: offlineDecisionId(made.now),
      time: new Date(made.now).toISOString(),
      tenant: identity?.tenant ?? null,
      agent: identity?.agent ?? null,
      session: made.session,
      action_type: made.action.type,
      tool: typeof made.action.tool === "string" ? made.action.tool : null,
      action_hash: made.hash,
      decision: made.verdict,
      rules: made.reasons.map((reason) => reason.rule),
      obligations: made.obligations,
      risk_tier: made.tier,
      source,
      ...(made.layers ? { layers: made.layers } : {}),
      ...(made.region ? { region: made.region } : {}),
      ...(made.leaseId ? { lease_id: made.leaseId } : {}),
      ...(made.cost ? { cost: made.cost } : {}),
      ...(args ? { args } : {}),
      ...(redacted ? { args_redacted: true } : {}),
      last_contact: this.transport.lastAnswerMs === undefined ? null : new Date(this.transport.lastAnswerMs).toISOString(),
    };
    let verdict = made.verdict;
    let reasons = made.reasons;
    try {
      this.spoolMayHoldEntries = true;
      await this.spool.add(record);
    } catch (error) {
      verdict = "deny";
      reasons = [...reasons, { rule: "spool_unavailable", message: `the decision could not be spooled (${(error as Error).message})` }];
    }
    const decision: Decision = {
      id: record.decision_id,
      decision: verdict,
      allowed: verdict === "allow",
      reasons,
      rules: reasons.map((reason) => reason.rule),
      obligations: made.obligations,
      source: source === "local_policy" ? "offline" : "fail_mode",
      tier: made.tier,
    };
    this.onEvent({ type: "offline_decision", decision, record });
    return decision;
  }

  /** After the edge answered: report what it has not taken, upload what was decided offline, refresh the local policy, keep a lease. */
  private afterContact(session: string, now: number): void {
    const work = (async () => {
      for (const unreported of [...this.unreported]) {
        await this.reportDataClasses(unreported, []).catch((error: Error) => this.onEvent({ type: "background_error", step: "data_classes", message: error.message }));
      }
      await this.sync().catch((error: Error) => this.onEvent({ type: "background_error", step: "sync", message: error.message }));
      if (!this.policy) return;
      await this.learnAgentClasses(now).catch((error: Error) => this.onEvent({ type: "background_error", step: "data_classes", message: error.message }));
      await this.policy
        .refresh(this.transport, now)
        .then(() => {
          const held = this.policy!.held();
          if (held) this.onEvent({ type: "policy_refreshed", key: held.key });
        })
        .catch((error: Error) => this.onEvent({ type: "background_error", step: "policy", message: error.message }));
      await this.leases
        .ensure(this.transport, session, Date.now())
        .then((lease) => {
          if (lease) this.onEvent({ type: "lease_granted", session, lease_id: lease.id, granted: lease.granted, expires_at: new Date(lease.expiresMs).toISOString() });
        })
        .catch((error: Error) => this.onEvent({ type: "background_error", step: "lease", message: error.message }));
    })();
    this.background.add(work);
    void work.finally(() => this.background.delete(work));
  }

  /**
   * Uploads every spooled decision (in batches, each acknowledged before it
   * leaves the spool), then gives back the unspent part of every lease that
   * was spent from offline, so the session has it again. Safe to call at
   * any time; an upload cut off midway is sent again next time, and the
   * edge records each decision once.
   */
  sync(): Promise<void> {
    this.syncing ??= this.upload().finally(() => (this.syncing = undefined));
    return this.syncing;
  }

  private async upload(): Promise<void> {
    if (!this.spoolMayHoldEntries && !this.leases.all().some((lease) => lease.spent.api_calls > 0 || lease.expiresMs <= Date.now())) return;
    this.spoolMayHoldEntries = false;
    const { entries, corrupt } = await this.spool.pending().catch((error: unknown) => {
      this.spoolMayHoldEntries = true;
      throw error;
    });
    let accepted = 0;
    let refused = 0;
    for (let i = 0; i < entries.length; i += UPLOAD_BATCH) {
      const batch = entries.slice(i, i + UPLOAD_BATCH);
      const { body } = await this.transport
        .call<{ accepted: string[]; rejected: Array<{ seq: number; code: string; message: string }> }>("POST", "/v1/offline/decisions", { body: { entries: batch } })
        .catch((error: unknown) => {
          this.spoolMayHoldEntries = true;
          throw error;
        });
      const refusals = new Map(body.rejected.map((rejection) => [rejection.seq, rejection]));
      const setAside = batch
        .filter((entry) => refusals.has(entry.seq))
        .map((entry: SpoolEntry) => ({ ...entry, refused: { code: refusals.get(entry.seq)!.code, message: refusals.get(entry.seq)!.message } }));
      await this.spool.acknowledge(batch[batch.length - 1].seq, setAside);
      accepted += body.accepted.length;
      refused += setAside.length;
    }
    if (entries.length > 0 || corrupt > 0) this.onEvent({ type: "spool_uploaded", accepted, refused, corrupt });
    // Leases spent from offline (or out of time) go back now that their decisions are in; a fresh one is asked for after.
    for (const lease of this.leases.all()) {
      if (lease.spent.api_calls > 0 || lease.expiresMs <= Date.now() || entries.some((entry) => entry.record.lease_id === lease.id)) {
        await this.leases.release(this.transport, lease.session);
        this.onEvent({ type: "lease_released", session: lease.session, lease_id: lease.id });
      }
    }
  }

  /** Resolves when the work the client started on its own (uploads, refreshes, leases) is done. */
  async idle(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
  }

  /** Uploads what is spooled and gives back every lease: call before the agent exits. */
  async close(): Promise<void> {
    await this.idle();
    await this.sync();
    for (const lease of this.leases.all()) {
      await this.leases.release(this.transport, lease.session).catch(() => undefined);
      this.onEvent({ type: "lease_released", session: lease.session, lease_id: lease.id });
    }
  }
}
