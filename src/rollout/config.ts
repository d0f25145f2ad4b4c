/**
 * @module config
 * How new policy is rolled out, per scope: the mode (`enforce`, or
 * `observe`: decide and log, but tell the agent allow) and an optional
 * shadow candidate (a signed layer evaluated beside the active one, off the
 * response path). Kept as one small object in the bundle store, read by every
 * edge at most once per refresh interval.
 */
export type Mode = "enforce" | "observe";

export interface RolloutConfig {
  modes: Record<string, Mode>;
  /** Candidate layers by the scope they would replace. */
  shadow: Record<string, { version: number; digest: string }>;
}

export const ROLLOUT_KEY = "config/rollout.json";
export const shadowLayerKey = (scope: string, file: string) => `shadow/${scope}/${file}`;

const EMPTY: RolloutConfig = { modes: {}, shadow: {} };

let cached: { config: RolloutConfig; readMs: number } | undefined;

export async function readRollout(bucket: R2Bucket): Promise<{ config: RolloutConfig; etag?: string }> {
  const object = await bucket.get(ROLLOUT_KEY);
  if (!object) return { config: { modes: {}, shadow: {} } };
  const parsed = (await object.json()) as Partial<RolloutConfig>;
  return { config: { modes: parsed.modes ?? {}, shadow: parsed.shadow ?? {} }, etag: object.etag };
}

/** The rollout configuration as this isolate last read it; a failed read keeps the previous one. */
export async function rolloutFor(bucket: R2Bucket | undefined, nowMs: number, maxAgeMs: number): Promise<RolloutConfig> {
  if (!bucket) return EMPTY;
  if (cached && nowMs - cached.readMs < maxAgeMs) return cached.config;
  try {
    cached = { config: (await readRollout(bucket)).config, readMs: nowMs };
  } catch (error) {
    console.error(`rollout config unreadable, keeping the previous one: ${(error as Error).message}`);
    cached = { config: cached?.config ?? EMPTY, readMs: nowMs };
  }
  return cached.config;
}

/** Forget the cached configuration (after this isolate changed it). */
export function invalidateRollout(): void {
  cached = undefined;
}

/** The most specific scope's mode wins: tenant, then region, then global. */
export function modeFor(config: RolloutConfig, region: string, tenant: string): Mode {
  return config.modes[`tenant:${tenant}`] ?? config.modes[`region:${region}`] ?? config.modes.global ?? "enforce";
}
