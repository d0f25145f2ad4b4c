/**
 * @module edge-server
 * Serves the edge Worker straight from workerd through Miniflare, with the
 * bindings wrangler.toml declares, on a loopback port bound directly to the
 * Worker. Neither wrangler dev's proxy nor Miniflare's routing worker sits in
 * front, so what a client measures is the edge itself. Used by
 * `npm start`, the benchmark and the CLI.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { ANSWERING_SESSION_CLASS, ANSWERING_SESSION_MODULE } from "./answering-session.ts";
import { workerdChildren } from "./placement.ts";
import { ROOT } from "../toolchain.mjs";

export const EDGE_BUNDLE_DIR = join(ROOT, "build", "edge");

/** Bundles src/index.ts exactly as a deploy would (`wrangler deploy --dry-run`). */
export function bundleEdge(): void {
  // wrangler adds to the directory and never empties it: a policy wasm from an earlier build would
  // otherwise be handed to every edge started after it (edgeModules takes every .wasm file there).
  rmSync(EDGE_BUNDLE_DIR, { recursive: true, force: true });
  const result = spawnSync(
    process.execPath,
    [join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js"), "deploy", "--dry-run", "--outdir", EDGE_BUNDLE_DIR],
    { cwd: ROOT, encoding: "utf8" },
  );
  if (result.status !== 0) throw new Error(`wrangler bundle failed:\n${result.stdout}\n${result.stderr}`);
}

/** The bundled Worker: its entry module plus the wasm files wrangler emitted beside it. */
function edgeModules(): Array<{ type: "ESModule" | "CompiledWasm"; path: string; contents: Uint8Array | string }> {
  const files = readdirSync(EDGE_BUNDLE_DIR).filter((name) => name === "index.js" || name.endsWith(".wasm"));
  return files
    .sort((a, b) => (a === "index.js" ? -1 : b === "index.js" ? 1 : a.localeCompare(b)))
    .map((name) => ({
      type: name.endsWith(".wasm") ? "CompiledWasm" : "ESModule",
      path: name,
      contents: name.endsWith(".wasm") ? readFileSync(join(EDGE_BUNDLE_DIR, name)) : readFileSync(join(EDGE_BUNDLE_DIR, name), "utf8"),
    }));
}

export interface EdgeOptions {
  host?: string;
  port?: number;
  /** Overrides for [vars] in wrangler.toml (location, region, engine mode…). */
  vars?: Record<string, string>;
  /** Where R2, Durable Object and cache state persist; in memory when omitted. */
  persistTo?: string;
  /**
   * With several edges: run the worker behind them (Durable Objects, the
   * audit Queue's consumer, the log's R2) in a workerd process of its own,
   * reached through Miniflare's dev registry, as Cloudflare runs those away
   * from the location that answered. In memory only.
   */
  separateBackend?: boolean;
  /**
   * With a separate backend: each edge in a workerd process of its own (as
   * Cloudflare runs a location's Worker on many machines), rather than all
   * edges in one. workerd runs a Worker's requests on one thread, so this is
   * how an edge uses more than one core here.
   */
  processPerEdge?: boolean;
  /**
   * Keep every Durable Object in memory however long it is idle (workerd's
   * own switch; production objects cannot turn eviction off). For measuring
   * objects that are in use, apart from the cost of waking evicted ones.
   */
  keepObjectsInMemory?: boolean;
  /** Opens workerd's V8 inspector on this port (to read each isolate's heap). */
  inspectorPort?: number;
  /**
   * Bind SESSIONS to a benchmark-only session object whose commit answers at
   * once (answering-session.ts): the session step without the object's work.
   */
  sessionsAnswerAtOnce?: boolean;
}

export interface RunningEdge {
  url: URL;
  miniflare: Miniflare;
  /** With a separate backend: each instance's workerd process, where it can be told (Linux). */
  pids?: { edge?: number; backend?: number };
  dispose(): Promise<void>;
}

export async function startEdge(options: EdgeOptions = {}): Promise<RunningEdge> {
  const [edge] = await startEdges([{ region: options.vars?.EDGE_REGION, port: options.port }], options);
  return edge;
}

export interface EdgeSpec {
  region?: string;
  port?: number;
  /** This location's own [vars] overrides, on top of the shared ones. */
  vars?: Record<string, string>;
}

/** With several edges, the worker that hosts the Durable Objects and consumes the audit Queue. */
const SHARED_WORKER = "tollgate-shared";

/**
 * Several edge locations in one workerd, each on its own loopback port and
 * region, sharing one R2 bundle store: what a handful of Cloudflare
 * locations and the central store look like on one machine. As on
 * Cloudflare, where an object lives in one place for every location and the
 * Queue's consumer runs in its own invocations, the Durable Objects and the
 * audit consumer belong to one more worker that no client reaches: every
 * edge binds the same objects, and no edge carries the others' log work.
 * With `separateBackend` that worker gets a workerd of its own, and the
 * edges keep their own (empty) bundle store.
 */
export async function startEdges(specs: EdgeSpec[], options: EdgeOptions = {}): Promise<RunningEdge[]> {
  const host = options.host ?? "127.0.0.1";
  // Module rules are resolved by wrangler's bundle already; the modules are listed explicitly below.
  const { modulesRules: _rules, ...workerOptions } = unstable_getMiniflareWorkerOptions(join(ROOT, "wrangler.toml")).workerOptions;
  const modules = options.sessionsAnswerAtOnce ? [{ type: "ESModule" as const, path: "answering-session.js", contents: ANSWERING_SESSION_MODULE }, ...edgeModules()] : edgeModules();
  const ports = specs.map((spec, i) => spec.port ?? (options.port ?? 8787) + i);
  const shared = specs.length > 1;
  const bindings = { ...(workerOptions.bindings ?? {}), ...(options.vars ?? {}) };
  // Each object binding in its long form, so options can be added to it.
  const objects = Object.fromEntries(
    Object.entries(workerOptions.durableObjects ?? {}).map(([name, binding]) => [
      name,
      {
        ...(typeof binding === "string" ? { className: binding } : binding),
        ...(options.keepObjectsInMemory ? { unsafePreventEviction: true } : {}),
        ...(options.sessionsAnswerAtOnce && name === "SESSIONS" ? { className: ANSWERING_SESSION_CLASS } : {}),
      },
    ]),
  );
  workerOptions.durableObjects = objects;
  const sharedObjects = Object.fromEntries(Object.entries(objects).map(([name, binding]) => [name, { ...binding, scriptName: SHARED_WORKER }]));
  const edges = specs.map((spec, i) => ({
    ...workerOptions,
    ...(shared ? { queueConsumers: undefined, durableObjects: sharedObjects } : {}),
    name: shared ? `tollgate-edge-${i}` : "tollgate-edge",
    unsafeDirectSockets: [{ host, port: ports[i] }],
    modules,
    bindings: {
      ...bindings,
      ...(spec.region ? { EDGE_REGION: spec.region, EDGE_LOCATION: `edge-${spec.region}` } : {}),
      ...(spec.vars ?? {}),
    },
  }));
  const sharedWorker = { ...workerOptions, name: SHARED_WORKER, modules, bindings };
  if (options.separateBackend) {
    if (!shared) throw new Error("separateBackend needs more than one edge");
    // The dev registry is how two Miniflare instances find each other's workers; a
    // private one keeps this run apart from any other local session.
    const registry = mkdtempSync(join(tmpdir(), "tollgate-registry-"));
    const instance = (workers: object[]) =>
      new Miniflare(convertV4MiniflareOptions({ host: "127.0.0.1", port: 0, unsafeDevRegistryPath: registry, workers } as Parameters<typeof convertV4MiniflareOptions>[0]));
    // Each instance's workerd is the child process that was not there before it started.
    const started = (before: number[]) => workerdChildren().find((pid) => !before.includes(pid));
    const beforeBackend = workerdChildren();
    const backend = instance([sharedWorker]);
    await backend.ready;
    const backendPid = started(beforeBackend);
    const groups = options.processPerEdge ? edges.map((edge) => [edge]) : [edges];
    const running: Array<{ miniflare: Miniflare; pid?: number }> = [];
    for (const group of groups) {
      const before = workerdChildren();
      const miniflare = instance(group);
      await miniflare.ready;
      running.push({ miniflare, pid: started(before) });
    }
    let disposed: Promise<void> | undefined;
    const dispose = () =>
      (disposed ??= Promise.all([...running.map(({ miniflare }) => miniflare.dispose()), backend.dispose()]).then(() => rmSync(registry, { recursive: true, force: true })));
    const serving = (i: number) => running[options.processPerEdge ? i : 0];
    return ports.map((port, i) => ({ url: new URL(`http://${host}:${port}`), miniflare: serving(i).miniflare, pids: { backend: backendPid, edge: serving(i).pid }, dispose }));
  }
  const miniflare = new Miniflare(
    convertV4MiniflareOptions({
      // Miniflare's own entry socket (with its routing worker) stays on a private port;
      // clients reach each edge on a direct socket, one hop fewer per request.
      host: "127.0.0.1",
      port: 0,
      // One root for every resource (R2, Durable Objects, cache, queues): what wrangler dev keeps in .wrangler/state.
      ...(options.persistTo ? { resourcePersistencePath: options.persistTo } : {}),
      ...(options.inspectorPort ? { inspectorPort: options.inspectorPort } : {}),
      workers: shared ? [...edges, sharedWorker] : edges,
    } as Parameters<typeof convertV4MiniflareOptions>[0]),
  );
  await miniflare.ready;
  let disposed: Promise<void> | undefined;
  const dispose = () => (disposed ??= miniflare.dispose());
  return ports.map((port) => ({ url: new URL(`http://${host}:${port}`), miniflare, dispose }));
}
