/**
 * @module verify
 * Verification of layer bundles and snapshots before anything is activated
 * or stored: the signature (by a trusted, unrevoked key allowed to sign that
 * scope), the exact file set, every file's sha256, the layer digest, the size
 * cap and the expiry; and that an override stays within its parent's bounds.
 * Each failure is a BundleError naming the file or field and what was wrong,
 * with a stable code.
 */
import { checkBounds, droppedRules, type LayerData } from "./bounds.ts";
import { layerDigest, sha256Hex } from "./canonical.ts";
import {
  keyCovers,
  LAYER_FILES,
  layerManifestSchema,
  signedSchema,
  snapshotSchema,
  type LayerManifest,
  type Snapshot,
  type TrustStore,
} from "./manifest.ts";
import { verifyDocument } from "./signature.ts";
import { ruleIdConstants, WasmFormatError } from "./wasm-strings.ts";

export type BundleErrorCode =
  | "malformed"
  | "unknown_key"
  | "revoked_key"
  | "key_not_allowed_for_scope"
  | "bad_signature"
  | "missing_file"
  | "extra_file"
  | "digest_mismatch"
  | "too_large"
  | "scope_mismatch"
  | "expired"
  | "version_not_newer"
  | "loosens_parent"
  | "snapshot_mismatch"
  | "snapshot_version_reused"
  | "snapshot_behind"
  /** What the store signed itself no longer verifies: the store's fault, never the caller's. */
  | "store_corrupt";

