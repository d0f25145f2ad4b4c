/**
 * @module policy-input
 * What the policy is asked about: the request body with the facts the edge
 * established put in place of anything the caller could claim. The tenant,
 * the agent, its role, scopes and delegation depth come from the verified
 * credential; the risk tier is the effective one; the governing region and
 * the location come from the platform. The body may leave all of these out;
 * where it names a tenant, agent or role, it must be the credential's, and
 * scopes it names must be among the credential's (a body may narrow them,
 * never widen them). Anything else in the body reaches the policy as sent.
 */
import { ApiError } from "../errors";
import type { Identity } from "../identity/types";
import type { DecisionInput, DecisionBody } from "../schema/decision-input";
import type { EffectiveTier } from "./effective-tier";
import type { RegionResolution } from "./region";

const mismatch = (message: string) => new ApiError(403, "identity_mismatch", message);

/** Refuses a body whose claims contradict the credential (403 `identity_mismatch`). */
export function assertConsistent(body: DecisionBody, identity: Identity): void {
  if (body.tenant !== undefined && body.tenant !== identity.tenant) {
    throw mismatch(`the body names tenant ${body.tenant}; the credential is of tenant ${identity.tenant}`);
  }
  const agent = body.agent;
  if (agent?.id !== undefined && agent.id !== identity.agent) throw mismatch(`the body names agent ${agent.id}; the credential is of agent ${identity.agent}`);
  if (agent?.role !== undefined && agent.role !== identity.role) throw mismatch(`the body names role ${agent.role}; the credential grants role ${identity.role}`);
  const extra = (agent?.scopes ?? []).filter((scope) => !identity.scopes.includes(scope));
  if (extra.length > 0) throw mismatch(`the body claims scopes the credential does not grant: ${extra.join(", ")}`);
  if (agent?.delegation_depth !== undefined && agent.delegation_depth !== identity.delegation.depth) {
    throw mismatch(`the body claims delegation depth ${agent.delegation_depth}; the credential is at depth ${identity.delegation.depth}`);
  }
  const parent = body.session.parent_session_id;
  if (parent !== undefined && parent !== identity.delegation.parent_session) {
    throw mismatch(
      identity.delegation.parent_session === undefined
        ? "the body names a parent session, but the credential is not a sub-agent's"
        : `the body names parent session ${parent}; the credential was issued in session ${identity.delegation.parent_session}`,
    );
  }
}

export function policyInput(body: DecisionBody, identity: Identity, tier: EffectiveTier, region: RegionResolution, location: string): DecisionInput {
  const parentSession = identity.delegation.parent_session;
  return {
    ...body,
    tenant: identity.tenant,
    risk_tier: tier.tier,
    agent: {
      ...body.agent,
      id: identity.agent,
      role: identity.role,
      scopes: body.agent?.scopes ?? identity.scopes,
      delegation_depth: identity.delegation.depth,
    },
    session: { ...body.session, ...(parentSession !== undefined ? { parent_session_id: parentSession } : {}) },
    identity,
    edge: { region: region.region, region_source: region.source, ...(region.located ? { located_region: region.located } : {}), location },
  };
}
