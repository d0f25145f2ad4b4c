/**
 * Global setup (Node): the real OPA, serving the global policy's sources
 * over HTTP on loopback for the whole run (`opa run --server`, which
 * evaluates exactly as `opa eval` does). Fidelity tests running in workerd
 * ask it what OPA decides for the exact input the edge built, so no
 * expected value is ever typed by hand or computed before the input exists.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import type { TestProject } from "vitest/node";
import { ensureOpa } from "../../scripts/toolchain.mjs";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function ready(url: string, opa: ChildProcess): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (opa.exitCode !== null) throw new Error(`opa run --server exited with ${opa.exitCode}`);
    try {
      if ((await fetch(`${url}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error("opa run --server did not become healthy within 10 s");
}

export default async function setup(project: TestProject): Promise<() => void> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const opa = spawn(ensureOpa({ quiet: true }), ["run", "--server", "--addr", `127.0.0.1:${port}`, "--log-level", "error", "policies/global"], { stdio: ["ignore", "ignore", "pipe"] });
  let errors = "";
  opa.stderr!.on("data", (chunk: Buffer) => (errors += chunk.toString()));
  await ready(url, opa).catch((error: Error) => {
    throw new Error(`${error.message}\n${errors}`);
  });
  const { scenarios } = JSON.parse(readFileSync("test/fixtures/scenarios.json", "utf8")) as { scenarios: Array<{ name: string; input: Record<string, unknown> }> };
  project.provide("opaUrl", url);
  project.provide("decisionScenarios", scenarios);
  return () => {
    opa.kill();
  };
}
