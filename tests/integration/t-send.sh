#!/bin/sh
# tern-send end to end: queue -> tern-local -> Maildir, bounces (RFC 3464, checked with
# python's email package), retries and flush, double bounces, remote deferral, tern-qdel,
# signals.
. "$(dirname "$0")/lib.sh"
t_home
QI="python3 $T_TOP/tests/integration/qinject.py"
DEMO=$(t_demo)
log=$TERN_HOME/log/send.log
t_start_send || fail "tern-send started"
qempty() { [ -z "$(ls "$TERN_HOME/queue/mess")" ]; }

printf 'Subject: first\n\nhello demo\n' | $QI sender@example.org demo@example.test
check "first message delivered to the Maildir" t_wait_count 10 "$DEMO" 1
check "queue empty afterwards" t_wait 5 qempty
f=$(ls "$DEMO/new/"* | head -n 1)
is "Return-Path first" "$(head -n 1 "$f")" "Return-Path: <sender@example.org>"
is "Delivered-To second" "$(sed -n 2p "$f")" "Delivered-To: demo@example.test"
check "body intact" grep -qx 'hello demo' "$f"
check "log: event=delivered with qid and delay" grep -q 'prog=tern-send qid=[0-9a-f]* event=delivered rcpt=demo@example.test delay=' "$log"
check "log: event=done" grep -q 'event=done' "$log"

printf 'Subject: cron\n\nfrom cron\n' | $QI root@localhost root@localhost
check "alias root@localhost reaches demo" t_wait_count 10 "$DEMO" 2

