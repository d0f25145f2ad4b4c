/**
 * @module stats
 * Latency summaries for the benchmark: median, p99 and throughput from raw
 * per-request samples (nearest-rank percentiles, no interpolation).
 */
export interface Summary {
  count: number;
  median_ms: number;
  p99_ms: number;
  rps: number;
  /** With a watched text: how many of the measured answers contained it. */
  matched?: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

export function summarize(samplesMs: number[], wallMs: number): Summary {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return {
    count: sorted.length,
    median_ms: percentile(sorted, 50),
    p99_ms: percentile(sorted, 99),
    rps: sorted.length / (wallMs / 1000),
  };
}
