/**
 * Which mapping a `resources/read` is judged by (mcp/registry-mapping.ts):
 * registered prefixes are matched against the URI as written, so a URI an
 * upstream would read otherwise once it parses it (`new URL(uri)`, as the
 * official SDKs do) is refused rather than judged by the wrong prefix.
 */
import { describe, expect, it } from "vitest";
import { subjectOf, type Subject } from "../../src/mcp/registry-mapping";
import type { StoredServer } from "../../src/mcp/upstream-schema";

const server = {
  name: "docs",
  config: {
    url: "https://upstream.example/mcp",
    tools: {},
    resources: {
      "https://hr.example/": { tool: "hr.read_record", data_classes: ["pii"] },
      "https://docs.example/": { tool: "kb.search" },
      "https://docs.example/payroll/": { tool: "hr.read_record", data_classes: ["pii"] },
      "https://": { tool: "web.fetch" },
      "customers://": { tool: "crm.read_customer", data_classes: ["pii"] },
    },
  } as unknown as StoredServer,
};

const read = (uri: string) => subjectOf(server, "resources/read", { uri });
const completing = (uri: string) => subjectOf(server, "completion/complete", { ref: { type: "ref/resource", uri }, argument: { name: "id", value: "" } });

describe("a resource's URI", () => {
  it("is judged by the longest prefix it starts with, as written in its normal form", () => {
    expect((read("https://hr.example/people/7") as Subject).policyTool).toBe("hr.read_record");
    expect((read("https://status.example/") as Subject).policyTool).toBe("web.fetch");
    expect((read("customers://Ada@Example.test") as Subject).policyTool).toBe("crm.read_customer");
    expect((read("https://hr.example/people/a%20b") as Subject).policyTool).toBe("hr.read_record");
  });

  it("is refused when an upstream parsing it would read another host than the text says", () => {
    for (const uri of [
      "HTTPS://hr.example/people/7",
      "https://HR.example/people/7",
      "https://hr.example:443/people/7",
      "https://hr%2eexample/people/7",
      "https://hr.example./people/7",
      "https://status.example@hr.example/people/7",
      "https://0x7f.1/x",
      "Customers://ada@example.test",
    ]) {
      const refused = read(uri);
      expect(typeof refused, uri).toBe("string");
      expect(refused, uri).toContain("as the URL standard writes it");
    }
  });

  it("is refused when, its escapes decoded as an upstream may decode them, a longer prefix names it", () => {
    // RFC 3986 reads %70 as p: an upstream that decodes the path serves /payroll/2026, which its own prefix maps.
    for (const uri of ["https://docs.example/%70ayroll/2026", "https://docs.example/p%61yroll/2026", "https://docs.example/%2570ayroll/2026", "https://docs.example/guides/%252e%252e/payroll/2026"]) {
      const refused = read(uri);
      expect(typeof refused, uri).toBe("string");
      expect(refused, uri).toContain("decoded");
    }
    expect(completing("https://docs.example/%70ayroll/{id}")).toContain("decoded");
    // An escape that decodes to nothing a longer prefix names is judged as written.
    expect((read("https://docs.example/guides/a%20b") as Subject).policyTool).toBe("kb.search");
    expect((read("https://docs.example/payroll/a%20b") as Subject).policyTool).toBe("hr.read_record");
  });

  it("of a template being completed is held to the same", () => {
    expect((completing("https://hr.example/people/{id}") as Subject).policyTool).toBe("hr.read_record");
    expect(completing("https://HR.example/people/{id}")).toContain("as the URL standard writes it");
  });
});
