#!/bin/sh
# tern-sendmail: command line, message bytes and envelope (through a fake queue program that
# saves what it reads), exit codes, constant memory, and one message through tern-queue.
. "$(dirname "$0")/lib.sh"
t_home
. "$(dirname "$0")/fakeq.sh"
SM=$T_BIN/tern-sendmail
[ -x "$T_BIN/sendmail" ] && SENDMAIL=$T_BIN/sendmail || SENDMAIL=$SM

# --- Debian cron's exact command line ---
reset
cat >"$H/in" <<'EOF'
From: root (Cron Daemon)
To: root
Subject: Cron <root@host> echo hi
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: 8bit
X-Cron-Env: <SHELL=/bin/sh>

hi
EOF
"$SENDMAIL" -i -FCronDaemon -B8BITMIME -oem root <"$H/in" 2>"$H/err"
is "cron command line: exit 0" $? 0
msg_is "cron: Date and Message-ID added, the rest byte for byte" "$DM$(sed 's/%/%%/g' "$H/in")\n"
env_is "cron: envelope joe@example.test -> root@example.test" 'Fjoe@example.test\0Troot@example.test\0\0'
is "cron: nothing on stderr" "$(cat "$H/err")" ""

# --- -t: recipients from the header, Bcc removed ---
reset
printf 'To: A <a@x.example>, root\nCc: "c d"@y.example (comment),\n  undisclosed-recipients:;\nBcc: hidden@z.example,\n\tother@z.example\nSubject: t\n\nbody\n' |
	"$SM" -t -f sender@x.example
is "-t: exit 0" $? 0
msg_is "-t: Bcc removed, From added" "$FROM${DM}To: A <a@x.example>, root\nCc: \"c d\"@y.example (comment),\n  undisclosed-recipients:;\nSubject: t\n\nbody\n"
env_is "-t: To, Cc and Bcc recipients in the envelope" 'Fsender@x.example\0Ta@x.example\0Troot@example.test\0Tc d@y.example\0Thidden@z.example\0Tother@z.example\0\0'

reset
printf 'Subject: t\n\nb\n' | "$SM" -t 2>"$H/err"
is "-t without recipients: 64" $? 64
check "-t without recipients: one line" test "$(wc -l <"$H/err")" -eq 1
reset
printf 'To: John Doe\n\nb\n' | "$SM" -t 2>"$H/err"
is "-t with an unparsable To: 65" $? 65
check "-t unparsable: says which field" grep -q '^tern-sendmail: fatal: cannot parse the addresses in To: John Doe$' "$H/err"
check "-t unparsable: nothing queued" test ! -e "$H/got.msg"

# --- -f, -F, -r ---
reset
printf 'Subject: f\n\nb\n' | "$SM" -f bounce@x.example -F 'Jane Q. Doe' a@b.example
msg_is "-F: quoted display name in the added From" "From: \"Jane Q. Doe\" <joe@example.test>\n${DM}Subject: f\n\nb\n"
env_is "-f: envelope sender" 'Fbounce@x.example\0Ta@b.example\0\0'
reset
printf 'Subject: f\n\nb\n' | "$SM" -fpostmaster -FJane a@b.example
msg_is "-Fname attached" "From: Jane <joe@example.test>\n${DM}Subject: f\n\nb\n"
env_is "-fname attached, bare name gets @me" 'Fpostmaster@example.test\0Ta@b.example\0\0'
reset
printf 'x\n' | "$SM" -r '<>' -- a@b.example
env_is "-r '<>': null sender; -- ends options" 'F\0Ta@b.example\0\0'
reset
printf 'x\n' | "$SM" -ti -f '' a@b.example
env_is "-ti grouped, -f '' null sender, argument added to -t" 'F\0Ta@b.example\0\0'
reset
printf 'x\n' | "$SM" -f 'a@b, c@d' x@y 2>"$H/err"
is "-f with two addresses: 64" $? 64

# --- dots ---
reset
printf 'Subject: d\n\na\n..b\n.\nafter\n' | "$SM" x@y
msg_is "without -i a lone dot ends input" "$FROM${DM}Subject: d\n\na\n..b\n"
reset
printf 'Subject: d\r\n\r\na\r\n.\r\nafter\r\n' | "$SM" x@y
msg_is "without -i a lone dot with CRLF ends input" "$FROM${DM}Subject: d\n\na\n"
reset
printf 'Subject: d\n\na\n.\nafter\n' | "$SM" -i x@y
msg_is "-i: dots are data" "$FROM${DM}Subject: d\n\na\n.\nafter\n"
reset
printf 'Subject: d\n\na\n.\nafter\n' | "$SM" -oi x@y
msg_is "-oi: dots are data" "$FROM${DM}Subject: d\n\na\n.\nafter\n"

