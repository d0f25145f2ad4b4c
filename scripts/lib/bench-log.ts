/**
 * @module bench-log
 * The audit log's A/B for `npm run bench`: the same edge build with the log
 * off and on, on the same inputs in alternating rounds, split by what the
 * policy asks of the record (queued after the answer, or appended before it
 * for the critical tier).
 *
 * The edges run in a workerd of their own; the log's backend (the Queue's
 * consumer, the chain objects, R2) runs in a second one, as on Cloudflare it
 * runs away from the location that answered. Where it can, the edges' workerd
 * is pinned to one CPU and the backend and the load generator to the others,
 * the backend at lower priority: its batches then take turns neither on the
 * edge's core nor ahead of the client that times the edge. After each
 * turn of the log-on edge the backend is let drain (untimed) until every
 * record so far is chained, so no turn of the log-off edge pays for the
 * log-on edge's records. After the run it checks that every decision the log-on edge answered was chained and that
 * nothing was counted lost or retried, and fails otherwise: the figures are
 * those of a log that worked.
 */
import { auditStatus, waitUntilChained } from "./audit-drain.ts";
import { enrolAgents, type Call } from "./bench-agents.ts";
import { allowedCpus, lowerPriority, pinProcess } from "./placement.ts";
import { startEdges } from "./edge-server.ts";
import { runInterleaved } from "./load.ts";
import type { Summary } from "./stats.ts";

export interface LogCase {
  record: string;
  /** Decision bodies; each is sent with its agent's key, registered for the run. */
  bodies: Array<Record<string, unknown>>;
  /** The policy demands the record before the answer (the response says `audit: "acknowledged"`). */
  acknowledged: boolean;
}

export interface LogRow {
  record: string;
  concurrency: number;
  without: Summary;
  with: Summary;
}

export interface LogBench {
  rows: LogRow[];
  /** Where each process ran, in words. */
  placement: string;
  /** Decisions the log-on edge answered, and records found in the chains after the run (equal, or it throws). */
  answered: number;
  chained: number;
}

interface Plan {
  concurrencies: number[];
  requests: number;
  warmup: number;
  rounds: number;
}

async function decide(url: URL, call: Call): Promise<{ audit?: string }> {
  const response = await fetch(url, { method: "POST", headers: { ...call.headers, "content-type": "application/json" }, body: call.body });
  if (!response.ok) throw new Error(`HTTP ${response.status} from ${url}: ${await response.text()}`);
  return (await response.json()) as { audit?: string };
}

/**
 * The edges' workerd on the first CPU; the load generator (this process) and
 * the backend's workerd on the rest, the backend at lower priority. Returns
 * the placement in words; if any step fails, every process goes back to all
 * CPUs and the words say so.
 */
function place(pids: { edge?: number; backend?: number }, cpus: number[]): string {
  const { edge, backend } = pids;
  if (cpus.length >= 2 && edge && backend) {
    const rest = cpus.slice(1);
    if (pinProcess(edge, [cpus[0]]) && pinProcess(backend, rest) && pinProcess(process.pid, rest) && lowerPriority(backend)) {
      return `the edges' workerd pinned to CPU ${cpus[0]}; the load generator and, at lower priority, the log's backend (a second workerd: Queue consumer, chain objects, R2) on CPU ${rest.join(",")}`;
    }
    for (const pid of [edge, backend, process.pid]) pinProcess(pid, cpus);
    lowerPriority(backend, 0);
  }
  return "the edges and the log's backend in separate workerd processes, sharing all CPUs (pinning needs Linux, taskset and two CPUs)";
}

/** `vars` carry the run's admin tokens; `token` is one of them, with agent_admin and auditor on every tenant. */
export async function benchLog(cases: LogCase[], plan: Plan, vars: Record<string, string>, token: string): Promise<LogBench> {
  const [withoutLog, withLog] = await startEdges(
    [
      { port: 18796, vars: { POLICY_ENGINE: "sandbox", SESSION_STATE: "off", AUDIT: "off" } },
      { port: 18797, vars: { POLICY_ENGINE: "sandbox", SESSION_STATE: "off", AUDIT: "on" } },
    ],
    { vars, separateBackend: true },
  );
  const admin = { url: withLog.url.origin, token };
  const keyed = await enrolAgents(admin, cases.flatMap(({ bodies }) => bodies));
  const calls = cases.map(({ bodies }) => bodies.map(keyed));
  const cpus = allowedCpus();
  const placement = place(withLog.pids ?? {}, cpus);
  const rows: LogRow[] = [];
  let answered = 0;
  try {
    const decideUrl = (edge: { url: URL }) => new URL("/v1/decide", edge.url);
    // A log that fails would still answer 200s (a critical decision denied for want of its
    // record): the acknowledged path is checked once before it is timed.
    for (const [i, { record, acknowledged }] of cases.entries()) {
      const answer = await decide(decideUrl(withLog), calls[i][0]);
      answered++;
      if (acknowledged && answer.audit !== "acknowledged") throw new Error(`${record}: expected an acknowledged record, got audit=${answer.audit}`);
    }
    const tenants = [...new Set(cases.flatMap(({ bodies }) => bodies.map((body) => String(body.tenant ?? "acme"))))];
    const drained = (expected: number) => waitUntilChained(admin, tenants, expected);
    for (const concurrency of plan.concurrencies) {
      for (const [i, { record }] of cases.entries()) {
        const edges = [withoutLog, withLog].map((edge) => ({ url: decideUrl(edge), calls: calls[i], concurrency, requests: plan.requests, warmup: plan.warmup }));
        const before = answered;
        const [without, withIt] = await runInterleaved(edges, plan.rounds, async (turn, sent) => {
          if (turn === 1) await drained(before + sent);
        });
        answered += plan.warmup + withIt.count;
        rows.push({ record, concurrency, without, with: withIt });
      }
    }
    const chained = await drained(answered);
    const { counters } = await auditStatus(admin, tenants[0]);
    if (chained !== answered || Object.values(counters).some((value) => value > 0)) {
      throw new Error(`the audit log did not keep up in its A/B: ${chained} of ${answered} records chained, counters ${JSON.stringify(counters)}`);
    }
    return { rows, placement, answered, chained };
  } finally {
    if (cpus.length > 0) pinProcess(process.pid, cpus);
    await withLog.dispose();
  }
}
