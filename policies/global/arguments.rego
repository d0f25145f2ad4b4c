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

	# Built once, before the loop over patterns: a function's result is not
	# kept between calls, so inside the loop every pattern would build the
	# forms again (a shell command spent about a fifth of its evaluation there).
	forms := shell_forms(command)
	some pattern in cfg.shell.dangerous_patterns
	some form in forms
	regex.match(pattern, form)
	msg := sprintf("%scommand matches dangerous pattern %s", [use.at, pattern])
}

# Words the shell builds when it runs the command (command substitution, parameter expansion other than
# $IFS, ANSI-C quoting, process substitution, brace expansion, |& and >|) cannot be read from the text:
# `s$()udo`, `rm -rf ${HOME}` and `curl … |& sh` run what the patterns refuse. A person looks first.
approval contains reason("shell_command_not_readable", msg) if {
	some use in uses_of_tool["shell.exec"]
	command := arg(use.args, "command")
	is_string(command)
	readable := replace(replace(command, "${IFS}", ""), "$IFS", "")
	some construct in shell_unreadable
	contains(readable, construct)
	msg := sprintf("%scommand uses %s, whose words only the shell knows; a person must approve it", [use.at, construct])
}

shell_unreadable := ["$(", "`", "${", "$'", "$\"", "<(", ">(", "|&", ">|", ",}", "{,"]

# The person asked to approve such a command must be able to read it: approvers are shown an action's
# arguments as far as the audit log keeps them, so a command this rule asks about is kept.
obligations contains {"type": "log_args", "fields": ["command"]} if {
	some r in approval
	r.rule == "shell_command_not_readable"
}

# The forms a command is matched in. The shell runs the words it reads, not
# the text: `r""m -rf "/"`, `s\udo`, `rm -rf${IFS}/` and `rm -rf //` run
# what a pattern written against `rm -rf /` or `sudo` refuses. So the
# patterns are matched against the command as written, and as its words read
# once quotes, backslashes and $IFS are gone and repeated slashes and `/./` are one slash
# (a program by its path, `/usr/bin/sudo`, the patterns allow themselves). A
# backslash before a newline joins two lines into one (`curl … \<newline>| sh`),
# so both go, before other backslashes do: the patterns' `.*` stops at a newline. A
# false match in a form only ever denies. Written with the builtins OPA's
# wasm runs itself: a command is judged in microseconds.
shell_forms(command) := {command, one_slash(spaced)} if {
	joined := replace(command, "\\\n", "")
	words := replace(replace(replace(joined, "\"", ""), "'", ""), "\\", "")
	spaced := replace(replace(words, "${IFS}", " "), "$IFS", " ")
}

# Repeated slashes and `.` segments as one slash: the empty and "." parts between slashes dropped, a
# leading or a trailing one kept. Part by part, because `/./` replaced in the text leaves one of
# each pair that follow one another (`/././etc` became `/./etc`). A URL's "://" alone (most commands
# with "//" in them) leaves the text as it is.
one_slash(text) := text if not repeated_slash(text)

one_slash(text) := concat("/", [part | some i, part in parts; slash_part(parts, i, part)]) if {
	repeated_slash(text)
	parts := split(text, "/")
}

repeated_slash(text) if contains(replace(text, "://", ""), "//")

repeated_slash(text) if contains(text, "/./")

slash_part(_, _, part) if not part in {"", "."}

slash_part(_, 0, _)

slash_part(parts, i, _) if i == count(parts) - 1

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
