# Who is asking. The edge verifies the agent's credential and puts what it
# proves in input.identity: tenant, agent, role, scopes, the credential's
# kind and id, and the agent's registration (owner, tiers, certification).
# A decision without an identity is denied; an agent whose certification
# has lapsed may not act at the tiers that require one, and no agent acts
# above the highest tier it is registered for.
package tollgate

identity := input.identity if is_object(input.identity)

registration := identity.registration if is_object(identity.registration)

deny contains reason("unauthenticated", "the input carries no verified identity (input.identity)") if not identity

deny contains reason("invalid_identity", "input.identity carries no agent registration") if {
	identity
	not registration
}

certified if time.parse_rfc3339_ns(registration.certified_until) > time.now_ns()

deny contains reason("agent_not_certified", msg) if {
	registration
	tier_rank[risk_tier] >= tier_rank[cfg.certification.required_from]
	not certified
	msg := sprintf("agent \"%s\" is not certified (certified until %s); %s-tier actions need a certified agent", [describe(object.get(identity, "agent", null)), describe(object.get(registration, "certified_until", null)), risk_tier])
}

deny contains reason("agent_tier_exceeded", msg) if {
	registration
	tier_rank[risk_tier] > tier_rank[registered_max_tier]
	msg := sprintf("this is a %s-tier action; agent \"%s\" is registered for %s at most", [risk_tier, describe(object.get(identity, "agent", null)), registered_max_tier])
}

registered_max_tier := t if {
	t := registration.max_risk_tier
	tier_rank[t]
} else := "low"
