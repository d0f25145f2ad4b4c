/**
 * @module eval-worker
 * A minimal host Worker for the Node-side tools: it hands a compiled policy to
 * the same sandbox code the edge uses (SandboxClient, the bundled sandbox
 * program, the same builtins), so `tollgate eval` shows what the edge would
 * decide and the benchmark measures what the edge would run. It runs only in
 * the tools' private workerd.
 *
 *   POST /eval     {policy, input, now_ms}           → the layer outcome
 *   POST /measure  {policy, inputs, iterations, rounds} → in-sandbox (round-robin) and RPC timings
 *   POST /measure-identity {jwt, jwk, key, secret_sha256, iterations}
 *                                                    → what verifying each kind of credential costs
 *   POST /sample   {policy, input_json, rounds, per_round} → per-call time of each round, inside the sandbox
 *   POST /measure-stages {body, identity, response, signing_jwk, iterations}
 *                                                    → what the edge's own stages cost per decision, in workerd
 */
import { sha256Hex } from "../../packages/agent/src/canonical-json";
import { buildAuditRecord, type AnsweredDecision } from "../../src/audit/from-decision";
import { policyInput } from "../../src/decision/policy-input";
import { sameDigest, parseAgentKey, secretHash } from "../../src/identity/agent-key";
import { checkTimes, decodeJws, verifySignature } from "../../src/identity/jws";
import { DEFAULT_PROOF_WINDOW_S, signReceipt, type ReceiptSubject } from "../../src/receipts/receipt-signer";
import type { Identity } from "../../src/identity/types";
import { parseJson, validated } from "../../src/routes/request-body";
import { decisionBodySchema } from "../../src/schema/decision-input";
import { SandboxClient } from "../../src/engine/sandbox-client";
import type { LayerCode } from "../../src/engine/sandbox-modules";

interface PolicyPayload {
  wasm_base64: string;
  data: unknown;
  entrypoint: string;
}

async function policyCode(policy: PolicyPayload): Promise<{ key: string; layers: () => LayerCode[] }> {
  const wasm = Uint8Array.from(atob(policy.wasm_base64), (c) => c.charCodeAt(0));
  const key = await sha256Hex(wasm);
  return { key, layers: () => [{ scope: "eval", entrypoint: policy.entrypoint, wasm, data: policy.data }] };
}

