/**
 * @module bench
 * `npm run bench`: drives one input mix (the fidelity scenarios) through
 *   (a) the edge over loopback HTTP, served from workerd as `npm start` runs it,
 *       every request authenticated as in production: the policy-only path
 *       through the sandbox (with an agent key, with a JWT reused across
 *       requests, with a new JWT for every request) and with the baseline in
 *       the isolate, the sandbox path with the audit log on, and the full path
 *       with each decision's session Durable Object (budget check and debit) and the log,
 *   (b) `opa run --server` with the same policy over loopback HTTP,
 *   (c) the same evaluator in Node, in-process (the edge's wasm host and builtins),
 * at concurrency 1 and 16, and prints median, p99, requests/s and edge/OPA
 * ratios from this one run. The HTTP targets are measured in alternating
 * rounds, so a noisy machine weighs on all of them alike. It also reports
 * what each hop costs: evaluation inside the sandbox, one RPC into it, the
 * HTTP path, the audit log and the session object. The log gets an A/B of
 * its own (scripts/lib/bench-log.ts), with and without it on the same inputs
 * in alternating rounds, with the log's backend in a process of its own.
 *
 * It also times the heaviest host builtins (JSON Schema, GraphQL, X.509)
 * per call inside the sandbox (scripts/lib/bench-builtins.ts).
 *
 * Flags: --quick (fewer requests), --write (record bench/RESULTS.md),
 * --builtins-only (only the builtins section).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { cpus, totalmem, type } from "node:os";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { buildGlobalPolicy } from "./build-policies.ts";
import { buildSandbox } from "./build-sandbox.ts";
import { bundleEdge, startEdges } from "./lib/edge-server.ts";
import { runInterleaved } from "./lib/load.ts";
import { generateKeyPair } from "./lib/signing.ts";
import { opaBuildWasm } from "./lib/opa.ts";
import { measureIdentity, measureInSandbox, measureStages } from "./lib/sandbox-eval.ts";
import { asSent, benchAdminToken, enrolAgents, jwtProvider, policyInputOf } from "./lib/bench-agents.ts";
import { benchLog } from "./lib/bench-log.ts";
import { waitUntilChained } from "./lib/audit-drain.ts";
import { allowedCpus, waitUntilQuiet, workerdChildren } from "./lib/placement.ts";
import { benchPublish } from "./lib/bench-publish.ts";
import { benchScaling } from "./lib/bench-scaling.ts";
import { benchSdk } from "./lib/bench-sdk.ts";
import { buildAgentPackage } from "./build-agent.ts";
import { benchBuiltins, type BuiltinCost } from "./lib/bench-builtins.ts";
import { benchMcp, type McpBench } from "./lib/bench-mcp.ts";
import { benchStateDir } from "./lib/bench-state-dir.ts";
import { benchSessionPath, type SessionPathRow } from "./lib/bench-session-path.ts";
import { summarize, type Summary } from "./lib/stats.ts";
import { sha256Hex } from "./lib/digest.ts";
import { ensureOpa, OPA_VERSION, ROOT } from "./toolchain.mjs";

const quick = process.argv.includes("--quick");
const builtinsOnly = process.argv.includes("--builtins-only");
const write = process.argv.includes("--write");
const REQUESTS = quick ? 1500 : 6000;
const WARMUP = quick ? 300 : 1000;
const CONCURRENCY = [1, 16];
/** Rounds the HTTP targets alternate in: short enough that drift on a shared machine falls on all of them alike. */
const ROUNDS = quick ? 6 : 20;

const fidelity = (
  JSON.parse(readFileSync(join(ROOT, "test", "fixtures", "scenarios.json"), "utf8")) as { scenarios: Array<{ name: string; input: { risk_tier: string; session: Record<string, unknown> } }> }
).scenarios;
const scenarios = fidelity.map((s) => asSent(s.input) as { risk_tier: string; session: Record<string, unknown> });

async function waitFor(url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not come up within ${timeoutMs} ms`);
}

async function startOpaServer(port: number): Promise<ChildProcess> {
  const child = spawn(
    ensureOpa({ quiet: true }),
    ["run", "--server", "--addr", `127.0.0.1:${port}`, "--log-level", "error", join(ROOT, "policies", "global")],
    { stdio: "ignore" },
  );
  await waitFor(`http://127.0.0.1:${port}/health`);
  return child;
}

interface NodeEvaluator {
  evaluate(inputJson: string, nowMs: number, runtime?: undefined, budgetMs?: number): unknown;
}

interface EvaluatorModule {
  PolicyEvaluator: { load(wasm: WebAssembly.Module, data: unknown, entrypoint: string): Promise<NodeEvaluator> };
}

/** The edge's evaluator bundled for Node, so (c) runs the very same code as the sandbox. */
async function loadNodeEvaluator(): Promise<EvaluatorModule> {
  const out = join(ROOT, "build", "bench", "evaluator.mjs");
  await build({
    entryPoints: [join(ROOT, "src", "engine", "evaluator.ts")],
    bundle: true,
    format: "esm",
    platform: "node",
    outfile: out,
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  });
  return (await import(pathToFileURL(out).href)) as EvaluatorModule;
}

