#!/bin/sh
# End to end: the sendmail command line -> tern-queue -> tern-send -> tern-local -> Maildir,
# with the real programs: Debian cron's command line, -t with To/Cc/Bcc, line ends, a 30 MB
# message byte for byte, a full disk (RLIMIT_FSIZE; as root also a small tmpfs), a bounce
# for an unknown user (checked with python's email package), -bp / mailq / -q.
. "$(dirname "$0")/lib.sh"
t_home
H=$TERN_HOME
SM=$T_BIN/tern-sendmail
[ -x "$T_BIN/sendmail" ] && SENDMAIL=$T_BIN/sendmail || SENDMAIL=$SM
DEMO=$(t_demo)
log=$H/log/send.log
unset TERN_QUEUE
t_start_send || fail "tern-send started"

# The second home (tmpfs case, root only) is unmounted and removed after t_cleanup has
# stopped the processes started here.
H2=""
H2_MOUNTED=""
e2e_cleanup() {
	t_cleanup
	[ -n "$H2_MOUNTED" ] && umount "$H2/queue" 2>/dev/null
	[ -n "$H2" ] && { [ "${TERN_KEEP:-}" ] || case $H2 in /tmp/tern-test.*) rm -rf "$H2";; esac; }
}
trap e2e_cleanup EXIT

