/**
 * @module bundles
 * The publishing commands of the `tollgate` CLI:
 *
 *   keygen   --id <id> --scopes <s,…> [--out keys]    a signing key pair and its trust-store entry
 *   build    --scope <scope> [--source dir] [--out dir] check, test and compile a layer (refuses loosening)
 *   sign     <bundle-dir> --key <private.jwk> [--expires-days 30] [--version n]
 *   verify   <bundle-dir> --trust <trust.json>        signature, key scope, files and digests, offline
 *   publish  <bundle-dir> [--url --token]              upload through the admin API
 *   status   [--url --token]                           the current snapshot and the publish log
 *   rollback --scope <scope> --to <version> --key <private.jwk> --trust <trust.json> [--url --token]
 *            republish an old version's content as a new, higher version, after
 *            verifying what the store returned as `verify` would: a key re-signs
 *            only content that a trusted key signed for that scope, unaltered
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { trustStoreSchema, type LayerManifest, type Signed, type Snapshot, type TrustStore } from "../../src/bundles/manifest.ts";
import { fromBase64Url, toBase64Url } from "../../src/bundles/signature.ts";
import { BundleError, verifyLayer } from "../../src/bundles/verify.ts";
import { adminCall, adminTarget } from "../lib/admin-client.ts";
import { ADMIN_FLAGS, parseFlags, UsageError } from "../lib/args.ts";
import { readBundle, writeBundle } from "../lib/bundle-dir.ts";
import { buildLayer, type LayerDraft } from "../lib/layer-build.ts";
import { generateKeyPair, readPrivateKey, signLayer } from "../lib/signing.ts";
import { ROOT } from "../toolchain.mjs";

export async function keygen(args: string[]): Promise<number> {
  const { values } = parseFlags(args, ["id", "scopes", "out"]);
  if (!values.id || !values.scopes) throw new UsageError("keygen needs --id and --scopes (e.g. --scopes region:eu)");
  const pair = await generateKeyPair(String(values.id));
  const out = String(values.out ?? join(ROOT, "keys"));
  mkdirSync(out, { recursive: true });
  const privatePath = join(out, `${pair.id}.private.jwk`);
  // Created private (a file made with the default mode and narrowed after could be opened between the two);
  // chmod too, since a mode only applies to a file the write creates.
  writeFileSync(privatePath, `${JSON.stringify(pair.privateJwk, null, 2)}\n`, { mode: 0o600 });
  chmodSync(privatePath, 0o600);
  const entry = { id: pair.id, public_key: pair.publicKey, scopes: String(values.scopes).split(",") };
  writeFileSync(join(out, `${pair.id}.trust.json`), `${JSON.stringify(entry, null, 2)}\n`);
  console.error(`private key: ${privatePath} (keep it secret)\nadd this entry to the edge's TRUST_STORE keys:`);
  console.log(JSON.stringify(entry));
  return 0;
}

export async function build(args: string[]): Promise<number> {
  const { values } = parseFlags(args, ["scope", "source", "out"]);
  if (!values.scope) throw new UsageError("build needs --scope global|region:<r>|tenant:<t>");
  const scope = String(values.scope);
  const built = await buildLayer(scope, values.source ? String(values.source) : undefined);
  const out = String(values.out ?? join(ROOT, "dist", scope.replace(":", "-")));
  writeBundle(out, { draft: built.draft }, built.files);
  console.log(`${scope}: ${built.tests} tests passed, built ${built.draft.digest} → ${out}`);
  return 0;
}

export async function sign(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, ["key", "expires-days", "version"]);
  const dir = positionals[0];
  if (!dir || !values.key) throw new UsageError("sign needs <bundle-dir> --key <private.jwk>");
  const bundle = readBundle(dir);
  const draft = "draft" in bundle.manifest ? bundle.manifest.draft : (bundle.manifest as Signed<LayerManifest>).document;
  if (!draft) throw new Error(`${dir}/manifest.json: nothing to sign`);
  const now = Date.now();
  // Versions are milliseconds since the epoch unless given: increasing without coordination.
  const version = values.version ? Number(values.version) : now;
  const signed = await signLayer(draft as LayerDraft, readPrivateKey(String(values.key)), {
    version,
    nowMs: now,
    expiresInDays: Number(values["expires-days"] ?? 30),
  });
  writeBundle(dir, signed, {});
  console.log(`${signed.document.scope} v${version} signed with ${signed.document.key_id}`);
  return 0;
}

function readTrustStore(path: string): TrustStore {
  return trustStoreSchema.parse(JSON.parse(readFileSync(path, "utf8")));
}

export async function verify(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, ["trust"]);
  const dir = positionals[0];
  if (!dir || !values.trust) throw new UsageError("verify needs <bundle-dir> --trust <trust-store.json>");
  const trust = readTrustStore(String(values.trust));
  const bundle = readBundle(dir);
  const scope = (bundle.manifest as Signed<LayerManifest>).document?.scope ?? "unsigned";
  const layer = await verifyLayer(bundle.manifest, bundle.files, trust, scope, Date.now());
  console.log(`ok: ${layer.manifest.scope} v${layer.manifest.version} ${layer.manifest.digest}, signed by ${layer.manifest.key_id}`);
  return 0;
}

function encodeFiles(files: Record<string, Uint8Array>): Record<string, string> {
  return Object.fromEntries(Object.entries(files).map(([name, bytes]) => [name, toBase64Url(bytes)]));
}

export async function publish(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, [...ADMIN_FLAGS, "scope"]);
  const dir = positionals[0];
  if (!dir) throw new UsageError("publish needs <bundle-dir>");
  const bundle = readBundle(dir);
  const manifest = bundle.manifest as Signed<LayerManifest>;
  if (!manifest.signature) throw new Error(`${dir}: not signed (run tollgate sign)`);
  const scope = String(values.scope ?? manifest.document.scope);
  if (scope !== manifest.document.scope) throw new UsageError(`--scope ${scope} does not match the bundle's scope ${manifest.document.scope}`);
  const result = await adminCall<{ version: number; digest: string; snapshot_version: number }>(
    adminTarget(values),
    "PUT",
    `/bundles/${scope}`,
    { manifest, files: encodeFiles(bundle.files) },
  );
  console.log(`published ${scope} v${result.version} ${result.digest} (snapshot v${result.snapshot_version})`);
  return 0;
}

export async function status(args: string[]): Promise<number> {
  const { values } = parseFlags(args, ADMIN_FLAGS);
  const target = adminTarget(values);
  const current = await adminCall<{ snapshot: Snapshot | null }>(target, "GET", "/bundles");
  const log = await adminCall<{ entries: unknown[] }>(target, "GET", "/publish-log?limit=10");
  console.log(JSON.stringify({ snapshot: current.snapshot, recent: log.entries }, null, 2));
  return 0;
}

export async function rollback(args: string[]): Promise<number> {
  const { values } = parseFlags(args, [...ADMIN_FLAGS, "scope", "to", "key", "trust"]);
  if (!values.scope || !values.to || !values.key || !values.trust) {
    throw new UsageError("rollback needs --scope, --to <version>, --key <private.jwk> and --trust <trust-store.json>");
  }
  const trust = readTrustStore(String(values.trust));
  const target = adminTarget(values);
  const scope = String(values.scope);
  const to = Number(values.to);
  const old = await adminCall<{ manifest: Signed<LayerManifest>; files: Record<string, string> }>(target, "GET", `/bundles/${scope}/${values.to}`);
  const oldFiles = Object.fromEntries(Object.entries(old.files ?? {}).map(([name, b64]) => [name, fromBase64Url(b64)]));
  // Verified as of when it was signed: an old version may have expired since, and the new
  // signature gives it a new expiry; everything else (key, scope, files, digests) must hold.
  const signedAt = Date.parse(String(old.manifest?.document?.created));
  const layer = await verifyLayer(old.manifest, oldFiles, trust, scope, Number.isNaN(signedAt) ? Date.now() : signedAt);
  if (layer.manifest.version !== to) throw new BundleError("malformed", `the store returned ${scope} v${layer.manifest.version} for v${to}`);
  const current = await adminCall<{ snapshot: Snapshot | null }>(target, "GET", "/bundles");
  const currentVersion = current.snapshot?.layers[scope]?.version ?? 0;
  const { version: _v, created: _c, expires: _e, key_id: _k, ...draft } = layer.manifest;
  const now = Date.now();
  const signed = await signLayer(draft, readPrivateKey(String(values.key)), { version: Math.max(now, currentVersion + 1), nowMs: now, expiresInDays: 30 });
  const result = await adminCall<{ version: number; digest: string }>(target, "PUT", `/bundles/${scope}`, {
    manifest: signed,
    files: encodeFiles({ "policy.wasm": layer.wasm, "data.json": oldFiles["data.json"] }),
    note: `rollback to the content of v${to}`,
  });
  console.log(`verified ${scope} v${to} (${layer.manifest.digest}, signed by ${layer.manifest.key_id}); rolled back ${scope} to its content, published as v${result.version} ${result.digest}`);
  return 0;
}
