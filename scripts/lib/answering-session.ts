/**
 * @module answering-session
 * A session object for the benchmark only, whose commit answers at once:
 * no check, no statement, no write, the policy's verdict given back with a
 * closed breaker and no usage. An edge bound to it pays everything of the
 * session step but the object's own work (building the commit, the RPC both
 * ways, merging the answer), so beside the real full path it measures the
 * call apart from what the object does. It is a module put in front of the
 * edge's bundle (edge-server.ts), never part of the edge itself.
 */

/** The class the edge's SESSIONS binding names instead of SessionDO. */
export const ANSWERING_SESSION_CLASS = "SessionAnsweringAtOnce";

/** Main module of such an edge: everything the bundle exports, and the subclass. */
export const ANSWERING_SESSION_MODULE = `
import edge, { SessionDO } from "./index.js";
export * from "./index.js";
export default edge;
export class ${ANSWERING_SESSION_CLASS} extends SessionDO {
  async commit(request) {
    return {
      verdict: request.verdict,
      reasons: [],
      usage: { tokens: 0, api_calls: 0, cost_usd: 0, wall_clock_s: 0 },
      breaker: "closed",
      replayed: false,
      decision_id: request.decision_id,
      data_classes: request.data_classes_seen ?? [],
    };
  }
}
`;
