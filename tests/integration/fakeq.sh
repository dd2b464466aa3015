# Sourced by t-inject.sh and t-sendmail.sh after lib.sh and t_home: a fake queue program
# that saves what an injector hands it, and helpers that compare it with what is expected.
H=$TERN_HOME
echo example.test >"$H/control/me"

# The fake queue: message (fd 0) to got.msg, envelope (fd 1) to got.env, the caller's
# memory high-water mark to got.hwm, exit with the number in $H/qexit (default 0).
cat >"$H/fakeq" <<'EOF'
#!/bin/sh
cat >"$TERN_HOME/got.msg" || exit 54
cat <&1 >"$TERN_HOME/got.env" || exit 54
cat "/proc/$PPID/status" >"$TERN_HOME/got.hwm" 2>/dev/null
exit "$(cat "$TERN_HOME/qexit" 2>/dev/null || echo 0)"
EOF
chmod +x "$H/fakeq"
# Replaces the added (Resent-)Date: and Message-ID: values, after checking their form,
# by DATE and MSGID.
cat >"$H/norm.py" <<'EOF'
import re, sys
m = sys.stdin.buffer.read()
end = m.find(b"\n\n")
head, rest = (m, b"") if end < 0 else (m[:end + 1], m[end + 1:])
head = re.sub(rb"(?m)^((?:Resent-)?Date): [A-Z][a-z][a-z], [0-9]{1,2} [A-Z][a-z][a-z] [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}$", rb"\1: DATE", head)
head = re.sub(rb"(?m)^((?:Resent-)?Message-ID): <[0-9]+\.[0-9]+\.[0-9a-f]{16}@example\.test>$", rb"\1: MSGID", head)
sys.stdout.buffer.write(head + rest)
EOF
export TERN_QUEUE="$H/fakeq" TZ=UTC USER=joe NAME='Joe User'
unset MAILUSER LOGNAME MAILNAME

reset() { rm -f "$H/got.msg" "$H/got.env" "$H/got.hwm" "$H/qexit" "$H/err"; }
# msg_is "what" 'printf format': the saved message, normalised, equals the format's bytes.
msg_is() {
	printf "$2" >"$H/want"
	python3 "$H/norm.py" <"$H/got.msg" >"$H/got.norm" 2>/dev/null
	if cmp -s "$H/got.norm" "$H/want"; then ok "$1"; else
		fail "$1"; diff "$H/want" "$H/got.norm" | sed 's/^/# /' | head -n 20
	fi
}
# env_is "what" 'printf format': the saved envelope is exactly these bytes.
env_is() {
	printf "$2" >"$H/want.env"
	if cmp -s "$H/got.env" "$H/want.env"; then ok "$1"; else
		fail "$1 (got $(od -c "$H/got.env" | head -n 3 | tr '\n' ' '))"
	fi
}
DM='Date: DATE\nMessage-ID: MSGID\n'
FROM='From: Joe User <joe@example.test>\n'
