/**
 * @module audit
 * The auditor's commands:
 *
 *   audit verify --tenant <t> --trust <trust.json> [--expect-records n] [--file export.ndjson] [--url --token]
 *       stream (or read) the tenant's sealed log and check signatures, the
 *       digest chain, every record and where the log ends (the signed head,
 *       and online the chain object's own count); exit 1 and say where, if
 *       anything was modified, deleted, inserted or reordered, if the export
 *       stopped short, or if fewer than --expect-records records verify
 *   audit export --tenant <t> [--from iso] [--to iso] [--decision allow|deny|require_approval]
 *                [--decision-id id] [--session id] [--agent id] [--rule id]
 *                [--format json|csv] [--out file] [--url --token]
 */
import { createReadStream, readFileSync, writeFileSync } from "node:fs";
import { trustStoreSchema } from "../../src/bundles/manifest.ts";
import { AuditLogVerifier, type ChainStatus, type ExportedHead, type ExportedSegment } from "../../src/audit/verify.ts";
import { adminCall, adminLines, adminTarget, splitLines } from "../lib/admin-client.ts";
import { ADMIN_FLAGS, parseFlags, UsageError } from "../lib/args.ts";

const CSV_COLUMNS = ["seq", "decision_id", "time", "tenant", "agent", "session", "action_type", "tool", "decision", "rules", "mode", "stale", "fail_mode_applied", "location", "region", "layers"];

function csvCell(value: unknown): string {
  const text = value === undefined || value === null ? "" : Array.isArray(value) ? value.map((v) => (typeof v === "object" ? JSON.stringify(v) : String(v))).join(" ") : typeof value === "object" ? JSON.stringify(value) : String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One line of the export (`GET /v1/admin/audit/export`): the head first, a line per segment, an end line. */
type ExportLine =
  | { type: "head"; key: string; text: string | null; pending?: { unsealed: number | null; last_seal_error?: string } }
  | ({ type: "segment" } & ExportedSegment)
  | { type: "end"; segments: number }
  | { type: "error"; message: string };

/** What the chain object says it has sealed: the count an auditor checks R2 against. */
async function chainStatus(values: Record<string, string | undefined>, tenant: string): Promise<ChainStatus> {
  const { shard } = await adminCall<{ shard: { entries: number; unsealed: number; segments: number } }>(adminTarget(values), "GET", `/audit/status?tenant=${encodeURIComponent(tenant)}`);
  return { segments: shard.segments, sealed_entries: shard.entries - shard.unsealed };
}

async function verify(args: string[]): Promise<number> {
  const { values } = parseFlags(args, [...ADMIN_FLAGS, "tenant", "trust", "file", "expect-records"]);
  if (!values.tenant || !values.trust) throw new UsageError("audit verify needs --tenant and --trust <trust-store.json>");
  const expected = values["expect-records"] === undefined ? undefined : Number(values["expect-records"]);
  if (expected !== undefined && !(Number.isSafeInteger(expected) && expected >= 0)) throw new UsageError("--expect-records is a number of records");
  const tenant = values.tenant;
  const trust = trustStoreSchema.parse(JSON.parse(readFileSync(values.trust, "utf8")));
  // Online, the chain's count is read before the export: the export seals what is pending,
  // so the log it streams can only be as long or longer, never shorter, unless R2 lost some.
  const chain = values.file ? undefined : await chainStatus(values, tenant);
  const lines = values.file
    ? splitLines(createReadStream(values.file, { encoding: "utf8" }))
    : adminLines(adminTarget(values), `/audit/export?tenant=${encodeURIComponent(tenant)}`);
  const verifier = new AuditLogVerifier(tenant, trust);
  let head: ExportedHead | undefined;
  let ended = false;
  let failure: string | undefined;
  let number = 0;
  for await (const text of lines) {
    number++;
    if (text.length === 0) continue;
    let line: ExportLine | null;
    try {
      line = JSON.parse(text) as ExportLine | null;
    } catch {
      line = null;
    }
    if (typeof line !== "object" || line === null) {
      failure = `line ${number} is not an export line`;
      break;
    }
    if (line.type === "head") {
      head = { key: line.key, text: line.text };
      if (line.pending) console.error(`note: ${line.pending.unsealed ?? "an unknown number of"} newer records are not sealed yet${line.pending.last_seal_error ? ` (${line.pending.last_seal_error})` : ""}; they are not covered`);
    } else if (line.type === "segment") await verifier.add(line);
    else if (line.type === "end") ended = true;
    else if (line.type === "error") failure = line.message;
    else failure = `line ${number} is not part of an audit export`;
    if (failure) break;
  }
  if (!head || !ended || failure) {
    console.log(`INCOMPLETE: the export of ${tenant} stopped before its end${failure ? ` (${failure})` : ""}; it was not verified`);
    return 1;
  }
  const report = await verifier.finish(head, chain);
  if (!chain) console.error("note: read from a file, so not checked against the chain object's count; the signed head is checked");
  if (!report.ok) {
    console.log(`TAMPERED: ${report.problems.length + report.problems_omitted} problem(s) in the log of ${tenant}`);
    for (const problem of report.problems) console.log(`  - [${problem.kind}] segment ${problem.segment}${problem.seq ? `, record ${problem.seq}` : ""}: ${problem.message}`);
    if (report.problems_omitted > 0) console.log(`  … and ${report.problems_omitted} more`);
    return 1;
  }
  if (expected !== undefined && report.entries < expected) {
    console.log(`MISSING: ${report.entries} records in ${report.segments} segments verify for ${tenant}, but at least ${expected} were expected`);
    return 1;
  }
  console.log(`ok: ${report.entries} records in ${report.segments} segments verify for ${tenant}, through record ${report.last_seq}`);
  return 0;
}

async function exportRecords(args: string[]): Promise<number> {
  const { values } = parseFlags(args, [...ADMIN_FLAGS, "tenant", "from", "to", "decision", "decision-id", "session", "agent", "rule", "format", "out"]);
  if (!values.tenant) throw new UsageError("audit export needs --tenant");
  const format = values.format ?? "json";
  if (format !== "json" && format !== "csv") throw new UsageError("--format is json or csv");
  const query = new URLSearchParams({ tenant: values.tenant, limit: "10000" });
  for (const [flag, param] of [["from", "from"], ["to", "to"], ["decision", "decision"], ["decision-id", "decision_id"], ["session", "session"], ["agent", "agent"], ["rule", "rule"]] as const) {
    if (values[flag]) query.set(param, values[flag]!);
  }
  // Page through in sequence order: an export is never silently cut at a page size.
  const records: Array<Record<string, unknown>> = [];
  for (;;) {
    const page = await adminCall<{ records: Array<Record<string, unknown>>; next_after_seq?: number }>(adminTarget(values), "GET", `/audit/records?${query}`);
    records.push(...page.records);
    if (page.next_after_seq === undefined) break;
    query.set("after_seq", String(page.next_after_seq));
  }
  const output =
    format === "json"
      ? `${JSON.stringify(records, null, 2)}\n`
      : [CSV_COLUMNS.join(","), ...records.map((r) => CSV_COLUMNS.map((c) => csvCell(r[c])).join(","))].join("\n") + "\n";
  if (values.out) writeFileSync(values.out, output);
  else process.stdout.write(output);
  if (values.out) console.error(`${records.length} records written to ${values.out}`);
  return 0;
}

export async function audit(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === "verify") return verify(rest);
  if (sub === "export") return exportRecords(rest);
  throw new UsageError("audit takes verify or export");
}
