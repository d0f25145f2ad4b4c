/**
 * @module load
 * A small closed-loop load generator: `concurrency` workers each send one
 * request, wait for the answer, and send the next, over keep-alive loopback
 * connections. Every target in a benchmark run is driven by this same client
 * so the client's own cost is the same for all of them. Requests are taken
 * round-robin from where the previous round stopped, so every request of a
 * plan is used before any is used again.
 */
import { Agent, request } from "node:http";
import type { Call } from "./bench-agents.ts";
import { summarize, type Summary } from "./stats.ts";

export interface LoadPlan {
  /**
   * Where to send; with several, each of the `concurrency` workers keeps to
   * one of them (worker k to the k-th, round-robin), as a load balancer
   * spreads connections over the processes behind one address.
   */
  url: URL | URL[];
  /** Requests (a body and its credential headers), used round-robin so every target sees the same mix. */
  calls: Call[];
  concurrency: number;
  requests: number;
  warmup: number;
  /** Counts the measured answers whose body contains this text (e.g. a rule id); bodies are read only when set. */
  watch?: string;
}

/** A plan's position in its calls, kept across rounds. */
interface Cursor {
  next: number;
}

/** Sends one request; resolves to whether the answer contains `watch` (false when nothing is watched). */
function post(agent: Agent, url: URL, call: Call, watch?: string): Promise<boolean> {
  const { body } = call;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: "POST", agent, headers: { ...call.headers, "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
      (res) => {
        let text = "";
        if (watch === undefined) res.resume();
        else res.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
        res.on("end", () => (res.statusCode === 200 ? resolve(watch !== undefined && text.includes(watch)) : reject(new Error(`HTTP ${res.statusCode} from ${url}`))));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** Sends `total` requests; returns how many measured answers contained the plan's `watch`. */
async function drive(agent: Agent, plan: LoadPlan, total: number, cursor: Cursor, samples?: number[]): Promise<number> {
  let sent = 0;
  let matched = 0;
  const urls = Array.isArray(plan.url) ? plan.url : [plan.url];
  const worker = async (url: URL) => {
    while (sent < total) {
      sent++;
      const call = plan.calls[cursor.next++ % plan.calls.length];
      const started = process.hrtime.bigint();
      const hit = await post(agent, url, call, samples ? plan.watch : undefined);
      samples?.push(Number(process.hrtime.bigint() - started) / 1e6);
      if (hit) matched++;
    }
  };
  await Promise.all(Array.from({ length: plan.concurrency }, (_, k) => worker(urls[k % urls.length])));
  return matched;
}

export async function runLoad(plan: LoadPlan): Promise<Summary> {
  const agent = new Agent({ keepAlive: true, maxSockets: plan.concurrency });
  const cursor = { next: 0 };
  try {
    await drive(agent, plan, plan.warmup, cursor);
    const samples: number[] = [];
    const started = process.hrtime.bigint();
    const matched = await drive(agent, plan, plan.requests, cursor, samples);
    return { ...summarize(samples, Number(process.hrtime.bigint() - started) / 1e6), ...(plan.watch ? { matched } : {}) };
  } finally {
    agent.destroy();
  }
}

/**
 * Several targets measured in alternating rounds (the order rotating each
 * round), so drift on a shared machine — another process waking, the CPU
 * clocking down — falls on all of them alike instead of on whichever ran
 * last. Each plan's `requests` are spread over the rounds.
 */
export async function runInterleaved(
  plans: LoadPlan[],
  rounds = 6,
  /** Called after each plan's turn with how many requests it has sent so far (warm-up included), untimed: to let a backend drain. */
  afterTurn?: (plan: number, sent: number) => Promise<void>,
): Promise<Summary[]> {
  const agents = plans.map((plan) => new Agent({ keepAlive: true, maxSockets: plan.concurrency }));
  const cursors = plans.map(() => ({ next: 0 }));
  try {
    for (const [i, plan] of plans.entries()) {
      await drive(agents[i], plan, plan.warmup, cursors[i]);
      await afterTurn?.(i, cursors[i].next);
    }
    const samples = plans.map(() => [] as number[]);
    const wallMs = plans.map(() => 0);
    const matched = plans.map(() => 0);
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < plans.length; k++) {
        const i = (round + k) % plans.length;
        const started = process.hrtime.bigint();
        matched[i] += await drive(agents[i], plans[i], Math.ceil(plans[i].requests / rounds), cursors[i], samples[i]);
        wallMs[i] += Number(process.hrtime.bigint() - started) / 1e6;
        await afterTurn?.(i, cursors[i].next);
      }
    }
    return plans.map((plan, i) => ({ ...summarize(samples[i], wallMs[i]), ...(plan.watch ? { matched: matched[i] } : {}) }));
  } finally {
    for (const agent of agents) agent.destroy();
  }
}
