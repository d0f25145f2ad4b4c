/**
 * Three edge locations of one deployment served from workerd on loopback,
 * one shared R2 store, and the `tollgate` CLI as regional teams use it:
 * build, sign, publish with a scoped token, status and rollback, over real
 * HTTP. Agents authenticate with keys their tenant's identity admin minted
 * through the admin API. Loopback requests carry no location, so here the
 * region comes from a tenant's pin (the workerd tests simulate locations).
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleEdge, startEdges, type RunningEdge } from "../../scripts/lib/edge-server.ts";
import { layerDigest } from "../../src/bundles/canonical.ts";
import { TEST_TOKENS, testPrivateKeyPath, testStoreBindings } from "../fixtures/test-config.ts";

let edges: RunningEdge[];
const work = mkdtempSync(join(tmpdir(), "tollgate-edges-"));

function tollgate(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, ["bin/tollgate.mjs", ...args], { encoding: "utf8", env: { ...process.env, ...env } });
}

function buildAndSign(scope: string, keyId: string): string {
  const out = join(work, scope.replace(":", "-"));
  const built = tollgate(["build", "--scope", scope, "--out", out]);
  expect(built.status, built.stderr).toBe(0);
  const signed = tollgate(["sign", out, "--key", testPrivateKeyPath(keyId)]);
  expect(signed.status, signed.stderr).toBe(0);
  return out;
}

async function refreshAll(): Promise<void> {
  for (const edge of edges) {
    const refresh = () => fetch(new URL("/v1/admin/refresh", edge.url), { method: "POST", headers: { authorization: `Bearer ${TEST_TOKENS.operator}` } });
    // A kept-alive connection the edge closed while the CLI ran (seconds) can be picked just as it
    // closes ("other side closed"); a refresh is idempotent, so it is sent once more on a new one.
    // An edge that is down refuses that one too.
    const response = await refresh().catch((error: Error & { cause?: { code?: string } }) => {
      if (error.cause?.code !== "UND_ERR_SOCKET") throw error;
      return refresh();
    });
    expect(response.status).toBe(200);
  }
}

const keys = new Map<string, string>();

/** The deployment's trust store, as an auditor or a publisher keeps it on disk. */
function trustFile(): string {
  const path = join(work, "trust-store.json");
  writeFileSync(path, testStoreBindings().TRUST_STORE);
  return path;
}

/** The first EU version published, which the rollback test returns to. */
let firstEuVersion = 0;

/** Registers agent-7 (finance) with the tenant and mints its key, once, through the admin API. */
async function agentKeyOf(tenant: string): Promise<string> {
  const known = keys.get(tenant);
  if (known) return known;
  const admin = (path: string, method: string, body: unknown) =>
    fetch(`${edges[0].url.origin}/v1/admin/registry/${tenant}${path}`, {
      method,
      headers: { "content-type": "application/json", authorization: `Bearer ${TEST_TOKENS.registrar}` },
      body: JSON.stringify(body),
    });
  const registered = await admin("/agents/agent-7", "PUT", { owner: "finance-ops@example.com", role: "finance", max_risk_tier: "high", certified_until: "2099-01-01" });
  expect(registered.status).toBe(201);
  const issued = await admin("/agents/agent-7/keys", "POST", { label: "edges test" });
  expect(issued.status).toBe(201);
  const { key } = (await issued.json()) as { key: string };
  keys.set(tenant, key);
  return key;
}

