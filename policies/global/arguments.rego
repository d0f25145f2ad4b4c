# Arguments of risky tools: shell commands matching a dangerous pattern are
# denied; file writes must stay inside an allowed directory, with `..`
# segments and paths outside those directories denied.
package tollgate

shell_command := input.action.args.command if tool_call == "shell.exec"

deny contains reason("invalid_shell_command", "shell.exec needs args.command as a string") if {
	tool_call == "shell.exec"
	not is_string(object.get(input.action, ["args", "command"], null))
}

deny contains reason("dangerous_shell_command", msg) if {
	is_string(shell_command)
	some pattern in cfg.shell.dangerous_patterns
	regex.match(pattern, shell_command)
	msg := sprintf("command matches dangerous pattern %s", [pattern])
}

write_path := input.action.args.path if tool_call == "files.write"

deny contains reason("invalid_path", "files.write needs args.path as a string") if {
	tool_call == "files.write"
	not is_string(object.get(input.action, ["args", "path"], null))
}

deny contains reason("path_traversal", sprintf("path \"%s\" contains a \"..\" segment", [write_path])) if {
	is_string(write_path)
	".." in split(write_path, "/")
}

deny contains reason("path_outside_allowed_dirs", msg) if {
	is_string(write_path)
	not inside_allowed_dir(write_path)
	msg := sprintf("path \"%s\" is outside the allowed directories (%s)", [write_path, concat(", ", cfg.files.allowed_dirs)])
}

# Allowed directories end in "/", so "/workspace-evil/x" is not inside "/workspace/".
inside_allowed_dir(path) if {
	some dir in cfg.files.allowed_dirs
	startswith(path, dir)
}