# --- bytes: 8-bit, bare LF, CRLF, NUL, no header, no final newline, mbox From_ ---
reset
printf 'Subject: gr\303\274\303\237e\n\n\344\366\374 \377\n' | "$SM" x@y
msg_is "8-bit bytes pass unchanged" "$FROM${DM}Subject: gr\303\274\303\237e\n\n\344\366\374 \377\n"
reset
printf 'Subject: c\r\nX-A: b\r\n\r\nl1\r\nl2\rx\r\n' | "$SM" x@y
msg_is "CRLF becomes LF, a lone CR stays" "$FROM${DM}Subject: c\nX-A: b\n\nl1\nl2\rx\n"
reset
printf 'Subject: n\n\na\0b\0\n\0' | "$SM" x@y
msg_is "NUL bytes pass unchanged" "$FROM${DM}Subject: n\n\na\0b\0\n\0\n"
reset
printf 'just a body line\nSubject: not a field\n' | "$SM" x@y
msg_is "no header: fields and a blank line added" "$FROM${DM}\njust a body line\nSubject: not a field\n"
reset
printf 'From joe Thu Jan  1 00:00:00 1970\nSubject: m\n\nno newline' | "$SM" x@y
msg_is "mbox From_ line dropped, final newline added" "$FROM${DM}Subject: m\n\nno newline\n"

# --- big input: constant memory, a 1 MB line without newline ---
reset
python3 -c 'import sys; sys.stdout.buffer.write(b"x" * 1048576)' >"$H/in"
"$SM" x@y <"$H/in"
is "1 MB line without newline: exit 0" $? 0
python3 - "$H/got.msg" <<'EOF'
import re, sys
m = open(sys.argv[1], "rb").read()
ok = re.match(rb"From: Joe User <joe@example.test>\nDate: [^\n]*\nMessage-ID: [^\n]*\n\n", m)
sys.exit(0 if ok and m[ok.end():] == b"x" * 1048576 + b"\n" else 1)
EOF
is "1 MB line kept whole, newline added" $? 0

reset
python3 -c 'import sys; sys.stdout.write("Subject: big\n\n" + ("line of text " * 6 + "\n") * 400000)' >"$H/in"
# Peak RSS (VmHWM) of tern-sendmail, read by the fake queue once all is written: the
# 30 MB message must cost about what an empty one costs.
hwm() { sed -n 's/^VmHWM:[^0-9]*\([0-9]*\) kB$/\1/p' "$H/got.hwm"; }
"$SM" x@y </dev/null
small=$(hwm)
reset
"$SM" x@y <"$H/in"
rss=$(hwm)
echo "# tern-sendmail peak RSS: $small KiB for an empty message, $rss KiB for 30 MB"
if [ "${small:-0}" -gt 0 ] && [ "${rss:-0}" -gt 0 ] && [ "$rss" -lt $((small + 4096)) ]; then
	ok "30 MB message in constant memory ($rss KiB, empty message $small KiB)"
else
	fail "30 MB message: peak RSS $rss KiB, empty message $small KiB"
fi
is "30 MB message: body byte for byte" "$(tail -c +"$(( $(wc -c <"$H/got.msg") - $(wc -c <"$H/in") + 1 ))" "$H/got.msg" | cksum)" "$(cksum <"$H/in")"

# --- exit codes of the queue program ---
qx() {	# qx QUEUE-EXIT WANT-EXIT what
	reset
	echo "$1" >"$H/qexit"
	printf 'Subject: q\n\nb\n' | "$SM" x@y 2>"$H/err"
	is "queue exit $1 -> $2 ($3)" $? "$2"
	if [ "$1" -ne 0 ]; then
		check "queue exit $1: one line tern-sendmail: fatal: ..." \
			sh -c "[ \$(wc -l <'$H/err') -eq 1 ] && grep -q '^tern-sendmail: fatal: .*exit $1)' '$H/err'"
	fi
}
qx 0 0 queued
qx 11 65 "address too long"
qx 31 69 refused
qx 53 75 "disk full"
check "exit 53 says disk full" grep -q 'disk full' "$H/err"
qx 91 65 "envelope format"
qx 71 75 "temporary refusal"

# A queue program that refuses before reading: tern-sendmail's writes fail (EPIPE), the
# queue's own exit code is what counts.
printf '#!/bin/sh\nexit 31\n' >"$H/refuseq"
chmod +x "$H/refuseq"
python3 -c 'import sys; sys.stdout.write("Subject: x\n\n" + "y" * 2000000)' |
	TERN_QUEUE=$H/refuseq "$SM" x@y 2>"$H/err"
is "queue exits 31 without reading: 69" $? 69
check "queue exits 31 without reading: one line" grep -q '^tern-sendmail: fatal: message not queued: the message was refused (queue program exit 31)$' "$H/err"

# Closed standard output (cron may do that): the pipes must not land on fd 1.
reset
printf 'Subject: c\n\nb\n' | "$SM" x@y >&-
is "stdout closed: exit 0" $? 0
env_is "stdout closed: envelope intact" 'Fjoe@example.test\0Tx@y\0\0'

