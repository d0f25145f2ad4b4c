/**
 * @module bundle-dir
 * A layer bundle on disk, as `tollgate build` writes it and `sign`, `verify`
 * and `publish` read it: policy.wasm, data.json and manifest.json (an
 * unsigned draft until `tollgate sign`, then `{document, signature}`).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Signed, LayerManifest } from "../../src/bundles/manifest.ts";
import type { LayerDraft } from "./layer-build.ts";

export interface BundleOnDisk {
  manifest: { draft?: LayerDraft } | Signed<LayerManifest>;
  files: Record<string, Uint8Array>;
}

export function writeBundle(dir: string, manifest: unknown, files: Record<string, Uint8Array>): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
  writeFileSync(join(dir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
}

/** Every file in the directory except the manifest counts as a bundle file, so an extra file is noticed. */
export function readBundle(dir: string): BundleOnDisk {
  if (!existsSync(join(dir, "manifest.json"))) throw new Error(`${dir}: no manifest.json (run tollgate build first)`);
  const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as BundleOnDisk["manifest"];
  const files: Record<string, Uint8Array> = {};
  for (const name of readdirSync(dir)) {
    if (name !== "manifest.json") files[name] = new Uint8Array(readFileSync(join(dir, name)));
  }
  return { manifest, files };
}
