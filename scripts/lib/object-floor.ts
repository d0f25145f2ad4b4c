/**
 * @module object-floor
 * What workerd itself charges for the session step, for `npm run bench`: a
 * Worker that does nothing but read the request's JSON and answer, the same
 * Worker making one RPC to a Durable Object that does nothing (one object per
 * session, as the edge's are), and the same with the object writing one row
 * before it answers (so the answer waits for the commit, as a check-and-debit
 * does). None of Tollgate's code runs in it: the three differ by the
 * platform's work alone, and put a floor under what the full path can cost
 * beside the policy path.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";

export interface ObjectFloor {
  /** The Worker alone: reads the JSON body, answers. */
  alone: URL;
  /** And one RPC to the session's object, which does nothing. */
  roundTrip: URL;
  /** And the object writes one row (the request's body, under a new id) before it answers. */
  write: URL;
  dispose(): Promise<void>;
}

const PROBE = `
import { DurableObject } from "cloudflare:workers";
export class SessionProbe extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec("CREATE TABLE IF NOT EXISTS decisions (decision_id TEXT PRIMARY KEY, at_ms INTEGER, result TEXT)");
  }
  async touch(row) {
    if (row) this.sql.exec("INSERT INTO decisions (decision_id, at_ms, result) VALUES (?, ?, ?)", crypto.randomUUID(), Date.now(), row);
    return { ok: true };
  }
}
export default {
  async fetch(request, env) {
    const text = await request.text();
    const body = JSON.parse(text);
    const path = new URL(request.url).pathname;
    if (path === "/alone") return Response.json({ ok: true });
    const object = env.SESSION_PROBE.get(env.SESSION_PROBE.idFromName(String(body.session?.id)));
    return Response.json(await object.touch(path === "/write" ? text : null));
  },
};`;

/** The probe in a workerd of its own, its objects' state on `stateRoot` (tmpfs, as the full path's) and never evicted. */
export async function startObjectFloor(port: number, stateRoot: string): Promise<ObjectFloor> {
  const state = mkdtempSync(join(stateRoot, "tollgate-bench-floor-"));
  const miniflare = new Miniflare(
    convertV4MiniflareOptions({
      // Clients reach the Worker on a socket bound directly to it, as they reach the edges: no Miniflare entry Worker on the way.
      host: "127.0.0.1",
      port: 0,
      unsafeDirectSockets: [{ host: "127.0.0.1", port }],
      modules: true,
      script: PROBE,
      compatibilityDate: "2026-11-01",
      durableObjects: { SESSION_PROBE: { className: "SessionProbe", useSQLite: true, unsafePreventEviction: true } },
      durableObjectsPersist: state,
    } as Parameters<typeof convertV4MiniflareOptions>[0]),
  );
  await miniflare.ready;
  const at = (path: string) => new URL(path, `http://127.0.0.1:${port}`);
  return {
    alone: at("/alone"),
    roundTrip: at("/round-trip"),
    write: at("/write"),
    dispose: async () => {
      await miniflare.dispose();
      rmSync(state, { recursive: true, force: true });
    },
  };
}
