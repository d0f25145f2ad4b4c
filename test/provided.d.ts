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
    /** One `opa run --server` per layer (global, region:eu, region:us, tenant:acme, tenant:globex), by scope. */
    opaLayerUrls: Record<string, string>;
  }
}

export interface BuiltinCase {
  name: string;
  call: string;
  /** Arguments; `{"$rego": "{1, 2}"}` is written into the module as Rego (sets cannot travel in JSON). */
  args: unknown[];
}

export interface BuiltinCaseGroup {
  label: string;
  cases: BuiltinCase[];
  /** The module's input, as exact JSON text. */
  inputJson: string;
  /** `opa eval` results by case name as canonical JSON (exact numbers); a case whose builtin errored is absent. */
  expected: Record<string, string>;
  /** The same cases compiled to wasm, for the sandbox. */
  wasmBase64: string;
  entrypoint: string;
}

export interface BuiltinCases {
  /** The fast-check seed the generated cases were drawn with. */
  seed: number;
  groups: BuiltinCaseGroup[];
  /** A module that prints, and the lines `opa eval` printed for it. */
  print: { lines: string[]; wasmBase64: string; entrypoint: string; inputJson: string };
  /** A policy whose answer is opa.runtime(). */
  runtime: { wasmBase64: string; entrypoint: string };
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

export interface EdgeBuiltinsProbe {
  /** The builtin table as `npm run capabilities` would write it now. */
  regenerated: Array<{ name: string; provider: string; deprecated?: boolean; reason?: string }>;
  /** Builtins a wasm module compiled against scripts/edge-capabilities.json can import from the host. */
  importedUnderEdgeCapabilities: string[];
}

declare module "vitest" {
  export interface ProvidedContext {
    edgeBuiltins: EdgeBuiltinsProbe;
  }
}

declare module "vitest" {
  export interface ProvidedContext {
    /** A policy whose host regex backtracks without end when input.spin is set (test/fixtures/runaway). */
    runawayPolicy: { wasmBase64: string; data: unknown };
    /** A tenant's rules on the regex builtins the edge runs in the host, the inputs sent, and what `opa eval` decides for each (test/fixtures/host-regex). */
    hostRegexPolicy: { wasmBase64: string; inputs: string[]; expected: unknown[] };
    /** Rules a broken memo table would mix up, the inputs sent, and what `opa eval` answers for each (test/fixtures/memo-table). */
    memoTablePolicy: { wasmBase64: string; inputs: Array<{ x: number }>; expected: unknown[] };
  }
}

declare module "vitest" {
  export interface ProvidedContext {
    /** A loopback HTTP server standing in for tenants' alert webhooks (test/setup/50-webhook-receiver.ts). */
    webhookReceiverUrl: string;
  }
}
