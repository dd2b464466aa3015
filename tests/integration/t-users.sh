#!/bin/sh
# tern-users end to end: domains, users and their Maildirs, aliases and catch-alls, list
# and show, build from a hand-edited source, bad lines and bad arguments (exit 64/65),
# atomic replacement, the lock (parallel runs, a busy lock: exit 75), and delivery by a
# running tern-send to users, aliases and domains added after it started.
. "$(dirname "$0")/lib.sh"
t_home
H=$TERN_HOME
U="$T_BIN/tern-users"
SRC=$H/users/users
CDB=$H/users/users.cdb
QI="python3 $T_TOP/tests/integration/qinject.py"
OUT=$H/out
ERR=$H/err

# run CMD...: runs it with stdout in $OUT, stderr in $ERR, exit code in $rc.
run() { "$@" >"$OUT" 2>"$ERR"; rc=$?; }
# exits "what" CODE CMD...: the command exits with CODE and says why in one fatal line.
exits() {
	_d=$1; _c=$2; shift 2
	run "$@"
	if [ "$rc" -ne "$_c" ]; then fail "$_d (exit $rc, expected $_c: $(head -c 300 "$ERR"))"; return; fi
	if [ "$_c" -ne 0 ] && ! grep -q '^tern-users: fatal: ' "$ERR"; then fail "$_d (no fatal line)"; return; fi
	ok "$_d"
}
isdir() { [ -d "$1" ]; }
maildir() { [ -d "$1/Maildir/new" ] && [ -d "$1/Maildir/cur" ] && [ -d "$1/Maildir/tmp" ]; }
mode() { stat -c %a "$1"; }
# Nothing but the lock, the source and the cdb in users/: no temporary file left over.
clean_users() { [ "$(ls -A "$H/users" | sort | tr '\n' ' ')" = "lock users users.cdb " ]; }
show() { "$U" show "$1" 2>&1; }
# forget PID: a background process of ours that has been waited for.
forget() { T_PIDS=$(for p in $T_PIDS; do [ "$p" = "$1" ] || printf '%s ' "$p"; done); }

# ---- domains ----
exits "add-domain" 0 "$U" add-domain Dom.TEST
check "source has the lowercased domain" grep -qx 'D:dom.test' "$SRC"
is "show: a domain without users" "$(show x@dom.test)" "x@dom.test: none (local domain)"
exits "add-domain twice refused (65)" 65 "$U" add-domain dom.TEST
check "  ... saying it exists" grep -q 'domain already exists: dom.test' "$ERR"
is "show: not a local domain" "$(show x@elsewhere.test)" "x@elsewhere.test: none (not a local domain)"

# ---- users ----
exits "add user" 0 "$U" add alice@dom.test
check "user directory and Maildir new/cur/tmp made" maildir "$H/mail/dom.test/alice"
is "Maildir mode 0700" "$(mode "$H/mail/dom.test/alice/Maildir")" 700
check "source line U:alice@dom.test::" grep -qx 'U:alice@dom.test::' "$SRC"
is "show user" "$(show alice@dom.test)" "alice@dom.test: user, directory $H/mail/dom.test/alice, no password"
exits "add user, mixed case" 0 "$U" add Bob@DOM.Test
check "  ... lowercased in the source" grep -qx 'U:bob@dom.test::' "$SRC"
check "  ... and on disk" maildir "$H/mail/dom.test/bob"
is "show is case-insensitive" "$(show BOB@dom.test)" "bob@dom.test: user, directory $H/mail/dom.test/bob, no password"
exits "add existing user refused (65)" 65 "$U" add ALICE@dom.test
check "  ... saying it exists" grep -q 'user already exists: alice@dom.test' "$ERR"
exits "add in an unknown domain refused (65)" 65 "$U" add x@unknown.test
check "  ... saying so" grep -q 'unknown domain: unknown.test' "$ERR"
check "  ... no directory made" test ! -e "$H/mail/unknown.test"
exits "add in a control/locals domain" 0 "$U" add sys@localhost
check "  ... Maildir made" maildir "$H/mail/localhost/sys"

