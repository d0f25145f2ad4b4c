/**
 * @module audit
 * The auditor's commands:
 *
 *   audit verify --tenant <t> --trust <trust.json> [--file export.json] [--url --token]
 *       fetch (or read) the tenant's sealed log and check signatures, the
 *       digest chain and every record; exit 1 and say where, if anything was
 *       modified, deleted, inserted or reordered
 *   audit export --tenant <t> [--from iso] [--to iso] [--decision allow|deny|require_approval]
 *                [--decision-id id] [--session id] [--agent id] [--rule id]
 *                [--format json|csv] [--out file] [--url --token]
 */
import { readFileSync, writeFileSync } from "node:fs";
import { trustStoreSchema } from "../../src/bundles/manifest.ts";
import { verifyAuditLog, type ExportedSegment } from "../../src/audit/verify.ts";
import { adminCall, adminTarget } from "../lib/admin-client.ts";
import { ADMIN_FLAGS, parseFlags, UsageError } from "../lib/args.ts";

const CSV_COLUMNS = ["seq", "decision_id", "time", "tenant", "agent", "session", "action_type", "tool", "decision", "rules", "mode", "stale", "fail_mode_applied", "location", "region", "layers"];

function csvCell(value: unknown): string {
  const text = value === undefined || value === null ? "" : Array.isArray(value) ? value.map((v) => (typeof v === "object" ? JSON.stringify(v) : String(v))).join(" ") : typeof value === "object" ? JSON.stringify(value) : String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

interface AuditExport {
  segments: ExportedSegment[];
  pending?: { unsealed: number; last_seal_error?: string };
}

async function verify(args: string[]): Promise<number> {
  const { values } = parseFlags(args, [...ADMIN_FLAGS, "tenant", "trust", "file"]);
  if (!values.tenant || !values.trust) throw new UsageError("audit verify needs --tenant and --trust <trust-store.json>");
  const trust = trustStoreSchema.parse(JSON.parse(readFileSync(values.trust, "utf8")));
  const exported = values.file
    ? (JSON.parse(readFileSync(values.file, "utf8")) as AuditExport)
    : await adminCall<AuditExport>(adminTarget(values), "GET", `/audit/export?tenant=${encodeURIComponent(values.tenant)}`);
  const report = await verifyAuditLog(values.tenant, exported.segments, trust);
  if (exported.pending) console.error(`note: ${exported.pending.unsealed} newer records are not sealed yet${exported.pending.last_seal_error ? ` (${exported.pending.last_seal_error})` : ""}; they are not covered`);
  if (report.ok) {
    console.log(`ok: ${report.entries} records in ${report.segments} segments verify for ${values.tenant}`);
    return 0;
  }
  console.log(`TAMPERED: ${report.problems.length} problem(s) in the log of ${values.tenant}`);
  for (const problem of report.problems) console.log(`  - [${problem.kind}] segment ${problem.segment}${problem.seq ? `, record ${problem.seq}` : ""}: ${problem.message}`);
  return 1;
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