async function decide(edge: RunningEdge, amount: number, tenant = "initech") {
  const response = await fetch(new URL("/v1/decide", edge.url), {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${await agentKeyOf(tenant)}` },
    body: JSON.stringify({
      risk_tier: "high",
      session: { id: "s-1" },
      action: { type: "tool_call", tool: "payments.refund", args: { amount } },
    }),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as { decision: string; policy: { layers: Array<{ scope: string; version: number }> }; edge: { region: string; region_source: string } };
}

beforeAll(async () => {
  bundleEdge();
  edges = await startEdges([{ port: 18801 }, { port: 18802 }, { port: 18803 }], {
    vars: { ...testStoreBindings(), BUNDLE_REFRESH_SECONDS: "1" },
  });
}, 120_000);

afterAll(async () => {
  await edges?.[0].dispose();
});

describe("three edges, one store, the CLI", () => {
  const eu = () => edges[0].url.origin;

  it("publishes global and an EU override that governs only what the EU governs: here, a tenant pinned to the EU", async () => {
    const global = buildAndSign("global", "global-test");
    const published = tollgate(["publish", global, "--url", eu(), "--token", TEST_TOKENS.globalPublisher]);
    expect(published.status, published.stderr).toBe(0);
    expect(published.stdout).toMatch(/published global v\d+/);
    const region = buildAndSign("region:eu", "eu-test");
    const euPublished = tollgate(["publish", region], { TOLLGATE_URL: edges[1].url.origin, TOLLGATE_TOKEN: TEST_TOKENS.euPublisher });
    expect(euPublished.status, euPublished.stderr).toBe(0);
    const pinned = buildAndSign("tenant:globex", "tenants-test");
    expect(tollgate(["publish", pinned, "--url", eu(), "--token", TEST_TOKENS.operator]).status).toBe(0);
    await refreshAll();
    for (const edge of edges) {
      const unpinned = await decide(edge, 300);
      expect(unpinned.decision).toBe("allow");
      expect(unpinned.edge).toMatchObject({ region: "global", region_source: "local_default" });
      expect(unpinned.policy.layers.map((l) => l.scope)).toEqual(["global"]);
      const globex = await decide(edge, 300, "globex");
      expect(globex.decision).toBe("require_approval");
      expect(globex.edge).toMatchObject({ region: "eu", region_source: "tenant_pin" });
      expect(globex.policy.layers.map((l) => l.scope)).toEqual(["global", "region:eu", "tenant:globex"]);
    }
  });

  it("refuses a publish without a token (401) and outside the token's scope (403)", async () => {
    const region = join(work, "region-eu");
    const response = await fetch(`${eu()}/v1/admin/bundles/region:eu`, { method: "PUT", headers: { "content-type": "application/json" }, body: "{}" });
    expect(response.status).toBe(401);
    const wrongScope = tollgate(["publish", region, "--url", eu(), "--token", TEST_TOKENS.acmePublisher]);
    expect(wrongScope.status).toBe(1);
    expect(wrongScope.stderr).toContain("403 forbidden");
  });

  it("refuses a loosening override at build time, naming the parameter", () => {
    const refused = tollgate(["build", "--scope", "region:xx", "--source", "test/fixtures/loose-region", "--out", join(work, "loose")]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("refunds.approval_threshold = 900 loosens the parent");
  });

  it("rolls back by republishing old content as a new, higher version", async () => {
    const status = JSON.parse(tollgate(["status", "--url", eu(), "--token", TEST_TOKENS.operator]).stdout) as {
      snapshot: { layers: Record<string, { version: number }> };
      recent: Array<{ outcome: string; actor: string }>;
    };
    const first = status.snapshot.layers["region:eu"].version;
    expect(status.recent).toContainEqual(expect.objectContaining({ outcome: "published", actor: "eu-compliance" }));
    expect(status.recent).toContainEqual(expect.objectContaining({ outcome: "refused", code: "forbidden", actor: "acme-admins", scope: "region:eu" }));
    const again = buildAndSign("region:eu", "eu-test");
    expect(tollgate(["publish", again, "--url", eu(), "--token", TEST_TOKENS.euPublisher]).status).toBe(0);
    const rollbackFlags = ["--scope", "region:eu", "--to", String(first), "--key", testPrivateKeyPath("eu-test"), "--url", eu(), "--token", TEST_TOKENS.euPublisher];
    const unverified = tollgate(["rollback", ...rollbackFlags]);
    expect(unverified.status).toBe(2);
    expect(unverified.stderr).toContain("--trust <trust-store.json>");
    const rolled = tollgate(["rollback", ...rollbackFlags, "--trust", trustFile()]);
    expect(rolled.status, rolled.stderr).toBe(0);
    expect(rolled.stdout).toContain(`verified region:eu v${first}`);
    firstEuVersion = first;
    const version = Number(/published as v(\d+)/.exec(rolled.stdout)?.[1]);
    expect(version).toBeGreaterThan(first);
    const log = JSON.parse(tollgate(["status", "--url", eu(), "--token", TEST_TOKENS.operator]).stdout) as { recent: Array<{ note?: string }> };
    expect(log.recent[0].note).toBe(`rollback to the content of v${first}`);
    await refreshAll();
    expect((await decide(edges[0], 300, "globex")).policy.layers).toContainEqual({ scope: "region:eu", version, digest: expect.any(String), built_at: expect.any(String) });
  });

  it("refuses to roll back to content someone with bucket access altered: nothing is re-signed, nothing published", async () => {
    // The EU's lower approval threshold put back to the global one (within bounds, so the store
    // would take it), with the manifest's hashes rewritten to match: only its signature is wrong.
    const store = await edges[0].miniflare.getR2Bucket("BUNDLES");
    const prefix = `layers/region:eu/${String(firstEuVersion).padStart(16, "0")}/`;
    const data = JSON.parse(await (await store.get(`${prefix}data.json`))!.text());
    const globalParams = JSON.parse(readFileSync("policies/global/data.json", "utf8")).tollgate.params;
    data.tollgate.params.refunds.approval_threshold = globalParams.refunds.approval_threshold;
    const altered = JSON.stringify(data);
    const manifest = JSON.parse(await (await store.get(`${prefix}manifest.json`))!.text());
    manifest.document.files["data.json"] = createHash("sha256").update(altered).digest("hex");
    manifest.document.digest = await layerDigest(manifest.document.entrypoint, manifest.document.files);
    await store.put(`${prefix}data.json`, altered);
    await store.put(`${prefix}manifest.json`, JSON.stringify(manifest));

    const before = JSON.parse(tollgate(["status", "--url", eu(), "--token", TEST_TOKENS.operator]).stdout) as { snapshot: { version: number } };
    const refused = tollgate(["rollback", "--scope", "region:eu", "--to", String(firstEuVersion), "--key", testPrivateKeyPath("eu-test"), "--trust", trustFile(), "--url", eu(), "--token", TEST_TOKENS.euPublisher]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("refused: bad_signature: manifest.json: signature does not verify with key eu-test");
    const after = JSON.parse(tollgate(["status", "--url", eu(), "--token", TEST_TOKENS.operator]).stdout) as { snapshot: { version: number } };
    expect(after.snapshot.version).toBe(before.snapshot.version);
  });

  it("exports the decision log as CSV and verifies it with the CLI", async () => {
    const trustPath = join(work, "audit-trust.json");
    spawnSync("sh", ["-c", `cat > ${trustPath}`], { input: testStoreBindings().TRUST_STORE });
    const ids = new Set<string>();
    const answers = [];
    for (const edge of edges) answers.push((await decide(edge, 42)) as unknown as { decision_id: string; decision: string });
    for (const answer of answers) ids.add(answer.decision_id);
    const flags = ["--tenant", "initech", "--url", eu(), "--token", TEST_TOKENS.operator];
    let csv = "";
    for (let attempt = 0; attempt < 50 && ![...ids].every((id) => csv.includes(id)); attempt++) {
      await new Promise((r) => setTimeout(r, 200));
      csv = tollgate(["audit", "export", ...flags, "--format", "csv"]).stdout;
    }
    expect(csv.split("\n")[0]).toBe("seq,decision_id,time,tenant,agent,session,action_type,tool,decision,rules,mode,stale,fail_mode_applied,location,region,layers");
    for (const id of ids) expect(csv).toContain(id);
    const [first] = answers;
    const byId = JSON.parse(tollgate(["audit", "export", ...flags, "--decision-id", first.decision_id]).stdout) as Array<{ decision_id: string }>;
    expect(byId.map((r) => r.decision_id)).toEqual([first.decision_id]);
    const other = first.decision === "allow" ? "deny" : "allow";
    const byOutcome = JSON.parse(tollgate(["audit", "export", ...flags, "--decision", first.decision]).stdout) as Array<{ decision: string; decision_id: string }>;
    expect(byOutcome.map((r) => r.decision_id)).toContain(first.decision_id);
    expect(byOutcome.every((r) => r.decision === first.decision)).toBe(true);
    const byOther = JSON.parse(tollgate(["audit", "export", ...flags, "--decision", other]).stdout) as Array<{ decision_id: string }>;
    expect(byOther.map((r) => r.decision_id)).not.toContain(first.decision_id);
    // Sequence numbers run from 1 without gaps: a clean log of at least the highest one covers them all.
    const chained = JSON.parse(tollgate(["audit", "export", ...flags]).stdout) as Array<{ decision_id: string; seq: number }>;
    const highest = Math.max(...chained.filter((r) => ids.has(r.decision_id)).map((r) => r.seq));
    expect(chained.filter((r) => ids.has(r.decision_id))).toHaveLength(ids.size);
    const verified = tollgate(["audit", "verify", ...flags, "--trust", trustPath, "--expect-records", String(highest)]);
    expect(verified.status, verified.stdout + verified.stderr).toBe(0);
    const [, records, through] = /^ok: (\d+) records in \d+ segments verify for initech, through record (\d+)/.exec(verified.stdout) ?? [];
    expect(Number(records)).toBeGreaterThanOrEqual(highest);
    expect(Number(through)).toBe(Number(records));
    const beyond = tollgate(["audit", "verify", ...flags, "--trust", trustPath, "--expect-records", String(Number(records) + 1)]);
    expect(beyond.status).toBe(1);
    expect(beyond.stdout).toMatch(/^MISSING: /);
  });

  it("audit verify notices the newest segment deleted from R2, and names a corrupt object instead of failing", async () => {
    const tenant = "umbrella";
    const trustPath = join(work, "audit-trust.json");
    spawnSync("sh", ["-c", `cat > ${trustPath}`], { input: testStoreBindings().TRUST_STORE });
    const flags = ["--tenant", tenant, "--trust", trustPath, "--url", eu(), "--token", TEST_TOKENS.operator];
    const chainedAtLeast = async (entries: number) => {
      for (let attempt = 0; attempt < 100; attempt++) {
        const status = await fetch(`${eu()}/v1/admin/audit/status?tenant=${tenant}`, { headers: { authorization: `Bearer ${TEST_TOKENS.operator}` } });
        if (((await status.json()) as { shard: { entries: number } }).shard.entries >= entries) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`${tenant}: fewer than ${entries} records chained`);
    };
    // Each verify seals what is pending: two rounds make two segments.
    for (const [round, total] of [[1, 3], [2, 5]] as const) {
      for (let i = 0; i < total - (round === 1 ? 0 : 3); i++) await decide(edges[i % edges.length], 42, tenant);
      await chainedAtLeast(total);
      const clean = tollgate(["audit", "verify", ...flags, "--expect-records", String(total)]);
      expect(clean.status, clean.stdout + clean.stderr).toBe(0);
      expect(clean.stdout).toContain(`ok: ${total} records in ${round} segments verify for ${tenant}`);
    }
    const saved = join(work, "umbrella-export.ndjson");
    const exported = await fetch(`${eu()}/v1/admin/audit/export?tenant=${tenant}`, { headers: { authorization: `Bearer ${TEST_TOKENS.operator}` } });
    writeFileSync(saved, await exported.text());

    const log = await edges[0].miniflare.getR2Bucket("AUDIT_LOG");
    await log.delete([`audit/${tenant}/segments/0000000002.ndjson`, `audit/${tenant}/digests/0000000002.json`]);
    const truncated = tollgate(["audit", "verify", ...flags]);
    expect(truncated.status).toBe(1);
    expect(truncated.stdout).toMatch(/^TAMPERED: /);
    expect(truncated.stdout).toContain("[truncated]");

    // The export saved before verifies offline, against its signed head.
    const offline = tollgate(["audit", "verify", "--tenant", tenant, "--trust", trustPath, "--file", saved, "--expect-records", "5"]);
    expect(offline.status, offline.stdout + offline.stderr).toBe(0);
    expect(offline.stdout).toContain(`ok: 5 records in 2 segments verify for ${tenant}`);

    await log.put(`audit/${tenant}/digests/0000000001.json`, "{ corrupt");
    const corrupt = tollgate(["audit", "verify", ...flags]);
    expect(corrupt.status).toBe(1);
    expect(corrupt.stdout).toContain(`[corrupt_object] segment 1: audit/${tenant}/digests/0000000001.json: not a signed segment digest`);
    expect(corrupt.stdout + corrupt.stderr).not.toMatch(/refused|internal/);
  });

  it("verifies a signed bundle offline against a trust store", () => {
    const trustPath = join(work, "trust.json");
    spawnSync("sh", ["-c", `cat > ${trustPath}`], { input: testStoreBindings().TRUST_STORE });
    const ok = tollgate(["verify", join(work, "region-eu"), "--trust", trustPath]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^ok: region:eu v\d+/);
  });
});

describe("an edge under concurrent requests", () => {
  // Many requests share one isolate, its policy sandbox, its caches and its audit batch: each must
  // still get its own answer, the one it gets alone.
  it("answers each of many decisions at once as it answers that decision alone", async () => {
    const key = await agentKeyOf("hooli");
    const refund = (amount: number, session: string) =>
      fetch(new URL("/v1/decide", edges[2].url), {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
        body: JSON.stringify({ risk_tier: "high", session: { id: session }, action: { type: "tool_call", tool: "payments.refund", args: { amount, currency: "EUR" } } }),
      }).then(async (response) => {
        expect(response.status).toBe(200);
        const answer = (await response.json()) as { decision: string; reasons: Array<{ rule: string; message: string }>; evaluation: { path: string } };
        return { decision: answer.decision, reasons: answer.reasons, path: answer.evaluation.path };
      });
    // Amounts on both sides of the approval threshold and the hard cap; each refusal's message names its amount.
    const amounts = Array.from({ length: 64 }, (_, i) => i * 97);
    const together = await Promise.all(amounts.map((amount, i) => refund(amount, `together-${i}`)));
    const alone = [];
    for (const [i, amount] of amounts.entries()) alone.push(await refund(amount, `alone-${i}`));
    expect(together).toEqual(alone);
    expect(new Set(together.map((answer) => answer.decision))).toEqual(new Set(["allow", "require_approval", "deny"]));
    expect(together.every((answer) => answer.path === "sandbox")).toBe(true);
  });
});
