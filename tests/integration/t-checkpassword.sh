#!/bin/sh
# tern-users passwd and tern-checkpassword end to end: passwords from a pipe and from a
# terminal, what is stored (a crypt hash, never the password), the checkpassword
# interface on fd 3 (exit 0 / 1 / 2 / 111), the program run after a good login (USER,
# HOME, TERN_USER, its directory, as its owner when root), control/authfaildelay, and
# the log lines (never a password).
. "$(dirname "$0")/lib.sh"
t_home
H=$TERN_HOME
U="$T_BIN/tern-users"
CP="$T_BIN/tern-checkpassword"
SRC=$H/users/users
CDB=$H/users/users.cdb
DEMO=$H/mail/example.test/demo
OUT=$H/out
ERR=$H/err
LOG=$H/log/checkpassword.log
: >"$LOG"

# passwd ADDRESS PASSWORD: sets it through a pipe; exit code in $rc.
passwd() { printf '%s\n' "$2" | "$U" passwd "$1" >"$OUT" 2>"$ERR"; rc=$?; }
# auth LOGIN PASSWORD [PROG...]: login\0password\0timestamp\0 on fd 3; exit code in $rc,
# stdout in $OUT, stderr in $ERR and appended to $LOG.
auth() {
	_l=$1; _p=$2; shift 2
	printf '%s\0%s\0<1234.5678@test>\0' "$_l" "$_p" | "$CP" "$@" 3<&0 </dev/null >"$OUT" 2>"$ERR"
	rc=$?
	cat "$ERR" >>"$LOG"
}
# raw PRINTF-FORMAT: those bytes on fd 3, no program.
raw() { printf "$1" | "$CP" 3<&0 </dev/null >"$OUT" 2>"$ERR"; rc=$?; cat "$ERR" >>"$LOG"; }
hash() { grep "^U:$1:" "$SRC" | cut -d: -f3; }
fatal() { grep -q '^tern-checkpassword: fatal: ' "$ERR"; }
echo 0 >"$H/control/authfaildelay"

# ---- setting a password ----
PW='Corr3ct-h0rse-battery'
passwd demo@example.test "$PW"
is "passwd from a pipe exits 0" "$rc" 0
h=$(hash demo@example.test)
case $h in '$y$'*|'$6$'*) ok "the stored hash is yescrypt or SHA-512-crypt";; *) fail "the stored hash is yescrypt or SHA-512-crypt (got '$h')";; esac
is "  ... and prints nothing" "$(cat "$OUT" "$ERR")" ""
is "show says a password is set" "$("$U" show demo@example.test)" "demo@example.test: user, directory $DEMO, password set"
check "no temporary files left in users/" test "$(ls -A "$H/users" | sort | tr '\n' ' ')" = "lock users users.cdb "
ino1=$(stat -c %i "$CDB")

# ---- checking it ----
auth demo@example.test "$PW"
is "right password: exit 0" "$rc" 0
auth DEMO@Example.TEST "$PW"
is "the login is compared without case" "$rc" 0
auth demo@example.test "${PW}x"
is "wrong password: exit 1" "$rc" 1
auth demo@example.test "corr3ct-h0rse-battery"
is "a password differing in case: exit 1" "$rc" 1
auth demo@example.test ""
is "empty password: exit 1" "$rc" 1
auth nobody@example.test "$PW"
is "unknown user: exit 1" "$rc" 1
auth demo "$PW"
is "a login without a domain: exit 1" "$rc" 1
auth root@localhost "$PW"
is "an alias is no login: exit 1" "$rc" 1
auth "" ""
is "empty login and password: exit 1" "$rc" 1
printf 'demo@example.test\0%s\0' "$PW" | "$CP" 3<&0 </dev/null 2>>"$LOG"
is "no timestamp: exit 0" "$?" 0

