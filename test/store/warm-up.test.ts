/**
 * Activating a snapshot builds the sandboxes it will need, so no decision
 * builds one inline: every tenant layer is warmed (for its pinned region,
 * or for each region this edge has seen), in the background after the
 * swap, and the tenant's first decision finds its sandbox ready.
 */
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { DecisionEngine } from "../../src/engine/decision-engine";
import { edge, emptyBucket, publish, refund, T0 } from "./harness";

/** The real Worker Loader, counting the sandboxes it is asked to build (the code callback runs once per new sandbox). */
function countingLoader() {
  const built: string[] = [];
  const loader = {
    get(id: string, code: () => WorkerLoaderWorkerCode | Promise<WorkerLoaderWorkerCode>) {
      return env.LOADER.get(id, () => {
        built.push(id);
        return code();
      });
    },
  } as unknown as WorkerLoader;
  return { loader, built };
}

beforeEach(emptyBucket);

describe("warming sandboxes on activation", () => {
  it("a tenant's layer is warmed when its snapshot is activated; its first decision builds nothing", async () => {
    await publish("global", { version: 1 });
    await publish("region:eu", { version: 1 });
    const { loader, built } = countingLoader();
    const eu = edge("eu", { engine: new DecisionEngine(loader) });
    await eu.store.ensureLoaded(T0);
    await eu.store.pendingWork();
    await eu.decide(refund(100, "initech"), T0);

    await publish("tenant:acme", { version: 1 });
    expect(await eu.store.refresh(T0 + 1_000)).toBe("activated");
    await eu.store.pendingWork();
    const warmed = built.length;
    expect(built.some((id) => id.includes("+"))).toBe(true);

    const first = await eu.decide(refund(1500, "acme"), T0 + 2_000);
    expect(first.layers.map((l) => l.scope)).toEqual(["global", "region:eu", "tenant:acme"]);
    expect(first.decision).toBe("deny");
    expect(built.length).toBe(warmed);
  });
});
