/**
 * Global setup (Node): builds the layers the bundle-store tests publish —
 * global, the eu/us/apac regions and the acme tenant — with the same
 * `tollgate build` code a regional team runs, and hands them over unsigned
 * together with the test signing keys, so each test signs what it needs
 * (right key, wrong key, old version, tampered file…).
 */
import { readFileSync } from "node:fs";
import type { TestProject } from "vitest/node";
import { buildLayer } from "../../scripts/lib/layer-build.ts";
import { testPrivateKeyPath } from "../fixtures/test-config.ts";
import type { StoreFixtures } from "../provided.d.ts";

const SCOPES = ["global", "region:eu", "region:us", "region:apac", "tenant:acme", "tenant:globex"];
const KEY_IDS = ["global-test", "eu-test", "us-test", "apac-test", "tenants-test", "snapshot-test", "revoked-test", "rollout-test", "eu-rollout-test"];

export default async function setup(project: TestProject): Promise<void> {
  const layers: StoreFixtures["layers"] = {};
  for (const scope of SCOPES) {
    const built = await buildLayer(scope);
    layers[scope] = {
      draft: { ...built.draft },
      files: {
        "policy.wasm": Buffer.from(built.files["policy.wasm"]).toString("base64"),
        "data.json": Buffer.from(built.files["data.json"]).toString("base64"),
      },
    };
  }
  const keys = Object.fromEntries(KEY_IDS.map((id) => [id, JSON.parse(readFileSync(testPrivateKeyPath(id), "utf8"))]));
  project.provide("storeFixtures", { layers, keys });
}
