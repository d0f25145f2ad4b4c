package tollgate_test

import data.tollgate

po(amount) := tool_input("finance", "purchasing.create_po", {"amount": amount, "supplier": "acme-paper"})

test_a_small_purchase_order_is_allowed_and_carries_the_agent_wide_limit if {
	d := tollgate.decision with input as po(900)
	allowed(d)
	d.agent_limit == {"key": "purchasing.create_po", "max": 200, "window_s": 3600}
}

test_a_purchase_order_at_the_threshold_is_allowed if {
	d := tollgate.decision with input as po(10000)
	allowed(d)
}

test_a_purchase_order_above_the_threshold_requires_approval if {
	d := tollgate.decision with input as po(10000.5)
	d.decision == "require_approval"
	rules(d) == {"purchase_order_requires_approval"}
	d.reasons[0].message == "purchase order of 10000.5 is above the approval threshold of 10000"
}

test_a_purchase_order_with_a_negative_amount_is_denied if {
	d := tollgate.decision with input as po(-1)
	denied_by(d, {"invalid_po_amount"})
}

test_a_purchase_order_with_a_text_amount_is_denied if {
	d := tollgate.decision with input as po("lots")
	denied_by(d, {"invalid_po_amount"})
}

test_a_purchase_order_without_an_amount_is_denied if {
	d := tollgate.decision with input as tool_input("finance", "purchasing.create_po", {})
	denied_by(d, {"invalid_po_amount"})
}

# A plan may not hold purchase orders (they have an agent-wide limit, counted call by call); each
# step is still judged, so the refusal also says which order would have needed approval.
test_a_plan_step_creating_a_large_purchase_order_is_judged_and_the_plan_refused if {
	d := tollgate.decision with input as as_role("finance", {"type": "plan", "steps": [
		{"tool": "crm.read_customer", "args": {"id": "C-1"}},
		{"tool": "purchasing.create_po", "args": {"amount": 25000}},
	]})
	d.decision == "deny"
	rules(d) == {"plan_step_agent_limited", "purchase_order_requires_approval"}
}

test_a_purchase_order_in_an_unlisted_currency_requires_approval if {
	d := tollgate.decision with input as tool_input("finance", "purchasing.create_po", {"amount": 5, "supplier": "acme-paper", "currency": "BTC"})
	d.decision == "require_approval"
	rules(d) == {"purchase_order_currency_not_configured"}
	listed := tollgate.decision with input as tool_input("finance", "purchasing.create_po", {"amount": 5, "supplier": "acme-paper", "currency": "GBP"})
	allowed(listed)
}

test_a_purchase_order_whose_currency_is_not_a_string_is_denied if {
	d := tollgate.decision with input as tool_input("finance", "purchasing.create_po", {"amount": 5, "supplier": "acme-paper", "currency": 826})
	denied_by(d, {"invalid_po_currency"})
}
