/**
 * @module bench-storage
 * Where workerd keeps Durable Object (and R2) state decides what one commit
 * costs on this machine: every transaction a session object commits before
 * it answers is a SQLite commit, and on a disk that is an fsync. The rest of
 * `npm run bench` keeps that state in files on tmpfs (see `benchStateDir`),
 * so the figures are the engine's; this A/B runs the full path (session
 * object and audit log) with its state on the disk and on tmpfs, the same
 * build, inputs and sessions, in alternating rounds, and says what the disk
 * adds. On Cloudflare neither is what a write pays: a Durable Object's
 * write is confirmed once it is replicated to other machines nearby.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { enrolAgents, type Call } from "./bench-agents.ts";
import { startEdge } from "./edge-server.ts";
import { runInterleaved } from "./load.ts";
import type { Summary } from "./stats.ts";

/** Memory-backed files, where the machine has them (Linux). */
const TMPFS = "/dev/shm";

/**
 * Points every workerd this process starts at a fresh directory on tmpfs
 * for its state (Miniflare keeps it under the temporary directory), and
 * returns where the disk-backed temporary directory was, for the A/B. On a
 * machine without tmpfs nothing changes and `tmpfs` is undefined.
 */
export function benchStateDir(): { disk: string; tmpfs?: string; dispose(): void } {
  const disk = tmpdir();
  if (!existsSync(TMPFS)) return { disk, dispose() {} };
  const tmpfs = mkdtempSync(join(TMPFS, "tollgate-bench-"));
  process.env.TMPDIR = tmpfs;
  return { disk, tmpfs, dispose: () => rmSync(tmpfs, { recursive: true, force: true }) };
}

export interface StorageRow {
  concurrency: number;
  disk: Summary;
  tmpfs: Summary;
}

interface Plan {
  concurrencies: number[];
  requests: number;
  warmup: number;
  rounds: number;
}

/** `vars` carry the run's keys and admin tokens; `token` is one of them, with agent_admin on every tenant. */
export async function benchStorage(
  bodies: Array<Record<string, unknown>>,
  plan: Plan,
  dirs: { disk: string; tmpfs: string },
  vars: Record<string, string>,
  token: string,
): Promise<StorageRow[]> {
  const fullPath = { POLICY_ENGINE: "sandbox", SESSION_STATE: "on", AUDIT: "on", ...vars };
  const onDisk = mkdtempSync(join(dirs.disk, "tollgate-bench-disk-"));
  const onTmpfs = mkdtempSync(join(dirs.tmpfs, "tollgate-bench-state-"));
  const disk = await startEdge({ port: 18806, vars: fullPath, persistTo: onDisk });
  const tmpfs = await startEdge({ port: 18807, vars: fullPath, persistTo: onTmpfs });
  try {
    // The same thousand sessions on both edges, each used in turn, as in the main table's session row.
    const calls = async (edge: { url: URL }): Promise<Call[]> => {
      const keyed = await enrolAgents({ url: edge.url.origin, token }, bodies);
      return Array.from({ length: 1000 }, (_, i) => {
        const body = bodies[i % bodies.length];
        return keyed({ ...body, session: { ...(body.session as object), id: `storage-session-${i}` } });
      });
    };
    const [diskCalls, tmpfsCalls] = [await calls(disk), await calls(tmpfs)];
    const rows: StorageRow[] = [];
    for (const concurrency of plan.concurrencies) {
      const shape = { concurrency, requests: plan.requests, warmup: plan.warmup };
      const [onDiskRow, onTmpfsRow] = await runInterleaved(
        [
          { ...shape, url: new URL("/v1/decide", disk.url), calls: diskCalls },
          { ...shape, url: new URL("/v1/decide", tmpfs.url), calls: tmpfsCalls },
        ],
        plan.rounds,
      );
      rows.push({ concurrency, disk: onDiskRow, tmpfs: onTmpfsRow });
    }
    return rows;
  } finally {
    await Promise.all([disk.dispose(), tmpfs.dispose()]);
    rmSync(onDisk, { recursive: true, force: true });
    rmSync(onTmpfs, { recursive: true, force: true });
  }
}
