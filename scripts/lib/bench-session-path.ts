/**
 * @module bench-session-path
 * The full path (session object and audit log) against the policy path and
 * `opa run --server`, with session objects that stay in memory, and the same
 * full path with its state on this machine's disk.
 *
 * The main table's session row sends each of its 1,000 sessions a decision
 * only every ten seconds or more, as its turns alternate with six other
 * targets; workerd evicts an object idle for ten seconds (as Cloudflare
 * hibernates an idle one), so there nearly every decision wakes its object.
 * Here the same requests, the same 1,000 sessions in the same order, go to
 * edges whose objects are never evicted: what a session's decisions cost
 * while it is in use. Each edge is a workerd of its own; after each turn of
 * a full path its log is let chain every record so far, and after every
 * turn the edges' processes go idle (untimed), so no turn is timed while
 * another's leftover work runs. In the same rounds: the same full path with
 * a session object that answers at once (answering-session.ts), which takes
 * the call apart from the object's work, and the platform's own floor for
 * the session step (object-floor.ts), with the same requests.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { waitUntilChained } from "./audit-drain.ts";
import { enrolAgents, type Call } from "./bench-agents.ts";
import { startEdge } from "./edge-server.ts";
import { startObjectFloor } from "./object-floor.ts";
import { runInterleaved } from "./load.ts";
import { waitUntilQuiet, workerdChildren } from "./placement.ts";
import type { Summary } from "./stats.ts";

export interface SessionPathRow {
  concurrency: number;
  policy: Summary;
  tmpfs: Summary;
  disk: Summary;
  /** The full path (tmpfs) with a session object whose commit answers at once. */
  atOnce: Summary;
  opa: Summary;
  /** The platform's floor (object-floor.ts): a Worker alone, with a round trip to an object, with a row the object writes. */
  floor: { alone: Summary; roundTrip: Summary; write: Summary };
}

/** `opa run --server` with the same policy, measured in the same rounds. */
export interface OpaTarget {
  url: URL;
  calls: Call[];
}

interface Plan {
  concurrencies: number[];
  requests: number;
  warmup: number;
  rounds: number;
}

/** `vars` carry the run's keys and admin tokens; `token` is one of them, with agent_admin and auditor on every tenant. */
export async function benchSessionPath(
  bodies: Array<Record<string, unknown>>,
  plan: Plan,
  dirs: { disk: string; tmpfs: string },
  vars: Record<string, string>,
  token: string,
  opa: OpaTarget,
): Promise<SessionPathRow[]> {
  const fullPath = { POLICY_ENGINE: "sandbox", SESSION_STATE: "on", AUDIT: "on", ...vars };
  const onDisk = mkdtempSync(join(dirs.disk, "tollgate-bench-disk-"));
  const onTmpfs = mkdtempSync(join(dirs.tmpfs, "tollgate-bench-state-"));
  const atOnceState = mkdtempSync(join(dirs.tmpfs, "tollgate-bench-at-once-"));
  const policy = await startEdge({ port: 18805, vars: { ...vars, POLICY_ENGINE: "sandbox", SESSION_STATE: "off", AUDIT: "off" } });
  const tmpfs = await startEdge({ port: 18806, vars: fullPath, persistTo: onTmpfs, keepObjectsInMemory: true });
  const disk = await startEdge({ port: 18807, vars: fullPath, persistTo: onDisk, keepObjectsInMemory: true });
  const atOnce = await startEdge({ port: 18809, vars: fullPath, persistTo: atOnceState, keepObjectsInMemory: true, sessionsAnswerAtOnce: true });
  const edges = [policy, tmpfs, disk, atOnce];
  const floor = await startObjectFloor(18808, dirs.tmpfs);
  try {
    const tenants = [...new Set(bodies.map((body) => String(body.tenant ?? "acme")))];
    const keyed = await Promise.all(edges.map((edge) => enrolAgents({ url: edge.url.origin, token }, bodies)));
    // The main table's session row exactly: request i is scenario i mod 42 in session i mod 1,000.
    const sessionCalls = (edge: number): Call[] =>
      Array.from({ length: 1000 }, (_, i) => {
        const body = bodies[i % bodies.length];
        return keyed[edge]({ ...body, session: { ...(body.session as object), id: `bench-session-${i}` } });
      });
    const calls = [bodies.map(keyed[0]), sessionCalls(1), sessionCalls(2), sessionCalls(3)];
    // The four edges' workerd processes and the floor's are the only ones this process runs now.
    const pids = workerdChildren();
    const answered = [0, 0, 0, 0];
    const rows: SessionPathRow[] = [];
    for (const concurrency of plan.concurrencies) {
      const shape = { concurrency, requests: plan.requests, warmup: plan.warmup };
      const before = [...answered];
      const [policyRow, tmpfsRow, diskRow, atOnceRow, opaRow, alone, roundTrip, write] = await runInterleaved(
        [
          ...edges.map((edge, i) => ({
            ...shape,
            url: new URL("/v1/decide", edge.url),
            calls: calls[i],
            ...(i > 0 ? { watch: '"circuit_open"' } : {}),
          })),
          { ...shape, url: opa.url, calls: opa.calls },
          ...[floor.alone, floor.roundTrip, floor.write].map((url) => ({ ...shape, url, calls: calls[1] })),
        ],
        plan.rounds,
        async (turn, sent) => {
          if (turn >= 1 && turn <= 3) {
            answered[turn] = before[turn] + sent;
            await waitUntilChained({ url: edges[turn].url.origin, token }, tenants, answered[turn]);
          }
          await waitUntilQuiet(pids);
        },
      );
      rows.push({ concurrency, policy: policyRow, tmpfs: tmpfsRow, disk: diskRow, atOnce: atOnceRow, opa: opaRow, floor: { alone, roundTrip, write } });
    }
    return rows;
  } finally {
    await Promise.all([...edges.map((edge) => edge.dispose()), floor.dispose()]);
    rmSync(onDisk, { recursive: true, force: true });
    rmSync(onTmpfs, { recursive: true, force: true });
    rmSync(atOnceState, { recursive: true, force: true });
  }
}
