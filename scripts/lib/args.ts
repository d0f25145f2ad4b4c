/**
 * @module args
 * Command-line flags for the tollgate commands: every flag takes a string
 * value, positionals are allowed, and a flag the command does not know is a
 * usage error (printed with the usage, exit 2) rather than a crash.
 */
import { parseArgs } from "node:util";

export class UsageError extends Error {}

/** The admin API's target, accepted by every command that talks to an edge. */
export const ADMIN_FLAGS = ["url", "token"];

export function parseFlags(args: string[], names: string[]): { values: Record<string, string | undefined>; positionals: string[] } {
  try {
    const parsed = parseArgs({ args, options: Object.fromEntries(names.map((name) => [name, { type: "string" as const }])), allowPositionals: true });
    return { values: parsed.values as Record<string, string | undefined>, positionals: parsed.positionals };
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}
