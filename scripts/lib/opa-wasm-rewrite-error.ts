/**
 * @module opa-wasm-rewrite-error
 * The build's refusal of a policy module whose OPA runtime is not the one
 * its rewrites (opa-wasm-rewrite.ts) know: the build fails rather than
 * publish a module the edge would run unrewritten or misread.
 */
export class OpaWasmRewriteError extends Error {}