# ---- passwords (t-checkpassword.sh goes further) ----
exits "passwd from a pipe" 0 sh -c "echo 'pw of alice' | '$U' passwd ALICE@dom.test"
check "  ... the source holds a crypt hash" grep -q '^U:alice@dom.test:\$[y6]\$[^:]*:$' "$SRC"
check "  ... not the password" sh -c "! grep -rqaF 'pw of alice' '$H/users'"
is "  ... show says so" "$(show alice@dom.test)" "alice@dom.test: user, directory $H/mail/dom.test/alice, password set"
exits "passwd for a user of a control/locals domain" 0 sh -c "echo pw | '$U' passwd sys@localhost"
check "  ... its directory field stays empty (the default)" grep -q '^U:sys@localhost:\$[y6]\$[^:]*:$' "$SRC"
exits "passwd -d" 0 "$U" passwd -d alice@dom.test
check "  ... empties the hash" grep -qx 'U:alice@dom.test::' "$SRC"
is "  ... show says no password" "$(show alice@dom.test)" "alice@dom.test: user, directory $H/mail/dom.test/alice, no password"
exits "passwd -d again is no error" 0 "$U" passwd -d alice@dom.test
exits "passwd -d sys@localhost" 0 "$U" passwd -d sys@localhost
exits "passwd for an unknown user refused (65)" 65 sh -c "echo pw | '$U' passwd nobody@dom.test"
exits "empty password refused (65)" 65 sh -c "echo | '$U' passwd alice@dom.test"
exits "passwd -d with two addresses (64)" 64 "$U" passwd -d alice@dom.test bob@dom.test

# An explicit directory; its parent must exist.
mkdir "$H/custom"
exits "add user with a directory" 0 "$U" add carol@dom.test "$H/custom/carol"
check "  ... Maildir in that directory" maildir "$H/custom/carol"
check "  ... not in the default place" test ! -e "$H/mail/dom.test/carol"
check "  ... source keeps the directory" grep -qx "U:carol@dom.test::$H/custom/carol" "$SRC"
exits "  ... passwd for it" 0 sh -c "echo pw | '$U' passwd carol@dom.test"
check "  ... keeps the directory" grep -q "^U:carol@dom.test:\\\$[y6]\\\$[^:]*:$H/custom/carol\$" "$SRC"
exits "  ... passwd -d too" 0 "$U" passwd -d carol@dom.test
check "  ... which keeps it too" grep -qx "U:carol@dom.test::$H/custom/carol" "$SRC"
is "  ... show gives it" "$(show carol@dom.test)" "carol@dom.test: user, directory $H/custom/carol, no password"
exits "relative directory refused (65)" 65 "$U" add dave@dom.test custom/dave
exits "directory with .. refused (65)" 65 "$U" add dave@dom.test "$H/custom/../dave"
exits "directory with a space refused (65)" 65 "$U" add dave@dom.test "$H/cus tom"
exits "empty directory refused (65)" 65 "$U" add dave@dom.test ""
check "  ... dave is in no record" sh -c "! grep -q dave '$SRC'"

