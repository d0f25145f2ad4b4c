/**
 * A tenant layer's residency pin (`tollgate.residency.region`) governs the
 * tenant by that region's layer wherever its agents call from; but a tenant
 * publisher cannot use it to take its region's layer off its requests. The
 * region the request comes from governs it too, so a pin to a looser region
 * adds that region's rules and leaves the stricter ones in force. A pin to
 * "global", or to a region with no layer in the snapshot, is ignored by the
 * edge (the request's location decides), even when the layer was signed and
 * published past the CLI, which refuses "global".
 */
import { beforeEach, describe, expect, it } from "vitest";
import { publishLayer } from "../../src/bundles/publisher";
import { governingRegions, resolveRegion } from "../../src/decision/region";
import { effectiveTier } from "../../src/decision/effective-tier";
import { fallbackParams } from "../../src/engine/fallback-params";
import { withIdentity } from "../fixtures/policy-identity";
import { edge, emptyBucket, engine, layerFiles, publish, publishContext, refund, signLayer, T0 } from "./harness";

beforeEach(emptyBucket);

async function publishPinned(tenant: string, region: string): Promise<void> {
  const files = layerFiles(`tenant:${tenant}`);
  const data = JSON.parse(new TextDecoder().decode(files["data.json"]));
  data.tollgate.residency = { region };
  const pinned = { ...files, "data.json": new TextEncoder().encode(JSON.stringify(data)) };
  const { manifest } = await signLayer(`tenant:${tenant}`, { version: 1, files: pinned });
  await publishLayer(publishContext(), `tenant:${tenant}`, manifest, pinned);
}

const FROM_GERMANY = { country: "DE", continent: "EU" };

describe("a tenant's residency pin", () => {
  for (const pin of ["global", "nowhere"]) {
    it(`to "${pin}" is ignored: the tenant's requests from Germany keep the EU layer`, async () => {
      await publish("global", { version: 1 });
      await publish("region:eu", { version: 1 });
      await publishPinned("acme", pin);
      const eu = edge("eu");
      expect(await eu.store.refresh(T0)).toBe("activated");
      expect(eu.store.tenantPin("acme")).toBeUndefined();
      const table = (eu.store.globalData() as { tollgate: { params: { regions: unknown } } }).tollgate.params.regions;
      const where = resolveRegion(eu.store.tenantPin("acme"), table, FROM_GERMANY, "eu");
      expect(where).toEqual({ region: "eu", source: "country:DE" });
      expect(eu.store.resolve("acme", governingRegions(where), T0).policy.layers.map((layer) => layer.scope)).toEqual(["global", "region:eu", "tenant:acme"]);
      // The EU layer asks approval for a refund above 200 EUR, for the pinned tenant as for any other.
      expect((await eu.decide(refund(300, "acme"), T0)).decision).toBe("require_approval");
    });
  }

  it("to a region with a layer is honoured wherever the request comes from; without that region's layer it is not", async () => {
    await publish("global", { version: 1 });
    await publishPinned("acme", "eu");
    const us = edge("us");
    expect(await us.store.refresh(T0)).toBe("activated");
    expect(us.store.tenantPin("acme")).toBeUndefined();
    await publish("region:eu", { version: 1 });
    expect(await us.store.refresh(T0 + 60_000)).toBe("activated");
    expect(us.store.tenantPin("acme")).toBe("eu");
    const table = (us.store.globalData() as { tollgate: { params: { regions: unknown } } }).tollgate.params.regions;
    expect(resolveRegion(us.store.tenantPin("acme"), table, { country: "US", continent: "NA" }, "us")).toEqual({ region: "eu", source: "tenant_pin", located: "us" });
    expect(resolveRegion(us.store.tenantPin("acme"), table, FROM_GERMANY, "us")).toEqual({ region: "eu", source: "tenant_pin" });
  });

  it("to a looser region leaves the rules of where the request comes from in force", async () => {
    await publish("global", { version: 1 });
    await publish("region:eu", { version: 1 });
    await publish("region:us", { version: 1 });
    await publishPinned("acme", "us");
    const eu = edge("eu");
    expect(await eu.store.refresh(T0)).toBe("activated");
    expect(eu.store.tenantPin("acme")).toBe("us");
    const table = (eu.store.globalData() as { tollgate: { params: { regions: unknown } } }).tollgate.params.regions;
    const where = resolveRegion(eu.store.tenantPin("acme"), table, FROM_GERMANY, "eu");
    expect(where).toEqual({ region: "us", source: "tenant_pin", located: "eu" });
    const resolution = eu.store.resolve("acme", governingRegions(where), T0);
    expect(resolution.policy.layers.map((layer) => layer.scope)).toEqual(["global", "region:us", "region:eu", "tenant:acme"]);
    // A refund of 300 EUR: the global and US layers allow it, the EU layer asks for approval above 200.
    const input = refund(300, "acme");
    const tier = effectiveTier(resolution.policy.data, input.action as { tool?: string }, input.risk_tier, "low").tier;
    const answer = await engine.decide(resolution.policy, JSON.stringify(withIdentity({ ...input, risk_tier: tier })), fallbackParams(resolution.policy.data, tier, "finance", "payments.refund"), T0);
    expect(answer.decision.decision).toBe("require_approval");
    // The same refund from the US, where the EU layer has no say: allowed.
    const fromUs = resolveRegion(eu.store.tenantPin("acme"), table, { country: "US", continent: "NA" }, "eu");
    expect(fromUs).toEqual({ region: "us", source: "tenant_pin" });
    const usResolution = eu.store.resolve("acme", governingRegions(fromUs), T0);
    const usAnswer = await engine.decide(usResolution.policy, JSON.stringify(withIdentity({ ...input, risk_tier: tier })), fallbackParams(usResolution.policy.data, tier, "finance", "payments.refund"), T0);
    expect(usAnswer.decision.decision).toBe("allow");
  });
});
