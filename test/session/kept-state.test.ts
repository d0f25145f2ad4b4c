/**
 * The session object keeps what every decision reads (usage, breaker, what
 * leases hold back, data classes) in memory. These tests hold that copy to
 * what SQLite stores: after commits, after a restart, after a transaction
 * that failed part-way, and after a revert; and count what a decision still
 * asks of SQLite.
 */
import { env } from "cloudflare:workers";
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { sessionObject } from "../../src/session/objects";
import type { SessionDO } from "../../src/session/session-do";
import { commit, uniqueId } from "./helpers";

const session = (name: string) => sessionObject(env, "acme", "agent-1", name);

/** What SQLite holds, read past every copy the object keeps. */
function stored(stub: DurableObjectStub<SessionDO>) {
  return runInDurableObject(stub, (_instance, state) => {
    const usage = state.storage.sql.exec<{ tokens: number; api_calls: number; cost_usd: number; limits: string | null }>("SELECT tokens, api_calls, cost_usd, limits FROM usage").toArray()[0];
    const breaker = state.storage.sql.exec<{ state: string }>("SELECT state FROM breaker").toArray()[0]?.state ?? "closed";
    const classes = state.storage.sql.exec<{ class: string }>("SELECT class FROM data_classes ORDER BY at_ms, class").toArray().map((row) => row.class);
    return { usage, breaker, classes };
  });
}

describe("the session object's copies of its rows", () => {
  it("answer what storage holds, commit after commit and after a restart", async () => {
    const name = uniqueId("kept");
    const stub = session(name);
    const limits = { tokens: 100, api_calls: 10, cost_usd: 5 };
    const cost = { tokens: 30, api_calls: 1, cost_usd: 1.25 };
    for (let i = 0; i < 3; i++) expect((await stub.commit(commit({ session_id: name, limits, cost }))).verdict).toBe("allow");
    expect((await stub.view()).usage).toMatchObject({ tokens: 90, api_calls: 3, cost_usd: 3.75 });
    expect((await stored(stub)).usage).toMatchObject({ tokens: 90, api_calls: 3, cost_usd: 3.75, limits: JSON.stringify(limits) });

    // A fresh instance reads the rows again: the fourth debit would pass 100 tokens.
    await evictDurableObject(stub);
    const refused = await stub.commit(commit({ session_id: name, limits, cost }));
    expect(refused.verdict).toBe("deny");
    expect(refused.reasons.map((r) => r.rule)).toEqual(["budget_exhausted"]);
    expect(refused.usage.tokens).toBe(90);
  });

  it("are read again after a transaction that failed part-way", async () => {
    const name = uniqueId("kept-rollback");
    const stub = session(name);
    const breaker = { threshold: 1, window_s: 300, cooldown_s: 0 };
    await stub.commit(commit({ session_id: name, cost: { tokens: 10, api_calls: 1, cost_usd: 0 } }));
    await stub.recordDataClasses(["pii"], null);

    const after = await runInDurableObject(stub, (instance: SessionDO) => {
      const inside = instance as unknown as {
        inTransaction(work: () => void): void;
        budget: { debit(request: { cost: { tokens: number; api_calls: number; cost_usd: number } }, now: number): unknown };
        breaker: { recordDenial(now: number, params: typeof breaker, state: "closed"): string };
      };
      // Every write in the transaction lands in its copy before the failure rolls the rows back.
      expect(() =>
        inside.inTransaction(() => {
          inside.budget.debit({ cost: { tokens: 500, api_calls: 1, cost_usd: 9 } }, Date.now());
          expect(inside.breaker.recordDenial(Date.now(), breaker, "closed")).toBe("open");
          throw new Error("storage refused the rest");
        }),
      ).toThrow("storage refused the rest");
      return instance.view();
    });
    expect(after.usage).toMatchObject({ tokens: 10, api_calls: 1, cost_usd: 0 });
    expect(after.breaker).toBe("closed");
    expect(after.data_classes).toEqual(["pii"]);
    expect(await stored(stub)).toMatchObject({ usage: { tokens: 10, api_calls: 1 }, breaker: "closed", classes: ["pii"] });

    // And the next decision is judged on the rows, not on the rolled-back copy.
    const next = await stub.commit(commit({ session_id: name, cost: { tokens: 1, api_calls: 1, cost_usd: 0 }, data_classes_seen: ["pii"] }));
    expect(next.verdict).toBe("allow");
    expect(next.usage).toMatchObject({ tokens: 11, api_calls: 2 });
  });

  it("follow a revert back to the rows as they were", async () => {
    const name = uniqueId("kept-revert");
    const stub = session(name);
    const breaker = { threshold: 1, window_s: 300, cooldown_s: 0 };
    await stub.commit(commit({ session_id: name, cost: { tokens: 5, api_calls: 1, cost_usd: 0 } }));
    const allowed = commit({ session_id: name, cost: { tokens: 7, api_calls: 1, cost_usd: 0.5 }, revertible: true });
    expect((await stub.commit(allowed)).usage.tokens).toBe(12);
    const denied = commit({ session_id: name, verdict: "deny", breaker, revertible: true });
    expect((await stub.commit(denied)).breaker).toBe("open");

    expect(await stub.revert(denied)).toEqual({ reverted: true });
    expect(await stub.revert(allowed)).toEqual({ reverted: true });
    const view = await stub.view();
    expect(view.usage).toMatchObject({ tokens: 5, api_calls: 1, cost_usd: 0 });
    expect(view.breaker).toBe("closed");
    expect(await stored(stub)).toMatchObject({ usage: { tokens: 5, api_calls: 1, cost_usd: 0 }, breaker: "closed" });
    expect((await stub.commit(commit({ session_id: name, cost: { tokens: 1, api_calls: 1, cost_usd: 0 } }))).usage.tokens).toBe(6);
  });
});