# ---- the program after a good login ----
PROG='printf "%s|%s|%s|%s|%s\n" "$USER" "$HOME" "$TERN_USER" "$(pwd -P)" "$(id -u)"'
if [ "$(id -u)" -eq 0 ]; then
	# As root the program runs as the owner of the user's directory, which must be
	# reachable for it; a directory owned by root is refused, unless the home says
	# control/rootmailboxes=1 (tern-run writes it when root starts the instance).
	rm -f "$H/control/rootmailboxes"
	auth demo@example.test "$PW" sh -c "$PROG"
	is "as root: a directory owned by root is refused (111)" "$rc" 111
	check "  ... saying so" grep -q 'owned by root' "$ERR"
	is "  ... and the program did not run" "$(cat "$OUT")" ""
	echo 1 >"$H/control/rootmailboxes"
	auth demo@example.test "$PW" sh -c "$PROG"
	is "as root with control/rootmailboxes=1: served as root" "$(cut -d'|' -f5 "$OUT")" 0
	echo 2 >"$H/control/rootmailboxes"
	auth demo@example.test "$PW" sh -c "$PROG"
	is "as root with control/rootmailboxes=2: refused (only 1 counts)" "$rc" 111
	rm -f "$H/control/rootmailboxes"
	chmod 0755 "$H" "$H/mail" "$H/mail/example.test"
	chown -R 65534:65534 "$DEMO"
	want_uid=65534
else
	want_uid=$(id -u)
fi
auth Demo@example.test "$PW" sh -c "$PROG"
is "good login runs PROG: exit 0" "$rc" 0
is "  ... with USER, HOME, TERN_USER, in HOME, as the directory's owner" "$(cat "$OUT")" \
	"demo@example.test|$DEMO|demo@example.test|$DEMO|$want_uid"
auth demo@example.test "$PW" sh -c 'exit 7'
is "  ... PROG's exit code is the result" "$rc" 7
auth demo@example.test "$PW" sh -c 'echo "$1 $2"' sh one two
is "  ... PROG gets its arguments" "$(cat "$OUT")" "one two"
auth demo@example.test "${PW}x" sh -c 'echo ran'
is "bad login: PROG not run, exit 1" "$rc:$(cat "$OUT")" "1:"
auth demo@example.test "$PW" /nonexistent/prog
is "PROG that cannot run: 111" "$rc" 111
check "  ... with a fatal line" fatal

# ---- malformed input on fd 3: exit 2 ----
raw 'no NUL bytes at all'
is "no NULs: exit 2" "$rc" 2
check "  ... with a fatal line" fatal
raw 'demo@example.test\000password without its NUL'
is "one NUL: exit 2" "$rc" 2
raw ''
is "empty input: exit 2" "$rc" 2
head -c 4097 /dev/zero | "$CP" 3<&0 </dev/null >"$OUT" 2>"$ERR"
is "4097 bytes: exit 2" "$?" 2
check "  ... saying too long" grep -q 'more than 4096 bytes' "$ERR"
{ printf 'demo@example.test\0%s\0' "$PW"; head -c 3000 /dev/zero; } | "$CP" 3<&0 </dev/null >"$OUT" 2>"$ERR"
is "4096 bytes or fewer with junk after the fields: exit 0" "$?" 0
"$CP" 3<&- </dev/null >"$OUT" 2>"$ERR"
is "fd 3 not open: exit 2" "$?" 2

# ---- temporary trouble: 111 ----
mv "$CDB" "$H/cdb.saved"
mkdir "$CDB"
auth demo@example.test "$PW"
is "unreadable users.cdb: exit 111" "$rc" 111
check "  ... with a fatal line" fatal
rmdir "$CDB"
mv "$H/cdb.saved" "$CDB"
echo soon >"$H/control/authfaildelay"
auth demo@example.test "$PW"
is "a bad control/authfaildelay: exit 111" "$rc" 111
echo 0 >"$H/control/authfaildelay"