# ---- aliases ----
exits "alias" 0 "$U" alias Info@dom.test alice@dom.test BOB@dom.test
check "source line with lowercased targets" grep -qx 'A:info@dom.test:alice@dom.test,bob@dom.test' "$SRC"
is "show alias" "$(show info@dom.test)" "info@dom.test: alias: alice@dom.test, bob@dom.test"
exits "alias again replaces the targets" 0 "$U" alias info@dom.test carol@dom.test
is "  ... one record, new targets" "$(grep -c '^A:info@dom.test:' "$SRC"):$(show info@dom.test)" "1:info@dom.test: alias: carol@dom.test"
exits "alias over a user refused (65)" 65 "$U" alias alice@dom.test x@y.test
exits "user over an alias refused (65)" 65 "$U" add info@dom.test
check "  ... no Maildir made for it" test ! -e "$H/mail/dom.test/info"
exits "alias to itself refused (65)" 65 "$U" alias self@dom.test SELF@dom.test
exits "alias with a bad target refused (65)" 65 "$U" alias x@dom.test 'a b@c.test'
exits "alias with a duplicate target refused (65)" 65 "$U" alias x@dom.test a@c.test A@C.test
exits "alias in an unknown domain refused (65)" 65 "$U" alias x@unknown.test a@c.test
exits "catch-all alias" 0 "$U" alias @dom.test alice@dom.test
check "  ... source line A:@dom.test:alice@dom.test" grep -qx 'A:@dom.test:alice@dom.test' "$SRC"
is "show: unknown address goes to the catch-all" "$(show nobody@dom.test)" "nobody@dom.test: catch-all @dom.test: alice@dom.test"
is "show the catch-all itself" "$(show @dom.test)" "@dom.test: catch-all: alice@dom.test"
is "show: a user wins over the catch-all" "$(show bob@dom.test)" "bob@dom.test: user, directory $H/mail/dom.test/bob, no password"
exits "del of an alias refused (65)" 65 "$U" del info@dom.test
check "  ... pointing at unalias" grep -q 'use unalias' "$ERR"
exits "unalias" 0 "$U" unalias INFO@dom.test
is "  ... info falls to the catch-all" "$(show info@dom.test)" "info@dom.test: catch-all @dom.test: alice@dom.test"
exits "unalias twice refused (65)" 65 "$U" unalias info@dom.test
check "  ... no such alias" grep -q 'no such alias: info@dom.test' "$ERR"

# ---- list ----
run "$U" list
is "list exits 0" "$rc" 0
cat >"$H/want" <<EOF
domain dom.test
domain example.test
user alice@dom.test $H/mail/dom.test/alice
user bob@dom.test $H/mail/dom.test/bob
user carol@dom.test $H/custom/carol
user demo@example.test $H/mail/example.test/demo
user sys@localhost $H/mail/localhost/sys
alias @dom.test alice@dom.test
alias postmaster@localhost demo@example.test
alias root@localhost demo@example.test
EOF
check "list output: domains, users, aliases, sorted" cmp -s "$H/want" "$OUT"
is "list writes nothing on stderr" "$(cat "$ERR")" ""

# ---- del ----
exits "del user" 0 "$U" del Bob@dom.test
is "  ... says where the mail is left" "$(cat "$OUT")" "deleted user bob@dom.test; mail left in $H/mail/dom.test/bob"
check "  ... Maildir kept" maildir "$H/mail/dom.test/bob"
check "  ... record gone" sh -c "! grep -q '^U:bob@' '$SRC'"
is "  ... bob now reaches the catch-all" "$(show bob@dom.test)" "bob@dom.test: catch-all @dom.test: alice@dom.test"
exits "del twice refused (65)" 65 "$U" del bob@dom.test
check "  ... no such user" grep -q 'no such user: bob@dom.test' "$ERR"
exits "del-domain with users refused (65)" 65 "$U" del-domain dom.test
check "  ... counting them" grep -q 'still has 2 users and 1 aliases' "$ERR"
check "  ... domain kept" grep -qx 'D:dom.test' "$SRC"
exits "del-domain of an unknown domain refused (65)" 65 "$U" del-domain none.test
exits "del-domain -f" 0 "$U" del-domain -f DOM.test
is "  ... reports what it removed" "$(cat "$OUT")" "deleted domain dom.test with 2 users and 1 aliases; their mail is left on disk"
check "  ... no record of the domain left" sh -c "! grep -q 'dom.test' '$SRC'"
check "  ... mail left on disk" maildir "$H/mail/dom.test/alice"
is "  ... the domain is no longer local" "$(show alice@dom.test)" "alice@dom.test: none (not a local domain)"
exits "add-domain gone.test" 0 "$U" add-domain gone.test
exits "-f before the command works too" 0 "$U" -f del-domain gone.test
exits "-f with another command refused (64)" 64 "$U" -f add x@example.test

