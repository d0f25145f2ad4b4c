# Data flows: data classified sensitive (pii, confidential) never goes to an
# external tool, whether called directly or as a step of a plan, and PII
# touched by a non-privileged role needs approval. Whenever PII is involved
# the action's arguments are redacted from what is logged.
package tollgate

data_classes := {c | some c in object.get(action, "data_classes", []); is_string(c)}

sensitive_classes := data_classes & {c | some c in cfg.data_flows.sensitive_classes}

deny contains reason("sensitive_data_to_external_tool", msg) if {
	count(sensitive_classes) > 0
	some use in tool_uses
	cfg.tools[use.tool].tier == "external"
	msg := sprintf("%s%s data may not go to external tool \"%s\"", [use.at, concat(", ", sort(sensitive_classes)), use.tool])
}

approval contains reason("pii_access_requires_approval", msg) if {
	cfg.data_flows.pii_class in data_classes
	not role_privileged
	msg := sprintf("role \"%s\" is not privileged to access pii", [describe(role_name)])
}

obligations contains {"type": "redact", "fields": ["args"]} if cfg.data_flows.pii_class in data_classes
