/**
 * @module bench-state-dir
 * Where the benchmark's workerd processes keep Durable Object and R2 state.
 * Miniflare keeps it under the temporary directory, which on this kind of
 * machine is on the disk, where every commit a session object makes before
 * it answers is also an fsync: not what a write pays on Cloudflare, where it
 * is confirmed once replicated to machines nearby. So a run keeps that state
 * on tmpfs, and measures what the disk adds on its own
 * (bench-session-path.ts).
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Memory-backed files, where the machine has them (Linux). */
const TMPFS = "/dev/shm";

/**
 * Points every workerd this process starts at a fresh directory on tmpfs
 * for its state, and returns where the disk-backed temporary directory was.
 * On a machine without tmpfs nothing changes and `tmpfs` is undefined.
 */
export function benchStateDir(): { disk: string; tmpfs?: string; dispose(): void } {
  const disk = tmpdir();
  if (!existsSync(TMPFS)) return { disk, dispose() {} };
  const tmpfs = mkdtempSync(join(TMPFS, "tollgate-bench-"));
  process.env.TMPDIR = tmpfs;
  return { disk, tmpfs, dispose: () => rmSync(tmpfs, { recursive: true, force: true }) };
}
