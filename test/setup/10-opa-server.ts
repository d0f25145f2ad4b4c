/**
 * Global setup (Node): the real OPA, serving each policy layer's sources
 * over HTTP on loopback for the whole run (`opa run --server`, which
 * evaluates exactly as `opa eval` does): the global policy, and each region
 * and tenant layer as `tollgate build` stages it (the global rules with the
 * layer's own and its effective parameters). Fidelity tests running in
 * workerd ask them what OPA decides for the exact input the edge built, so
 * no expected value is ever typed by hand or computed before the input exists.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { stageLayerSources } from "../../scripts/lib/layer-build.ts";
import { ensureOpa } from "../../scripts/toolchain.mjs";

/** The layers the composed-fidelity tests compare, each served by its own OPA. */
const LAYERS = ["global", "region:eu", "region:us", "tenant:acme", "tenant:globex"];

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

async function ready(url: string, opa: ChildProcess, errors: () => string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (opa.exitCode !== null) throw new Error(`opa run --server exited with ${opa.exitCode}\n${errors()}`);
    try {
      if ((await fetch(`${url}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`opa run --server did not become healthy within 10 s\n${errors()}`);
}

async function serve(dir: string): Promise<{ url: string; opa: ChildProcess }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const opa = spawn(ensureOpa({ quiet: true }), ["run", "--server", "--addr", `127.0.0.1:${port}`, "--log-level", "error", dir], { stdio: ["ignore", "ignore", "pipe"] });
  let errors = "";
  opa.stderr!.on("data", (chunk: Buffer) => (errors += chunk.toString()));
  await ready(url, opa, () => errors);
  return { url, opa };
}

export default async function setup(project: TestProject): Promise<() => void> {
  const work = mkdtempSync(join(tmpdir(), "tollgate-opa-layers-"));
  const servers: Array<{ url: string; opa: ChildProcess }> = [];
  const urls: Record<string, string> = {};
  for (const scope of LAYERS) {
    const dir = scope === "global" ? "policies/global" : join(work, scope.replace(":", "-"));
    if (scope !== "global") {
      mkdirSync(dir, { recursive: true });
      stageLayerSources(scope, dir);
    }
    const server = await serve(dir);
    servers.push(server);
    urls[scope] = server.url;
  }
  const { scenarios } = JSON.parse(readFileSync("test/fixtures/scenarios.json", "utf8")) as { scenarios: Array<{ name: string; input: Record<string, unknown> }> };
  project.provide("opaUrl", urls.global);
  project.provide("opaLayerUrls", urls);
  project.provide("decisionScenarios", scenarios);
  return () => {
    for (const { opa } of servers) opa.kill();
    rmSync(work, { recursive: true, force: true });
  };
}
