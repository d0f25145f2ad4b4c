# Arguments of risky tools, for a tool call and for every step of a plan:
# shell commands matching a dangerous pattern are denied (in every form the
# shell could read them as, see shell_forms); file writes must
# stay inside an allowed directory, with `..` segments and paths outside
# those directories (relative paths included) denied. In a plan, messages
# start with "step N: ".
package tollgate

deny contains reason("invalid_shell_command", sprintf("%sshell.exec needs args.command as a string", [use.at])) if {
	some use in uses_of_tool["shell.exec"]
	not is_string(arg(use.args, "command"))
}

deny contains reason("dangerous_shell_command", msg) if {
	some use in uses_of_tool["shell.exec"]
	command := arg(use.args, "command")
	is_string(command)
	some pattern in cfg.shell.dangerous_patterns
	some form in shell_forms(command)
	regex.match(pattern, form)
	msg := sprintf("%scommand matches dangerous pattern %s", [use.at, pattern])
}

# The forms a command is matched in. The shell runs the words it reads, not
# the text: `r""m -rf "/"`, `s\udo`, `rm -rf${IFS}/` and `rm -rf //` run
# what a pattern written against `rm -rf /` or `sudo` refuses, and
# `| /bin/sh` runs the shell a pattern names as `sh`. So the patterns are
# matched against the command as written, as its words read once quotes,
# backslashes and $IFS are gone and repeated slashes are one, and that again
# with every program named without its directory. A false match in a form
# only ever denies.
shell_forms(command) := {command, unquoted, bare} if {
	words := strings.replace_n({"\"": "", "'": "", "\\": ""}, command)
	unquoted := regex.replace(regex.replace(words, `\$\{?IFS\}?`, " "), `/{2,}`, "/")
	bare := regex.replace(unquoted, `(^|[\s|;&(\x60])/(?:[^\s/|;&()]+/)*([^\s/|;&()]+)`, "${1}${2}")
}

deny contains reason("invalid_path", sprintf("%sfiles.write needs args.path as a string", [use.at])) if {
	some use in uses_of_tool["files.write"]
	not is_string(arg(use.args, "path"))
}

deny contains reason("path_traversal", sprintf("%spath \"%s\" contains a \"..\" segment", [use.at, path])) if {
	some use in uses_of_tool["files.write"]
	path := arg(use.args, "path")
	is_string(path)
	".." in split(path, "/")
}

# Relative paths are outside by definition: they do not start with an allowed
# directory, and what they resolve to depends on the tool's working directory.
deny contains reason("path_outside_allowed_dirs", msg) if {
	some use in uses_of_tool["files.write"]
	path := arg(use.args, "path")
	is_string(path)
	not inside_allowed_dir(path)
	msg := sprintf("%spath \"%s\" is outside the allowed directories (%s)", [use.at, path, concat(", ", cfg.files.allowed_dirs)])
}

# Allowed directories end in "/", so "/workspace-evil/x" is not inside "/workspace/".
inside_allowed_dir(path) if {
	some dir in cfg.files.allowed_dirs
	startswith(path, dir)
}
