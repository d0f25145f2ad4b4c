/**
 * @module types
 * Who is asking, as the edge establishes it from a verified credential, and
 * the tenant's registry as the edge caches it. The policy sees `Identity` as
 * `input.identity`; nothing in it comes from the request body.
 */
import type { RiskTier } from "../types";

export type CredentialKind = "agent_key" | "jwt" | "delegated";

/** What a delegation tree stands on; for a JWT, the provider and key it was verified with. */
export interface RootCredential {
  kind: "agent_key" | "jwt";
  id: string;
  issuer?: string;
  key_id?: string;
  /** The RFC 7638 thumbprint of the provider key that verified the JWT (a kid may be absent or reused). */
  key_thumbprint?: string;
}

/** An agent's entry in its tenant's registry: the run-time certification gate. */
export interface Registration {
  owner: string;
  role: string;
  /** Every action of this agent is at least this tier. */
  risk_tier: RiskTier;
  /** Actions above this tier are refused: the agent is not certified for them. */
  max_risk_tier: RiskTier;
  /** The agent's certification lapses at this instant (ISO 8601). */
  certified_until: string;
  /** The scopes the agent may ever hold; credentials carry at most these. */
  scopes: string[];
}

export interface Identity {
  tenant: string;
  agent: string;
  role: string;
  scopes: string[];
  /**
   * `key_id`: the provider key (kid) a JWT was verified with, when the token named one;
   * `key_thumbprint`: that key's RFC 7638 thumbprint, whether or not it has a kid.
   */
  credential: { kind: CredentialKind; id: string; issuer?: string; key_id?: string; key_thumbprint?: string; expires_at?: string };
  /** For a sub-agent: the registration of the agent at the root of its delegation tree. */
  registration: Registration;
  delegation: {
    depth: number;
    parent_agent?: string;
    parent_session?: string;
    root_agent?: string;
    /**
     * The agent key or JWT at the root of the delegation tree: revoking it cuts off every descendant,
     * as does removing the provider that issued a root JWT (`issuer`) or the key it was signed with (`key_thumbprint`).
     */
    root_credential?: RootCredential;
  };
}

/** One agent key as the edge sees it: only the hash of its secret ever leaves the registry. */
export interface KeyEntry {
  agent: string;
  secret_sha256: string;
  scopes: string[] | null;
  expires_ms: number | null;
}

/** A tenant's identity provider, with the keys the registry last fetched or was given. */
export interface ProviderSnapshot {
  issuer: string;
  audiences: string[];
  algorithms: Array<"EdDSA" | "ES256" | "RS256">;
  claims: { agent: string; role?: string; scopes?: string };
  clock_skew_s: number;
  keys: JsonWebKey[];
  /** When the keys were last confirmed (fetched, or set inline); tokens are refused once they are too old. */
  keys_confirmed_ms: number;
  keys_max_age_s: number;
}

/** What an edge caches per tenant: enough to verify every credential of that tenant locally. */
export interface RegistrySnapshot {
  tenant: string;
  version: number;
  agents: Record<string, Registration>;
  keys: Record<string, KeyEntry>;
  provider: ProviderSnapshot | null;
}
