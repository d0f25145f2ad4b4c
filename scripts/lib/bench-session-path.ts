/**
 * @module bench-session-path
 * The full path (session object and audit log) against the policy path, with
 * sessions whose objects stay in memory, and the same full path with its
 * state on this machine's disk.
 *
 * The main table's session row sends each of its 1,000 sessions a decision
 * only every ten seconds or more, as its turns alternate with six other
 * targets; workerd evicts an object idle for ten seconds (as Cloudflare
 * hibernates an idle one), so there nearly every decision wakes its object.
 * Here three edges alternate with `opa run --server` (the policy path; the
 * full path with its state on tmpfs; the same on the disk), each full path
 * over 300 sessions in turn,
 * so an active session decides every few seconds and its object stays in
 * memory. Each edge is a workerd of its own; after each turn of a full path
 * its log is let chain every record so far and the edges' processes go idle
 * (untimed), so no turn is timed while another's log work runs.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { waitUntilChained } from "./audit-drain.ts";
import { enrolAgents, type Call } from "./bench-agents.ts";
import { startEdge } from "./edge-server.ts";
import { runInterleaved } from "./load.ts";
import { waitUntilQuiet, workerdChildren } from "./placement.ts";
import type { Summary } from "./stats.ts";

/** Sessions each full path spreads its requests over: each is visited again within a few seconds. */
export const WARM_SESSIONS = 300;

export interface SessionPathRow {
  concurrency: number;
  policy: Summary;
  tmpfs: Summary;
  disk: Summary;
  opa: Summary;
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
  const policy = await startEdge({ port: 18805, vars: { ...vars, POLICY_ENGINE: "sandbox", SESSION_STATE: "off", AUDIT: "off" } });
  const tmpfs = await startEdge({ port: 18806, vars: fullPath, persistTo: onTmpfs });
  const disk = await startEdge({ port: 18807, vars: fullPath, persistTo: onDisk });
  const edges = [policy, tmpfs, disk];
  try {
    const tenants = [...new Set(bodies.map((body) => String(body.tenant ?? "acme")))];
    const callsFor = async (edge: { url: URL }, sessions: number): Promise<Call[]> => {
      const keyed = await enrolAgents({ url: edge.url.origin, token }, bodies);
      if (sessions === 0) return bodies.map(keyed);
      return Array.from({ length: sessions }, (_, i) => {
        const body = bodies[i % bodies.length];
        return keyed({ ...body, session: { ...(body.session as object), id: `warm-session-${i}` } });
      });
    };
    const calls = [await callsFor(policy, 0), await callsFor(tmpfs, WARM_SESSIONS), await callsFor(disk, WARM_SESSIONS)];
    // The three edges' workerd processes are the only ones this process runs now.
    const pids = workerdChildren();
    const answered = [0, 0, 0];
    const rows: SessionPathRow[] = [];
    for (const concurrency of plan.concurrencies) {
      const shape = { concurrency, requests: plan.requests, warmup: plan.warmup };
      const before = [...answered];
      const [policyRow, tmpfsRow, diskRow, opaRow] = await runInterleaved(
        [
          ...edges.map((edge, i) => ({ ...shape, url: new URL("/v1/decide", edge.url), calls: calls[i], ...(i > 0 ? { watch: '"circuit_open"' } : {}) })),
          { ...shape, url: opa.url, calls: opa.calls },
        ],
        plan.rounds,
        async (turn, sent) => {
          if (turn === 1 || turn === 2) {
            answered[turn] = before[turn] + sent;
            await waitUntilChained({ url: edges[turn].url.origin, token }, tenants, answered[turn]);
          }
          await waitUntilQuiet(pids);
        },
      );
      rows.push({ concurrency, policy: policyRow, tmpfs: tmpfsRow, disk: diskRow, opa: opaRow });
    }
    return rows;
  } finally {
    await Promise.all(edges.map((edge) => edge.dispose()));
    rmSync(onDisk, { recursive: true, force: true });
    rmSync(onTmpfs, { recursive: true, force: true });
  }
}