describe("what a decision costs the session's SQLite", () => {
  /** Runs `commits` inside the object, counting the statements each runs once the object has read its rows. */
  async function statementsOf(name: string, commits: Array<Parameters<SessionDO["commit"]>[0]>): Promise<string[][]> {
    const stub = session(name);
    return runInDurableObject(stub, async (instance: SessionDO, state) => {
      const sql = state.storage.sql;
      const exec = sql.exec.bind(sql);
      const ran: string[][] = [];
      let current: string[] = [];
      (sql as { exec: typeof sql.exec }).exec = ((query: string, ...bindings: unknown[]) => {
        current.push(query.trim().split(/\s+/)[0]);
        return exec(query, ...(bindings as []));
      }) as typeof sql.exec;
      try {
        for (const request of commits) {
          current = [];
          await instance.commit(request);
          ran.push(current);
        }
      } finally {
        (sql as { exec: typeof sql.exec }).exec = exec;
      }
      return ran;
    });
  }

  it("is three statements for an allowed action, four for a denial and two for one an open breaker refuses", async () => {
    const name = uniqueId("kept-count");
    const breaker = { threshold: 2, window_s: 300, cooldown_s: 0 };
    const [first, allowed, denied, tripping, refused] = await statementsOf(name, [
      commit({ session_id: name, breaker }),
      commit({ session_id: name, breaker, cost: { tokens: 3, api_calls: 1, cost_usd: 0 } }),
      commit({ session_id: name, breaker, verdict: "deny" }),
      commit({ session_id: name, breaker, verdict: "deny" }),
      commit({ session_id: name, breaker }),
    ]);
    // The first decision reads the rows once and creates what a new session lacks.
    expect(first.length).toBeGreaterThan(3);
    expect(allowed).toEqual(["SELECT", "UPDATE", "INSERT"]);
    expect(denied).toEqual(["SELECT", "INSERT", "SELECT", "INSERT"]);
    // The denial that trips the breaker also writes the breaker and the report to the tenant's index.
    expect(tripping.length).toBe(6);
    expect(refused).toEqual(["SELECT", "INSERT"]);
  });
});
