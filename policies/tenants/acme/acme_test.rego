# The acme tenant: refunds over 1000 are denied, and support agents may not
# send email.
package tollgate_acme_test

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

test_acme_refund_over_1000_is_denied if {
	d := tollgate.decision with input as {
		"risk_tier": "high", "tenant": "acme",
		"agent": {"id": "a", "role": "finance"}, "session": {"id": "s"}, "identity": identity("finance"),
		"action": {"type": "tool_call", "tool": "payments.refund", "args": {"amount": 1500}},
	}
	d.decision == "deny"
	d.reasons[0].rule == "refund_over_hard_cap"
}

test_acme_support_may_not_send_email if {
	d := tollgate.decision with input as {
		"risk_tier": "low", "tenant": "acme",
		"agent": {"id": "a", "role": "support"}, "session": {"id": "s"}, "identity": identity("support"),
		"action": {"type": "tool_call", "tool": "email.send"},
	}
	d.reasons[0].rule == "tool_not_allowed_for_role"
}