# ---- usage and bad arguments ----
exits "no arguments (64)" 64 "$U"
check "  ... usage line" grep -q '^tern-users: fatal: usage: tern-users ' "$ERR"
exits "unknown command (64)" 64 "$U" frobnicate
exits "add without an address (64)" 64 "$U" add
exits "add with too many arguments (64)" 64 "$U" add a@example.test /x /y
exits "alias without a target (64)" 64 "$U" alias a@example.test
exits "list with an argument (64)" 64 "$U" list x
exits "unknown option (64)" 64 "$U" -x list
l63=$(printf '%063d' 0)
exits "add-domain with a 255-byte name" 0 "$U" add-domain "$l63.$l63.$l63.$l63"
exits "511-byte address accepted" 0 "$U" alias "$(printf '%0255d' 0)@$l63.$l63.$l63.$l63" demo@example.test
exits "  ... and removed" 0 "$U" del-domain -f "$l63.$l63.$l63.$l63"
cp "$SRC" "$H/src.before"
cp "$CDB" "$H/cdb.before"
exits "address with ../ refused (65)" 65 "$U" add ../x@example.test
exits "address with a slash refused (65)" 65 "$U" add a/b@example.test
exits "dot-leading local part refused (65)" 65 "$U" add .x@example.test
exits "domain .. refused (65)" 65 "$U" add x@..
exits "domain with a slash refused (65)" 65 "$U" add x@../etc
exits "add-domain ../etc refused (65)" 65 "$U" add-domain ../etc
exits "add-domain a/b refused (65)" 65 "$U" add-domain a/b
exits "add-domain with a colon refused (65)" 65 "$U" add-domain a:b.test
exits "control byte in the local part refused (65)" 65 "$U" add "$(printf 'a\001b@example.test')"
exits "newline in the local part refused (65)" 65 "$U" add "$(printf 'a\nD:evil.test@example.test')"
exits "tab in the domain refused (65)" 65 "$U" add-domain "$(printf 'a\tb.test')"
exits "DEL in the domain refused (65)" 65 "$U" add-domain "$(printf 'a\177b.test')"
exits "colon in the address refused (65)" 65 "$U" add 'a:b@example.test'
exits "comma in the address refused (65)" 65 "$U" add 'a,b@example.test'
exits "no @domain refused (65)" 65 "$U" add demo2
exits "empty address refused (65)" 65 "$U" add ""
exits "catch-all as a user refused (65)" 65 "$U" add @example.test
long=$(printf '%0256d' 0)
exits "256-byte local part refused (65)" 65 "$U" add "$long@example.test"
check "  ... saying too long" grep -q 'local part too long' "$ERR"
exits "512-byte address refused (65)" 65 "$U" alias "$(printf '%0256d' 0)@$l63.$l63.$l63.$l63" demo@example.test
check "  ... saying too long" grep -q 'address too long' "$ERR"
exits "64-byte label refused (65)" 65 "$U" add-domain "$(printf '%064d' 0).test"
check "bad arguments changed no source" cmp -s "$H/src.before" "$SRC"
check "bad arguments changed no cdb" cmp -s "$H/cdb.before" "$CDB"
check "bad arguments made no directory outside mail/" sh -c "[ ! -e '$H/etc' ] && [ ! -e '$H/x' ] && [ \"\$(ls '$H/mail')\" = \"\$(printf 'dom.test\nexample.test\nlocalhost')\" ]"
check "no temporary files left in users/" clean_users

# ---- build from a hand-edited source ----
printf 'D:hand.test\nU:Hand@hand.test::\nA:info@hand.test:hand@hand.test\n' >>"$SRC"
exits "build after a hand edit" 0 "$U" build
is "  ... new user seen" "$(show hand@hand.test)" "hand@hand.test: user, directory $H/mail/hand.test/hand, no password"
is "  ... new alias seen" "$(show info@hand.test)" "info@hand.test: alias: hand@hand.test"
check "  ... build leaves the source alone (case kept)" grep -qx 'U:Hand@hand.test::' "$SRC"
chmod 0644 "$CDB"
exits "build again" 0 "$U" build
is "  ... keeps the cdb's mode" "$(mode "$CDB")" 644

