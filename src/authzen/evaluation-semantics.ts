/**
 * @module evaluation-semantics
 * How the items of an Access Evaluations request are run (AuthZEN 1.0
 * §7.1.2.1), in the order sent, one after another:
 *
 *   execute_all             every item; the answer has one decision per item
 *   deny_on_first_deny      stops after the first false (a denial, an approval
 *                           to wait for, or an item that could not be decided)
 *   permit_on_first_permit  stops after the first true
 *
 * An item after the stop is never evaluated: it costs no budget, counts
 * toward no breaker and leaves no record, and the answer ends at the item
 * that stopped it (as in §7.1.2.1's examples). Sequential on purpose: the
 * short-circuits need it, and items of one session are serialised by its
 * object anyway, so budgets are spent in the order the caller wrote.
 */
import type { AuthzenDecision } from "./decision-context";
import type { EvaluationsSemantic } from "./request-schema";

export async function runEvaluations<T>(items: T[], semantic: EvaluationsSemantic, evaluate: (item: T, index: number) => Promise<AuthzenDecision>): Promise<AuthzenDecision[]> {
  const decisions: AuthzenDecision[] = [];
  for (const [index, item] of items.entries()) {
    const decision = await evaluate(item, index);
    decisions.push(decision);
    if (semantic === "deny_on_first_deny" && !decision.decision) break;
    if (semantic === "permit_on_first_permit" && decision.decision) break;
  }
  return decisions;
}
