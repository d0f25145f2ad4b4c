/**
 * @module client
 * The edge's one call per decision to the session's Durable Object, with
 * the faults handled as the platform defines them: a call slower than the
 * timeout, an `overloaded` object (never retried: retrying feeds the
 * overload) and a `retryable` error (retried once, which is safe only because
 * every debit is idempotent by decision id). Whatever happened is reported so
 * the decision can say so.
 */
import { released } from "../rpc-result";
import { sessionKey } from "./objects";
import type { SessionDO } from "./session-do";
import type { CommitRequest, CommitResult, Usage } from "./types";

export type SessionOutcome =
  | { status: "ok"; result: CommitResult; retried: boolean }
  | { status: "unavailable"; fault: "timeout" | "overloaded" | "error"; message: string; retried: boolean };

class Timeout extends Error {}

/**
 * `promise`, or a rejection once `ms` have passed without it settling: a
 * state object never holds a request past its deadline. An RPC result that
 * lands after the deadline is let go of (rpc-result.ts); one in time is the
 * caller's to release once read.
 */
export function withTimeout<T>(promise: PromiseLike<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      Promise.resolve(promise).then(released, () => undefined);
      reject(new Timeout(`no answer within ${ms} ms`));
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function isOverloaded(error: unknown): boolean {
  const e = error as { overloaded?: boolean; message?: string };
  return e?.overloaded === true || /overloaded/i.test(e?.message ?? "");
}

function isRetryable(error: unknown): boolean {
  return (error as { retryable?: boolean })?.retryable === true;
}

/**
 * One commit, within `timeoutMs` overall: a retry gets what is left of the
 * deadline, not a fresh one, so a flaky object never makes a decision slower
 * than a dead one.
 */
export async function commitToSession(namespace: DurableObjectNamespace<SessionDO>, request: CommitRequest, timeoutMs: number): Promise<SessionOutcome> {
  const stub = namespace.get(namespace.idFromName(sessionKey(request.tenant, request.agent_id, request.session_id)));
  const deadline = Date.now() + timeoutMs;
  let retried = false;
  for (;;) {
    try {
      const result: CommitResult = released(await withTimeout(stub.commit(request), Math.max(1, deadline - Date.now())));
      return { status: "ok", result, retried };
    } catch (error) {
      const message = (error as Error).message ?? String(error);
      if (error instanceof Timeout) return { status: "unavailable", fault: "timeout", message, retried };
      if (isOverloaded(error)) return { status: "unavailable", fault: "overloaded", message, retried };
      if (isRetryable(error) && !retried) {
        retried = true;
        continue;
      }
      return { status: "unavailable", fault: "error", message, retried };
    }
  }
}

/** Undoes a committed decision (see SessionDO.revert); one attempt, within the same kind of deadline. */
export async function revertInSession(namespace: DurableObjectNamespace<SessionDO>, request: CommitRequest, timeoutMs = 1000): Promise<void> {
  const stub = namespace.get(namespace.idFromName(sessionKey(request.tenant, request.agent_id, request.session_id)));
  released(await withTimeout(stub.revert(request), timeoutMs));
}

/**
 * Usage as the session's object last reported it, per isolate, so the policy
 * input carries it when the caller sent none. The object's check-and-debit is
 * what makes budgets exact; this only lets the policy see recent numbers.
 */
const MAX_CACHED_SESSIONS = 10_000;
const usageBySession = new Map<string, Usage>();

export function rememberUsage(sessionKey: string, usage: Usage): void {
  usageBySession.delete(sessionKey);
  usageBySession.set(sessionKey, usage);
  if (usageBySession.size > MAX_CACHED_SESSIONS) usageBySession.delete(usageBySession.keys().next().value!);
}

export function lastUsage(sessionKey: string): Usage | undefined {
  return usageBySession.get(sessionKey);
}

/**
 * The data classes each session's object last reported to this isolate
 * (its taint), so a decision is evaluated with them without a round trip.
 * The copy may be behind; the object refuses a commit evaluated without a
 * class it holds (SessionDO.commit), so a stale copy costs a second
 * evaluation, never a looser decision.
 */
const classesBySession = new Map<string, string[]>();

export function rememberClasses(sessionKey: string, classes: string[]): void {
  classesBySession.delete(sessionKey);
  classesBySession.set(sessionKey, classes);
  if (classesBySession.size > MAX_CACHED_SESSIONS) classesBySession.delete(classesBySession.keys().next().value!);
}

export function lastClasses(sessionKey: string): string[] {
  return classesBySession.get(sessionKey) ?? [];
}

/** Whether this isolate has heard from the session's object which classes it holds (none is an answer too). */
export function knowsClasses(sessionKey: string): boolean {
  return classesBySession.has(sessionKey);
}