# ---- authfaildelay ----
rm "$H/control/authfaildelay"
start=$(date +%s.%N)
auth demo@example.test wrong
end=$(date +%s.%N)
is "default delay: exit 1" "$rc" 1
check "  ... after at least 2 s" python3 -c "import sys; sys.exit(not $end - $start >= 2)"
start=$(date +%s.%N)
auth demo@example.test "$PW"
end=$(date +%s.%N)
check "  ... a good login is not delayed" python3 -c "import sys; sys.exit(not $end - $start < 1.5)"
echo 0 >"$H/control/authfaildelay"
start=$(date +%s.%N)
auth nobody@example.test wrong
end=$(date +%s.%N)
is "authfaildelay 0: exit 1" "$rc" 1
check "  ... at once" python3 -c "import sys; sys.exit(not $end - $start < 1)"

# ---- passwords with spaces and UTF-8; a new password is seen at once ----
PW2='pass with  spaces, äöü, 日本語 and "quotes"'
passwd demo@example.test "$PW2"
is "passwd with spaces and UTF-8" "$rc" 0
ino2=$(stat -c %i "$CDB")
check "  ... the cdb was replaced (a new file renamed over it)" test "$ino1" != "$ino2"
auth demo@example.test "$PW2"
is "  ... the new password works without a build" "$rc" 0
auth demo@example.test "$PW"
is "  ... the old one no longer does" "$rc" 1
auth demo@example.test 'pass with spaces, äöü, 日本語 and "quotes"'
is "  ... one space less is wrong" "$rc" 1
printf 'line one\nline two\n' | "$U" passwd demo@example.test 2>"$ERR"
is "only the first line of the input is the password" "$?" 0
auth demo@example.test 'line one'
is "  ... it works" "$rc" 0
printf 'no newline' | "$U" passwd demo@example.test 2>"$ERR"
is "input without a final newline" "$?" 0
auth demo@example.test 'no newline'
is "  ... is the password" "$rc" 0
long=$(head -c 511 /dev/zero | tr '\0' 'p')
passwd demo@example.test "$long"
is "a 511-byte password" "$rc" 0
auth demo@example.test "$(printf '%.400s' "$long")"
is "  ... a 400-byte prefix is wrong" "$rc" 1
printf 'demo@example.test\0%s\0' "$long" | "$CP" 3<&0 </dev/null 2>/dev/null
is "  ... and it fits on fd 3 with its login (over qmail's 512 bytes): exit 0" "$?" 0
printf 'demo@example.test\0%s\0' "$(head -c 600 /dev/zero | tr '\0' 'p')" | "$CP" 3<&0 </dev/null 2>/dev/null
is "  ... a 600-byte password is a bad login (1), not misuse" "$?" 1

# ---- passwords refused (65), nothing changed ----
cp "$SRC" "$H/src.before"
cp "$CDB" "$H/cdb.before"
rp() { _d=$1; shift; "$@" >"$OUT" 2>"$ERR"; _rc=$?
	if [ "$_rc" -eq 65 ] && grep -q '^tern-users: fatal: ' "$ERR"; then ok "$_d"; else fail "$_d (exit $_rc: $(cat "$ERR"))"; fi; }
rp "empty password refused (65)" sh -c "printf '\n' | '$U' passwd demo@example.test"
rp "empty input refused (65)" sh -c "'$U' passwd demo@example.test </dev/null"
rp "a CR in the password refused (65)" sh -c "printf 'ab\r\n' | '$U' passwd demo@example.test"
rp "a NUL in the password refused (65)" sh -c "printf 'a\000b\n' | '$U' passwd demo@example.test"
rp "a 512-byte password refused (65)" sh -c "printf '%sp\n' '$long' | '$U' passwd demo@example.test"
check "  ... saying too long" grep -q 'longer than 511 bytes' "$ERR"
rp "passwd for an unknown user (65)" sh -c "echo x | '$U' passwd nobody@example.test"
rp "passwd for an alias (65)" sh -c "echo x | '$U' passwd root@localhost"
rp "passwd with a bad address (65)" sh -c "echo x | '$U' passwd 'a b@example.test'"
check "refused passwords changed no source" cmp -s "$H/src.before" "$SRC"
check "  ... and no cdb" cmp -s "$H/cdb.before" "$CDB"
"$U" passwd >/dev/null 2>&1
is "passwd without an address (64)" "$?" 64
"$U" passwd -x demo@example.test >/dev/null 2>&1
is "passwd with an unknown option (64)" "$?" 64

