/**
 * @module decisions-section
 * The decision log for auditors: search and one decision's page.
 *
 *   GET /console/decisions                      the auditor's tenants
 *   GET /console/decisions/:tenant?from=&to=&agent=&session=&outcome=&rule=&before=
 *                                               newest first, 50 a page
 *   GET /console/decisions/:tenant/:id          reasons, arguments as logged, layers' digests and
 *                                               versions, the receipt (claims, and whether it
 *                                               verifies against the edge's published keys), its
 *                                               place in the hash chain and its segment's check
 *
 * Both stand for `GET /v1/admin/audit/records?tenant=` (role auditor). The
 * search reads what the tenant's chain object still holds
 * (AUDIT_RETENTION_DAYS); older records are in R2 only, for the export.
 */
import { Hono } from "hono";
import { decodeReceipt, verifyReceipt, ReceiptError } from "../../packages/agent/src/receipt.ts";
import type { ChainPlace } from "../audit/chain-do";
import { checkSegment, type SegmentCheck } from "../audit/segment-check";
import { chainFor } from "../audit/writer";
import { trustStoreFrom } from "../bundles/trust";
import { ApiError } from "../errors";
import { outcomeQuery, timeQuery } from "../routes/admin-audit";
import { tenantParam } from "../routes/admin-params";
import { publishedReceiptKeys } from "../routes/well-known-keys";
import type { Principal } from "../schema/admin-principal";
import type { ConsoleVariables } from "./console-access";
import { sectionContext, tenantChooserPage, type ConsoleContext } from "./section-page";

import { Badge, Page, Time } from "./layout";

type Row = Record<string, unknown> & { seq: number; hash: string };

const PAGE_SIZE = 50;
const DECISION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const pageContext = (c: ConsoleContext) => sectionContext(c, "decisions");

function covers(principal: Principal, role: string, scope: string): boolean {
  return principal.roles.includes(role as never) && (principal.scopes.includes("*") || principal.scopes.includes(scope));
}

/** A datetime-local value is read as UTC (the form says so); an ISO time with a zone as given. */
function utc(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  const zoned = /(Z|[+-]\d\d:\d\d)$/.test(value) ? value : `${value}Z`;
  return timeQuery(zoned, name);
}

function text(value: string | undefined, name: string): string | undefined {
  if (value === undefined || value === "") return undefined;
  if (value.length > 256) throw new ApiError(400, "invalid_input", `${name} is at most 256 characters`, name);
  return value;
}

const str = (value: unknown) => (typeof value === "string" ? value : value === undefined || value === null ? "" : JSON.stringify(value));

function SearchForm(props: { tenant: string; query: Record<string, string | undefined> }) {
  const q = props.query;
  return (
    <form class="search" method="get" action={`/console/decisions/${props.tenant}`} role="search">
      <label>
        From (UTC)
        <input type="datetime-local" name="from" value={q.from ?? ""} step="1" />
      </label>
      <label>
        To (UTC)
        <input type="datetime-local" name="to" value={q.to ?? ""} step="1" />
      </label>
      <label>
        Agent
        <input name="agent" value={q.agent ?? ""} maxlength={256} />
      </label>
      <label>
        Session
        <input name="session" value={q.session ?? ""} maxlength={256} />
      </label>
      <label>
        Outcome
        <select name="outcome">
          {["", "allow", "deny", "require_approval"].map((o) => (
            <option value={o} selected={(q.outcome ?? "") === o}>
              {o === "" ? "any" : o.replace("_", " ")}
            </option>
          ))}
        </select>
      </label>
      <label>
        Rule
        <input name="rule" value={q.rule ?? ""} maxlength={256} />
      </label>
      <button class="primary" type="submit">
        Search
      </button>
    </form>
  );
}