reset
TERN_QUEUE=$H/does-not-exist "$SM" x@y </dev/null 2>"$H/err"
is "queue program missing: 75" $? 75
check "queue program missing: says so" grep -q '^tern-sendmail: fatal: cannot run the queue program' "$H/err"

# A read error midway (the connection on stdin is reset after the header and some body):
# the fake queue gets the message's end but no envelope, tern-sendmail exits 74.
reset
python3 - "$SM" <<'EOF'
import socket, struct, subprocess, sys, time
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(1)
c = socket.create_connection(l.getsockname()); s, _ = l.accept()
p = subprocess.Popen([sys.argv[1], "x@y"], stdin=c, stderr=subprocess.DEVNULL)
c.close()
s.sendall(b"Subject: r\n\n" + b"body\n" * 20000)
time.sleep(0.3)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
sys.exit(p.wait())
EOF
is "input reset midway: exit 74" $? 74
check "input reset midway: the queue saw part of the message" test -s "$H/got.msg"
check "input reset midway: no envelope reached the queue" test ! -s "$H/got.env"

# --- command line ---
reset
printf 'x\n' | "$SM" -Z x@y 2>"$H/err"
is "unknown option: 64" $? 64
check "unknown option: usage line" grep -q '^tern-sendmail: fatal: usage: ' "$H/err"
printf 'x\n' | "$SM" 2>"$H/err"
is "no recipients: 64" $? 64
check "no recipients: one line" test "$(wc -l <"$H/err")" -eq 1
reset
printf 'EHLO cron.test\r\nMAIL FROM:<joe@example.test>\r\nRCPT TO:<someone@remote.example>\r\nDATA\r\nSubject: bs\r\n\r\nbody\r\n.\r\nQUIT\r\n' \
	| "$SM" -bs >"$H/out" 2>"$H/err"
is "-bs: exit 0" $? 0
check "-bs: an SMTP session (220 greeting, 250 after DATA, 221)" sh -c "head -n 1 '$H/out' | grep -q '^220 ' && grep -q '^250 2.0.0 ok' '$H/out' && tail -n 1 '$H/out' | grep -q '^221 2.0.0'"
env_is "-bs: a local session may name a remote recipient" 'Fjoe@example.test\0Tsomeone@remote.example\0\0'
check "-bs: the message reached the queue program" grep -q '^Subject: bs$' "$H/got.msg"
printf 'x\n' | "$SM" -bz x@y 2>/dev/null
is "-bz: 64" $? 64
printf 'x\n' | "$SM" -f 2>/dev/null
is "-f without a value: 64" $? 64

reset
printf 'x\n' | "$SM" -v -oem -oep -odb -odi -oQ /var/spool/mqueue -oQ/x -oXyz -bm -B 7BIT -N success,FAILURE,delay \
	-R hdrs -V 'env+2Bid' -Ffoo x@y
is "all the accepted options: exit 0" $? 0
env_is "all the accepted options: -oQ took its directory" 'Fjoe@example.test\0Tx@y\0\0'
printf 'x\n' | "$SM" -N never -Rfull -B8bitmime x@y; is "-N never -Rfull -B8bitmime: exit 0" $? 0
for bad in "-N sometimes" "-N never,success" "-N" "-R all" "-V a=b" "-V +2g" "-B BINARY"; do
	printf 'x\n' | "$SM" $bad x@y 2>/dev/null
	is "bad $bad: 64" $? 64
done

# -bp and mailq run tern-qread, -q runs tern-flush (same output as running them directly).
want=$("$T_BIN/tern-qread" 2>&1; echo "rc=$?")
is "-bp runs tern-qread" "$("$SM" -bp 2>&1; echo "rc=$?")" "$want"
if [ -x "$T_BIN/mailq" ]; then is "mailq runs tern-qread" "$("$T_BIN/mailq" 2>&1; echo "rc=$?")" "$want"; fi
want=$("$T_BIN/tern-flush" 2>&1; echo "rc=$?")
is "-q runs tern-flush" "$("$SM" -q 2>&1; echo "rc=$?")" "$want"
is "-q30m runs tern-flush" "$("$SM" -q30m 2>&1; echo "rc=$?")" "$want"

# --- end to end through the real tern-queue ---
unset TERN_QUEUE
before=$(ls "$H/queue/mess" | wc -l)
printf 'Subject: real\n\nthrough tern-queue\n' | "$SM" -f s@x.example demo@example.test
is "real tern-queue: exit 0" $? 0
is "real tern-queue: one file in queue/mess" "$(ls "$H/queue/mess" | wc -l)" "$((before + 1))"
f=$(ls -t "$H/queue/mess" | head -n 1)
check "real tern-queue: message and envelope stored" \
	sh -c "grep -q '^through tern-queue\$' '$H/queue/mess/$f' && grep -q 'Tdemo@example.test' '$H/queue/mess/$f'"
t_done