function inProcess(evaluate: (json: string) => unknown, bodies: string[], iterations: number): Summary {
  for (let i = 0; i < 2000; i++) evaluate(bodies[i % bodies.length]);
  const samples: number[] = [];
  const started = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    const t = process.hrtime.bigint();
    evaluate(bodies[i % bodies.length]);
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return summarize(samples, Number(process.hrtime.bigint() - started) / 1e6);
}

const fmt = (ms: number) => (ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : `${ms.toFixed(2)} ms`);
/** A hop measured as the difference of two medians: one smaller than nothing is noise, and said so. */
const difference = (ms: number) => (ms < 0 ? `≈ 0 (${fmt(ms)}: within the noise)` : fmt(ms));

/** Samples per builtin; each is the mean of a round of calls long enough for the sandbox's coarse clock. */
const BUILTIN_ROUNDS = quick ? 30 : 100;

function builtinLines(costs: BuiltinCost[]): string[] {
  return [
    `Heaviest host builtins, per call inside the sandbox (a one-rule policy, ${costs[0]?.samples ?? 0} samples each, a sample being the mean of one round of calls; the policy's own evaluation is the first row):`,
    "",
    "| builtin | median per call | p99 per call | calls per sample |",
    "|---|---:|---:|---:|",
    ...costs.map((cost) => `| ${cost.name} | ${cost.median_us.toFixed(1)} µs | ${cost.p99_us.toFixed(1)} µs | ${cost.calls_per_sample} |`),
  ];
}

async function main(): Promise<void> {
  if (builtinsOnly) {
    await buildSandbox();
    console.log(builtinLines(await benchBuiltins(BUILTIN_ROUNDS)).join("\n"));
    return;
  }
  // Durable Object and R2 state in files on tmpfs for the whole run, so a commit costs what the
  // engine does and not this machine's fsync; what the disk adds is measured on its own below.
  const state = benchStateDir();
  try {
    await measureAll(state);
  } finally {
    state.dispose();
  }
}

