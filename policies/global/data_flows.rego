# Data flows: data classified sensitive (pii, confidential) never goes to an
# external tool, whether called directly or as a step of a plan, and PII
# touched by a non-privileged role needs approval. Whenever PII is involved
# the action's arguments are redacted from what is logged.
package tollgate

data_classes := {c | some c in object.get(action, "data_classes", []); is_string(c)}

sensitive_classes := data_classes & {c | some c in cfg.data_flows.sensitive_classes}

deny contains reason("sensitive_data_to_external_tool", msg) if {
	count(sensitive_classes) > 0
	some use in external_uses
	msg := sprintf("%s%s data may not go to external tool \"%s\"", [use.at, concat(", ", sort(sensitive_classes)), use.tool])
}

approval contains reason("pii_access_requires_approval", msg) if {
	cfg.data_flows.pii_class in data_classes
	not role_privileged
	msg := sprintf("role \"%s\" is not privileged to access pii", [describe(role_name)])
}

obligations contains {"type": "redact", "fields": ["args"]} if cfg.data_flows.pii_class in data_classes

# Session taint: the classes of data the session has already touched (the
# session object's record, which only grows), and, for an action that
# reaches outside, those any of the agent's sessions read within
# `session_taint.agent_window_s` (the edge adds them). Once a session holds
# one of `session_taint.classes`, a call to an external tool may carry it
# out, so it is denied or needs approval, as `session_taint.external_tools`
# says.
session_data_classes := {c | some c in object.get(input, ["session", "data_classes"], []); is_string(c)}

session_tainted_by := session_data_classes & {c | some c in cfg.data_flows.session_taint.classes}

session_taint_applies(tool) if {
	count(session_tainted_by) > 0
	cfg.tools[tool].tier == "external"
}

session_taint_reason(use) := reason("session_data_to_external_tool", msg) if {
	msg := sprintf("%sthe agent has read %s data, in this session or another, which may not leave through external tool \"%s\"", [use.at, concat(", ", sort(session_tainted_by)), use.tool])
}

deny contains session_taint_reason(use) if {
	cfg.data_flows.session_taint.external_tools == "deny"
	count(session_tainted_by) > 0
	some use in external_uses
}

approval contains session_taint_reason(use) if {
	cfg.data_flows.session_taint.external_tools == "require_approval"
	count(session_tainted_by) > 0
	some use in external_uses
}

deny contains reason("invalid_session_data_classes", "session.data_classes must be an array of strings") if {
	not string_array(object.get(input, ["session", "data_classes"], []))
}
