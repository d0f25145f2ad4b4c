/**
 * Tests run inside workerd through @cloudflare/vitest-plugin, with the real
 * bindings from wrangler.toml. Global setup files (Node side) build the
 * policies and compute expected results with the real `opa` CLI, then hand
 * them to the tests through `inject`.
 */
import { readdirSync } from "node:fs";
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

const globalSetup = readdirSync("test/setup")
  .filter((file) => file.endsWith(".ts"))
  .sort()
  .map((file) => `test/setup/${file}`);

export default defineConfig({
  plugins: [cloudflareTest({ wrangler: { configPath: "./wrangler.toml" } })],
  test: {
    globalSetup,
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
