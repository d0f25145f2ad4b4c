/**
 * @module evaluator
 * Runs one OPA-compiled policy (wasm + data) with our host builtins. The same
 * code runs inside the Worker Loader sandbox and, for the deploy-time baseline,
 * in the edge isolate itself.
 *
 * opa-wasm's ABI 1.2 fast path writes each input just above the data and
 * resets the heap on every call, so memory stays flat across evaluations; the
 * memory also has a hard maximum so a hostile input cannot grow it unbounded.
 */
import { loadPolicy, type LoadedPolicy } from "@open-policy-agent/opa-wasm";
import { createBuiltins, type BuiltinContext } from "./builtins/index";

/** 64 KiB pages; 1,024 pages = 64 MiB, far above what a decision needs. */
const MEMORY_MAX_PAGES = 1024;
const MEMORY_INITIAL_PAGES = 5;

export class PolicyEvaluationError extends Error {
  constructor(
    readonly code: "policy_undefined" | "policy_aborted",
    message: string,
  ) {
    super(message);
  }
}

export class PolicyEvaluator {
  private constructor(
    private readonly policy: LoadedPolicy,
    private readonly entrypoint: string,
    private readonly clock: { nowNs: bigint },
    private readonly memo: Map<string, unknown>,
  ) {}

  static async load(wasm: WebAssembly.Module, data: unknown, entrypoint: string): Promise<PolicyEvaluator> {
    const clock = { nowNs: 0n };
    const context: BuiltinContext = { nowNs: () => clock.nowNs, memo: new Map() };
    const policy = await loadPolicy(
      wasm,
      { initial: MEMORY_INITIAL_PAGES, maximum: MEMORY_MAX_PAGES },
      createBuiltins(context),
    );
    policy.setData(data as object);
    if (!Object.hasOwn(policy.entrypoints, entrypoint)) {
      throw new PolicyEvaluationError(
        "policy_undefined",
        `entrypoint ${entrypoint} is not in the policy (has: ${Object.keys(policy.entrypoints).join(", ")})`,
      );
    }
    return new PolicyEvaluator(policy, entrypoint, clock, context.memo);
  }

  /**
   * Evaluates the entrypoint for a JSON input. `nowMs` is the edge's clock:
   * every time builtin in this evaluation sees the same instant, as in OPA.
   */
  evaluate(inputJson: string, nowMs: number): unknown {
    this.clock.nowNs = BigInt(Math.trunc(nowMs)) * 1_000_000n;
    this.memo.clear();
    let resultSet: Array<{ result: unknown }>;
    try {
      resultSet = this.policy.evaluate(encoder.encode(inputJson).buffer, this.entrypoint);
    } catch (error) {
      const detail = typeof error === "string" ? error : ((error as Error)?.message ?? String(error));
      throw new PolicyEvaluationError("policy_aborted", `policy evaluation aborted: ${detail}`);
    }
    if (!Array.isArray(resultSet) || resultSet.length === 0) {
      throw new PolicyEvaluationError("policy_undefined", `${this.entrypoint} is undefined for this input`);
    }
    return resultSet[0].result;
  }

  /** Current size of the policy's linear memory, for the memory-bound check. */
  memoryBytes(): number {
    return this.policy.mem.buffer.byteLength;
  }
}

const encoder = new TextEncoder();
