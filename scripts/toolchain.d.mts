/** Types for toolchain.mjs, which stays plain JavaScript so `npm install` can run it on any Node. */
export declare const OPA_VERSION: string;
export declare const ROOT: string;
export declare const TOOLS_BIN: string;
export declare function findOpa(): string | null;
export declare function ensureOpa(options?: { quiet?: boolean }): string;
export declare function assertNode22(): void;