cp "$CDB" "$H/cdb.good"
n=$(($(wc -l <"$SRC") + 1))
printf 'U:bad user@hand.test::\n' >>"$SRC"
exits "build with a bad line refused (65)" 65 "$U" build
is "  ... one stderr line names the line" "$(grep -c "^tern-users: warning: $SRC:$n: forbidden character in local part\$" "$ERR")" 1
is "  ... and no other line does" "$(grep -c ":$n:" "$ERR")" 1
check "  ... last line: cdb not changed" sh -c "tail -n 1 '$ERR' | grep -q 'has 1 bad lines; users.cdb not changed'"
check "  ... old cdb intact" cmp -s "$H/cdb.good" "$CDB"
is "  ... lookups still answer from it" "$(show hand@hand.test)" "hand@hand.test: user, directory $H/mail/hand.test/hand, no password"
check "  ... no temporary files left" clean_users
exits "add refused while the source has a bad line (65)" 65 "$U" add new@hand.test
check "  ... naming the line" grep -q "$SRC:$n: " "$ERR"
check "  ... no directory made" test ! -e "$H/mail/hand.test/new"
run "$U" list
is "list with a bad line exits 65" "$rc" 65
check "  ... but lists the good records" grep -qx "user hand@hand.test $H/mail/hand.test/hand" "$OUT"
check "  ... and names the bad line" grep -q "$SRC:$n: " "$ERR"
printf 'U:hand@HAND.test::\n' >>"$SRC"
exits "duplicate user in the source refused (65)" 65 "$U" build
check "  ... naming both lines" grep -q "$SRC:$((n + 1)): duplicate address (see line $((n - 2)))" "$ERR"
sed -i "$n,\$d" "$SRC"
exits "build once fixed" 0 "$U" build
check "no temporary files left after builds" clean_users

# A missing cdb is an empty database; build makes it again.
rm "$CDB"
exits "show without a cdb" 0 "$U" show demo@example.test
is "  ... nobody is a user" "$(cat "$OUT")" "demo@example.test: none (local domain)"
exits "build remakes the cdb" 0 "$U" build
is "  ... demo is back" "$(show demo@example.test)" "demo@example.test: user, directory $H/mail/example.test/demo, no password"

