/**
 * Values the Node-side global setup computes (with the real opa CLI) and
 * hands to tests running inside workerd through vitest's `inject`.
 */
export interface Scenario {
  name: string;
  /** A decision body as an agent sends it. */
  input: Record<string, unknown>;
}

declare module "vitest" {
  export interface ProvidedContext {
    decisionScenarios: Scenario[];
    /** `opa run --server` on loopback, serving policies/global for this run. */
    opaUrl: string;
  }
}

export interface BuiltinCase {
  name: string;
  call: string;
  args: unknown[];
}

export interface BuiltinCases {
  cases: BuiltinCase[];
  input: { cases: unknown[][] };
  /** `opa eval` results by case name; a case whose builtin errored is absent. */
  expected: Record<string, unknown>;
  /** The same cases compiled to wasm, for the sandbox. */
  wasmBase64: string;
  entrypoint: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    builtinCases: BuiltinCases;
  }
}

export interface StoreFixtures {
  /** Unsigned layers by scope, files base64. */
  layers: Record<string, { draft: Record<string, unknown> & { scope: string; digest: string }; files: Record<string, string> }>;
  /** Test private keys (JWK) by key id. */
  keys: Record<string, JsonWebKey>;
}

declare module "vitest" {
  export interface ProvidedContext {
    storeFixtures: StoreFixtures;
  }
}

declare module "vitest" {
  export interface ProvidedContext {
    /** A loopback HTTP server standing in for a tenant's identity provider's JWKS (test/setup/15-jwks-server.ts). */
    jwksServerUrl: string;
  }
}
