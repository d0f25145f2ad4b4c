/**
 * @module layer-upload
 * A signed layer as the admin API receives it, for a publish and for a
 * shadow candidate alike: `{manifest, files: {name: base64url}, note?}`, and
 * the statuses the store's refusals map to. A file that is not base64url is
 * the caller's mistake (400), never a decoder's exception (500).
 */
import type { Context } from "hono";
import { fromBase64Url } from "../bundles/signature";
import { BundleError } from "../bundles/verify";
import { ApiError } from "../errors";
import type { JsonLimits } from "../schema/json-limits";
import { readJson } from "./request-body";

/** An upload is a few small objects around two base64 files of up to 8 MiB each. */
const UPLOAD_LIMITS: JsonLimits = { maxDepth: 32, maxArrayLength: 1_000, maxObjectKeys: 1_000, maxStringLength: 12 * 1024 * 1024 };

/** base64url as toBase64Url writes it; padding is tolerated, any other character is not. */
const BASE64URL = /^[A-Za-z0-9_-]*={0,2}$/;

function decodeFile(name: string, value: unknown): Uint8Array {
  const invalid = () => new ApiError(400, "invalid_bundle", `files.${name} must be base64url`, `files.${name}`);
  if (typeof value !== "string" || !BASE64URL.test(value)) throw invalid();
  // A length of 4n+1 characters cannot encode whole bytes.
  if (value.replace(/=+$/, "").length % 4 === 1) throw invalid();
  try {
    return fromBase64Url(value.replace(/=+$/, ""));
  } catch {
    throw invalid();
  }
}

export interface LayerUpload {
  manifest: unknown;
  files: Record<string, Uint8Array>;
  note?: string;
}

export async function readLayerUpload(c: Context): Promise<LayerUpload> {
  const body = (await readJson(c, UPLOAD_LIMITS)) as { manifest?: unknown; files?: Record<string, unknown>; note?: unknown } | null;
  if (!body || typeof body !== "object" || !body.files || typeof body.files !== "object") {
    throw new ApiError(400, "invalid_bundle", "body is {manifest, files: {name: base64url}}");
  }
  // fromEntries: a file named "__proto__" is a file, which verification then refuses as one too many.
  const files: Record<string, Uint8Array> = Object.fromEntries(Object.entries(body.files).map(([name, value]) => [name, decodeFile(name, value)]));
  return { manifest: body.manifest, files, note: typeof body.note === "string" ? body.note.slice(0, 200) : undefined };
}

const STATUS_BY_CODE: Record<string, 409 | 422 | 502> = { version_not_newer: 409, snapshot_behind: 409, store_corrupt: 502 };

/** A refusal by the store or its verification, as an API error; anything else is rethrown. */
export function bundleFailure(error: unknown): never {
  if (error instanceof BundleError) throw new ApiError(STATUS_BY_CODE[error.code] ?? 422, error.code, error.message);
  throw error;
}
