/**
 * An edge served from workerd on loopback for the Node-side tests of the
 * agent SDK, with its state persisted on disk so it can be stopped and
 * started again mid-run (a location going away and coming back); its
 * bundle store holds layers signed with the test keys, published through
 * the admin API as a regional team would.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { adminCall, type AdminTarget } from "../../scripts/lib/admin-client.ts";
import { bundleEdge, startEdge, type RunningEdge } from "../../scripts/lib/edge-server.ts";
import { buildLayer, type BuiltLayer } from "../../scripts/lib/layer-build.ts";
import { readPrivateKey, signLayer } from "../../scripts/lib/signing.ts";
import { toBase64Url } from "../../src/bundles/signature.ts";
import { TEST_TOKENS, testPrivateKeyPath, testStoreBindings } from "../fixtures/test-config.ts";

let bundled = false;

export class EdgeHarness {
  private running: RunningEdge | undefined;
  readonly persist = mkdtempSync(join(tmpdir(), "tollgate-sdk-edge-"));
  private version = 1;
  private readonly built = new Map<string, BuiltLayer>();

  readonly port: number;
  /** Settings of this edge beyond the test store's (EDGE_REGION, say). */
  private readonly vars: Record<string, string>;

  constructor(port: number, vars: Record<string, string> = {}) {
    this.port = port;
    this.vars = vars;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  admin(token: string = TEST_TOKENS.operator): AdminTarget {
    return { url: this.url, token };
  }

  async start(): Promise<void> {
    if (!bundled) bundleEdge();
    bundled = true;
    this.running = await startEdge({ port: this.port, persistTo: this.persist, vars: { ...testStoreBindings(), BUNDLE_REFRESH_SECONDS: "1", ...this.vars } });
  }

  async stop(): Promise<void> {
    await this.running?.dispose();
    this.running = undefined;
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.persist, { recursive: true, force: true });
  }

  /** Builds (once), signs and publishes a layer; the edge is told to refresh so it decides with it at once. */
  async publish(scope: string, options: { sourceDir?: string; expiresInDays?: number } = {}): Promise<number> {
    const key = scope === "global" ? "global-test" : scope.startsWith("tenant:") ? "tenants-test" : `${scope.slice("region:".length)}-test`;
    const cacheKey = `${scope}\n${options.sourceDir ?? ""}`;
    let layer = this.built.get(cacheKey);
    if (!layer) {
      layer = await buildLayer(scope, options.sourceDir);
      this.built.set(cacheKey, layer);
    }
    const signed = await signLayer(layer.draft, readPrivateKey(testPrivateKeyPath(key)), { version: this.version++, nowMs: Date.now(), expiresInDays: options.expiresInDays ?? 1 });
    const files = Object.fromEntries(Object.entries(layer.files).map(([name, bytes]) => [name, toBase64Url(bytes)]));
    const token = scope === "global" ? TEST_TOKENS.globalPublisher : TEST_TOKENS.operator;
    const { version } = await adminCall<{ version: number }>({ url: this.url, token }, "PUT", `/bundles/${scope}`, { manifest: signed, files });
    await adminCall(this.admin(), "POST", "/refresh");
    return version;
  }

  /** Registers an agent of `tenant` with `role` and returns a new key for it. */
  async agentKey(tenant: string, agent: string, role = "support", maxTier = "critical"): Promise<string> {
    const registrar = this.admin(TEST_TOKENS.registrar);
    await adminCall(registrar, "PUT", `/registry/${tenant}/agents/${encodeURIComponent(agent)}`, {
      owner: "owner@example.com",
      role,
      scopes: [],
      max_risk_tier: maxTier,
      certified_until: new Date(Date.now() + 86_400_000).toISOString(),
    });
    const { key } = await adminCall<{ key: string }>(registrar, "POST", `/registry/${tenant}/agents/${encodeURIComponent(agent)}/keys`, {});
    return key;
  }

  /** The tenant's audit records (up to 1,000), as an auditor reads them. */
  async auditRecords(tenant: string): Promise<Array<Record<string, any>>> {
    const page = await adminCall<{ records: Array<Record<string, any>> }>(this.admin(), "GET", `/audit/records?tenant=${tenant}&limit=1000`);
    return page.records;
  }
}

/**
 * An edge for one test file: started, with the global layer published,
 * before the file's tests, and disposed after them, with a scratch directory
 * that goes with it.
 */
export function edgeForFile(port: number): { edge: EdgeHarness; work: string } {
  const edge = new EdgeHarness(port);
  const work = mkdtempSync(join(tmpdir(), "tollgate-sdk-work-"));
  beforeAll(async () => {
    await edge.start();
    await edge.publish("global");
  }, 300_000);
  afterAll(async () => {
    await edge.dispose();
    rmSync(work, { recursive: true, force: true });
  });
  return { edge, work };
}