export default {
  async fetch(request: Request, env: { LOADER: WorkerLoader }): Promise<Response> {
    const client = new SandboxClient(env.LOADER);
    const path = new URL(request.url).pathname;
    if (path === "/eval") {
      const body = (await request.json()) as { policy: PolicyPayload; input: unknown; now_ms: number };
      const { key, layers } = await policyCode(body.policy);
      const answer = await client.decide(key, layers, JSON.stringify(body.input), body.now_ms);
      return Response.json(answer.layers[0]);
    }
    if (path === "/measure") {
      const body = (await request.json()) as { policy: PolicyPayload; inputs: unknown[]; iterations: number; rounds: number };
      const { key, layers } = await policyCode(body.policy);
      const now = Date.now();
      const inputs = body.inputs.map((input) => JSON.stringify(input));
      // In-sandbox evaluation, round-robin over the mix: in each round every input runs once as a
      // short block (sized to about 10 ms, since the sandbox's clock moves in whole milliseconds),
      // the order rotating round by round, so no input is measured hot after thousands of itself.
      const calibration = [];
      for (const input of inputs) calibration.push(await client.measure(key, layers, input, now, 50));
      const blocks = calibration.map((run) => Math.min(5_000, Math.max(20, Math.ceil(10 / Math.max(run.elapsed_ms / run.iterations, 0.002)))));
      const totals = inputs.map(() => ({ elapsed_ms: 0, iterations: 0, memory_bytes: 0 }));
      for (let round = 0; round < body.rounds; round++) {
        for (let k = 0; k < inputs.length; k++) {
          const i = (round + k) % inputs.length;
          const run = await client.measure(key, layers, inputs[i], now, blocks[i]);
          totals[i].elapsed_ms += run.elapsed_ms;
          totals[i].iterations += run.iterations;
          totals[i].memory_bytes = run.memory_bytes_after;
        }
      }
      const perInput = totals.map((total) => ({ eval_us: (total.elapsed_ms * 1000) / total.iterations, memory_bytes: total.memory_bytes }));
      // The hop: sequential decide() calls from this isolate into the sandbox.
      const calls = body.iterations / 10;
      const started = performance.now();
      for (let i = 0; i < calls; i++) await client.decide(key, layers, inputs[i % inputs.length], now);
      const rpcMs = (performance.now() - started) / calls;
      return Response.json({ per_input: perInput, rpc_decide_ms: rpcMs });
    }
    if (path === "/measure-identity") {
      const body = (await request.json()) as { jwt: string; jwk: JsonWebKey; key: string; secret_sha256: string; iterations: number };
      const time = async (work: () => Promise<unknown>) => {
        for (let i = 0; i < 100; i++) await work();
        const started = performance.now();
        for (let i = 0; i < body.iterations; i++) await work();
        return ((performance.now() - started) * 1000) / body.iterations;
      };
      // The work authenticate() does per request when nothing is cached, without the registry lookups.
      const jwtUs = await time(async () => {
        const jws = decodeJws(body.jwt);
        if (!(await verifySignature(jws, body.jwk, "EdDSA"))) throw new Error("the bench JWT does not verify");
        checkTimes(jws.payload, Date.now(), 60);
      });
      const keyUs = await time(async () => {
        const parsed = parseAgentKey(body.key)!;
        if (!sameDigest(body.secret_sha256, await secretHash(parsed.secret))) throw new Error("the bench key does not match");
      });
      return Response.json({ jwt_us: jwtUs, agent_key_us: keyUs });
    }
    if (path === "/measure-stages") {
      const body = (await request.json()) as {
        body: unknown;
        identity: Identity;
        response: AnsweredDecision & Record<string, unknown>;
        receipt_key: { id: string; public_key: string; private_jwk: JsonWebKey };
        iterations: number;
      };
      const text = JSON.stringify(body.body);
      const time = async (work: () => unknown) => {
        for (let i = 0; i < 200; i++) await work();
        const started = performance.now();
        for (let i = 0; i < body.iterations; i++) await work();
        return ((performance.now() - started) * 1000) / body.iterations;
      };
      const parsed = validated(decisionBodySchema, parseJson(text));
      const input = policyInput(parsed, body.identity, { tier: "low", source: "declared" }, { region: "eu", source: "country:DE" }, "local");
      // The receipt exactly as the edge signs it: its claims, with the key the run's edges sign with.
      const receiptEnv = {
        RECEIPT_KEY_ID: body.receipt_key.id,
        RECEIPT_SIGNING_KEY: JSON.stringify(body.receipt_key.private_jwk),
        TRUST_STORE: JSON.stringify({ keys: [{ id: body.receipt_key.id, public_key: body.receipt_key.public_key, scopes: ["receipt"] }] }),
      } as unknown as Env;
      const answer = body.response as unknown as { decision_id: string; decision: string; mode: string; risk: { tier: string }; policy: ReceiptSubject["policy"] };
      const subject: ReceiptSubject = {
        decision_id: answer.decision_id,
        tenant: input.tenant,
        agent: input.agent.id,
        session: input.session.id,
        action: input.action,
        decision: answer.decision,
        tier: answer.risk.tier,
        mode: answer.mode,
        policy: answer.policy,
        ttl_s: 0,
        proof_window_s: DEFAULT_PROOF_WINDOW_S,
      };
      if (!(await signReceipt(receiptEnv, subject, Date.now()))) throw new Error("the bench's receipt key signs no receipt");
      return Response.json({
        // The body read as JSON, bounded, and checked against the request schema.
        validation_us: await time(() => validated(decisionBodySchema, parseJson(text))),
        // The policy's input put together (identity, tier, region) and written out as the sandbox gets it.
        input_us: await time(() => JSON.stringify(policyInput(parsed, body.identity, { tier: "low", source: "declared" }, { region: "eu", source: "country:DE" }, "local"))),
        // The receipt: its claims, the action's canonical hash and an Ed25519 signature.
        receipt_us: await time(() => signReceipt(receiptEnv, subject, Date.now())),
        // The answer written out.
        response_us: await time(() => JSON.stringify(body.response)),
        // The audit record built (when its batch leaves, after the answer).
        audit_record_us: await time(() => buildAuditRecord(body.response, input, Date.now())),
      });
    }
    if (path === "/sample") {
      const body = (await request.json()) as { policy: PolicyPayload; input_json: string; rounds: number; per_round: number };
      const { key, layers } = await policyCode(body.policy);
      const now = Date.now();
      // Each round evaluates the input per_round times in one RPC call; its mean is one sample.
      const samples: number[] = [];
      await client.measure(key, layers, body.input_json, now, body.per_round);
      for (let round = 0; round < body.rounds; round++) {
        const run = await client.measure(key, layers, body.input_json, now, body.per_round);
        samples.push((run.elapsed_ms * 1000) / run.iterations);
      }
      return Response.json({ samples_us: samples });
    }
    return new Response("not found", { status: 404 });
  },
};
