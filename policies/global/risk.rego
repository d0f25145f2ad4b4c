# Risk tiers: every input names one, and the decision carries the tier's fail
# mode, which the edge applies when a policy cannot be evaluated. An input
# without a known tier is denied and fails closed.
package tollgate

risk_tier := input.risk_tier if cfg.risk_tiers[input.risk_tier]

else := "unknown"

fail_mode := cfg.risk_tiers[risk_tier].fail_mode if risk_tier != "unknown"

else := "closed"

invalid contains reason("invalid_risk_tier", msg) if {
	risk_tier == "unknown"
	msg := sprintf("risk_tier must be one of %s", [concat(", ", sort(object.keys(cfg.risk_tiers)))])
}

# A critical decision is not returned before its audit record is acknowledged.
obligations contains {"type": "audit_sync"} if risk_tier == "critical"
