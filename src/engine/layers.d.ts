/**
 * Types for `./layers.js`, the module the edge generates per sandbox (see
 * sandbox-modules.ts). It exists only inside the sandbox, never on disk.
 */
import type { SandboxLayer } from "./sandbox-protocol";

declare const layers: SandboxLayer[];
export default layers;