# ---- from a terminal: asked twice, echo off ----
cat >"$H/ttypw.py" <<'PY'
import os, pty, sys
answers = sys.argv[1].encode().split(b"|")
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
out = b""
for a in answers:
    buf = b""
    while not buf.rstrip().endswith(b":"):
        try: d = os.read(fd, 1024)
        except OSError: d = b""
        if not d: break
        buf += d
    out += buf
    os.write(fd, a + b"\n")
while True:
    try: d = os.read(fd, 1024)
    except OSError: break
    if not d: break
    out += d
_, st = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(st))
PY
python3 "$H/ttypw.py" 'tty secret 1|tty secret 1' "$U" passwd demo@example.test >"$OUT" 2>&1
is "passwd on a terminal, typed twice alike" "$?" 0
check "  ... asked twice" sh -c "grep -q 'New password:' '$OUT' && grep -q 'Retype new password:' '$OUT'"
check "  ... nothing echoed" sh -c "! grep -q 'tty secret' '$OUT'"
auth demo@example.test 'tty secret 1'
is "  ... the password works" "$rc" 0
python3 "$H/ttypw.py" 'tty secret 2|tty secret 3' "$U" passwd demo@example.test >"$OUT" 2>&1
is "two different answers refused (65)" "$?" 65
check "  ... saying so" grep -q 'do not match' "$OUT"
auth demo@example.test 'tty secret 1'
is "  ... the password is unchanged" "$rc" 0

# ---- no password: no login ----
"$U" passwd -d demo@example.test >"$OUT" 2>"$ERR"
is "passwd -d" "$?" 0
is "  ... the hash field is empty" "$(hash demo@example.test)" ""
is "  ... show says so" "$("$U" show demo@example.test)" "demo@example.test: user, directory $DEMO, no password"
auth demo@example.test 'tty secret 1'
is "  ... the old password fails (1)" "$rc" 1
auth demo@example.test ''
is "  ... an empty one too (1)" "$rc" 1
"$U" passwd -d nobody@example.test >"$OUT" 2>"$ERR"
is "passwd -d for an unknown user (65)" "$?" 65

# ---- the log ----
TCPREMOTEIP=192.0.2.7; export TCPREMOTEIP
passwd demo@example.test "$PW"
auth demo@example.test "$PW"
is "auth-ok line" "$(cat "$ERR")" "prog=tern-checkpassword event=auth-ok user=demo@example.test remote=192.0.2.7"
auth Demo@example.test "x$PW"
is "auth-fail line" "$(cat "$ERR")" "prog=tern-checkpassword event=auth-fail user=Demo@example.test remote=192.0.2.7"
unset TCPREMOTEIP
auth "$(printf 'evil\nprog=forged event=auth-ok')" "$PW"
is "a login with a newline: one line, escaped" "$(wc -l <"$ERR"):$(grep -c 'user="evil\\x0aprog=forged event=auth-ok"' "$ERR")" "1:1"
auth "$(head -c 400 /dev/zero | tr '\0' 'L')" "$PW"
check "a long login is truncated in the log" test "$(wc -c <"$ERR")" -lt 200
n=0
for p in "$PW" "$PW2" 'tty secret 1' 'line one' 'no newline' "$long"; do
	grep -rqaF --exclude=ttypw.py -- "$p" "$H" && n=$((n + 1))
done
is "no password in clear anywhere under TERN_HOME, logs included" "$n" 0
check "one line per attempt, each auth-ok or auth-fail or fatal" \
	sh -c "! grep -avE '^prog=tern-checkpassword event=auth-(ok|fail) user=|^tern-checkpassword: fatal: ' '$LOG'"

t_done