# Unknown user: bounce to the (local) sender, checked field by field.
printf 'Subject: to nobody\nMessage-ID: <orig-1@example.test>\n\nlost\n' | $QI demo@example.test nosuch@example.test
check "bounce arrives" t_wait_count 10 "$DEMO" 3
bounce=$(grep -l 'report-type=delivery-status' "$DEMO"/new/* | head -n 1)
python3 - "$bounce" <<'PY' || fail "the bounce check script ended early (exit $?)"
import email, sys
from email import policy
raw = open(sys.argv[1], "rb").read()
m = email.message_from_bytes(raw, policy=policy.compat32)
def want(c, what):
    print(("ok - " if c else "not ok - ") + what)
want(m["Return-Path"] == "<>", "bounce has a null envelope sender")
want(m.get_content_type() == "multipart/report" and m.get_param("report-type") == "delivery-status", "multipart/report; report-type=delivery-status")
want("MAILER-DAEMON@localhost" in m["From"], "From MAILER-DAEMON@me")
parts = m.get_payload()
want(len(parts) == 3, "three parts")
want(parts[0].get_content_type() == "text/plain" and "nosuch@example.test" in parts[0].get_payload(), "human-readable part names the recipient")
ds = parts[1]
want(ds.get_content_type() == "message/delivery-status", "second part message/delivery-status")
blocks = ds.get_payload()
permsg, rcpt = blocks[0], blocks[1]
want(permsg["Reporting-MTA"] == "dns; localhost", "Reporting-MTA: dns; localhost")
want(permsg["Arrival-Date"] is not None, "Arrival-Date present")
want(rcpt["Final-Recipient"] == "rfc822; nosuch@example.test", "Final-Recipient")
want(rcpt["Action"] == "failed", "Action: failed")
want(rcpt["Status"] == "5.1.1", "Status: 5.1.1")
want(rcpt["Diagnostic-Code"] is not None and "no such user" in rcpt["Diagnostic-Code"].lower(), "Diagnostic-Code says no such user")
h = parts[2]
want(h.get_content_type() == "text/rfc822-headers", "third part text/rfc822-headers")
txt = h.get_payload()
want("Message-ID: <orig-1@example.test>" in txt and "Subject: to nobody" in txt and "lost" not in txt, "original headers returned, body not")
PY
check "queue empty after bounce" t_wait 5 qempty

# A failed bounce goes to the postmaster once; a failed double bounce is dropped.
printf 'Subject: bounce that fails\n\nx\n' | $QI "" nosuch2@example.test
check "double bounce reaches postmaster (alias of demo)" t_wait_count 10 "$DEMO" 4
dbl=$(grep -l 'Undeliverable bounce' "$DEMO"/new/* | head -n 1)
check "double bounce has envelope sender #@[]" grep -qx 'Return-Path: <#@\[\]>' "$dbl"
printf 'Subject: double bounce that fails\n\nx\n' | $QI '#@[]' nosuch3@example.test
check "failed double bounce dropped with a log line" t_wait 10 grep -q 'event=dropped reason="double bounce failed"' "$log"
sleep 0.3
is "nothing more delivered" "$(t_count "$DEMO")" 4

# A program that fails temporarily is retried; after tern-flush it is delivered.
"$T_BIN/tern-users" add prog@example.test >/dev/null
PD=$TERN_HOME/mail/example.test/prog
cat >"$PD/deliver" <<'SH'
#!/bin/sh
if [ -f "$HOME/go" ]; then cat >"$HOME/got"; exit 0; fi
echo "4.2.1 not ready yet"; exit 111
SH
chmod +x "$PD/deliver"
echo "|$PD/deliver" >"$PD/.tern"
printf 'Subject: retry me\n\nretry body\n' | $QI demo@example.test prog@example.test
check "temporary failure logged as deferred" t_wait 10 grep -q 'event=deferred rcpt=prog@example.test .*status=4.2.1 text="not ready yet"' "$log"
check "tern-qread shows it deferred with the reason" sh -c "'$T_BIN/tern-qread' | grep -q 'prog@example.test> deferred (1 attempt, next in .*4.2.1 not ready yet'"
check "tern-qstat counts it" sh -c "'$T_BIN/tern-qstat' | grep -q 'recipients_deferred=1 .*tern_send=running'"
touch "$PD/go"
"$T_BIN/tern-flush"
is "tern-flush exits 0" $? 0
check "delivered after tern-flush" t_wait 10 test -s "$PD/got"
check "program got the message" grep -qx 'retry body' "$PD/got"

# A program that fails permanently is bounced with its reason.
rm -f "$PD/go"
printf '#!/bin/sh\necho "5.7.1 rejected by policy"\nexit 100\n' >"$PD/deliver"
printf 'Subject: refuse me\n\nx\n' | $QI demo@example.test prog@example.test
check "permanent program failure bounced" t_wait 10 sh -c "grep -l 'rejected by policy' '$DEMO'/new/* | grep -q ."
check "bounce status from the program" sh -c "grep -h '^Status: ' \$(grep -l 'rejected by policy' '$DEMO'/new/*) | grep -q 5.7.1"

# A forward loop (a -> b -> a) is caught by Delivered-To and bounced 5.4.6.
"$T_BIN/tern-users" add loopa@example.test >/dev/null
"$T_BIN/tern-users" add loopb@example.test >/dev/null
echo '&loopb@example.test' >"$TERN_HOME/mail/example.test/loopa/.tern"
echo '&loopa@example.test' >"$TERN_HOME/mail/example.test/loopb/.tern"
n=$(t_count "$DEMO")
printf 'Subject: loop\n\nround and round\n' | $QI demo@example.test loopa@example.test
check "forward loop bounced" t_wait_count 10 "$DEMO" $((n + 1))
check "loop bounce says 5.4.6" sh -c "grep -l 'Subject: loop' '$DEMO'/new/* | xargs grep -l '^Status: 5.4.6' | grep -q ."

# A remote recipient that cannot be reached waits, visibly (lib.sh routes remote mail to a
# closed loopback port); tern-qdel removes the message.
printf 'Subject: remote\n\nx\n' | $QI demo@example.test someone@remote.example
check "remote recipient deferred" t_wait 10 grep -q 'prog=tern-send .*event=deferred rcpt=someone@remote.example.*status=4.4.1' "$log"
line=$("$T_BIN/tern-qread")
case $line in *"someone@remote.example> deferred"*"Connection refused"*) ok "tern-qread shows the remote deferral";; *) fail "tern-qread: $line";; esac
qid=${line%% *}
"$T_BIN/tern-qdel" "$qid" >/dev/null
is "tern-qdel exit 0" $? 0
check "message gone" t_wait 5 qempty
"$T_BIN/tern-qdel" "$qid" 2>/dev/null
is "tern-qdel of a missing id: 100" $? 100
"$T_BIN/tern-qdel" "../etc" 2>/dev/null
is "tern-qdel of a bad id: 100" $? 100

# Signals: HUP rereads control, TERM stops cleanly.
kill -HUP "$T_SEND_PID"
check "SIGHUP: reload logged" t_wait 5 grep -q 'event=reload' "$log"
kill -TERM "$T_SEND_PID"
wait "$T_SEND_PID"
is "SIGTERM: exit 0" $? 0
T_SEND_PID=""
check "SIGTERM: stop logged" grep -q 'event=stop' "$log"
check "pid file removed" test ! -e "$TERN_HOME/queue/pid"
"$T_BIN/tern-flush" 2>"$TERN_HOME/err"
is "tern-flush without tern-send: 111" $? 111
check "tern-flush says why" grep -q 'tern-send is not running' "$TERN_HOME/err"

# Mail queued while tern-send is down is delivered when it starts.
n=$(t_count "$DEMO")
printf 'Subject: while down\n\nx\n' | $QI demo@example.test demo@example.test
t_start_send
check "queued while stopped, delivered on start" t_wait_count 10 "$DEMO" $((n + 1))
# The fork server: tern-send's one tern-local -z child.  SIGHUP retires it (a new
# tern-local binary is then used); the next delivery starts another.
zserver() {
	for p in $(cat /proc/$T_SEND_PID/task/*/children 2>/dev/null); do
		tr '\0' ' ' </proc/$p/cmdline 2>/dev/null | grep -q -- '-z' && echo "$p"
	done
}
z1=$(zserver)
check "a fork server (tern-local -z) runs under tern-send" test -n "$z1"
is "its fd 1 is /dev/null (not tern-send's)" "$(readlink /proc/$z1/fd/1)" /dev/null
kill -HUP "$T_SEND_PID"
check "SIGHUP: the idle fork server exits" t_wait 5 sh -c "! kill -0 $z1"
n=$(t_count "$DEMO")
printf 'Subject: after hup\n\nx\n' | $QI demo@example.test demo@example.test
check "delivered after SIGHUP" t_wait_count 10 "$DEMO" $((n + 1))
z2=$(zserver)
check "with a new fork server" sh -c "[ -n '$z2' ] && [ '$z2' != '$z1' ]"
# Killed: the next delivery starts another one.
kill -9 "$z2"
n=$(t_count "$DEMO")
printf 'Subject: after kill\n\nx\n' | $QI demo@example.test demo@example.test
check "delivered after the fork server was killed" t_wait_count 10 "$DEMO" $((n + 1))
check "a fork server runs again" sh -c '[ -n "$1" ] && [ "$1" != "$2" ]' sh "$(zserver)" "$z2"

