package tollgate_test

import data.tollgate

tier(t) := object.union(base_input, {"risk_tier": t})

test_low_tier_fails_open if {
	d := tollgate.decision with input as tier("low")
	allowed(d)
	d.risk_tier == "low"
	d.fail_mode == "open"
}

test_medium_tier_fails_open if {
	d := tollgate.decision with input as tier("medium")
	allowed(d)
	d.risk_tier == "medium"
	d.fail_mode == "open"
}

test_high_tier_fails_closed if {
	d := tollgate.decision with input as tier("high")
	allowed(d)
	d.risk_tier == "high"
	d.fail_mode == "closed"
}

test_critical_tier_fails_closed_and_audits_synchronously if {
	d := tollgate.decision with input as tier("critical")
	allowed(d)
	d.risk_tier == "critical"
	d.fail_mode == "closed"
	d.obligations == [{"type": "audit_sync"}]
}

test_unknown_tier_is_denied if {
	d := tollgate.decision with input as tier("extreme")
	denied_by(d, {"invalid_risk_tier"})
	d.risk_tier == "unknown"
	d.fail_mode == "closed"
}

test_missing_tier_is_denied if {
	d := tollgate.decision with input as json.remove(base_input, ["risk_tier"])
	denied_by(d, {"invalid_risk_tier"})
	d.fail_mode == "closed"
}

test_fail_modes_come_from_data if {
	d := tollgate.decision with input as tier("medium")
		with data.tollgate.params.risk_tiers.medium.fail_mode as "closed"
	allowed(d)
	d.fail_mode == "closed"
}
