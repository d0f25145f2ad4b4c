/**
 * @module admin-audit
 * The decision log for auditors, scoped by tenant:
 *
 *   GET /v1/admin/audit/records?tenant=&decision_id=&decision=&session=&agent=&rule=&from=&to=&limit=&after_seq=
 *                                           in sequence order; `next_after_seq` in the answer pages on
 *   GET /v1/admin/audit/export?tenant=      the sealed log for `tollgate audit verify`, streamed as JSON lines
 *   GET /v1/admin/audit/status[?tenant=]    loss counters (never silently zero: every failure path counts)
 *
 * The export is never held whole: it reads one segment at a time, as the
 * client takes it, and carries each object's text as stored, so a corrupt
 * one reaches the verifier, which names it, instead of failing the export.
 */
import { Hono } from "hono";
import { digestsPrefix, headKey, segmentKey, segmentOfDigestKey } from "../audit/chain";
import type { AuditPage } from "../audit/chain-do";
import { chainFor, METRICS_SHARD } from "../audit/writer";
import { ApiError } from "../errors";
import { released } from "../rpc-result";
import type { AdminVariables } from "../middleware/admin-auth";
import { tenantParam } from "./admin-params";

export function timeQuery(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new ApiError(400, "invalid_input", `${name} must be an ISO 8601 time`, name);
  return ms;
}

const OUTCOMES = ["allow", "deny", "require_approval"];

export function outcomeQuery(value: string | undefined): string | undefined {
  if (value !== undefined && !OUTCOMES.includes(value)) throw new ApiError(400, "invalid_input", `decision is one of ${OUTCOMES.join(", ")}`, "decision");
  return value;
}

function integerQuery(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,15}$/.test(value)) throw new ApiError(400, "invalid_input", `${name} must be a non-negative integer`, name);
  return Number(value);
}

/** The newest segment a head names, when it parses; segments sealed after it was read are left to the next export. */
function headSegment(text: string | null): number | undefined {
  try {
    const segment = (JSON.parse(text ?? "null") as { document?: { segment?: unknown } } | null)?.document?.segment;
    return Number.isSafeInteger(segment) ? (segment as number) : undefined;
  } catch {
    return undefined;
  }
}

/** What the export could not cover: how many records await sealing (null when the chain object could not say) and why. */
type Pending = { unsealed: number | null; last_seal_error?: string };

/**
 * The export as JSON lines: `{type: "head"}` (the signed head's text, and what is not sealed
 * yet), one `{type: "segment"}` per digest in R2 (its text and its segment's), `{type: "end"}`.
 * A failure part way is an `{type: "error"}` line: the status has gone out, and a verifier
 * that sees no end line knows the export stopped short.
 */
function exportStream(bucket: R2Bucket, tenant: string, headText: string | null, pending: Pending): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const through = headSegment(headText);
  let keys: string[] = [];
  let cursor: string | undefined;
  let listed = false;
  let segments = 0;
  let started = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const send = (line: unknown) => controller.enqueue(encoder.encode(`${JSON.stringify(line)}\n`));
      try {
        if (!started) {
          started = true;
          return send({ type: "head", shard: tenant, key: headKey(tenant), text: headText, ...(pending.unsealed !== 0 ? { pending } : {}) });
        }
        // R2 lists in key order, a page at a time; digest keys are zero-padded segment numbers.
        while (keys.length === 0 && !listed) {
          const page = await bucket.list({ prefix: digestsPrefix(tenant), ...(cursor ? { cursor } : {}) });
          keys = page.objects.map((object) => object.key);
          cursor = page.truncated ? page.cursor : undefined;
          listed = !page.truncated;
        }
        const key = keys.shift();
        const segment = key === undefined ? undefined : segmentOfDigestKey(tenant, key);
        if (key === undefined || (through !== undefined && segment !== undefined && segment > through)) {
          send({ type: "end", segments });
          return controller.close();
        }
        if (segment === undefined) return send({ type: "segment", segment: null, digest_key: key, digest: null, segment_key: "", text: null });
        const digest = await bucket.get(key);
        const text = await bucket.get(segmentKey(tenant, segment));
        segments++;
        send({ type: "segment", segment, digest_key: key, digest: digest ? await digest.text() : null, segment_key: segmentKey(tenant, segment), text: text ? await text.text() : null });
      } catch (error) {
        send({ type: "error", message: error instanceof Error ? error.message : String(error) });
        controller.close();
      }
    },
  });
}

export const adminAuditRoute = new Hono<{ Bindings: Env; Variables: AdminVariables }>()
  .get("/audit/records", async (c) => {
    const tenant = tenantParam(c.req.query("tenant"));
    const page: AuditPage = released(
      await chainFor(c.env, tenant).query({
        decision_id: c.req.query("decision_id"),
        decision: outcomeQuery(c.req.query("decision")),
        session: c.req.query("session"),
        agent: c.req.query("agent"),
        rule: c.req.query("rule"),
        from_ms: timeQuery(c.req.query("from"), "from"),
        to_ms: timeQuery(c.req.query("to"), "to"),
        limit: integerQuery(c.req.query("limit"), "limit"),
        after_seq: integerQuery(c.req.query("after_seq"), "after_seq"),
      }),
    );
    return c.json({ tenant, ...page });
  })
  .get("/audit/export", async (c) => {
    const tenant = tenantParam(c.req.query("tenant"));
    // Seal what is pending so the export covers every record written so far; if sealing
    // fails (no signing key, R2 down) the export still returns what is sealed and says so.
    // So it does when the chain object cannot be asked at all (overloaded, restarting): the
    // sealed log is in R2 whatever the object's state, and an auditor needs it most then.
    const pending: Pending = await chainFor(c.env, tenant)
      .sealPending()
      .then(released, (error: Error) => ({ unsealed: null, last_seal_error: `the chain object could not be asked to seal what is pending: ${error.message}` }));
    const head = await c.env.AUDIT_LOG.get(headKey(tenant));
    const headText = head ? await head.text() : null;
    return c.body(exportStream(c.env.AUDIT_LOG, tenant, headText, pending), 200, { "content-type": "application/x-ndjson; charset=utf-8" });
  })
  .get("/audit/status", async (c) => {
    const tenant = c.req.query("tenant") === undefined ? undefined : tenantParam(c.req.query("tenant"));
    const counters = released(await chainFor(c.env, METRICS_SHARD).counters());
    const shard = tenant ? released(await chainFor(c.env, tenant).stats()) : undefined;
    return c.json({ counters: { queue_send_failures: 0, append_retries: 0, records_lost: 0, records_conflicting: 0, ...counters }, ...(shard ? { shard } : {}) });
  });