async function measureAll(state: ReturnType<typeof benchStateDir>): Promise<void> {
  console.error("building policy, sandbox and edge bundle…");
  await buildGlobalPolicy();
  await buildSandbox();
  bundleEdge();
  const policy = await opaBuildWasm(join(ROOT, "policies", "global"), "tollgate/decision");

  // What the policy sees at the edge: the body with the verified identity in it. OPA's
  // server, the evaluator in Node and the in-sandbox figure all get exactly that.
  const policyInputs = scenarios.map(policyInputOf);
  const inputJsons = policyInputs.map((input) => JSON.stringify(input));
  const opaCalls = policyInputs.map((input) => ({ body: JSON.stringify({ input }), headers: {} }));

  // The log is sealed and signed as in production, sub-agent credentials are minted and every
  // decision's receipt is signed, with keys made for this run.
  const auditKey = await generateKeyPair("bench-audit");
  const identityKey = await generateKeyPair("bench-identity");
  const receiptKey = await generateKeyPair("bench-receipt");
  const admin = benchAdminToken();
  const auditKeyVars = { AUDIT_KEY_ID: auditKey.id, AUDIT_SIGNING_KEY: JSON.stringify(auditKey.privateJwk) };
  const identityVars = {
    IDENTITY_KEY_ID: identityKey.id,
    IDENTITY_SIGNING_KEY: JSON.stringify(identityKey.privateJwk),
    RECEIPT_KEY_ID: receiptKey.id,
    RECEIPT_SIGNING_KEY: JSON.stringify(receiptKey.privateJwk),
    TRUST_STORE: JSON.stringify({
      keys: [
        { id: identityKey.id, public_key: identityKey.publicKey, scopes: ["identity"] },
        { id: receiptKey.id, public_key: receiptKey.publicKey, scopes: ["receipt"] },
      ],
    }),
    ADMIN_TOKENS: JSON.stringify(admin.entry),
  };
  // One workerd for the four edges, as one machine would run them. The audit Queue's consumer,
  // the chain objects and the session objects belong to one more worker in it, which every edge
  // binds (as every Cloudflare location reaches the same objects): they share the machine's
  // threads with all four edges, and no edge carries the log work the others leave.
  const [sandboxEdge, isolateEdge, auditEdge, sessionEdge] = await startEdges(
    [
      { port: 18786, vars: { POLICY_ENGINE: "sandbox", SESSION_STATE: "off", AUDIT: "off" } },
      { port: 18787, vars: { POLICY_ENGINE: "isolate", SESSION_STATE: "off", AUDIT: "off" } },
      { port: 18788, vars: { POLICY_ENGINE: "sandbox", SESSION_STATE: "off", AUDIT: "on" } },
      { port: 18789, vars: { POLICY_ENGINE: "sandbox", SESSION_STATE: "on", AUDIT: "on" } },
    ],
    { vars: { ...auditKeyVars, ...identityVars } },
  );
  // The sandbox path again, as a machine runs it on every core: workerd runs a Worker's requests
  // on one thread, and Cloudflare runs a location's Worker on many, so here one workerd per CPU,
  // each connection of the load generator kept to one of them (as a load balancer spreads them).
  // Their agent registry and other objects live in one more workerd, as they live elsewhere on
  // Cloudflare; each edge keeps its copy of a tenant's registry, so no decision waits for it.
  const perCpu = Math.max(1, allowedCpus().length);
  const perCpuEdges =
    perCpu > 1
      ? await startEdges(
          Array.from({ length: perCpu }, (_, i) => ({ port: 18790 + i })),
          { vars: { ...auditKeyVars, ...identityVars, POLICY_ENGINE: "sandbox", SESSION_STATE: "off", AUDIT: "off" }, separateBackend: true, processPerEdge: true },
        )
      : [];
  // Every scenario's agent registered and keyed; a JWT provider for their tenant.
  const target = { url: sessionEdge.url.origin, token: admin.token };
  const keyed = await enrolAgents(target, scenarios);
  const perCpuCalls = perCpuEdges.length > 0 ? scenarios.map(await enrolAgents({ url: perCpuEdges[0].url.origin, token: admin.token }, scenarios)) : [];
  // One real answer of the full path, for measuring the edge's own stages on it below.
  const sampleCall = keyed(scenarios[0]);
  const sampleAnswer = (await (await fetch(new URL("/v1/decide", sessionEdge.url), { method: "POST", headers: { ...sampleCall.headers, "content-type": "application/json" }, body: sampleCall.body })).json()) as Record<string, unknown>;
  const jwt = await jwtProvider(target, scenarios);
  const edgeCalls = scenarios.map(keyed);
  const jwtReusedCalls = scenarios.map((body) => jwt(body, false));
  // A new token for every request of the row, so no verification is ever answered from the cache.
  const jwtFreshCalls = Array.from({ length: (REQUESTS + WARMUP) * CONCURRENCY.length }, (_, i) => jwt(scenarios[i % scenarios.length], true));
  // A thousand sessions, each used in turn, so budgets do not run out and breakers stay closed over the run.
  const sessionCalls = Array.from({ length: 1000 }, (_, i) => {
    const input = scenarios[i % scenarios.length];
    return keyed({ ...input, session: { ...input.session, id: `bench-session-${i}` } });
  });
  const opa = await startOpaServer(18181);
  const rows: Array<{ target: string; concurrency: number; summary: Summary }> = [];
  // The edges with the log on leave its backend work after each turn; it is let finish (untimed)
  // before the next target is measured, so no row pays for another's records. The sample
  // decision above is the one record in the chains before the run.
  const tenants = [...new Set(scenarios.map((input) => String((input as { tenant?: string }).tenant ?? "acme")))];
  const edgeProcesses = workerdChildren();
  let turns = 0;
  let restless = 0;
  let chainedExpected = 1;
  let chainedMain = 0;
  try {
    for (const concurrency of CONCURRENCY) {
      const plan = { concurrency, requests: REQUESTS, warmup: WARMUP };
      console.error(`concurrency ${concurrency}…`);
      const targets = [
        { target: "edge (sandbox)", url: new URL("/v1/decide", sandboxEdge.url), calls: edgeCalls },
        { target: "edge (sandbox, JWT reused)", url: new URL("/v1/decide", sandboxEdge.url), calls: jwtReusedCalls },
        { target: "edge (sandbox, new JWT each request)", url: new URL("/v1/decide", sandboxEdge.url), calls: jwtFreshCalls },
        { target: "edge (baseline in isolate)", url: new URL("/v1/decide", isolateEdge.url), calls: edgeCalls },
        { target: "edge (sandbox + audit log)", url: new URL("/v1/decide", auditEdge.url), calls: edgeCalls },
        { target: "edge (sandbox + session DO + audit log)", url: new URL("/v1/decide", sessionEdge.url), calls: sessionCalls },
        ...(perCpuEdges.length > 0 ? [{ target: `edge (sandbox, a workerd per CPU: ${perCpuEdges.length})`, url: perCpuEdges.map((edge) => new URL("/v1/decide", edge.url)), calls: perCpuCalls }] : []),
        { target: "opa run --server", url: new URL("http://127.0.0.1:18181/v1/data/tollgate/decision"), calls: opaCalls },
      ];
      // Requests sent so far by each target with the log on, warm-up included: each is one record to chain.
      const logged = new Map(targets.flatMap(({ target }, i) => (target.includes("audit log") ? [[i, 0] as [number, number]] : [])));
      const loggedThisConcurrency = () => [...logged.values()].reduce((a, b) => a + b, 0);
      // On the session row, answers the breaker refused (the cheaper circuit_open path) are counted and reported.
      const summaries = await runInterleaved(
        targets.map(({ target, url, calls }) => ({ ...plan, url, calls, ...(target.includes("session DO") ? { watch: '"circuit_open"' } : {}) })),
        ROUNDS,
        async (turn, sent) => {
          if (logged.has(turn)) {
            logged.set(turn, sent);
            await waitUntilChained(target, tenants, chainedExpected + loggedThisConcurrency());
          }
          // Whatever else a turn left running (the session objects' alarms) finishes before the next target is timed.
          turns++;
          if (!(await waitUntilQuiet(edgeProcesses))) restless++;
        },
      );
      chainedExpected += loggedThisConcurrency();
      targets.forEach(({ target }, i) => rows.push({ target, concurrency, summary: summaries[i] }));
    }
    chainedMain = await waitUntilChained(target, tenants, chainedExpected);
    if (chainedMain !== chainedExpected) throw new Error(`the audit log did not keep up in the main table: ${chainedMain} of ${chainedExpected} records chained`);
  } finally {
    opa.kill();
    await sandboxEdge.dispose();
    await perCpuEdges[0]?.dispose();
  }

  // For critical inputs the policy demands the record before the answer, so those are
  // measured apart from the rest, whose records leave after it.
  console.error("the audit log, with and without…");
  const queuedBodies = scenarios.filter((input) => input.risk_tier !== "critical");
  const acknowledgedBodies = scenarios.filter((input) => input.risk_tier === "critical");
  const log = await benchLog(
    [
      { record: `queued after the answer (${queuedBodies.length} inputs)`, bodies: queuedBodies, acknowledged: false },
      { record: `appended before the answer: critical (${acknowledgedBodies.length} inputs)`, bodies: acknowledgedBodies, acknowledged: true },
    ],
    { concurrencies: CONCURRENCY, requests: REQUESTS, warmup: WARMUP, rounds: ROUNDS },
    { ...auditKeyVars, ...identityVars },
    admin.token,
  );

  let sessionPath: SessionPathRow[] | undefined;
  if (state.tmpfs) {
    console.error("the full path with session objects in memory, on tmpfs and on the disk…");
    // The main table's requests and warm-up per target, so each session meets the same decisions; half its rounds.
    const plan = { concurrencies: CONCURRENCY, requests: REQUESTS, warmup: WARMUP, rounds: ROUNDS / 2 };
    const opaAgain = await startOpaServer(18182);
    try {
      const opaTarget = { url: new URL("http://127.0.0.1:18182/v1/data/tollgate/decision"), calls: opaCalls };
      sessionPath = await benchSessionPath(scenarios, plan, { disk: state.disk, tmpfs: state.tmpfs }, { ...auditKeyVars, ...identityVars }, admin.token, opaTarget);
    } finally {
      opaAgain.kill();
    }
  }

  const { PolicyEvaluator } = await loadNodeEvaluator();
  const wasmModule = await WebAssembly.compile(policy.wasm as Uint8Array<ArrayBuffer>);
  const evaluator = await PolicyEvaluator.load(wasmModule, policy.data, policy.entrypoint);
  const now = Date.now();
  // No evaluation budget: this row times evaluations, and one that a pause of the machine held past the
  // edge's 40 ms would otherwise end the run; such a pause shows in the p99 instead.
  rows.push({ target: "opa-wasm in Node (in-process)", concurrency: 1, summary: inProcess((json) => evaluator.evaluate(json, now, undefined, Number.POSITIVE_INFINITY), inputJsons, REQUESTS * 5) });

  console.error("measuring inside the sandbox…");
  const hops = await measureInSandbox(policy, policyInputs, quick ? 2000 : 10000);
  const sampleKey = (edgeCalls[0].headers.authorization ?? "").slice("Bearer ".length);
  const sampleJwt = (jwtReusedCalls[0].headers.authorization ?? "").slice("Bearer ".length);
  const verification = await measureIdentity(
    { jwt: sampleJwt, jwk: jwt.publicJwk, key: sampleKey, secret_sha256: sha256Hex(sampleKey.split("_").slice(3).join("_")) },
    quick ? 2000 : 10000,
  );
  const stages = await measureStages({ body: JSON.parse(sampleCall.body), identity: sampleAnswer.identity, response: sampleAnswer, receipt_key: { id: receiptKey.id, public_key: receiptKey.publicKey, private_jwk: receiptKey.privateJwk } }, quick ? 2000 : 10000);
  const evalUs = hops.per_input.map((p) => p.eval_us).sort((a, b) => a - b);
  const medianEvalUs = evalUs[Math.floor(evalUs.length / 2)];
  const maxEvalUs = evalUs[evalUs.length - 1];
  const slowestInput = fidelity[hops.per_input.findIndex((p) => p.eval_us === maxEvalUs)]?.name ?? "?";

  const opaRow = (c: number) => rows.find((r) => r.target === "opa run --server" && r.concurrency === c)!.summary;
  const lines: string[] = [];
  lines.push("| target | concurrency | median | p99 | requests/s | median vs OPA | rps vs OPA |");
  lines.push("|---|---:|---:|---:|---:|---:|---:|");
  for (const row of rows) {
    const base = row.target.startsWith("opa-wasm") ? undefined : opaRow(row.concurrency);
    const ratio = base ? `${(row.summary.median_ms / base.median_ms).toFixed(2)}×` : "—";
    const rpsRatio = base ? `${(row.summary.rps / base.rps).toFixed(2)}×` : "—";
    lines.push(
      `| ${row.target} | ${row.concurrency} | ${fmt(row.summary.median_ms)} | ${fmt(row.summary.p99_ms)} | ${row.summary.rps.toFixed(0)} | ${ratio} | ${rpsRatio} |`,
    );
  }
  lines.push("");
  lines.push(`Between turns, untimed: after an edge with the log on, until its backend had chained every record so far (every decision those edges answered was chained, ${chainedMain} of ${chainedExpected}); after every turn, until the edges' workerd was idle (no more than 20 ms of CPU in 200 ms; ${turns - restless} of ${turns} turns got there within 2 s), so no target is timed while another's leftover work runs.`);
  lines.push("");
  lines.push("The audit log, with and without it on the same edge build and inputs (alternating rounds); the log's backend in its own workerd, as on Cloudflare it runs away from the location that answered:");
  lines.push("");
  lines.push("| record | concurrency | median without | median with | change | p99 without | p99 with |");
  lines.push("|---|---:|---:|---:|---:|---:|---:|");
  for (const row of log.rows) {
    const change = ((row.with.median_ms - row.without.median_ms) / row.without.median_ms) * 100;
    lines.push(
      `| ${row.record} | ${row.concurrency} | ${fmt(row.without.median_ms)} | ${fmt(row.with.median_ms)} | ${change >= 0 ? "+" : ""}${change.toFixed(1)}% | ${fmt(row.without.p99_ms)} | ${fmt(row.with.p99_ms)} |`,
    );
  }
  lines.push("");
  lines.push(`Placement: ${log.placement}. Every decision the log-on edge answered was chained (${log.chained} of ${log.answered}); nothing counted lost or retried.`);
  if (sessionPath) {
    lines.push("");
    lines.push(...sessionPathLines(sessionPath));
  }
  const sandboxC1 = rows.find((r) => r.target === "edge (sandbox)" && r.concurrency === 1)!.summary;
  const isolateC1 = rows.find((r) => r.target === "edge (baseline in isolate)" && r.concurrency === 1)!.summary;
  lines.push("");
  lines.push("What each hop costs (concurrency 1):");
  lines.push("");
  lines.push(
    `- evaluation inside the sandbox, per decision: median over the ${evalUs.length} inputs ${medianEvalUs.toFixed(1)} µs, slowest input ${maxEvalUs.toFixed(1)} µs ("${slowestInput}") (includes JSON into and out of wasm; measured round-robin over the mix, each input once per round as a block of about 10 ms, since the sandbox's clock moves in whole milliseconds, over 8 rounds in rotating order)`,
  );
  lines.push(`- one RPC decide() into the sandbox from a Worker: ${fmt(hops.rpc_decide_ms)}`);
  lines.push(`- edge over HTTP, sandbox path minus in-isolate path (the RPC hop as a client sees it): ${fmt(sandboxC1.median_ms - isolateC1.median_ms)}`);
  const auditC1 = rows.find((r) => r.target === "edge (sandbox + audit log)" && r.concurrency === 1)!.summary;
  const sessionC1 = rows.find((r) => r.target === "edge (sandbox + session DO + audit log)" && r.concurrency === 1)!.summary;
  lines.push(`- the audit log over the whole mix (records queued after the answer, critical ones appended before it; the Queue, its consumer, the chain objects and R2 run in the same workerd): median ${fmt(auditC1.median_ms)} with it, ${fmt(sandboxC1.median_ms)} without (${(((auditC1.median_ms - sandboxC1.median_ms) / sandboxC1.median_ms) * 100).toFixed(1)}%)`);
  lines.push(`- the session Durable Object (one check-and-debit per decision), as a client sees it: ${fmt(sessionC1.median_ms - auditC1.median_ms)} at the median`);
  const sessionRows = rows.filter((r) => r.target.includes("session DO"));
  lines.push(
    `- the session row spreads its requests over 1,000 sessions in turn (every session used, about ${Math.round((REQUESTS + WARMUP) * CONCURRENCY.length / 1000)} decisions each); answers refused by an open breaker (\`circuit_open\`, a cheaper path): ${sessionRows.map((r) => `${(((r.summary.matched ?? 0) / r.summary.count) * 100).toFixed(1)}% at c=${r.concurrency}`).join(", ")}`,
  );
  lines.push(`- in-process evaluation in Node, median: ${fmt(rows.find((r) => r.target.startsWith("opa-wasm"))!.summary.median_ms)}`);
  const jwtFreshC1 = rows.find((r) => r.target === "edge (sandbox, new JWT each request)" && r.concurrency === 1)!.summary;
  const share = (us: number) => `${((us / 1000 / sandboxC1.median_ms) * 100).toFixed(1)}% of the sandbox path's median`;
  lines.push(`- verifying the credential, in workerd, with nothing cached: an agent key (parse, sha256, compare) ${verification.agent_key_us.toFixed(1)} µs (${share(verification.agent_key_us)}); an EdDSA JWT (decode, signature, times) ${verification.jwt_us.toFixed(1)} µs (${share(verification.jwt_us)}); a JWT already verified by this isolate is a map lookup`);
  lines.push(`- a new JWT on every request against one reused, as a client sees it: ${fmt(jwtFreshC1.median_ms - sandboxC1.median_ms)} at the median over the agent-key row`);
  lines.push(`- so HTTP + JSON validation + response on the in-isolate edge ≈ ${fmt(isolateC1.median_ms - medianEvalUs / 1000)} of its ${fmt(isolateC1.median_ms)} median`);

  // Where the time of one decision goes, per path: each hop from a measurement of its own (stages in
  // workerd, alone) or from the difference between two edges that differ by that hop only.
  const us = (value: number) => fmt(value / 1000);
  const edgeStagesUs = stages.validation_us + verification.agent_key_us + stages.input_us + medianEvalUs + stages.receipt_us + stages.response_us;
  const httpMs = isolateC1.median_ms - edgeStagesUs / 1000;
  const logRow = log.rows.find((row) => row.concurrency === 1 && !row.record.includes("before"));
  lines.push("");
  lines.push("Where the time of one decision goes (concurrency 1, medians; the first five stages are measured alone in workerd on a real body and answer, the hops as the difference between two edges that differ by that hop only):");
  lines.push("");
  lines.push("| stage | edge (sandbox) | + audit log | + session object | how it was measured | on Cloudflare |");
  lines.push("|---|---:|---:|---:|---|---|");
  const stage = (name: string, value: string, paths: [boolean, boolean, boolean], how: string, production: string) =>
    lines.push(`| ${name} | ${paths[0] ? value : "—"} | ${paths[1] ? value : "—"} | ${paths[2] ? value : "—"} | ${how} | ${production} |`);
  const all: [boolean, boolean, boolean] = [true, true, true];
  stage("HTTP in and out, workerd's request handling", fmt(httpMs), all, "in-isolate edge's median less every stage below it", "TLS ends at the nearest location; the client's network round trip comes on top, the runtime's own handling is alike");
  stage("JSON parse, bounds and schema", us(stages.validation_us), all, "measured alone", "the same");
  stage("identity (agent key, not cached)", us(verification.agent_key_us), all, "measured alone; a cached registry copy is a map lookup", "the same; a registry re-read every 30 s goes to the tenant's object, off the path");
  stage("the policy's input, written out", us(stages.input_us), all, "measured alone", "the same");
  stage("RPC into the sandbox and back", fmt(sandboxC1.median_ms - isolateC1.median_ms), all, "sandbox edge less in-isolate edge", "a Dynamic Worker often runs on its caller's thread: likely less");
  stage("evaluation (all layers, JSON in and out of wasm)", us(medianEvalUs), all, "in the sandbox, median over the mix", "the same");
  stage("receipt (its claims, canonical hash, Ed25519 signature)", us(stages.receipt_us), all, "measured alone", "the same");
  stage("the answer, written out", us(stages.response_us), all, "measured alone", "the same");
  stage("audit record (queued after the answer)", logRow ? difference(logRow.with.median_ms - logRow.without.median_ms) : "—", [false, true, true], `log A/B (record built after the answer: ${us(stages.audit_record_us)})`, "a Queue send after the answer; the chain object and R2 are elsewhere, off the path");
  stage("session object (check-and-debit, committed before the answer)", fmt(sessionC1.median_ms - auditC1.median_ms), [false, false, true], "full path less the log-on edge; nearly every decision here wakes its evicted object (objects kept in memory: the A/B above)", "the object lives in one location: from anywhere else, a network round trip more; its write is confirmed once replicated to machines nearby, where here it is a SQLite commit to tmpfs (this machine's disk: the A/B above)");
  lines.push(`| **total (median of the path)** | **${fmt(sandboxC1.median_ms)}** | **${fmt(auditC1.median_ms)}** | **${fmt(sessionC1.median_ms)}** | measured end to end | |`);

  console.error("timing the heaviest builtins inside the sandbox…");
  lines.push("");
  lines.push(...builtinLines(await benchBuiltins(BUILTIN_ROUNDS)));

  console.error("publishing under load…");
  const store = await benchPublish(scenarios, quick ? 1500 : 4000);
  lines.push("");
  lines.push("The bundle store (one edge, sandbox path, concurrency 1, a new EU layer published and activated every second):");
  lines.push("");
  lines.push("| edge | median | p99 | requests/s |");
  lines.push("|---|---:|---:|---:|");
  lines.push(`| no publish going on | ${fmt(store.quiet.median_ms)} | ${fmt(store.quiet.p99_ms)} | ${store.quiet.rps.toFixed(0)} |`);
  lines.push(`| during ${store.publishes} publishes | ${fmt(store.duringPublish.median_ms)} | ${fmt(store.duringPublish.p99_ms)} | ${store.duringPublish.rps.toFixed(0)} |`);
  lines.push("");
  lines.push(`Publish acknowledged → edge deciding with it (refresh interval 1 s): ${store.reachMs.map((ms) => `${ms.toFixed(0)} ms`).join(", ")}.`);
  lines.push("");
  lines.push(`A tenant's first decision after its own layer was activated (three publishes of tenant:acme; in the 300 ms between activation and that decision the edge kept answering health checks, so it was not idle): ${store.tenantFirstMs.map((ms) => fmt(ms)).join(", ")}; its next decisions: median ${fmt(store.tenantSteady.median_ms)}, p99 ${fmt(store.tenantSteady.p99_ms)}.`);

  console.error("the agent SDK…");
  await buildAgentPackage();
  const sdk = await benchSdk(quick ? 1000 : 3000);
  const opaC1 = rows.find((r) => r.target === "opa run --server" && r.concurrency === 1)!.summary;
  lines.push("");
  lines.push("The agent SDK (@tollgate/agent in Node, concurrency 1; the edge with authentication, sandbox, session object, audit log and signed receipts):");
  lines.push("");
  lines.push("| decision | median | p99 | median ÷ opa run --server median (c=1) |");
  lines.push("|---|---:|---:|---:|");
  const sdkRow = (name: string, s: Summary) => `| ${name} | ${fmt(s.median_ms)} | ${fmt(s.p99_ms)} | ${(s.median_ms / opaC1.median_ms).toFixed(2)}× |`;
  lines.push(sdkRow("reused receipt (SDK cache hit, no round trip)", sdk.cacheHit));
  lines.push(sdkRow("edge round trip (check() over HTTP, receipt verified)", sdk.roundTrip));
  lines.push(sdkRow("offline: the last signed policy evaluated locally, spooled", sdk.offline));
  lines.push(sdkRow("of which the local evaluation alone", sdk.localEvaluation));

  console.error("how cost grows…");
  const scaling = await benchScaling({ quick });
  lines.push("");
  lines.push("How cost grows (evaluation in the sandbox, median over a few inputs round-robin; tenants over HTTP at concurrency 1, the sandbox path, each tenant its own layer and agent):");
  lines.push("");
  lines.push("| grows | size | median | decisions/s (one core) | notes |");
  lines.push("|---|---|---:|---:|---|");
  for (const row of scaling) {
    const median = Number.isNaN(row.median_us) ? "—" : fmt(row.median_us / 1000);
    const rate = Number.isNaN(row.decisions_per_s) ? "—" : row.decisions_per_s.toFixed(0);
    lines.push(`| ${row.dimension} | ${row.size} | ${median} | ${rate} | ${row.note} |`);
  }

  console.error("the MCP gateway…");
  lines.push("");
  lines.push(...mcpLines(await benchMcp(quick ? 600 : 2000, quick ? 6 : 20), await benchMcp(quick ? 600 : 2000, quick ? 6 : 20, { SESSION_STATE: "off", AUDIT: "off" })));

  const machine = `${type()} · ${cpus().length} × ${cpus()[0]?.model ?? "cpu"} · ${(totalmem() / 2 ** 30).toFixed(0)} GiB · Node ${process.versions.node} · OPA ${OPA_VERSION}`;
  const where = state.tmpfs
    ? "Durable Object and R2 state: files on tmpfs, for every row but the disk's own A/B below the main table (a commit on this machine's disk is an fsync, which is not what a write pays on Cloudflare)."
    : "Durable Object and R2 state: files in the temporary directory (no tmpfs on this machine).";
  const report = [`Machine: ${machine}`, `Requests per row: ${REQUESTS} after ${WARMUP} warm-up, HTTP targets interleaved in ${ROUNDS} rounds; input mix: ${scenarios.length} scenarios round-robin.`, where, "", ...lines].join("\n");
  console.log(report);
  if (write) {
    mkdirSync(join(ROOT, "bench"), { recursive: true });
    writeFileSync(
      join(ROOT, "bench", "RESULTS.md"),
      `# Benchmark results\n\nRecorded by \`npm run bench -- --write\` on ${new Date().toISOString().slice(0, 10)}.\n\n${report}\n`,
    );
  }
}

