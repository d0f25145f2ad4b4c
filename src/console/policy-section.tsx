/**
 * @module policy-section
 * Policy, per scope, for publishers, operators and auditors.
 *
 *   GET /console/policy                    the scopes the token covers, each with its active layer and mode
 *   GET /console/policy/:scope[?a=&b=]     the active layer (manifest), the mode, the version history with
 *                                          who published when, a diff of two versions (parameters and rule
 *                                          ids) and the shadow report with a chart of differences by rule
 *
 * The list stands for `GET /v1/admin/bundles` (it keeps only the token's
 * scopes, as that route does); a scope's page for `GET /v1/admin/rollout/:scope`,
 * which the same roles may call on that scope. Everything is read from the
 * bundle store as stored; what does not parse is said, not thrown.
 */
import { Hono } from "hono";
import { readCurrentSnapshot } from "../bundles/publisher";
import { layerKey, PUBLISH_LOG_PREFIX, publishLogScope } from "../bundles/store-layout";
import { trustStoreFrom } from "../bundles/trust";
import { ApiError } from "../errors";
import { canAccessScope } from "../middleware/admin-auth";
import { bucketOf, scopeParam } from "../routes/admin-params";
import { bundleFailure } from "../routes/layer-upload";
import { rolloutInForce, shadowReport } from "../rollout/shadow-report";
import { BarChart } from "./charts";
import type { ConsoleVariables } from "./console-access";
import { sectionContext, type ConsoleContext } from "./section-page";
import { diffLayers, paramsOf, type LayerDiff } from "./layer-diff";
import { Badge, Page, Time } from "./layout";

/** How many publish-log keys a scope's history looks through (newest first), and how many entries it shows. */
const LOG_SCAN = 1000;
const HISTORY = 50;

const pageContext = (c: ConsoleContext) => sectionContext(c, "policy");

async function currentSnapshot(env: Env) {
  // One that does not verify is 502 store_corrupt, naming the object, as in the admin API.
  return readCurrentSnapshot(bucketOf(env), trustStoreFrom(env.TRUST_STORE)).catch(bundleFailure);
}

async function textOf(bucket: R2Bucket, key: string): Promise<string | null> {
  const object = await bucket.get(key);
  return object ? object.text() : null;
}

interface ManifestView {
  version?: number;
  created?: string;
  expires?: string;
  digest?: string;
  key_id?: string;
  opa_version?: string;
  rules: string[];
  problem?: string;
}

async function manifestOf(bucket: R2Bucket, scope: string, version: number): Promise<ManifestView> {
  const text = await textOf(bucket, layerKey(scope, version, "manifest.json"));
  if (text === null) return { rules: [], problem: `${scope} v${version}: manifest.json is not in the store` };
  try {
    const document = (JSON.parse(text) as { document?: Record<string, unknown> }).document ?? {};
    const rules = Array.isArray(document.rules) ? document.rules.filter((r): r is string => typeof r === "string") : [];
    const s = (v: unknown) => (typeof v === "string" ? v : undefined);
    return { version: typeof document.version === "number" ? document.version : undefined, created: s(document.created), expires: s(document.expires), digest: s(document.digest), key_id: s(document.key_id), opa_version: s(document.opa_version), rules };
  } catch {
    return { rules: [], problem: `${scope} v${version}: manifest.json is not JSON` };
  }
}

interface LogEntry {
  at?: string;
  actor?: string;
  outcome?: string;
  version?: number;
  digest?: string;
  note?: string;
  reason?: string;
  code?: string;
  unreadable?: boolean;
}