# ---- the lock ----
python3 - "$H/users/lock" "$H/locked" <<'PY' &
import fcntl, os, sys, time
f = open(sys.argv[1], "r+")
fcntl.flock(f, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(30)
PY
LOCKER=$!
T_PIDS="$T_PIDS $LOCKER"
check "another process holds users/lock" t_wait 10 test -e "$H/locked"
cp "$SRC" "$H/src.before"
start=$(date +%s)
exits "busy lock: exit 75 after TERN_USERS_LOCKWAIT" 75 env TERN_USERS_LOCKWAIT=1 "$U" add-domain busy.test
check "  ... saying busy" grep -q 'users database busy' "$ERR"
check "  ... after about a second" test $(($(date +%s) - start)) -le 5
exits "TERN_USERS_LOCKWAIT=0 fails at once (75)" 75 env TERN_USERS_LOCKWAIT=0 "$U" add-domain busy.test
exits "bad TERN_USERS_LOCKWAIT (64)" 64 env TERN_USERS_LOCKWAIT=soon "$U" add-domain busy.test
check "  ... nothing changed under the lock" cmp -s "$H/src.before" "$SRC"
# A waiting tern-users goes on when the lock is released.
TERN_USERS_LOCKWAIT=20 "$U" add-domain waited.test 2>"$H/waited.err" &
WAITER=$!
sleep 0.3
kill "$LOCKER"
wait "$LOCKER" 2>/dev/null
forget "$LOCKER"
wait "$WAITER"
is "a waiting tern-users proceeds when the lock is freed" "$?" 0
check "  ... and its change is in" grep -qx 'D:waited.test' "$SRC"

# 20 at once: every change is kept (each one reads, edits and writes under the lock).
exits "add-domain conc.test" 0 "$U" add-domain conc.test
pids=""
i=1
while [ $i -le 20 ]; do
	TERN_USERS_LOCKWAIT=120 "$U" add "u$i@conc.test" 2>"$H/conc.$i.err" &
	pids="$pids $!"
	i=$((i + 1))
done
bad=0
for p in $pids; do wait "$p" || bad=$((bad + 1)); done
is "20 parallel adds all exit 0" "$bad" 0
is "  ... all 20 in the source" "$(grep -c '^U:u[0-9]*@conc.test::$' "$SRC")" 20
run "$U" list
is "  ... all 20 listed" "$(grep -c '^user u[0-9]*@conc.test ' "$OUT")" 20
missing=0
i=1
while [ $i -le 20 ]; do
	maildir "$H/mail/conc.test/u$i" || missing=$((missing + 1))
	show "u$i@conc.test" | grep -q ': user, directory ' || missing=$((missing + 1))
	i=$((i + 1))
done
is "  ... all 20 with a Maildir and in the cdb" "$missing" 0
check "  ... no temporary files left" clean_users

# Readers never see a half-written cdb while writers replace it.
( i=0; while [ $i -lt 10 ]; do "$U" add "r$i@conc.test" 2>/dev/null; "$U" del "r$i@conc.test" >/dev/null 2>&1; i=$((i + 1)); done ) &
WRITER=$!
T_PIDS="$T_PIDS $WRITER"
torn=0
i=0
while [ $i -lt 60 ]; do
	s=$(show demo@example.test)
	[ "$s" = "demo@example.test: user, directory $H/mail/example.test/demo, no password" ] || torn=$((torn + 1))
	i=$((i + 1))
done
wait "$WRITER"
forget "$WRITER"
is "60 lookups during 20 rebuilds all answer" "$torn" 0

# ---- delivery sees changes without a restart ----
t_start_send || fail "tern-send started"
log=$TERN_HOME/log/send.log
exits "add-domain live.test" 0 "$U" add-domain live.test
exits "add first@live.test" 0 "$U" add first@live.test
printf 'Subject: one\n\nfirst\n' | $QI s@example.test first@live.test
check "a user added before the first message gets it" t_wait_count 10 "$H/mail/live.test/first/Maildir" 1
# tern-send has now opened the cdb: the next changes come after.
exits "add second@live.test while tern-send runs" 0 "$U" add second@live.test
printf 'Subject: two\n\nsecond\n' | $QI s@example.test second@live.test
check "a user added while tern-send runs gets mail" t_wait_count 10 "$H/mail/live.test/second/Maildir" 1
exits "add-domain later.test while tern-send runs" 0 "$U" add-domain later.test
exits "add u@later.test" 0 "$U" add u@later.test
printf 'Subject: three\n\nthird\n' | $QI s@example.test u@later.test
check "a domain added while tern-send runs is local at once" t_wait_count 10 "$H/mail/later.test/u/Maildir" 1
check "  ... not deferred as remote" sh -c "! grep 'rcpt=u@later.test' '$log' | grep -q 'event=deferred'"
exits "alias team@live.test while tern-send runs" 0 "$U" alias team@live.test first@live.test second@live.test
printf 'Subject: four\n\nteam\n' | $QI s@example.test team@live.test
check "a new alias reaches its first target" t_wait_count 10 "$H/mail/live.test/first/Maildir" 2
check "  ... and its second" t_wait_count 10 "$H/mail/live.test/second/Maildir" 2
"$U" del second@live.test >/dev/null
printf 'Subject: five\n\nnobody\n' | $QI first@live.test nobody@live.test
check "with no catch-all an unknown user bounces to the sender" t_wait_count 10 "$H/mail/live.test/first/Maildir" 3
exits "catch-all for live.test" 0 "$U" alias @live.test first@live.test
printf 'Subject: six\n\nanyone\n' | $QI s@example.test anyone@live.test
check "a new catch-all takes unknown users" t_wait_count 10 "$H/mail/live.test/first/Maildir" 4
check "  ... the message is the one sent" sh -c "grep -l '^Subject: six' '$H/mail/live.test/first/Maildir/new/'* >/dev/null"
t_stop_send

t_done