export class BundleError extends Error {
  readonly code: BundleErrorCode;
  constructor(code: BundleErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** A bundle larger than this is refused unread: decisions take kilobytes of policy, not megabytes. */
export const MAX_LAYER_BYTES = 8 * 1024 * 1024;

async function verifySigned(raw: unknown, trust: TrustStore, scope: string, what: string): Promise<{ document: unknown; keyId: string }> {
  const signed = signedSchema.safeParse(raw);
  if (!signed.success) throw new BundleError("malformed", `${what}: not a signed document`);
  const keyId = (signed.data.document as { key_id?: unknown })?.key_id;
  if (typeof keyId !== "string") throw new BundleError("malformed", `${what}: no key_id`);
  const key = trust.keys.find((k) => k.id === keyId);
  if (!key) throw new BundleError("unknown_key", `${what}: signed by unknown key ${keyId}`);
  if (key.revoked) throw new BundleError("revoked_key", `${what}: signed by revoked key ${keyId}`);
  if (!keyCovers(key, scope)) throw new BundleError("key_not_allowed_for_scope", `${what}: key ${keyId} may not sign ${scope}`);
  if (!(await verifyDocument(signed.data.document, signed.data.signature, key.public_key))) {
    throw new BundleError("bad_signature", `${what}: signature does not verify with key ${keyId}`);
  }
  return { document: signed.data.document, keyId };
}

export interface LayerFiles {
  [name: string]: Uint8Array;
}

export interface VerifiedLayer {
  manifest: LayerManifest;
  wasm: Uint8Array;
  data: unknown;
}

/**
 * Verifies one layer. `scope` is what the caller expects (the publish URL or
 * the snapshot entry); a bundle signed for another scope is refused. An
 * expired layer is refused unless `expired` is "judged_per_decision": an edge
 * activating a snapshot takes it, and every decision it takes part in gets the
 * tier's fail mode as one more answer (PolicyStore.resolve), since refusing
 * the snapshot would hold back every other scope's layers with it.
 */
export async function verifyLayer(
  signedManifest: unknown,
  files: LayerFiles,
  trust: TrustStore,
  scope: string,
  nowMs: number,
  expired: "refused" | "judged_per_decision" = "refused",
): Promise<VerifiedLayer> {
  const claimedScope = (signedManifest as { document?: { scope?: unknown } })?.document?.scope;
  if (claimedScope !== scope) throw new BundleError("scope_mismatch", `manifest.json: scope is ${String(claimedScope)}, expected ${scope}`);
  const { document } = await verifySigned(signedManifest, trust, scope, "manifest.json");
  const parsed = layerManifestSchema.safeParse(document);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BundleError("malformed", `manifest.json: ${issue.path.join(".")}: ${issue.message}`);
  }
  const manifest = parsed.data;
  for (const name of LAYER_FILES) {
    if (!files[name]) throw new BundleError("missing_file", `${name}: missing from the bundle`);
  }
  for (const name of Object.keys(files)) {
    if (!(LAYER_FILES as readonly string[]).includes(name)) throw new BundleError("extra_file", `${name}: not part of a layer bundle`);
  }
  const total = LAYER_FILES.reduce((sum, name) => sum + files[name].byteLength, 0);
  if (total > MAX_LAYER_BYTES) throw new BundleError("too_large", `bundle is ${total} bytes, over the ${MAX_LAYER_BYTES} byte cap`);
  for (const name of LAYER_FILES) {
    const actual = await sha256Hex(files[name]);
    if (actual !== manifest.files[name]) throw new BundleError("digest_mismatch", `${name}: sha256 ${actual} does not match the manifest`);
  }
  const digest = await layerDigest(manifest.entrypoint, manifest.files);
  if (digest !== manifest.digest) throw new BundleError("digest_mismatch", `manifest.json: digest does not match its files`);
  // Checked before it can reach a sandbox: a module that does not compile would take down every
  // layer loaded beside it (validation compiles nothing, so a Worker may do it).
  if (!WebAssembly.validate(files["policy.wasm"] as Uint8Array<ArrayBuffer>)) throw new BundleError("malformed", "policy.wasm: not a valid WebAssembly module");
  if (expired === "refused" && Date.parse(manifest.expires) <= nowMs) throw new BundleError("expired", `manifest.json: ${scope} v${manifest.version} expired at ${manifest.expires}`);
  let data: unknown;
  try {
    data = JSON.parse(new TextDecoder().decode(files["data.json"]));
  } catch {
    throw new BundleError("malformed", "data.json: not JSON");
  }
  return { manifest, wasm: files["policy.wasm"], data };
}

export async function verifySnapshot(signedSnapshot: unknown, trust: TrustStore): Promise<Snapshot> {
  const { document } = await verifySigned(signedSnapshot, trust, "snapshot", "snapshot");
  const parsed = snapshotSchema.safeParse(document);
  if (!parsed.success) throw new BundleError("malformed", `snapshot: ${parsed.error.issues[0].message}`);
  if (!parsed.data.layers.global) throw new BundleError("malformed", "snapshot: has no global layer");
  return parsed.data;
}

function layerData(layer: VerifiedLayer): LayerData {
  return ((layer.data as { tollgate?: LayerData })?.tollgate ?? {}) as LayerData;
}

/**
 * The rules a child must keep: those the parent's signed manifest declares that its compiled
 * policy does contain (a declared id its code lacks cannot be asked of a child).
 */
function parentRules(parent: VerifiedLayer): string[] {
  const compiled = compiledRuleIds(parent);
  return parent.manifest.rules.filter((rule) => compiled.has(rule));
}

/** Read once per wasm: layers that share compiled code (the store interns it) share the answer. */
const ruleIdsByWasm = new WeakMap<Uint8Array, Set<string>>();

function compiledRuleIds(layer: VerifiedLayer): Set<string> {
  const known = ruleIdsByWasm.get(layer.wasm);
  if (known) return known;
  try {
    const ids = ruleIdConstants(layer.wasm);
    ruleIdsByWasm.set(layer.wasm, ids);
    return ids;
  } catch (error) {
    if (error instanceof WasmFormatError) throw new BundleError("malformed", `${layer.manifest.scope}: ${error.message}`);
    throw error;
  }
}

/**
 * Refuses a child layer that loosens its parent, naming each parameter or rule. Whether the
 * child keeps every parent rule is read from its compiled policy (the rule ids among its
 * wasm's string constants), never from the list its own manifest declares: whoever signs the
 * child writes that list as freely as the code beside it.
 */
export function assertWithinParent(parent: VerifiedLayer, child: VerifiedLayer): void {
  const violations = [...checkBounds(layerData(parent), layerData(child)), ...droppedRules(parentRules(parent), [...compiledRuleIds(child)])];
  if (violations.length > 0) {
    throw new BundleError("loosens_parent", `${child.manifest.scope} loosens global: ${violations.map((v) => v.message).join("; ")}`);
  }
}