/** The full path against the policy path with sessions in memory, and the same on this machine's disk. */
function sessionPathLines(rows: SessionPathRow[]): string[] {
  const share = (s: Summary) => `${(((s.matched ?? 0) / s.count) * 100).toFixed(1)}%`;
  return [
    "The full path (sandbox, session object, audit log) against the policy path and `opa run --server`, with session objects kept in memory: the main table's session requests (the same 1,000 sessions in the same order), to edges where workerd never evicts an object, each edge a workerd of its own, in alternating rounds. In the main table each session decides only every ten seconds or more, and workerd evicts an object idle for ten seconds (as Cloudflare hibernates an idle one), so there nearly every decision also wakes its object; here is what a session's decisions cost while it is in use. The same full path with its state on this machine's disk, where each commit is also an fsync:",
    "",
    "| concurrency | policy path | full path (tmpfs) | full ÷ policy | full path (disk) | opa run --server | requests/s: policy, tmpfs, disk, OPA | full path (tmpfs) rps vs OPA | circuit_open answers: tmpfs, disk |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...rows.map(
      ({ concurrency, policy, tmpfs, disk, opa }) =>
        `| ${concurrency} | ${fmt(policy.median_ms)} | ${fmt(tmpfs.median_ms)} | ${(tmpfs.median_ms / policy.median_ms).toFixed(2)}× | ${fmt(disk.median_ms)} | ${fmt(opa.median_ms)} | ${policy.rps.toFixed(0)}, ${tmpfs.rps.toFixed(0)}, ${disk.rps.toFixed(0)}, ${opa.rps.toFixed(0)} | ${(tmpfs.rps / opa.rps).toFixed(2)}× | ${share(tmpfs)}, ${share(disk)} |`,
    ),
    "",
    "What the platform itself charges for the session step, in the same rounds and with the same requests: a Worker in a workerd of its own that only parses each request's JSON and answers; the same Worker making one RPC to the request's session object (one object per session, kept in memory, state on tmpfs), which does nothing; and the same object writing one row (the request's body) before it answers, so the answer waits for the commit as a check-and-debit's does. None of Tollgate's code runs there. The last column adds that row's cost to the policy path's, taking each request's time at the throughput it reaches (1 ÷ requests/s) as its cost: if costs add, no full path that commits a write per decision gets past it on this runtime:",
    "",
    "| concurrency | Worker alone | + RPC to an object | + the object writes one row | requests/s: alone, RPC, write | policy path + (write − alone), as requests/s | that vs OPA |",
    "|---:|---:|---:|---:|---:|---:|---:|",
    ...rows.map(({ concurrency, policy, opa, floor }) => {
      const bound = 1 / (1 / policy.rps + 1 / floor.write.rps - 1 / floor.alone.rps);
      return `| ${concurrency} | ${fmt(floor.alone.median_ms)} | ${fmt(floor.roundTrip.median_ms)} | ${fmt(floor.write.median_ms)} | ${floor.alone.rps.toFixed(0)}, ${floor.roundTrip.rps.toFixed(0)}, ${floor.write.rps.toFixed(0)} | ${bound.toFixed(0)} | ${(bound / opa.rps).toFixed(2)}× |`;
    }),
    "",
    "The same full path with a session object that answers each commit at once (a benchmark-only subclass: no check, no statement, no write; the policy's verdict back with a closed breaker), in the same rounds: beside the policy path it prices the call (building the commit, the RPC both ways, merging the answer) with the audit log, and beside the full path the object's own work (its checks, statements and commit). Per decision, each request's time at the throughput it reaches (1 ÷ requests/s), which is what one thread of workerd spends on it at concurrency 16:",
    "",
    "| concurrency | medians: policy, object answering at once, full | per decision: policy, at once, full | the call and the log (at once − policy) | the object's own work (full − at once) | circuit_open answers: at once, full |",
    "|---:|---:|---:|---:|---:|---:|",
    ...rows.map(({ concurrency, policy, atOnce, tmpfs }) => {
      const cost = (s: Summary) => 1000 / s.rps;
      return `| ${concurrency} | ${fmt(policy.median_ms)}, ${fmt(atOnce.median_ms)}, ${fmt(tmpfs.median_ms)} | ${fmt(cost(policy))}, ${fmt(cost(atOnce))}, ${fmt(cost(tmpfs))} | ${fmt(cost(atOnce) - cost(policy))} | ${fmt(cost(tmpfs) - cost(atOnce))} | ${share(atOnce)}, ${share(tmpfs)} |`;
    }),
  ];
}

