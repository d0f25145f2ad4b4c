/**
 * @module sandbox-eval
 * Evaluates a compiled policy through the edge's sandbox code in a private,
 * offline workerd (Miniflare with a Worker Loader binding). Shared by
 * `tollgate eval` and anything else on the Node side that must see exactly
 * what an edge would decide.
 */
import { join } from "node:path";
import { build } from "esbuild";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { ROOT } from "../toolchain.mjs";
import type { CompiledPolicy } from "./opa.ts";

export interface SandboxEvalResult {
  result?: unknown;
  error?: { code: string; message: string };
}

async function bundleEvalWorker(): Promise<string> {
  const output = await build({
    entryPoints: [join(ROOT, "scripts", "lib", "eval-worker.ts")],
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2023",
    external: ["cloudflare:workers", "node:*"],
    write: false,
  });
  return output.outputFiles[0].text;
}

export interface SandboxMeasurements {
  per_input: Array<{ eval_us: number; memory_bytes: number }>;
  rpc_decide_ms: number;
}

async function withHost<T>(run: (miniflare: Miniflare) => Promise<T>): Promise<T> {
  const miniflare = new Miniflare(
    convertV4MiniflareOptions({
    workers: [
      {
        name: "tollgate-eval-host",
        modules: [{ type: "ESModule", path: "eval-worker.js", contents: await bundleEvalWorker() }],
        compatibilityDate: "2026-11-01",
        compatibilityFlags: ["nodejs_compat"],
        workerLoaders: { LOADER: {} },
      },
    ],
  }),
  );
  try {
    return await run(miniflare);
  } finally {
    await miniflare.dispose();
  }
}

async function call<T>(miniflare: Miniflare, path: string, body: unknown): Promise<T> {
  const response = await miniflare.dispatchFetch(`http://host${path}`, { method: "POST", body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`sandbox host failed: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

function payload(policy: CompiledPolicy) {
  return { wasm_base64: Buffer.from(policy.wasm).toString("base64"), data: policy.data, entrypoint: policy.entrypoint };
}

export function evaluateInSandbox(policy: CompiledPolicy, inputs: unknown[], nowMs: number = Date.now()): Promise<SandboxEvalResult[]> {
  return withHost(async (miniflare) => {
    const results: SandboxEvalResult[] = [];
    for (const input of inputs) {
      results.push(await call<SandboxEvalResult>(miniflare, "/eval", { policy: payload(policy), input, now_ms: nowMs }));
    }
    return results;
  });
}

/** What verifying one credential costs in workerd: an EdDSA JWT (signature and times), an agent key (hash and compare). */
export function measureIdentity(credentials: { jwt: string; jwk: JsonWebKey; key: string; secret_sha256: string }, iterations: number): Promise<{ jwt_us: number; agent_key_us: number }> {
  return withHost((miniflare) => call(miniflare, "/measure-identity", { ...credentials, iterations }));
}

export interface StageCosts {
  validation_us: number;
  input_us: number;
  receipt_us: number;
  response_us: number;
  audit_record_us: number;
}

/** What the edge's own stages of one decision cost in workerd, each alone, on a real body and answer. */
export function measureStages(
  sample: { body: unknown; identity: unknown; response: unknown; receipt_key: { id: string; public_key: string; private_jwk: JsonWebKey } },
  iterations: number,
): Promise<StageCosts> {
  return withHost((miniflare) => call(miniflare, "/measure-stages", { ...sample, iterations }));
}

/** Per-call evaluation times inside the sandbox: `rounds` samples, each the mean of `perRound` evaluations in one RPC call. */
export function sampleInSandbox(policy: CompiledPolicy, inputJson: string, rounds: number, perRound: number): Promise<number[]> {
  return withHost(async (miniflare) => {
    const answer = await call<{ samples_us: number[] }>(miniflare, "/sample", { policy: payload(policy), input_json: inputJson, rounds, per_round: perRound });
    return answer.samples_us;
  });
}

/** In-sandbox evaluation time per input and the cost of one RPC decide() into the sandbox. */
/** Per input, round-robin over the mix in `rounds` rounds of short blocks; the RPC hop over `iterations / 10` calls. */
export function measureInSandbox(policy: CompiledPolicy, inputs: unknown[], iterations: number, rounds = 8): Promise<SandboxMeasurements> {
  return withHost((miniflare) => call<SandboxMeasurements>(miniflare, "/measure", { policy: payload(policy), inputs, iterations, rounds }));
}
