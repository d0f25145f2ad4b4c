package tollgate_test

import data.tollgate

refund(amount) := object.union(tool_input("finance", "payments.refund", {"amount": amount, "currency": "EUR"}), {"risk_tier": "high"})

test_small_refund_is_allowed_and_its_args_logged if {
	d := tollgate.decision with input as refund(120)
	allowed(d)
	d.obligations == [{"type": "log_args", "fields": ["amount", "currency"]}]
}

test_refund_of_exactly_the_threshold_is_allowed if {
	d := tollgate.decision with input as refund(500)
	allowed(d)
}

test_refund_just_above_threshold_requires_approval if {
	d := tollgate.decision with input as refund(500.01)
	d.decision == "require_approval"
	rules(d) == {"refund_requires_approval"}
	d.reasons[0].message == "refund of 500.01 is above the approval threshold of 500"
}

test_refund_at_the_hard_cap_requires_approval if {
	d := tollgate.decision with input as refund(5000)
	d.decision == "require_approval"
	rules(d) == {"refund_requires_approval"}
}

test_refund_above_hard_cap_is_denied if {
	d := tollgate.decision with input as refund(5000.01)
	denied_by(d, {"refund_over_hard_cap"})
	d.reasons[0].message == "refund of 5000.01 exceeds the hard cap of 5000"
}

test_zero_refund_is_allowed if {
	d := tollgate.decision with input as refund(0)
	allowed(d)
}

test_negative_refund_is_denied if {
	d := tollgate.decision with input as refund(-1)
	denied_by(d, {"invalid_refund_amount"})
}

test_string_refund_amount_is_denied if {
	d := tollgate.decision with input as refund("100")
	denied_by(d, {"invalid_refund_amount"})
}

test_missing_refund_amount_is_denied if {
	d := tollgate.decision with input as tool_input("finance", "payments.refund", {"currency": "EUR"})
	denied_by(d, {"invalid_refund_amount"})
}

test_refund_threshold_comes_from_data if {
	d := tollgate.decision with input as refund(300)
		with data.tollgate.params.refunds.approval_threshold as 200
	d.decision == "require_approval"
	rules(d) == {"refund_requires_approval"}
}

refund_in(amount, currency) := object.union(tool_input("finance", "payments.refund", {"amount": amount, "currency": currency}), {"risk_tier": "high"})

test_refund_in_an_unlisted_currency_requires_approval_whatever_its_amount if {
	every currency in ["BTC", "KWD", "eur", ""] {
		d := tollgate.decision with input as refund_in(10, currency)
		d.decision == "require_approval"
		rules(d) == {"refund_currency_not_configured"}
	}
}

test_refund_in_a_listed_currency_or_none_is_judged_by_its_amount if {
	d := tollgate.decision with input as refund_in(120, "USD")
	allowed(d)
	without := tollgate.decision with input as object.union(tool_input("finance", "payments.refund", {"amount": 120}), {"risk_tier": "high"})
	allowed(without)
}

test_refund_whose_currency_is_not_a_string_is_denied if {
	every currency in [978, {"code": "EUR"}, ["EUR"], true] {
		d := tollgate.decision with input as refund_in(10, currency)
		denied_by(d, {"invalid_refund_currency"})
	}
}

plan_of_refunds(amounts) := object.union(tool_input("finance", "payments.refund", {}), {"risk_tier": "high", "action": {"type": "plan", "steps": [{"tool": "payments.refund", "args": {"amount": a, "currency": "EUR"}} | some a in amounts]}})

test_refunds_split_across_a_plan_are_judged_by_their_sum if {
	under := tollgate.decision with input as plan_of_refunds([200, 250])
	allowed(under)
	over := tollgate.decision with input as plan_of_refunds([500, 500])
	over.decision == "require_approval"
	"refunds_together_require_approval" in rules(over)
	capped := tollgate.decision with input as plan_of_refunds([5000, 5000])
	capped.decision == "deny"
	"refunds_together_over_hard_cap" in rules(capped)
}
