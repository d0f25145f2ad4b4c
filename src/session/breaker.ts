/**
 * @module breaker
 * A session's circuit breaker in its object's SQLite. A run of denials within
 * a window (threshold and window from policy data, by risk tier) opens it;
 * while open, every action of the session is denied. With a cool-down of 0
 * only an operator closes it; otherwise it turns half-open once the cool-down
 * has passed, where one good action closes it and one more denial reopens it.
 * State is read lazily against the clock, so an alarm that fires late (alarms
 * are at-least-once, not punctual) never holds a breaker open longer.
 *
 * The row is read from SQLite once per instance and then kept in memory,
 * every write here changing both: an object is the only writer of its
 * storage, so the copy is exact, and most decisions only read the breaker.
 */
import type { BreakerParams, BreakerState } from "./types";

export type BreakerRow = { state: BreakerState; opened_ms: number; cooldown_s: number; reason: string };

export class Breaker {
  /** The row as stored: undefined until read, null when there is none (closed). */
  private kept: BreakerRow | null | undefined;

  constructor(private readonly sql: SqlStorage) {}

  row(): BreakerRow | undefined {
    if (this.kept === undefined) this.kept = this.sql.exec<BreakerRow>("SELECT state, opened_ms, cooldown_s, reason FROM breaker").toArray()[0] ?? null;
    return this.kept ?? undefined;
  }

  /** Reads the row from SQLite again at its next use: after a transaction that may have been rolled back. */
  forget(): void {
    this.kept = undefined;
  }

  state(now: number): BreakerState {
    return this.current(now)?.state ?? "closed";
  }

  /** The row as it stands at `now` (none: closed), an open breaker whose cool-down has passed turned half-open first. */
  current(now: number): BreakerRow | undefined {
    const row = this.row();
    if (row?.state === "open" && row.cooldown_s > 0 && now >= row.opened_ms + row.cooldown_s * 1000) {
      this.sql.exec("UPDATE breaker SET state = 'half_open'");
      this.kept = { ...row, state: "half_open" };
      return this.kept;
    }
    return row;
  }

  openReason(row = this.row()): string {
    const until = row && row.cooldown_s > 0 ? `it turns half-open at ${new Date(row.opened_ms + row.cooldown_s * 1000).toISOString()}` : "an operator must reset it";
    return `the session's circuit breaker is open (${row?.reason ?? "opened"}); ${until}`;
  }

  /** Records a denial; returns the new state (open when this denial tripped it). */
  recordDenial(now: number, params: BreakerParams, state: BreakerState): BreakerState {
    this.sql.exec("INSERT INTO violations (at_ms) VALUES (?)", now);
    const since = now - params.window_s * 1000;
    const recent = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM violations WHERE at_ms > ?", since).one().n;
    if (state !== "half_open" && recent < params.threshold) return state;
    const why = state === "half_open" ? "a denied action during the half-open trial" : `${recent} denied actions within ${params.window_s} s`;
    this.sql.exec(
      "INSERT INTO breaker (id, state, opened_ms, cooldown_s, reason) VALUES (1, 'open', ?, ?, ?) ON CONFLICT (id) DO UPDATE SET state = 'open', opened_ms = excluded.opened_ms, cooldown_s = excluded.cooldown_s, reason = excluded.reason",
      now,
      params.cooldown_s,
      why,
    );
    this.kept = { state: "open", opened_ms: now, cooldown_s: params.cooldown_s, reason: why };
    return "open";
  }

  /** Takes back one denial whose decision was undone, and puts the breaker as it was before it. */
  undoDenial(atMs: number, before: BreakerRow | undefined): void {
    this.sql.exec("DELETE FROM violations WHERE rowid = (SELECT rowid FROM violations WHERE at_ms = ? LIMIT 1)", atMs);
    this.restore(before);
  }

  /** Puts the breaker back to a state read earlier (none: closed). */
  restore(before: BreakerRow | undefined): void {
    this.sql.exec("DELETE FROM breaker");
    if (before) {
      this.sql.exec("INSERT INTO breaker (id, state, opened_ms, cooldown_s, reason) VALUES (1, ?, ?, ?, ?)", before.state, before.opened_ms, before.cooldown_s, before.reason);
    }
    this.kept = before ?? null;
  }

  /** An operator's reset, or a good action in the half-open state: closed, and the run of denials forgotten. */
  close(): void {
    this.sql.exec("DELETE FROM breaker");
    this.kept = null;
    this.sql.exec("DELETE FROM violations");
  }

  /** An operator's reset: closed, and recorded with who did it. */
  reset(by: string, now: number): BreakerState {
    const was = this.state(now);
    this.close();
    this.sql.exec("INSERT INTO breaker_resets (at_ms, by) VALUES (?, ?)", now, by);
    return was;
  }

  resets(): Array<{ by: string; at: string }> {
    return this.sql
      .exec<{ at_ms: number; by: string }>("SELECT at_ms, by FROM breaker_resets ORDER BY at_ms DESC LIMIT 20")
      .toArray()
      .map((row) => ({ by: row.by, at: new Date(row.at_ms).toISOString() }));
  }

  /** When the open breaker turns half-open, if it ever does by itself. */
  halfOpenAt(): number | undefined {
    const row = this.row();
    return row?.state === "open" && row.cooldown_s > 0 ? row.opened_ms + row.cooldown_s * 1000 : undefined;
  }
}
