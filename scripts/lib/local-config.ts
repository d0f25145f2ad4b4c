/**
 * @module local-config
 * What `npm start` needs to run with authentication on, prepared on its
 * first run in git-ignored files, as `wrangler dev` users expect of local
 * secrets:
 *
 * - keys/local-*.private.jwk: the store's snapshot key, the audit key, the
 *   identity key that signs sub-agent credentials, the key that signs
 *   decision receipts, and a key that may sign every layer (for `tollgate
 *   sign` against this edge);
 * - .dev.vars: the secrets the Worker reads (trust store, admin tokens,
 *   signing keys, the console's session key), JSON values in single quotes;
 * - .tollgate/local.json: the admin token and the demo agent's key, so
 *   later runs can print them again.
 *
 * Nothing here is used outside local development; a deployment gets its
 * secrets with `wrangler secret put`.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../toolchain.mjs";
import { sha256Hex } from "./digest.ts";
import { generateKeyPair } from "./signing.ts";

const KEYS_DIR = join(ROOT, "keys");
const DEV_VARS = join(ROOT, ".dev.vars");
const LOCAL_DIR = join(ROOT, ".tollgate");
const LOCAL_FILE = join(LOCAL_DIR, "local.json");

export interface LocalConfig {
  admin_token: string;
  demo?: { tenant: string; agent: string; key: string };
}

const KEYS: Array<{ id: string; scopes: string[] }> = [
  { id: "local-snapshot", scopes: ["snapshot"] },
  { id: "local-audit", scopes: ["audit"] },
  { id: "local-identity", scopes: ["identity"] },
  { id: "local-receipt", scopes: ["receipt"] },
  { id: "local-publisher", scopes: ["global", "region:*", "tenant:*"] },
];

function writeSecret(path: string, text: string): void {
  // Created private, as the key files are (bundles.ts); chmod for a file that was already there.
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** The local configuration; created (keys, .dev.vars, admin token) when there is none. */
export async function localConfig(): Promise<{ config: LocalConfig; created: boolean }> {
  if (existsSync(LOCAL_FILE) && existsSync(DEV_VARS)) {
    const config = JSON.parse(readFileSync(LOCAL_FILE, "utf8")) as LocalConfig;
    await addMissingKeys();
    return { config, created: false };
  }
  mkdirSync(KEYS_DIR, { recursive: true });
  mkdirSync(LOCAL_DIR, { recursive: true });
  const trust = [];
  const privateKeys: Record<string, string> = {};
  for (const { id, scopes } of KEYS) {
    const pair = await generateKeyPair(id);
    privateKeys[id] = JSON.stringify(pair.privateJwk);
    writeSecret(join(KEYS_DIR, `${id}.private.jwk`), `${JSON.stringify(pair.privateJwk, null, 2)}\n`);
    trust.push({ id, public_key: pair.publicKey, scopes });
  }
  const adminToken = `tga_${randomBytes(24).toString("base64url")}`;
  const adminTokens = {
    [sha256Hex(adminToken)]: { subject: "local-admin", roles: ["publisher", "operator", "approver", "auditor", "agent_admin"], scopes: ["*"] },
  };
  const vars: Record<string, string> = {
    TRUST_STORE: JSON.stringify({ keys: trust }),
    ADMIN_TOKENS: JSON.stringify(adminTokens),
    SNAPSHOT_KEY_ID: "local-snapshot",
    SNAPSHOT_SIGNING_KEY: privateKeys["local-snapshot"],
    AUDIT_KEY_ID: "local-audit",
    AUDIT_SIGNING_KEY: privateKeys["local-audit"],
    IDENTITY_KEY_ID: "local-identity",
    IDENTITY_SIGNING_KEY: privateKeys["local-identity"],
    MCP_SECRET_KEY: randomBytes(32).toString("base64url"),
    RECEIPT_KEY_ID: "local-receipt",
    RECEIPT_SIGNING_KEY: privateKeys["local-receipt"],
    CONSOLE_SESSION_KEY: randomBytes(32).toString("base64url"),
  };
  writeDevVars(vars);
  const config: LocalConfig = { admin_token: adminToken };
  saveLocalConfig(config);
  return { config, created: true };
}

function writeDevVars(vars: Record<string, string>): void {
  // Single quotes keep the JSON's double quotes as they are (dotenv syntax).
  const text = Object.entries(vars).map(([name, value]) => `${name}='${value}'`).join("\n");
  writeSecret(DEV_VARS, `# Written by npm start for local development only. Never commit it.\n${text}\n`);
}

/** A setup made before the receipt key existed gets one, trusted with scope `receipt`; everything else is kept. */
async function addMissingKeys(): Promise<void> {
  const vars = Object.fromEntries(
    [...readFileSync(DEV_VARS, "utf8").matchAll(/^([A-Z_]+)='(.*)'$/gm)].map(([, name, value]) => [name, value] as [string, string]),
  );
  if (!vars.TRUST_STORE) return;
  // Written before the console had a session key: one is added, nothing else changes.
  if (!vars.CONSOLE_SESSION_KEY) {
    vars.CONSOLE_SESSION_KEY = randomBytes(32).toString("base64url");
    writeDevVars(vars);
  }
  if (!vars.MCP_SECRET_KEY) {
    // Written before the MCP gateway existed: its key is added, nothing else changes.
    vars.MCP_SECRET_KEY = randomBytes(32).toString("base64url");
    writeDevVars(vars);
  }
  if (vars.RECEIPT_KEY_ID) return;
  const pair = await generateKeyPair("local-receipt");
  writeSecret(join(KEYS_DIR, "local-receipt.private.jwk"), `${JSON.stringify(pair.privateJwk, null, 2)}\n`);
  const trust = JSON.parse(vars.TRUST_STORE) as { keys: unknown[] };
  trust.keys.push({ id: "local-receipt", public_key: pair.publicKey, scopes: ["receipt"] });
  writeDevVars({ ...vars, TRUST_STORE: JSON.stringify(trust), RECEIPT_KEY_ID: "local-receipt", RECEIPT_SIGNING_KEY: JSON.stringify(pair.privateJwk) });
}

export function saveLocalConfig(config: LocalConfig): void {
  mkdirSync(LOCAL_DIR, { recursive: true });
  writeSecret(LOCAL_FILE, `${JSON.stringify(config, null, 2)}\n`);
}
