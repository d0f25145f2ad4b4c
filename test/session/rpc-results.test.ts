/**
 * What the decision path relies on when it lets go of an RPC call's result
 * once read (src/rpc-result.ts): workerd gives a result that is an object
 * or an array a disposer, disposing it leaves every value it carries
 * readable, the object that answered serves the next call as before, a
 * result without a disposer (a boolean, nothing) passes through untouched,
 * and one that lands after its deadline (withTimeout) is let go of too.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { released } from "../../src/rpc-result";
import { withTimeout } from "../../src/session/client";
import { agentObject } from "../../src/session/objects";
import { uniqueId } from "./helpers";

const DISPOSE = (Symbol as { dispose?: symbol }).dispose!;

describe("releasing an RPC result", () => {
  it("disposes an object or array result and keeps every value in it", async () => {
    const agent = agentObject(env, "acme", uniqueId("agent"));
    const now = Date.now();

    const recorded = await agent.recordClasses(["pii", "financial"], now);
    expect(typeof (recorded as unknown as Record<symbol, unknown>)[DISPOSE]).toBe("function");
    expect(released(recorded)).toBe(recorded);
    expect(recorded).toEqual({ refused: null });

    const classes = await agent.classesSince(now - 1_000);
    expect(typeof (classes as unknown as Record<symbol, unknown>)[DISPOSE]).toBe("function");
    expect(released(classes)).toEqual(["financial", "pii"]);
    // Disposing twice is harmless (a late answer may be released after an early one was).
    expect(released(classes)).toEqual(["financial", "pii"]);

    // The object that answered is not held to, nor cut off: the next call is served as before.
    expect(released(await agent.recordClasses(["secret"], now))).toEqual({ refused: null });
    expect(released(await agent.classesSince(now - 1_000))).toEqual(["financial", "pii", "secret"]);
  });

  it("passes a result without a disposer through as it is", async () => {
    const agent = agentObject(env, "acme", uniqueId("agent"));
    const follows = await agent.continuesSpool("0".repeat(64), "0".repeat(64), ["1".repeat(64)], Date.now());
    expect(released(follows)).toBe(follows);
    expect(typeof follows).toBe("boolean");
    expect(released(undefined)).toBeUndefined();
    expect(released(null)).toBeNull();
    const plain = { a: 1 };
    expect(released(plain)).toBe(plain);
  });

  it("lets go of a result that lands after its deadline", async () => {
    let disposed = 0;
    const late = { classes: ["pii"], [DISPOSE]: () => disposed++ };
    const landing = new Promise<typeof late>((resolve) => setTimeout(() => resolve(late), 30));
    await expect(withTimeout(landing, 5)).rejects.toThrow(/no answer within 5 ms/);
    expect(disposed).toBe(0);
    await landing;
    await Promise.resolve();
    expect(disposed).toBe(1);
    // One in time is left to its caller, who reads it first.
    let inTime = 0;
    const answer = await withTimeout(Promise.resolve({ [DISPOSE]: () => inTime++ }), 1_000);
    expect(inTime).toBe(0);
    released(answer);
    expect(inTime).toBe(1);
  });
});