qempty() { [ -z "$(ls "$1/queue/mess")" ] && [ -z "$(ls "$1/queue/tmp")" ]; }
# newest DIR: the newest message file in a Maildir's new/
newest() { ls -t "$1"/new/* 2>/dev/null | head -n 1; }
# body FILE: everything after the first empty line
body() { sed '1,/^$/d' "$1"; }

# --- (a) Debian cron's exact command line ---
printf 'Cron output: gr\303\274\303\237e, \342\202\254 5, na\303\257ve\n\tindented line\n.\n.. two dots\nlast\n' >"$H/cron.body"
{
	printf 'To: root\nSubject: Cron <root@host> cmd\nMIME-Version: 1.0\n'
	printf 'Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n'
	printf 'X-Cron-Env: <SHELL=/bin/sh>\nX-Cron-Env: <HOME=/root>\n\n'
	cat "$H/cron.body"
} >"$H/cron.in"
n=$(t_count "$DEMO")
"$SENDMAIL" -i -FCronDaemon -B8BITMIME -oem root <"$H/cron.in" 2>"$H/err"
is "cron: exit 0" $? 0
is "cron: nothing on stderr" "$(cat "$H/err")" ""
check "cron: root -> root@localhost -> demo's Maildir" t_wait_count 10 "$DEMO" $((n + 1))
f=$(newest "$DEMO")
check "cron: From added (with -F name)" grep -q '^From: CronDaemon <[^@]*@localhost>$' "$f"
check "cron: Date added" grep -Eq '^Date: [A-Z][a-z]{2}, [0-9]{1,2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} [+-][0-9]{4}$' "$f"
check "cron: Message-ID added" grep -Eq '^Message-ID: <[0-9]+\.[0-9]+\.[0-9a-f]{16}@localhost>$' "$f"
check "cron: delivered to demo, via the root@localhost alias" \
	sh -c "grep -qx 'Delivered-To: demo@example.test' '$f' && grep -qx 'Delivered-To: root@localhost' '$f'"
check "cron: Subject, Content-Type kept" \
	sh -c "grep -qx 'Subject: Cron <root@host> cmd' '$f' && grep -qx 'Content-Type: text/plain; charset=UTF-8' '$f'"
body "$f" >"$H/got.body"
check "cron: 8-bit body byte for byte" cmp -s "$H/got.body" "$H/cron.body"

# --- (b) -t: To, Cc and Bcc to three users; no copy shows the Bcc ---
for u in u1 u2 u3; do "$T_BIN/tern-users" add $u@example.test >/dev/null || fail "tern-users add $u"; done
M=$H/mail/example.test
printf 'To: One <u1@example.test>\nCc: u2@example.test\nBcc: Three <u3@example.test>\nSubject: three\n\nto three\n' |
	"$SM" -t -i -f demo@example.test
is "-t: exit 0" $? 0
for u in u1 u2 u3; do
	check "-t: $u got it" t_wait_count 10 "$M/$u/Maildir" 1
done
sleep 0.3
for u in u1 u2 u3; do
	is "-t: $u has exactly one copy" "$(t_count "$M/$u/Maildir")" 1
	f=$(newest "$M/$u/Maildir")
	check "-t: $u's copy has no Bcc field and no trace of its value" \
		sh -c "! grep -qi '^bcc:' '$f' && ! grep -q 'Three' '$f'"
	check "-t: $u's copy has To, Cc and the body" \
		sh -c "grep -qx 'To: One <u1@example.test>' '$f' && grep -qx 'Cc: u2@example.test' '$f' && grep -qx 'to three' '$f'"
done

# --- (c) bare LF and CRLF input: LF only in the Maildir ---
n=$(t_count "$DEMO")
printf 'Subject: lf\n\nline one\nline two\n' | "$SM" -i demo@example.test
printf 'Subject: crlf\r\nX-Mixed: yes\r\n\r\nline one\r\nline two\r\n' | "$SM" -i demo@example.test
check "LF and CRLF messages delivered" t_wait_count 10 "$DEMO" $((n + 2))
for s in lf crlf; do
	f=$(grep -lx "Subject: $s" "$DEMO"/new/* | head -n 1)
	if [ -n "$f" ] && ! grep -q "$(printf '\r')" "$f"; then ok "$s input: no CR in the Maildir file"; else fail "$s input: no CR in the Maildir file"; fi
	is "$s input: body" "$(body "$f" | od -An -c | tr -s ' ')" "$(printf 'line one\nline two\n' | od -An -c | tr -s ' ')"
done

# --- (d) a 30 MB message, byte for byte ---
python3 - "$H/big.in" <<'EOF'
import random, sys
r = random.Random(42)
alpha = bytes(range(32, 127)) + bytes(range(128, 256)) + b"\t"
lines = [b"Subject: big", b"X-Size: 30 MB", b""]
n = 14
while n < 30 * 1024 * 1024:
    k = r.choice((0, 1, 10, 76, 77, 200, 998, 4000))
    l = bytes(r.choice(alpha) for _ in range(min(k, 64))) * (k // 64 + 1)
    l = l[:k]
    if r.random() < 0.01: l = b"." + l
    if r.random() < 0.01: l = b"From " + l
    lines.append(l)
    n += len(l) + 1
open(sys.argv[1], "wb").write(b"\n".join(lines) + b"\n")
EOF
n=$(t_count "$DEMO")
"$SM" -i -f demo@example.test demo@example.test <"$H/big.in"
is "30 MB: exit 0" $? 0
check "30 MB: delivered" t_wait_count 40 "$DEMO" $((n + 1))
f=$(grep -lx 'X-Size: 30 MB' "$DEMO"/new/* | head -n 1)
insize=$(wc -c <"$H/big.in")
outsize=$(wc -c <"${f:-/dev/null}")
pre=$((outsize - insize))
# What comes before the input must be the added header lines and nothing else.
head -c "$pre" "$f" >"$H/big.pre"
check "30 MB: only added header lines before the input" python3 - "$H/big.pre" <<'EOF'
import re, sys
p = open(sys.argv[1], "rb").read()
pat = (rb"Return-Path: <demo@example\.test>\nDelivered-To: demo@example\.test\n"
       rb"Received: \(tern-queue [0-9a-f]+ invoked by uid [0-9]+\);\n\t[^\n]+\n"
       rb"From: [^\n]+\nDate: [^\n]+\nMessage-ID: <[^\n]+>\n")
sys.exit(0 if re.fullmatch(pat, p) else 1)
EOF
tail -c "$insize" "$f" >"$H/big.out"
check "30 MB: the message arrived byte for byte (cmp)" cmp -s "$H/big.out" "$H/big.in"
rm -f "$H/big.out" "$H/big.pre" "$f"
check "30 MB: queue empty afterwards" t_wait 10 qempty "$H"

# --- (e) full disk: RLIMIT_FSIZE below the queue file's size ---
python3 -c 'import sys; sys.stdout.write("Subject: too big for the disk\n\n" + ("0123456789" * 7 + "\n") * 15000)' >"$H/mb.in"
n=$(t_count "$DEMO")
nl=$(wc -l <"$log")
(ulimit -f 128; exec "$SM" -i demo@example.test <"$H/mb.in") 2>"$H/err"
is "ulimit -f: exit 75" $? 75
check "ulimit -f: tern-sendmail says disk full in one line" \
	test "$(grep -c '^tern-sendmail: fatal: .*disk full' "$H/err")" -eq 1
check "ulimit -f: every stderr line says disk full" sh -c "! grep -v 'disk full' '$H/err'"
sed 's/^/# /' "$H/err"
check "ulimit -f: nothing in queue/mess or queue/tmp" qempty "$H"
sleep 0.3
is "ulimit -f: nothing delivered" "$(t_count "$DEMO")" "$n"
is "ulimit -f: tern-send saw nothing" "$(sed -n "$((nl + 1)),\$p" "$log" | grep -c 'event=new')" 0

# As root also a real full file system: a 2 MB tmpfs over a second home's queue.
if [ "$(id -u)" -eq 0 ]; then
	H2=$(mktemp -d /tmp/tern-test.XXXXXX)
	"$T_BIN/tern-run" -i -d "$H2" >/dev/null || fail "tern-run -i (second home)"
	mkdir -p "$H2/log"
	if mount -t tmpfs -o size=2m,mode=0750 tmpfs "$H2/queue"; then
		H2_MOUNTED=1
		# What tern-run -i makes under queue/.
		mkdir -m 0700 "$H2/queue/tmp" "$H2/queue/mess" "$H2/queue/info"
		mkfifo -m 0622 "$H2/queue/trigger"
		TERN_HOME=$H2 "$T_BIN/tern-send" 2>>"$H2/log/send.log" &
		S2=$!
		T_PIDS="$T_PIDS $S2"
		check "tmpfs: tern-send started" t_wait 5 test -s "$H2/queue/pid"
		python3 -c 'import sys; sys.stdout.write("Subject: 3 MB\n\n" + ("x" * 99 + "\n") * 30000)' >"$H2/3mb.in"
		TERN_HOME=$H2 "$SM" -i demo@example.test <"$H2/3mb.in" 2>"$H2/err"
		is "tmpfs: 3 MB message: exit 75" $? 75
		check "tmpfs: tern-sendmail says disk full in one line" \
			test "$(grep -c '^tern-sendmail: fatal: .*disk full' "$H2/err")" -eq 1
		sed 's/^/# /' "$H2/err"
		check "tmpfs: no half-written message in queue/mess or queue/tmp" qempty "$H2"
		printf 'Subject: small\n\nstill fits\n' | TERN_HOME=$H2 "$SM" -i demo@example.test
		is "tmpfs: a small message afterwards: exit 0" $? 0
		D2=$H2/mail/example.test/demo/Maildir
		check "tmpfs: the small message is delivered" t_wait_count 10 "$D2" 1
		check "tmpfs: it is the small one" grep -qx 'still fits' "$(newest "$D2")"
		kill "$S2"
		wait "$S2"
	else
		fail "mount a 2 MB tmpfs over $H2/queue"
	fi
fi

# --- (f) an unknown local user: an RFC 3464 bounce to the -f sender ---
n=$(t_count "$DEMO")
printf 'Subject: to nobody\nMessage-ID: <e2e-lost@example.test>\n\nlost body\n' |
	"$SM" -i -f demo@example.test nosuch@example.test
is "unknown user: accepted (exit 0)" $? 0
check "unknown user: the bounce arrives in demo's Maildir" t_wait_count 10 "$DEMO" $((n + 1))
bounce=$(grep -l 'report-type=delivery-status' "$DEMO"/new/* | head -n 1)
python3 - "${bounce:-/dev/null}" >"$H/py.out" <<'PY'
import email, sys
from email import policy
raw = open(sys.argv[1], "rb").read()
m = email.message_from_bytes(raw, policy=policy.compat32)
def want(c, what):
    print(("ok " if c else "not ok ") + what)
want(m["Return-Path"] == "<>", "bounce: null envelope sender (Return-Path: <>)")
want(m.get_content_type() == "multipart/report" and m.get_param("report-type") == "delivery-status",
     "bounce: multipart/report; report-type=delivery-status")
want(m["From"] is not None and "MAILER-DAEMON@localhost" in m["From"], "bounce: From MAILER-DAEMON@localhost")
parts = m.get_payload() if m.is_multipart() else []
want(len(parts) == 3, "bounce: three parts")
parts += [email.message.Message()] * 3
want(parts[0].get_content_type() == "text/plain" and "nosuch@example.test" in str(parts[0].get_payload()),
     "bounce: first part text/plain naming the recipient")
ds = parts[1]
want(ds.get_content_type() == "message/delivery-status", "bounce: second part message/delivery-status")
blocks = ds.get_payload() if ds.is_multipart() else []
blocks += [email.message.Message()] * 2
permsg, rcpt = blocks[0], blocks[1]
want((permsg["Reporting-MTA"] or "").startswith("dns;"), "bounce: Reporting-MTA")
want((rcpt["Final-Recipient"] or "").replace(" ", "") == "rfc822;nosuch@example.test", "bounce: Final-Recipient rfc822;nosuch@example.test")
want(rcpt["Action"] == "failed", "bounce: Action: failed")
want(rcpt["Status"] == "5.1.1", "bounce: Status: 5.1.1")
want(rcpt["Diagnostic-Code"] is not None and rcpt["Diagnostic-Code"].strip() != "", "bounce: Diagnostic-Code")
h = parts[2]
want(h.get_content_type() == "text/rfc822-headers", "bounce: third part text/rfc822-headers")
txt = str(h.get_payload())
want("Subject: to nobody" in txt and "lost body" not in txt, "bounce: original Subject returned, body not")
PY
while IFS= read -r line; do
	case $line in "ok "*) ok "${line#ok }";; *) fail "${line#not ok }";; esac
done <"$H/py.out"
check "unknown user: log says 5.1.1" grep -q 'rcpt=nosuch@example.test .*status=5.1.1' "$log"

# --- (g) -bp and mailq list a deferred remote message; -q flushes ---
printf 'Subject: remote\n\nx\n' | "$SM" -i -f demo@example.test someone@remote.example
is "remote: accepted (exit 0)" $? 0
check "remote: deferred (lib.sh routes remote mail to a closed loopback port)" t_wait 10 grep -q 'event=deferred rcpt=someone@remote.example.*status=4.4.1' "$log"
# tern-send logs the deferral before it records it in the queue: wait for the record.
bp_deferred() { "$SM" -bp | grep -q 'someone@remote.example> deferred.*127\.0\.0\.1'; }
if t_wait 5 bp_deferred; then ok "-bp lists the deferred remote message with the reason"
else fail "-bp: $("$SM" -bp 2>&1)"; fi
if [ -x "$T_BIN/mailq" ]; then
	case $("$T_BIN/mailq") in
		*"someone@remote.example> deferred"*) ok "mailq lists the deferred remote message";;
		*) fail "mailq: $("$T_BIN/mailq" 2>&1)";;
	esac
else
	fail "mailq link missing in $T_BIN"
fi
ndef() { grep -c 'prog=tern-send .*event=deferred rcpt=someone@remote.example' "$log"; }
is "remote: one attempt so far" "$(ndef)" 1
"$SM" -q
is "-q: exit 0" $? 0
check "-q: tern-send retried now" t_wait 10 sh -c "[ \$(grep -c 'prog=tern-send .*event=deferred rcpt=someone@remote.example' '$log') -ge 2 ]"
check "-q: flush logged" grep -q 'event=flush' "$log"
t_done