async function historyOf(bucket: R2Bucket, scope: string): Promise<LogEntry[]> {
  const entries: LogEntry[] = [];
  let cursor: string | undefined;
  let scanned = 0;
  do {
    const page = await bucket.list({ prefix: PUBLISH_LOG_PREFIX, limit: 500, ...(cursor ? { cursor } : {}) });
    scanned += page.objects.length;
    for (const object of page.objects) {
      if (publishLogScope(object.key) !== scope || entries.length >= HISTORY) continue;
      const text = await textOf(bucket, object.key);
      try {
        const entry = JSON.parse(text ?? "null") as LogEntry | null;
        entries.push(entry && typeof entry === "object" ? entry : { unreadable: true });
      } catch {
        entries.push({ unreadable: true });
      }
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor && scanned < LOG_SCAN && entries.length < HISTORY);
  return entries;
}

function versionQuery(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  if (!/^\d{1,16}$/.test(value) || Number(value) <= 0) throw new ApiError(400, "invalid_version", `${name} is a version number from the history`, name);
  return Number(value);
}

function DiffView(props: { scope: string; a: number; b: number; diff: LayerDiff }) {
  const { diff } = props;
  return (
    <div>
      <p>
        From v{props.a} to v{props.b}: {diff.params.length} parameter change{diff.params.length === 1 ? "" : "s"}, {diff.rulesAdded.length} rule id{diff.rulesAdded.length === 1 ? "" : "s"} added, {diff.rulesRemoved.length} removed.
      </p>
      {diff.problems.map((p) => (
        <p class="error">{p}</p>
      ))}
      {diff.params.length > 0 ? (
        <table>
          <thead>
            <tr>
              <th scope="col">Parameter</th>
              <th scope="col">Change</th>
              <th scope="col">v{props.a}</th>
              <th scope="col">v{props.b}</th>
            </tr>
          </thead>
          <tbody>
            {diff.params.map((change) => (
              <tr>
                <td>
                  <code>{change.path}</code>
                </td>
                <td class={change.kind === "added" ? "diff-added" : change.kind === "removed" ? "diff-removed" : ""}>{change.kind}</td>
                <td>
                  <code>{change.before ?? ""}</code>
                </td>
                <td>
                  <code>{change.after ?? ""}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {diff.rulesAdded.length > 0 ? (
        <p class="diff-added">
          Rule ids added: {diff.rulesAdded.map((r) => <code>{r} </code>)}
        </p>
      ) : null}
      {diff.rulesRemoved.length > 0 ? (
        <p class="diff-removed">
          Rule ids removed: {diff.rulesRemoved.map((r) => <code>{r} </code>)}
        </p>
      ) : null}
    </div>
  );
}

export const policySection = new Hono<{ Bindings: Env; Variables: ConsoleVariables }>()
  .get("/policy", async (c) => {
    const context = await pageContext(c);
    const principal = context.principal!;
    const current = await currentSnapshot(c.env);
    const scopes = Object.entries(current?.snapshot.layers ?? {}).filter(([scope]) => canAccessScope(principal, scope));
    return c.html(
      <Page title="Policy" context={context}>
        <h1>Policy</h1>
        {current ? (
          <p>
            Snapshot v{current.snapshot.version}, signed <Time at={current.snapshot.created} /> by {current.snapshot.key_id}; it expires <Time at={current.snapshot.expires} />.
          </p>
        ) : (
          <p class="empty">Nothing has been published yet: every edge decides with the baseline compiled into its deploy. Publish a layer with tollgate publish.</p>
        )}
        {current && scopes.length === 0 ? <p class="empty">No published scope is within your token's scopes ({principal.scopes.join(", ")}).</p> : null}
        {scopes.length > 0 ? (
          <table>
            <thead>
              <tr>
                <th scope="col">Scope</th>
                <th scope="col" class="num">
                  Active version
                </th>
                <th scope="col">Digest</th>
                <th scope="col">Mode</th>
              </tr>
            </thead>
            <tbody>
              {scopes.map(([scope, layer]) => (
                <tr>
                  <td>
                    <a href={`/console/policy/${scope}`}>{scope}</a>
                  </td>
                  <td class="num">{layer.version}</td>
                  <td>
                    <code>{layer.digest}</code>
                  </td>
                  <td>{current?.snapshot.rollout?.[scope] ? "see rollout" : "enforce"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </Page>,
    );
  })
  .get("/policy/:scope", async (c) => {
    const scope = scopeParam(c.req.param("scope"));
    const bucket = bucketOf(c.env);
    const [current, rollout, history] = await Promise.all([currentSnapshot(c.env), rolloutInForce(bucket, c.env, scope), historyOf(bucket, scope)]);
    const active = current?.snapshot.layers[scope];
    const manifest = active ? await manifestOf(bucket, scope, active.version) : undefined;
    const report = await shadowReport(c.env, scope, rollout);
    const published = history.filter((e) => e.outcome === "published" && typeof e.version === "number").map((e) => e.version as number);
    const a = versionQuery(c.req.query("a"), "a") ?? published[1];
    const b = versionQuery(c.req.query("b"), "b") ?? published[0];
    let diff: LayerDiff | undefined;
    if (a !== undefined && b !== undefined) {
      const problems: string[] = [];
      const [ma, mb, da, db] = await Promise.all([manifestOf(bucket, scope, a), manifestOf(bucket, scope, b), textOf(bucket, layerKey(scope, a, "data.json")), textOf(bucket, layerKey(scope, b, "data.json"))]);
      for (const m of [ma, mb]) if (m.problem) problems.push(m.problem);
      diff = diffLayers({ params: paramsOf(da, problems, `v${a}`), rules: ma.rules }, { params: paramsOf(db, problems, `v${b}`), rules: mb.rules }, problems);
    }
    const mode = rollout?.document?.mode ?? "enforce";
    const context = await pageContext(c);
    return c.html(
      <Page title={`Policy ${scope}`} context={context}>
        <p>
          <a href="/console/policy">← all scopes</a>
        </p>
        <h1>Policy of {scope}</h1>
        <h2>Active layer</h2>
        {active && manifest ? (
          <dl class="facts">
            <dt>Version</dt>
            <dd>{active.version}</dd>
            <dt>Digest</dt>
            <dd>
              <code>{active.digest}</code>
            </dd>
            <dt>Built</dt>
            <dd>
              <Time at={manifest.created} />
            </dd>
            <dt>Expires</dt>
            <dd>
              <Time at={manifest.expires} />
            </dd>
            <dt>Signed by key</dt>
            <dd>{manifest.key_id ?? "—"}</dd>
            <dt>OPA</dt>
            <dd>{manifest.opa_version ?? "—"}</dd>
            <dt>Rule ids</dt>
            <dd>{manifest.rules.length > 0 ? manifest.rules.map((r) => <code>{r} </code>) : <span class="muted">none declared</span>}</dd>
            {manifest.problem ? (
              <>
                <dt>Problem</dt>
                <dd class="error">{manifest.problem}</dd>
              </>
            ) : null}
          </dl>
        ) : (
          <p class="empty">No layer of {scope} is published; {scope === "global" ? "edges use the baseline compiled into the deploy" : "the layers above it decide alone"}.</p>
        )}
        <h2>Mode</h2>
        <p>
          <Badge value={mode === "observe" ? "pending" : "ok"} /> {mode === "observe" ? "Observe: decisions are computed and logged, agents are told allow (within the tiers policy allows)." : "Enforce: agents get the policy's answer."}
          {rollout?.document ? ` Rollout document v${rollout.document.version}, signed by ${rollout.document.key_id}.` : " No rollout document."}
        </p>
        <h2>Version history</h2>
        {history.length === 0 ? (
          <p class="empty">No publish, rollback or refusal of {scope} is on record.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">Outcome</th>
                <th scope="col" class="num">
                  Version
                </th>
                <th scope="col">Note</th>
              </tr>
            </thead>
            <tbody>
              {history.map((entry) => (
                <tr>
                  <td>{entry.unreadable ? <span class="error">an entry that does not parse</span> : <Time at={entry.at} />}</td>
                  <td>{entry.actor ?? "—"}</td>
                  <td>
                    <Badge value={entry.outcome === "published" ? "ok" : entry.outcome === "refused" ? "problem" : String(entry.outcome ?? "unknown")} /> {entry.outcome ?? ""}
                  </td>
                  <td class="num">{entry.version ?? ""}</td>
                  <td>{entry.note ?? (entry.reason ? `${entry.code}: ${entry.reason}` : "")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <h2>Compare two versions</h2>
        {published.length < 2 ? (
          <p class="empty">There is only {published.length === 1 ? "one published version" : "no published version"}; a diff needs two.</p>
        ) : (
          <form class="search" method="get" action={`/console/policy/${scope}`}>
            <label>
              Older
              <select name="a">
                {published.map((v) => (
                  <option value={String(v)} selected={v === a}>
                    v{v}
                  </option>
                ))}
              </select>
            </label>
            <label>
              Newer
              <select name="b">
                {published.map((v) => (
                  <option value={String(v)} selected={v === b}>
                    v{v}
                  </option>
                ))}
              </select>
            </label>
            <button type="submit">Compare</button>
          </form>
        )}
        {diff && a !== undefined && b !== undefined ? <DiffView scope={scope} a={a} b={b} diff={diff} /> : null}
        <h2>Shadow report</h2>
        {report.candidate ? (
          <p>
            Candidate v{report.candidate.version} (<code>{report.candidate.digest}</code>): {report.differences} decision{report.differences === 1 ? "" : "s"} would change.
          </p>
        ) : (
          <p class="muted">No shadow candidate is attached to {scope}{report.differences > 0 ? "; differences of earlier candidates are below" : ""}.</p>
        )}
        <BarChart
          id="shadow-rules"
          title="Differences by rule"
          bars={Object.entries(report.rules)
            .sort((x, y) => y[1] - x[1])
            .map(([label, value]) => ({ label, value }))}
          empty="No differences recorded: the candidate agrees with the active policy on every decision so far."
        />
        {Object.keys(report.transitions).length > 0 ? (
          <table>
            <thead>
              <tr>
                <th scope="col">Change</th>
                <th scope="col" class="num">
                  Decisions
                </th>
              </tr>
            </thead>
            <tbody>
              {Object.entries(report.transitions).map(([change, count]) => (
                <tr>
                  <td>{change}</td>
                  <td class="num">{count}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </Page>,
    );
  });
