/**
 * Three test projects. "workers" runs inside workerd through
 * @cloudflare/vitest-plugin with the real bindings from wrangler.toml; its
 * global setup files (Node side) build the policies and compute expected
 * results with the real `opa` CLI, handed over through `inject`. "node" runs
 * the Node-side tools (CLI, build, verify) as a user would run them.
 * "browser" drives the console in headless Chromium, after the others.
 */
import { readdirSync } from "node:fs";
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { testStoreBindings } from "./test/fixtures/test-config.ts";

const globalSetup = readdirSync("test/setup")
  .filter((file) => file.endsWith(".ts"))
  .sort()
  .map((file) => `test/setup/${file}`);

export default defineConfig({
  test: {
    globalSetup,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            // The production Worker, with drill hooks in test subclasses of two Durable Objects.
            main: "./test/worker/test-entry.ts",
            // A second bucket lets store tests publish without changing what the Worker under test serves.
            miniflare: { r2Buckets: ["TEST_BUNDLES"], bindings: testStoreBindings() },
          }),
        ],
        test: { name: "workers", include: ["test/**/*.test.ts"], exclude: ["test/node/**"] },
      },
      {
        extends: true,
        // One file at a time: each starts its own workerd (three edges, in one), and on a 2-core machine
        // several at once starve each other's sockets.
        test: { name: "node", include: ["test/node/**/*.test.ts"], exclude: ["test/node/console-browser.test.ts"], environment: "node", fileParallelism: false },
      },
      {
        // Chromium takes a core of its own: the browser tests run once everything else is done,
        // so they never starve the timing-sensitive tests above of CPU.
        extends: true,
        test: { name: "browser", include: ["test/node/console-browser.test.ts"], environment: "node", sequence: { groupOrder: 1 } },
      },
    ],
  },
});