function Results(props: { tenant: string; rows: Row[]; next?: string }) {
  if (props.rows.length === 0) return <p class="empty">No decision matches. Widen the time range or clear a field; records older than the chain's retention are only in the export (tollgate audit export).</p>;
  return (
    <div>
      <table>
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Outcome</th>
            <th scope="col">Action</th>
            <th scope="col">Rules</th>
            <th scope="col">Agent</th>
            <th scope="col">Session</th>
            <th scope="col" class="num">
              Record
            </th>
          </tr>
        </thead>
        <tbody>
          {props.rows.map((row) => (
            <tr>
              <td>
                <a href={`/console/decisions/${props.tenant}/${str(row.decision_id)}`}>
                  <Time at={str(row.time)} />
                </a>
              </td>
              <td>
                <Badge value={str(row.decision)} />
              </td>
              <td>
                <code>{str(row.tool) || str(row.action_type)}</code>
              </td>
              <td>{Array.isArray(row.rules) && row.rules.length > 0 ? row.rules.map((r) => <code>{str(r)} </code>) : <span class="muted">—</span>}</td>
              <td>{str(row.agent)}</td>
              <td>
                <code>{str(row.session)}</code>
              </td>
              <td class="num">{row.seq}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {props.next ? (
        <p>
          <a href={props.next}>Older decisions →</a>
        </p>
      ) : null}
    </div>
  );
}

type ReceiptView = { present: false } | { present: true; token: string; header?: Record<string, unknown>; claims?: Record<string, unknown>; verdict: "verifies" | "refused"; detail: string };

async function receiptView(env: Env, record: Row): Promise<ReceiptView> {
  const token = record.receipt;
  if (typeof token !== "string") return { present: false };
  let decoded: { header: Record<string, unknown>; claims: Record<string, unknown> } | undefined;
  try {
    decoded = decodeReceipt(token);
  } catch (error) {
    return { present: true, token, verdict: "refused", detail: `not a receipt: ${(error as Error).message}` };
  }
  const iat = Number(decoded.claims.iat);
  try {
    // Judged as of when it was issued: a receipt that has since expired still proves its decision.
    await verifyReceipt(token, {
      keys: publishedReceiptKeys(env),
      now: Number.isFinite(iat) ? iat * 1000 : Date.now(),
      expect: { tenant: str(record.tenant), agent: str(record.agent), session: str(record.session), decision: (str(record.told) || str(record.decision)) as "allow" },
    });
    return { present: true, token, ...decoded, verdict: "verifies", detail: `signed by ${str(decoded.header.kid)}, one of the keys this edge publishes at /.well-known/jwks.json, and bound to this decision's tenant, agent, session and outcome` };
  } catch (error) {
    const code = error instanceof ReceiptError ? error.code : "malformed";
    return { present: true, token, ...decoded, verdict: "refused", detail: `${code}: ${(error as Error).message}` };
  }
}

function ReceiptSection(props: { view: ReceiptView }) {
  const view = props.view;
  if (!view.present) return <p class="muted">No receipt: this decision was made before receipts, or by an edge without a receipt key.</p>;
  const claims = view.claims ?? {};
  return (
    <div>
      <p>
        <Badge value={view.verdict === "verifies" ? "ok" : "problem"} /> {view.verdict === "verifies" ? "The receipt verifies" : "The receipt does not verify"}: {view.detail}
      </p>
      {view.claims ? (
        <table>
          <tbody>
            {Object.entries(claims).map(([name, value]) => (
              <tr>
                <th scope="row">{name}</th>
                <td>{name === "iat" || name === "exp" ? <Time at={Number(value) * 1000} /> : <code>{str(value)}</code>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <details>
        <summary>The receipt as issued (compact JWS)</summary>
        <pre>{view.token}</pre>
      </details>
    </div>
  );
}

function ChainSection(props: { place: ChainPlace | null; check?: SegmentCheck; error?: string }) {
  const { place, check } = props;
  if (!place) return <p class="muted">The chain object no longer holds this record's place (it is past retention); verify the export with tollgate audit verify.</p>;
  return (
    <div>
      <dl class="facts">
        <dt>Record</dt>
        <dd>
          {place.seq} of {place.head_seq}
        </dd>
        <dt>Its hash</dt>
        <dd>
          <code>{place.hash}</code>
        </dd>
        <dt>Links to</dt>
        <dd>
          <code>{place.prev_hash}</code>
        </dd>
        <dt>Segment</dt>
        <dd>
          {place.segment ? (
            <>
              {place.segment.segment} (records {place.segment.first_seq}–{place.segment.last_seq}), sealed <Time at={place.segment.sealed_at} />, digest <code>{place.segment.digest_sha256}</code>
            </>
          ) : (
            "not sealed yet: a record is sealed into a signed segment within seconds of arriving; reload to see it"
          )}
        </dd>
      </dl>
      {check ? (
        <div>
          <p>
            <Badge value={check.ok ? "ok" : "problem"} /> {check.ok ? `Segment ${check.segment} verifies` : `Segment ${check.segment} does not verify: the log may have been altered; run tollgate audit verify for the whole log`}
          </p>
          <ul>
            {check.passed.map((line) => (
              <li>✓ {line}</li>
            ))}
            {check.problems.map((line) => (
              <li>
                <strong>✗ {line}</strong>
              </li>
            ))}
          </ul>
        </div>
      ) : props.error ? (
        <p class="error">The segment could not be read just now ({props.error}); reload to try again.</p>
      ) : null}
    </div>
  );
}

function DecisionPage(props: { tenant: string; record: Row; receipt: ReceiptView; place: ChainPlace | null; check?: SegmentCheck; checkError?: string; principal: Principal }) {
  const { tenant, record, principal } = props;
  const reasons = Array.isArray(record.reasons) ? (record.reasons as Array<{ rule?: unknown; message?: unknown }>) : (Array.isArray(record.rules) ? record.rules : []).map((rule) => ({ rule, message: undefined }));
  const layers = Array.isArray(record.layers) ? (record.layers as Array<{ scope?: unknown; digest?: unknown; version?: unknown }>) : [];
  const canSeeSessions = covers(principal, "operator", `tenant:${tenant}`);
  return (
    <div>
      <p>
        <a href={`/console/decisions/${tenant}`}>← search {tenant}'s decisions</a>
      </p>
      <h1>
        Decision <code>{str(record.decision_id)}</code>
      </h1>
      <dl class="facts">
        <dt>Outcome</dt>
        <dd>
          <Badge value={str(record.decision)} />
          {record.told ? ` (observe mode: the agent was told ${str(record.told)})` : null}
        </dd>
        <dt>Time</dt>
        <dd>
          <Time at={str(record.time)} />
        </dd>
        <dt>Action</dt>
        <dd>
          {str(record.action_type)} <code>{str(record.tool)}</code>
        </dd>
        <dt>Arguments as logged</dt>
        <dd>{record.args_redacted ? <span class="muted">redacted by policy</span> : record.args ? <code>{JSON.stringify(record.args)}</code> : <span class="muted">none logged</span>}</dd>
        <dt>Agent</dt>
        <dd>
          {str(record.agent)} <span class="muted">(credential {str((record.credential as { kind?: unknown })?.kind)} {str((record.credential as { id?: unknown })?.id)})</span>
        </dd>
        <dt>Session</dt>
        <dd>{canSeeSessions ? <a href={`/console/sessions/${tenant}/${encodeURIComponent(str(record.agent))}/${encodeURIComponent(str(record.session))}`}>{str(record.session)}</a> : <code>{str(record.session)}</code>}</dd>
        <dt>Risk tier</dt>
        <dd>{str(record.risk_tier)}</dd>
        <dt>Mode</dt>
        <dd>{str(record.mode)}</dd>
        <dt>Where</dt>
        <dd>
          {str(record.location)}, region {str(record.region)} ({str(record.region_source)})
        </dd>
        <dt>Fail mode applied</dt>
        <dd>{record.fail_mode_applied ? "yes" : "no"}</dd>
        <dt>Policy stale</dt>
        <dd>{record.stale ? "yes" : "no"}</dd>
      </dl>
      <h2>Reasons</h2>
      {reasons.length === 0 ? (
        <p class="muted">No rule fired: the policy allowed it.</p>
      ) : (
        <ul>
          {reasons.map((r) => (
            <li>
              <code>{str(r.rule)}</code>
              {typeof r.message === "string" ? `: ${r.message}` : r.message === null ? <span class="muted"> (message withheld: the policy redacts this action's arguments)</span> : null}
            </li>
          ))}
        </ul>
      )}
      {Array.isArray(record.obligations) && record.obligations.length > 0 ? (
        <>
          <h2>Obligations</h2>
          <pre>{JSON.stringify(record.obligations, null, 2)}</pre>
        </>
      ) : null}
      <h2>Policy layers that decided</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">Scope</th>
            <th scope="col" class="num">
              Version
            </th>
            <th scope="col">Digest</th>
          </tr>
        </thead>
        <tbody>
          {layers.map((layer) => (
            <tr>
              <td>{str(layer.scope)}</td>
              <td class="num">{str(layer.version)}</td>
              <td>
                <code>{str(layer.digest)}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Receipt</h2>
      <ReceiptSection view={props.receipt} />
      <h2>Place in the hash chain</h2>
      <ChainSection place={props.place} check={props.check} error={props.checkError} />
      {record.policy_print ? (
        <>
          <h2>What the policy printed</h2>
          <pre>{JSON.stringify(record.policy_print, null, 2)}</pre>
        </>
      ) : null}
    </div>
  );
}

export const decisionsSection = new Hono<{ Bindings: Env; Variables: ConsoleVariables }>()
  .get("/decisions", tenantChooserPage("decisions", "Decisions", "decisions", "Pick a tenant to search its decision log."))
  .get("/decisions/:tenant", async (c) => {
    const tenant = tenantParam(c.req.param("tenant"));
    const q = c.req.query();
    const before = q.before === undefined || q.before === "" ? undefined : /^\d{1,15}$/.test(q.before) ? Number(q.before) : undefined;
    if (q.before && before === undefined) throw new ApiError(400, "invalid_input", "before is a record number", "before");
    const page = await chainFor(c.env, tenant).query({
      from_ms: utc(q.from, "from"),
      to_ms: utc(q.to, "to"),
      agent: text(q.agent, "agent"),
      session: text(q.session, "session"),
      decision: outcomeQuery(q.outcome === "" ? undefined : q.outcome),
      rule: text(q.rule, "rule"),
      before_seq: before,
      newest_first: true,
      limit: PAGE_SIZE,
    });
    const rows = page.records as unknown as Row[];
    const nextParams = new URLSearchParams(Object.entries(q).filter(([name, value]) => name !== "before" && value !== ""));
    if (rows.length === PAGE_SIZE) nextParams.set("before", String(rows[rows.length - 1].seq));
    const context = await pageContext(c);
    return c.html(
      <Page title={`Decisions of ${tenant}`} context={context}>
        <h1>Decisions of {tenant}</h1>
        <SearchForm tenant={tenant} query={q} />
        <Results tenant={tenant} rows={rows} next={rows.length === PAGE_SIZE ? `/console/decisions/${tenant}?${nextParams}` : undefined} />
      </Page>,
    );
  })
  .get("/decisions/:tenant/:id", async (c) => {
    const tenant = tenantParam(c.req.param("tenant"));
    const id = c.req.param("id");
    if (!DECISION_ID.test(id)) throw new ApiError(400, "invalid_input", "a decision id is a UUID, as decision responses and x-tollgate-decision-id give it", "id");
    const chain = chainFor(c.env, tenant);
    const [page, place] = await Promise.all([chain.query({ decision_id: id, limit: 1 }), chain.placeOf(id)]);
    const record = page.records[0] as unknown as Row | undefined;
    if (!record) throw new ApiError(404, "not_found", `no decision ${id} in ${tenant}'s log: records reach the log within seconds, and past the chain's retention they are only in the export`);
    let check: SegmentCheck | undefined;
    let checkError: string | undefined;
    if (place?.segment) {
      try {
        check = await checkSegment(c.env.AUDIT_LOG, tenant, place.segment.segment, trustStoreFrom(c.env.TRUST_STORE), place);
      } catch (error) {
        checkError = (error as Error).message;
      }
    }
    const context = await pageContext(c);
    return c.html(
      <Page title={`Decision ${id.slice(0, 8)}`} context={context}>
        <DecisionPage tenant={tenant} record={record} receipt={await receiptView(c.env, record)} place={place} check={check} checkError={checkError} principal={context.principal!} />
      </Page>,
    );
  });