/** The MCP gateway's section: the full path, and the policy alone (no session object, no audit log). */
export function mcpLines(full: McpBench, policyOnly: McpBench): string[] {
  const row = (name: string, summary: McpBench["direct"]) => `| ${name} | ${fmt(summary.median_ms)} | ${fmt(summary.p99_ms)} | ${summary.rps.toFixed(0)} |`;
  return [
    `The MCP gateway: the same tools/call with the official client SDK, straight to an upstream built with the server SDK and through /mcp/<server> in front of it, concurrency 1, alternating rounds (${full.rounds} per edge configuration):`,
    "",
    "| target | median | p99 | calls/s |",
    "|---|---:|---:|---:|",
    row("straight to the upstream", full.direct),
    row("through a Worker that only relays (workerd's own hop)", full.relay),
    row("through a Worker that only relays, over a binding to the upstream's socket (no Miniflare outbound Worker)", full.relayDirect),
    row("through the gateway (sandbox, session object, audit log)", full.gateway),
    row("straight to the upstream (second edge run)", policyOnly.direct),
    row("through a Worker that only relays (second edge run)", policyOnly.relay),
    row("through a Worker that only relays, over a binding to the upstream's socket (second edge run)", policyOnly.relayDirect),
    row("through the gateway (policy only: SESSION_STATE and AUDIT off)", policyOnly.gateway),
    "",
    `Added by the gateway at the median: ${fmt(full.gateway.median_ms - full.direct.median_ms)} on the full path, ${fmt(policyOnly.gateway.median_ms - policyOnly.direct.median_ms)} with the policy alone. A Worker that does nothing but pass the call on adds ${fmt(full.relay.median_ms - full.direct.median_ms)} and ${fmt(policyOnly.relay.median_ms - policyOnly.direct.median_ms)} in the same rounds: what the gateway adds beyond that is ${fmt(full.gateway.median_ms - full.relay.median_ms)} and ${fmt(policyOnly.gateway.median_ms - policyOnly.relay.median_ms)}.`,
    "",
    `Of a Worker's own hop, Miniflare's outbound Worker (every fetch() a Worker makes here passes through it; on Cloudflare none does) is ${fmt(full.relay.median_ms - full.relayDirect.median_ms)} and ${fmt(policyOnly.relay.median_ms - policyOnly.relayDirect.median_ms)} at the median in the same rounds. The gateway's fetch to its upstream pays it too; the figures above keep it.`,
  ];
}

if (import.meta.main) {
  await main();
  process.exit(0);
}
