/**
 * @module placement
 * Where a benchmark's processes run: CPUs of their own (affinity) and a lower
 * priority for one that should yield. It keeps what runs beside the edge (the
 * load generator, the log's backend) from taking turns on the edge's core, as
 * they would not on Cloudflare, where they run on other machines. Linux only
 * (/proc, util-linux `taskset`); elsewhere, or on a single CPU, nothing is
 * moved and the caller says so.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { setPriority } from "node:os";

/** The workerd processes this process started (Miniflare runs workerd as a direct child). */
export function workerdChildren(): number[] {
  if (process.platform !== "linux") return [];
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid …"; comm may hold spaces, so split after ")".
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (comm === "workerd" && ppid === process.pid) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

/** Pins every thread of `pid` to `cpus`; false when it cannot be done here. */
export function pinProcess(pid: number, cpus: number[]): boolean {
  if (process.platform !== "linux" || cpus.length === 0) return false;
  const result = spawnSync("taskset", ["--all-tasks", "--cpu-list", "--pid", cpus.join(","), String(pid)], { encoding: "utf8" });
  return result.status === 0;
}

/** The CPUs `pid` may run on now (its affinity), e.g. [0, 1]; empty when that cannot be read here. */
export function allowedCpus(pid = process.pid): number[] {
  if (process.platform !== "linux") return [];
  const result = spawnSync("taskset", ["--cpu-list", "--pid", String(pid)], { encoding: "utf8" });
  const list = result.status === 0 ? result.stdout.split(":").pop()!.trim() : "";
  return list
    ? list.split(",").flatMap((part) => {
        const [from, to = from] = part.split("-").map(Number);
        return Array.from({ length: to - from + 1 }, (_, i) => from + i);
      })
    : [];
}

/**
 * Lowers every thread of `pid` to `niceness` (Linux sets priority per thread),
 * so it yields its CPU to the processes it shares it with; false when it cannot.
 */
export function lowerPriority(pid: number, niceness = 10): boolean {
  if (process.platform !== "linux") return false;
  try {
    for (const thread of readdirSync(`/proc/${pid}/task`)) setPriority(Number(thread), niceness);
    return true;
  } catch {
    return false;
  }
}

/** CPU time `pids` have used (user and system), in clock ticks; undefined when it cannot be read here. */
function cpuTicks(pids: number[]): number | undefined {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      // After "(comm) ": state is field 0, utime field 11, stime field 12.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      return undefined;
    }
  }
  return ticks;
}

/**
 * Waits until `pids` are quiet: no more than `maxTicks` clock ticks (10 ms
 * each on Linux) of CPU between them over a `windowMs` window, or
 * `timeoutMs` has passed. Between a benchmark's turns, so the work one
 * target leaves behind (a Queue's batches, objects' alarms) is not timed as
 * the next one's. Returns whether they were quiet in time (at once, true,
 * where /proc cannot be read).
 */
export async function waitUntilQuiet(pids: number[], { windowMs = 200, maxTicks = 2, timeoutMs = 2_000 } = {}): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let before = cpuTicks(pids);
  while (before !== undefined && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    const after = cpuTicks(pids);
    if (after === undefined || after - before <= maxTicks) return true;
    before = after;
  }
  return before === undefined;
}
