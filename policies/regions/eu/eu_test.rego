# The EU layer: refunds need approval from 200, and health data counts as
# sensitive (it may not leave through an external tool).
package tollgate_eu_test

import data.tollgate

# What the edge puts in input.identity for a verified, certified agent.
identity(role) := {
	"tenant": "acme", "agent": "a", "role": role, "scopes": [],
	"credential": {"kind": "agent_key", "id": "k0000000000000000"},
	"registration": {
		"owner": "ops@acme.example", "role": role, "risk_tier": "low", "max_risk_tier": "critical",
		"certified_until": "2099-01-01T00:00:00Z", "scopes": [],
	},
	"delegation": {"depth": 0},
}

refund(amount) := {
	"risk_tier": "high", "tenant": "acme",
	"agent": {"id": "a", "role": "finance"}, "session": {"id": "s"}, "identity": identity("finance"),
	"action": {"type": "tool_call", "tool": "payments.refund", "args": {"amount": amount}},
}

test_eu_refund_of_200_is_allowed if {
	tollgate.decision.decision == "allow" with input as refund(200)
}

test_eu_refund_of_300_requires_approval if {
	d := tollgate.decision with input as refund(300)
	d.decision == "require_approval"
	d.reasons[0].rule == "refund_requires_approval"
}

test_eu_health_data_may_not_go_external if {
	d := tollgate.decision with input as {
		"risk_tier": "medium", "tenant": "acme",
		"agent": {"id": "a", "role": "support"}, "session": {"id": "s"}, "identity": identity("support"),
		"action": {"type": "tool_call", "tool": "email.send", "data_classes": ["health"]},
	}
	d.decision == "deny"
}

test_eu_finance_token_budget_is_50000 if {
	d := tollgate.decision with input as object.union(refund(10), {"action": {"type": "tool_call", "tool": "payments.refund", "args": {"amount": 10}, "estimate": {"tokens": 60000}}})
	d.decision == "deny"
	d.budget.limits.tokens == 50000
}
