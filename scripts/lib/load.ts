/**
 * @module load
 * A small closed-loop load generator: `concurrency` workers each send one
 * request, wait for the answer, and send the next, over keep-alive loopback
 * connections. Every target in a benchmark run is driven by this same client
 * so the client's own cost is the same for all of them.
 */
import { Agent, request } from "node:http";
import { summarize, type Summary } from "./stats.ts";

export interface LoadPlan {
  url: URL;
  /** Request bodies, used round-robin so every target sees the same mix. */
  bodies: string[];
  concurrency: number;
  requests: number;
  warmup: number;
}

function post(agent: Agent, url: URL, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on("end", () => (res.statusCode === 200 ? resolve(res.statusCode) : reject(new Error(`HTTP ${res.statusCode} from ${url}`))));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

async function drive(agent: Agent, plan: LoadPlan, total: number, samples?: number[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const body = plan.bodies[next++ % plan.bodies.length];
      const started = process.hrtime.bigint();
      await post(agent, plan.url, body);
      samples?.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
  };
  await Promise.all(Array.from({ length: plan.concurrency }, worker));
}

export async function runLoad(plan: LoadPlan): Promise<Summary> {
  const agent = new Agent({ keepAlive: true, maxSockets: plan.concurrency });
  try {
    await drive(agent, plan, plan.warmup);
    const samples: number[] = [];
    const started = process.hrtime.bigint();
    await drive(agent, plan, plan.requests, samples);
    return summarize(samples, Number(process.hrtime.bigint() - started) / 1e6);
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
export async function runInterleaved(plans: LoadPlan[], rounds = 6): Promise<Summary[]> {
  const agents = plans.map((plan) => new Agent({ keepAlive: true, maxSockets: plan.concurrency }));
  try {
    for (const [i, plan] of plans.entries()) await drive(agents[i], plan, plan.warmup);
    const samples = plans.map(() => [] as number[]);
    const wallMs = plans.map(() => 0);
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < plans.length; k++) {
        const i = (round + k) % plans.length;
        const started = process.hrtime.bigint();
        await drive(agents[i], plans[i], Math.ceil(plans[i].requests / rounds), samples[i]);
        wallMs[i] += Number(process.hrtime.bigint() - started) / 1e6;
      }
    }
    return plans.map((_, i) => summarize(samples[i], wallMs[i]));
  } finally {
    for (const agent of agents) agent.destroy();
  }
}
