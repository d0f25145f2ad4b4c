/**
 * GET /.well-known/authzen-configuration: the PDP metadata of AuthZEN 1.0
 * §9, as the certification scenario's discovery test checks it (its C.6):
 * a JSON object whose identifier is exactly the base URL it was fetched
 * from, the two evaluation endpoints this edge serves and nothing it does
 * not, readable without a credential and cacheable.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { evaluation, post, readTicket } from "./authzen-client";
import { uniqueId } from "../session/helpers";

const fetchMetadata = (base: string, headers: Record<string, string> = {}) => exports.default.fetch(`${base}/.well-known/authzen-configuration`, { headers });

describe("the PDP metadata", () => {
  it("names this PDP by the URL it was fetched from and lists exactly the endpoints it serves", async () => {
    const response = await fetchMetadata("https://pdp.example.com");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    expect(response.headers.get("cache-control")).toBe("public, max-age=3600");
    expect(await response.json()).toEqual({
      policy_decision_point: "https://pdp.example.com",
      access_evaluation_endpoint: "https://pdp.example.com/access/v1/evaluation",
      access_evaluations_endpoint: "https://pdp.example.com/access/v1/evaluations",
    });
    // §9.2.3: the identifier must be identical to where the metadata was asked for, whatever the host.
    const other = await (await fetchMetadata("https://edge.tollgate.example:8443")).json<Record<string, string>>();
    expect(other.policy_decision_point).toBe("https://edge.tollgate.example:8443");
  });

  it("its endpoints are the ones that decide", async () => {
    const metadata = await (await fetchMetadata("https://edge.example")).json<Record<string, string>>();
    const session = uniqueId("az-discovered");
    const single = await post(new URL(metadata.access_evaluation_endpoint).pathname, evaluation(session, readTicket()));
    expect(await single.json()).toMatchObject({ decision: true });
    const batch = await post(new URL(metadata.access_evaluations_endpoint).pathname, { ...evaluation(session, {}), evaluations: [readTicket(), readTicket()] });
    expect((await batch.json<{ evaluations: unknown[] }>()).evaluations).toHaveLength(2);
  });

  it("echoes X-Request-ID, needs no credential, and serves no other method or tenant path", async () => {
    const echoed = await fetchMetadata("https://edge.example", { "x-request-id": "meta-1" });
    expect(echoed.headers.get("x-request-id")).toBe("meta-1");
    const posted = await exports.default.fetch("https://edge.example/.well-known/authzen-configuration", { method: "POST" });
    expect(posted.status).toBe(404);
    // One document for every tenant: the tenant comes from each request's credential, not from the URL.
    expect((await exports.default.fetch("https://edge.example/.well-known/authzen-configuration/acme")).status).toBe(404);
  });
});
