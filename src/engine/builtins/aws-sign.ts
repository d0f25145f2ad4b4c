/**
 * @module aws-sign
 * providers.aws.sign_req: an http.send-style request object signed with AWS
 * Signature Version 4 at a given instant, as OPA signs it (host and
 * x-amz-date always signed, x-amz-content-sha256 for s3 and glacier, the
 * session token when given, the request's own headers except authorization,
 * user-agent and x-amzn-trace-id). The edge does not send the request; a
 * policy can hand it to whoever does. HMAC and SHA-256 come from
 * node:crypto, synchronously.
 */
import { createHash, createHmac } from "node:crypto";
import { compareStrings, type RegoValue } from "../rego-value";
import { BuiltinError, expectInteger, isPlainObject, type Builtin } from "./context";
import { setMember } from "../../own-members";
import { goJsonMarshal } from "./json";
import { escapedPath, parseUrl } from "./uri";

/** The request keys http.send accepts; anything else is refused, as OPA refuses it. */
const REQUEST_KEYS = new Set([
  "method", "url", "body", "enable_redirect", "force_json_decode", "force_yaml_decode", "headers", "raw_body", "tls_use_system_certs",
  "tls_ca_cert", "tls_ca_cert_file", "tls_ca_cert_env_variable", "tls_client_cert", "tls_client_cert_file", "tls_client_cert_env_variable",
  "tls_client_key", "tls_client_key_file", "tls_client_key_env_variable", "tls_insecure_skip_verify", "tls_server_name", "timeout", "cache",
  "force_cache", "force_cache_duration_seconds", "raise_error", "caching_mode", "max_retry_attempts", "cache_ignored_headers",
]);
const REQUIRED_CONFIG = ["aws_service", "aws_access_key", "aws_secret_access_key", "aws_region"];
const IGNORED_HEADERS = new Set(["authorization", "user-agent", "x-amzn-trace-id"]);

const sha256Hex = (data: string) => createHash("sha256").update(data, "utf8").digest("hex");
const hmac = (key: Buffer | string, data: string) => createHmac("sha256", key).update(data, "utf8").digest();

/** Go's time.Format("20060102T150405Z") of an instant in nanoseconds. */
function amzDate(ns: bigint): { date: string; dateTime: string } {
  const ms = Number(ns / 1_000_000n - (ns % 1_000_000n < 0n ? 1n : 0n));
  const iso = new Date(ms).toISOString();
  const date = iso.slice(0, 10).replace(/-/g, "");
  return { date, dateTime: `${date}T${iso.slice(11, 19).replace(/:/g, "")}Z` };
}

function signRequest(request: Record<string, RegoValue>, config: Record<string, RegoValue>, timeNs: bigint): Record<string, RegoValue> {
  const invalidKeys = Object.keys(request).filter((key) => !REQUEST_KEYS.has(key));
  if (invalidKeys.length > 0) throw new BuiltinError(`invalid request parameters(s): ${invalidKeys.join(", ")}`);
  if (request.method === undefined || request.url === undefined) throw new BuiltinError("missing required request parameters");
  const headers = request.headers ?? {};
  if (!isPlainObject(headers)) throw new BuiltinError("headers must be an object");
  if (typeof request.url !== "string" || typeof request.method !== "string") throw new BuiltinError("invalid values for required request parameters");
  const url = parseUrl(request.url);
  const body = typeof request.raw_body === "string" ? request.raw_body : request.raw_body !== undefined ? "" : request.body !== undefined ? goJsonMarshal(request.body) : "";
  const disablePayloadSigning = config.disable_payload_signing ?? false;
  if (typeof disablePayloadSigning !== "boolean") throw new BuiltinError("invalid value for 'disable_payload_signing' in AWS config");
  const service = config.aws_service as string;
  const region = config.aws_region as string;
  const sessionToken = typeof config.aws_session_token === "string" ? config.aws_session_token : "";
  const contentSha256 = disablePayloadSigning ? "UNSIGNED-PAYLOAD" : sha256Hex(body);
  const { date, dateTime } = amzDate(timeNs);

  const awsHeaders: Record<string, string> = { host: url.host, "x-amz-date": dateTime };
  if (service === "s3" || service === "glacier") awsHeaders["x-amz-content-sha256"] = contentSha256;
  if (sessionToken) awsHeaders["x-amz-security-token"] = sessionToken;
  // OPA keeps each header as one string (a non-string value becomes "").
  const given = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, typeof v === "string" ? v : ""]));
  const toSign: Record<string, string> = { ...awsHeaders };
  for (const [name, value] of Object.entries(given)) if (!IGNORED_HEADERS.has(name.toLowerCase())) setMember(toSign, name.toLowerCase(), value);
  const names = Object.keys(toSign).sort(compareStrings);
  const canonical = [
    request.method,
    escapedPath(url),
    url.rawQuery,
    ...names.map((name) => `${name}:${toSign[name]}`),
    "",
    names.join(";"),
    contentSha256,
  ].join("\n");
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = `AWS4-HMAC-SHA256\n${dateTime}\n${scope}\n${sha256Hex(canonical)}`;
  let key = hmac(`AWS4${config.aws_secret_access_key}`, date);
  for (const part of [region, service, "aws4_request"]) key = hmac(key, part);
  const signature = hmac(key, stringToSign).toString("hex");
  const authorization = `AWS4-HMAC-SHA256 Credential=${config.aws_access_key}/${scope},SignedHeaders=${names.join(";")},Signature=${signature}`;
  return { ...request, headers: { ...given, Authorization: authorization, ...awsHeaders } };
}

export const awsSignBuiltins: Record<string, Builtin> = {
  "providers.aws.sign_req": (request: unknown, config: unknown, timeNs: unknown) => {
    if (!isPlainObject(request)) throw new BuiltinError("request must be an object");
    if (!isPlainObject(config)) throw new BuiltinError("aws config must be an object");
    const missing = REQUIRED_CONFIG.filter((key) => !(key in config));
    if (missing.length > 0) throw new BuiltinError(`missing required AWS config parameters(s): ${missing.join(", ")}`);
    if (REQUIRED_CONFIG.some((key) => typeof config[key] !== "string")) throw new BuiltinError("invalid values for required AWS config parameters");
    return signRequest(request, config, expectInteger(timeNs, "time_ns"));
  },
};
