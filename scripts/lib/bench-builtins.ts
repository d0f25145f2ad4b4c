/**
 * @module bench-builtins
 * The bench's section on the heaviest host builtins: JSON Schema matching,
 * GraphQL parsing and validation, X.509 parsing. Each runs in a one-rule
 * policy inside the edge's sandbox; before it is timed, its answer is checked
 * (a benchmark of a builtin that quietly comes back undefined would measure
 * nothing). A policy that calls no builtin gives the evaluation's own cost.
 * Compiled JSON Schemas and built GraphQL schemas are cached between calls,
 * as OPA caches them; the rows that benefit say so.
 * Reports median and p99 per call over rounds of evaluations.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { opaBuildWasm } from "./opa.ts";
import { evaluateInSandbox, sampleInSandbox } from "./sandbox-eval.ts";
import { percentile } from "./stats.ts";

interface Subject {
  name: string;
  rule: string;
  input: unknown;
  /** What the rule must answer for the timing to mean anything. */
  check(result: unknown): boolean;
}

export interface BuiltinCost {
  name: string;
  median_us: number;
  p99_us: number;
  samples: number;
  calls_per_sample: number;
}

/**
 * The sandbox's clock moves in 1 ms steps (a Spectre mitigation), so a sample
 * is the mean of enough calls to take about this long: the step is then a
 * few percent of it.
 */
const SAMPLE_TARGET_MS = 25;

const TOOL_SCHEMA = {
  type: "object",
  properties: {
    amount: { type: "number", minimum: 0, maximum: 10000 },
    currency: { type: "string", enum: ["EUR", "USD", "GBP"] },
    recipient: { type: "object", properties: { iban: { type: "string", pattern: "^[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}$" }, name: { type: "string", maxLength: 70 } }, required: ["iban"] },
    reference: { type: "string", maxLength: 140 },
    tags: { type: "array", items: { type: "string" }, uniqueItems: true, maxItems: 10 },
    urgent: { type: "boolean" },
  },
  required: ["amount", "currency", "recipient"],
  additionalProperties: false,
};

const SCHEMA_SDL = `
type Query { user(id: ID!): User, orders(status: Status, first: Int = 20): [Order!]! }
type User { id: ID!, name: String!, email: String, orders: [Order!]!, manager: User }
type Order { id: ID!, total: Float!, status: Status!, items: [Item!]!, owner: User! }
type Item { sku: String!, quantity: Int!, price: Float! }
enum Status { OPEN PAID SHIPPED }
`;
const QUERY = `query Orders($status: Status) {
  orders(status: $status, first: 50) { ...OrderFields owner { ...UserFields manager { ...UserFields } } }
}
fragment OrderFields on Order { id total status items { sku quantity price } }
fragment UserFields on User { id name email }`;

function certificate(): string {
  const dir = mkdtempSync(join(tmpdir(), "tollgate-bench-x509-"));
  try {
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "k.pem", "-out", "c.pem", "-days", "30", "-subj", "/C=DE/O=Tollgate/CN=edge.example",
      "-addext", "subjectAltName=DNS:edge.example,DNS:api.edge.example,IP:10.0.0.1,URI:spiffe://tollgate/edge"], { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
    return readFileSync(join(dir, "c.pem"), "utf8");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function subjects(): Subject[] {
  const arguments_ = { amount: 120.5, currency: "EUR", recipient: { iban: "DE89370400440532013000", name: "ACME GmbH" }, reference: "invoice 2026-117", tags: ["refund", "q4"], urgent: false };
  return [
    { name: "no builtin (evaluation alone)", rule: "result := input.x", input: { x: 1 }, check: (r) => r === 1 },
    {
      name: "json.match_schema (MCP tool arguments, 6 properties, valid; schema compiled once, then cached)",
      rule: "result := json.match_schema(input.arguments, input.schema)",
      input: { arguments: arguments_, schema: TOOL_SCHEMA },
      check: (r) => Array.isArray(r) && r[0] === true,
    },
    {
      name: "json.match_schema (same schema, 3 errors)",
      rule: "result := json.match_schema(input.arguments, input.schema)",
      input: { arguments: { ...arguments_, amount: -1, currency: "JPY", extra: 1 }, schema: TOOL_SCHEMA },
      check: (r) => Array.isArray(r) && r[0] === false && Array.isArray(r[1]) && r[1].length === 3,
    },
    {
      name: "graphql.parse_query (2 fragments, 16 fields)",
      rule: "result := graphql.parse_query(input.query)",
      input: { query: QUERY },
      check: (r) => typeof r === "object" && r !== null && Array.isArray((r as { Operations?: unknown[] }).Operations),
    },
    {
      name: "graphql.parse_schema (5 types)",
      rule: "result := graphql.parse_schema(input.schema)",
      input: { schema: SCHEMA_SDL },
      check: (r) => typeof r === "object" && r !== null && Array.isArray((r as { Definitions?: unknown[] }).Definitions),
    },
    {
      name: "graphql.is_valid (that query against the 5-type schema; schema built once, then cached)",
      rule: "result := graphql.is_valid(input.query, input.schema)",
      input: { query: QUERY, schema: SCHEMA_SDL },
      check: (r) => r === true,
    },
    {
      name: "crypto.x509.parse_certificates (RSA 2048, 4 SANs)",
      rule: "result := crypto.x509.parse_certificates(input.pem)",
      input: { pem: certificate() },
      check: (r) => Array.isArray(r) && r.length === 1 && (r[0] as { Subject?: { CommonName?: string } }).Subject?.CommonName === "edge.example",
    },
  ];
}

export async function benchBuiltins(rounds: number): Promise<BuiltinCost[]> {
  const costs: BuiltinCost[] = [];
  for (const subject of subjects()) {
    const dir = mkdtempSync(join(tmpdir(), "tollgate-bench-builtin-"));
    try {
      writeFileSync(join(dir, "bench.rego"), `package bench\n\n${subject.rule}\n`);
      const policy = await opaBuildWasm(dir, "bench/result");
      const [outcome] = await evaluateInSandbox(policy, [subject.input]);
      if (outcome.error || !subject.check(outcome.result)) {
        throw new Error(`bench: ${subject.name} did not answer as expected: ${JSON.stringify(outcome).slice(0, 300)}`);
      }
      const inputJson = JSON.stringify(subject.input);
      const [calibration] = await sampleInSandbox(policy, inputJson, 1, 500);
      const perRound = Math.min(20_000, Math.max(20, Math.ceil((SAMPLE_TARGET_MS * 1000) / Math.max(calibration, 0.5))));
      const samples = (await sampleInSandbox(policy, inputJson, rounds, perRound)).sort((a, b) => a - b);
      costs.push({ name: subject.name, median_us: percentile(samples, 50), p99_us: percentile(samples, 99), samples: samples.length, calls_per_sample: perRound });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return costs;
}
