/**
 * @module rpc-result
 * Letting go of what an RPC call returned. workerd keeps an object a call
 * returned alive on the callee's side (the call's pipeline, and with it the
 * callee's context for that call) until the caller disposes the result or
 * the caller's own request ends; a result left to the garbage collector
 * while that request runs also logs "An RPC result was not disposed
 * properly". The calls on a decision's path are read once, at once, and
 * released here, so no sandbox or object holds a finished call for the rest
 * of a request (or of a Queue batch) that made many.
 */

/** `Symbol.dispose` where the runtime has it (workerd, Node 22); the project's lib types predate it. */
const DISPOSE = (Symbol as { dispose?: symbol }).dispose;

/** Disposes an RPC result (its data stays readable) and returns it; anything without a disposer is returned as it is. */
export function released<T>(result: T): T {
  if (DISPOSE !== undefined && typeof result === "object" && result !== null) {
    const dispose = (result as Record<symbol, unknown>)[DISPOSE];
    if (typeof dispose === "function") dispose.call(result);
  }
  return result;
}
