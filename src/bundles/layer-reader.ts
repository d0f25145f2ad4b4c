/**
 * @module layer-reader
 * Reads a layer bundle's files out of R2, refusing before reading anything
 * that is larger than the bundle size cap. Files under the layer's prefix
 * that a bundle does not have are handed on too, so verification refuses the
 * bundle rather than silently ignoring what someone slipped in.
 */
import { layerKey, layerPrefix } from "./store-layout.ts";
import { BundleError, MAX_LAYER_BYTES } from "./verify.ts";
import { LAYER_FILES } from "./manifest.ts";
import { assertStoredSize, MAX_MANIFEST_BYTES, storedJson } from "./stored-json.ts";

export interface StoredLayer {
  signedManifest: unknown;
  files: Record<string, Uint8Array>;
}

export async function readLayer(bucket: R2Bucket, scope: string, version: number): Promise<StoredLayer> {
  const manifestKey = layerKey(scope, version, "manifest.json");
  const manifestObject = await bucket.get(manifestKey);
  if (!manifestObject) throw new BundleError("missing_file", `${scope} v${version}: manifest.json not in the store`);
  const signedManifest = await storedJson(manifestObject, manifestKey, MAX_MANIFEST_BYTES);
  const listed = await bucket.list({ prefix: layerPrefix(scope, version) });
  // Any other file stored beside the layer's is named, so verification refuses it (fromEntries: whatever its name).
  const files: Record<string, Uint8Array> = Object.fromEntries(
    listed.objects
      .map((object) => object.key.slice(layerPrefix(scope, version).length))
      .filter((name) => name !== "manifest.json" && !(LAYER_FILES as readonly string[]).includes(name))
      .map((name) => [name, new Uint8Array(0)]),
  );
  let total = 0;
  for (const name of LAYER_FILES) {
    const object = await bucket.get(layerKey(scope, version, name));
    if (!object) throw new BundleError("missing_file", `${scope} v${version}: ${name} not in the store`);
    await assertStoredSize(object, MAX_LAYER_BYTES - total, `${scope} v${version}: over the ${MAX_LAYER_BYTES} byte cap`);
    total += object.size;
    files[name] = new Uint8Array(await object.arrayBuffer());
  }
  return { signedManifest, files };
}
