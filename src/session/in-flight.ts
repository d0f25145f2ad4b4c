/**
 * @module in-flight
 * How many decisions of one session this isolate has under way at once. A
 * session object answers its commits one at a time; an agent that floods
 * its own session could queue them past the edge's deadline
 * (SESSION_TIMEOUT_MS) or into the platform's `overloaded` error, and at a
 * tier that fails open a decision whose commit did not answer keeps the
 * policy's allow, unmetered. Past the bound, a decision is refused (429,
 * Retry-After) before it is evaluated, so no isolate can be used to
 * overload the object that meters its own session.
 */

/** Commits take about a millisecond: this many queued stay far inside the object's deadline. */
export const MAX_IN_FLIGHT_PER_SESSION = 64;

const inFlight = new Map<string, number>();

/** Takes a place for a decision of this session; false when the session already has the most under way. */
export function enterSession(key: string): boolean {
  const count = inFlight.get(key) ?? 0;
  if (count >= MAX_IN_FLIGHT_PER_SESSION) return false;
  inFlight.set(key, count + 1);
  return true;
}

/** Gives the place back once the decision has been answered. */
export function leaveSession(key: string): void {
  const count = (inFlight.get(key) ?? 1) - 1;
  if (count <= 0) inFlight.delete(key);
  else inFlight.set(key, count);
}
