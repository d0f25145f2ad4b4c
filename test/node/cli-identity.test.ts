/**
 * A tenant's identity admin at work with the `tollgate` CLI against an edge
 * served from workerd on loopback: registering an agent and getting its key
 * in one command, the agent deciding with it, listing, revoking (the key
 * stops working at once on that edge), the change record; and an operator
 * minting an admin token whose entry the edge accepts.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleEdge, startEdge, type RunningEdge } from "../../scripts/lib/edge-server.ts";
import { TEST_TOKENS, testStoreBindings } from "../fixtures/test-config.ts";

let edge: RunningEdge;

function tollgate(args: string[]) {
  return spawnSync(process.execPath, ["bin/tollgate.mjs", ...args], {
    encoding: "utf8",
    env: { ...process.env, TOLLGATE_URL: edge.url.origin, TOLLGATE_TOKEN: TEST_TOKENS.registrar },
  });
}

async function decide(key: string): Promise<Response> {
  return fetch(new URL("/v1/decide", edge.url), {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({ session: { id: "cli-1" }, action: { type: "tool_call", tool: "tickets.read", args: { id: "T-1" } } }),
  });
}

beforeAll(async () => {
  bundleEdge();
  edge = await startEdge({ port: 18811, vars: testStoreBindings() });
}, 120_000);

afterAll(async () => {
  await edge?.dispose();
});

describe("tollgate agent", () => {
  it("registers an agent and prints its key in one command; the key decides, and once revoked it does not", async () => {
    const registered = tollgate(["agent", "register", "--tenant", "cli-co", "--agent", "helpdesk", "--owner", "support@cli-co.example", "--role", "support", "--max-tier", "medium", "--certified-until", "2099-06-30", "--key"]);
    expect(registered.status, registered.stderr).toBe(0);
    const key = registered.stdout.trim();
    expect(key).toMatch(/^tgk_cli-co_k[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(registered.stderr).toContain("registered helpdesk in cli-co: role support, tiers low..medium");

    const allowed = await decide(key);
    expect(allowed.status).toBe(200);
    expect(await allowed.json()).toMatchObject({ decision: "allow", identity: { tenant: "cli-co", agent: "helpdesk", role: "support" } });

    const listed = tollgate(["agent", "list", "--tenant", "cli-co"]);
    const keyId = key.split("_")[2];
    expect(listed.stdout).toContain(`helpdesk  role support  tiers low..medium`);
    expect(listed.stdout).toContain(keyId);
    expect(listed.stdout).not.toContain(key);

    const revoked = tollgate(["agent", "revoke", "--tenant", "cli-co", "--key", keyId]);
    expect(revoked.status, revoked.stderr).toBe(0);
    expect((await decide(key)).status).toBe(401);

    const changes = tollgate(["agent", "changes", "--tenant", "cli-co"]).stdout;
    expect(changes).toMatch(/identity-team {2}agent_registered {2}helpdesk/);
    expect(changes).toMatch(/identity-team {2}key_revoked {2}k[0-9a-f]{16}/);
  });

  it("refuses a registration it cannot make, with the API's reason, and a token of another tenant", () => {
    const badTier = tollgate(["agent", "register", "--tenant", "cli-co", "--agent", "x", "--owner", "o", "--role", "support", "--max-tier", "extreme", "--certified-until", "2099-01-01"]);
    expect(badTier.status).toBe(1);
    expect(badTier.stderr).toContain("400 invalid_input");
    const elsewhere = spawnSync(process.execPath, ["bin/tollgate.mjs", "agent", "list", "--tenant", "cli-co", "--url", edge.url.origin, "--token", TEST_TOKENS.acmeRegistrar], { encoding: "utf8" });
    expect(elsewhere.status).toBe(1);
    expect(elsewhere.stderr).toContain("403 forbidden");
  });
});

describe("tollgate token create", () => {
  it("prints a token once and the ADMIN_TOKENS entry that grants exactly what was asked", () => {
    const created = spawnSync(process.execPath, ["bin/tollgate.mjs", "token", "create", "--subject", "eu-compliance", "--roles", "publisher,auditor", "--scopes", "region:eu"], { encoding: "utf8" });
    expect(created.status, created.stderr).toBe(0);
    const token = created.stdout.trim();
    const entry = JSON.parse(created.stderr.split("\n")[1]) as Record<string, unknown>;
    expect(entry).toEqual({ [createHash("sha256").update(token).digest("hex")]: { subject: "eu-compliance", roles: ["publisher", "auditor"], scopes: ["region:eu"] } });
    const badRole = spawnSync(process.execPath, ["bin/tollgate.mjs", "token", "create", "--subject", "x", "--roles", "superuser", "--scopes", "*"], { encoding: "utf8" });
    expect(badRole.status).toBe(2);
    expect(badRole.stderr).toContain("roles.0");
  });
});