# A full trigger FIFO: tern-queue drops its line rather than wait.  tern-send, finding the
# FIFO was full, looks at queue/mess at once (not at its 5-minute backstop scan).  The FIFO
# is shrunk to one page (F_SETPIPE_SZ) so that 250 messages overflow it.
n=$(t_count "$DEMO")
python3 - "$T_BIN/tern-queue" "$TERN_HOME/queue/trigger" "$T_SEND_PID" <<'PY'
import fcntl, os, signal, subprocess, sys
binq, fifo, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
fcntl.fcntl(fd, 1031, 4096)	# F_SETPIPE_SZ
os.kill(pid, signal.SIGSTOP)
try:
    for i in range(250):
        mr, mw = os.pipe(); er, ew = os.pipe()
        p = subprocess.Popen([binq], stdin=mr, stdout=er, stderr=subprocess.DEVNULL)
        os.close(mr); os.close(er)
        os.write(mw, b"Subject: fifo %d\n\nx\n" % i); os.close(mw)
        os.write(ew, b"Ffifo@example.test\0Tdemo@example.test\0\0"); os.close(ew)
        p.wait()
finally:
    os.kill(pid, signal.SIGCONT)
    os.close(fd)
PY
check "trigger FIFO overflowed: all 250 delivered within 20 s" t_wait_count 20 "$DEMO" $((n + 250))
check "  ... and logged as event=trigger-full" grep -q 'prog=tern-send event=trigger-full bytes=[0-9]' "$TERN_HOME/log/send.log"

# What a power loss between tern-queue's link and its fsync can leave in queue/mess (the
# message was never acknowledged): a block of zeros, a short file, the placeholder header,
# an empty file.  tern-send moves each to queue/corrupt with a log line and delivers none;
# a whole message queued beside them is delivered.
t_stop_send
n=$(t_count "$DEMO")
mess=$TERN_HOME/queue/mess
for i in 1 2 3 4 5; do
	python3 -c "import sys; sys.stdout.write('Subject: torn $i\n\n' + 'line of the body\n' * 1500)" |
		$QI torn@example.test demo@example.test || fail "queueing torn $i"
done
set -- $(ls "$mess")
python3 - "$mess/$1" "$mess/$2" "$mess/$3" "$mess/$4" <<'PY'
import os, sys
zero, short, blank, empty = sys.argv[1:5]
with open(zero, "r+b") as f:
    f.seek(8192); f.write(bytes(4096))
os.truncate(short, os.path.getsize(short) - 100)
with open(blank, "r+b") as f:
    f.write(b" " * 127 + b"\n")
os.truncate(empty, 0)
PY
good=$5
t_start_send || fail "tern-send restarted"
check "the whole one beside them is delivered" t_wait_count 10 "$DEMO" $((n + 1))
check "  ... and it was the one left whole" grep -q "qid=$good event=delivered" "$log"
is "four torn files moved to queue/corrupt" "$(ls "$TERN_HOME/queue/corrupt" | wc -l)" 4
check "  ... queue/mess is empty" t_wait 5 qempty
is "  ... each logged as event=corrupt" "$(grep -c 'event=corrupt reason=' "$log")" 4
check "  ... a short file's reason" grep -q "qid=$2 event=corrupt reason=\"header unreadable or file shorter than it says\"" "$log"
check "  ... a block of zeros' reason" grep -q "qid=$1 event=corrupt reason=\"message and envelope do not match the header's sum\"" "$log"
is "  ... none of them delivered" "$(grep -l 'Subject: torn' "$DEMO"/new/* | wc -l)" 1
check "  ... tern-qstat counts them" sh -c "'$T_BIN/tern-qstat' | grep -q ' corrupt_files=4 tern_send=running'"

"$T_BIN/tern-send" 2>"$TERN_HOME/err2"
is "a second tern-send refuses: 111" $? 111
check "and says why" grep -q 'another tern-send is running' "$TERN_HOME/err2"
t_done
