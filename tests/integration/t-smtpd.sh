#!/bin/sh
# tern-smtpd under tcpserver, as the network sees it: normal sessions (swaks, smtplib,
# pipelining, 8BITMIME, SIZE, SMTPUTF8, BDAT, DSN parameters, dot-stuffing, the Received
# field), no open relay (with the usual address tricks), RELAYCLIENT from tcprules, SMTP
# smuggling, hostile and malformed input, limits and timeouts, and a local session on a
# pipe.  Every reply is checked with its enhanced status code, and the Maildir or the
# queue where a message could land; after every hostile client a normal one is served.
. "$(dirname "$0")/lib.sh"
t_home
H=$TERN_HOME
C=$H/control
DEMO=$(t_demo)
# The interpreter itself, not a version manager's shim: many short runs below.
PY=$(python3 -c 'import sys; print(sys.executable)')
DLG="$PY $T_TOP/tests/integration/smtpdlg.py"
LOG=$H/log/smtpd.log
OUT=$H/out
unset TERN_QUEUE RELAYCLIENT
t_start_send || fail "tern-send started"
"$T_BIN/tern-users" add 'jösé@example.test' >/dev/null || fail "tern-users add jösé@example.test"
UTF8=$H/mail/example.test/jösé/Maildir

# ---- helpers ----

# start_smtpd VAR [tcpserver options]: tcpserver + tern-smtpd on a free port in
# 20000-24999, put into $VAR; its PID into ${VAR}_PID and T_PIDS.
start_smtpd() {
	_v=$1; shift
	T_TCPOPTS="$*"
	t_listen "$_v" 20000 "$LOG" "$T_BIN/tern-smtpd"
}

# dlg [-n] [-t S] PORT STEP...: a raw dialogue (smtpdlg.py), its output in $OUT.
dlg() { $DLG "$@" >"$OUT" 2>&1; }
# codes: the replies in $OUT as "code[ x.y.z]" joined by commas, plus #EOF (closed, or reset
# after the server's last reply) and #TIMEOUT.
codes() {
	awk '/^[0-9][0-9][0-9]( |$)/ { if ($2 ~ /^[245]\.[0-9]+\.[0-9]+$/) r = r s $1 " " $2; else r = r s $1; s = "," }
	     /^#(EOF|TIMEOUT)$/ { r = r s $1; s = "," } END { print r }' "$OUT"
}
# nth N: the Nth reply's code (as in codes).
nth() { codes | tr ',' '\n' | sed -n "${1}p"; }
# dlgis "what" EXPECTED-CODES dlg-args...: runs a dialogue and compares its codes.
dlgis() { _d=$1; _e=$2; shift 2; dlg "$@"; is "$_d" "$(codes)" "$_e"; }

# Maildir and queue.
newest() { ls -t "$1"/new/* 2>/dev/null | head -n 1; }
body() { sed '1,/^$/d' "$1"; }
qfiles() { find "$H/queue/mess" "$H/queue/tmp" -type f | wc -l; }
qempty() { [ "$(qfiles)" -eq 0 ]; }
# settled DIR N: the queue is empty and DIR holds exactly N messages (after a pause, so
# a second copy would have shown up).
settled() { t_wait_count 10 "$1" "$2" && t_wait 10 qempty && sleep 0.3 && t_count_is "$1" "$2"; }
# pyre FILE REGEX: python re.search on the file's bytes.
pyre() { "$PY" -c 'import re,sys; sys.exit(0 if re.search(sys.argv[2].encode(), open(sys.argv[1],"rb").read()) else 1)' "$1" "$2"; }
# nlost: sessions that ended inside a message.
nlost() { grep -c 'why="*connection lost in message' "$LOG"; }
lost_gt() { [ "$(nlost)" -gt "$1" ]; }
# pyok: runs python (script on stdin, args), turning its "ok ..."/"not ok ..." lines into ours.
pyok() {
	"$PY" - "$@" >"$H/py.out" 2>&1 || echo "not ok python helper failed: $(tail -n 3 "$H/py.out")" >>"$H/py.out"
	while IFS= read -r line; do
		case $line in "ok "*) ok "${line#ok }";; "not ok "*) fail "${line#not ok }";; *) echo "# $line";; esac
	done <"$H/py.out"
}

ALIVE_N=0
# alive "after what": a complete normal session still works: EHLO, a message to demo, QUIT,
# and the message arrives.
alive() {
	ALIVE_N=$((ALIVE_N + 1))
	_n=$(t_count "$DEMO")
	dlg "$P" 'EHLO alive.test\r\n' +1 'MAIL FROM:<a@remote.example>\r\nRCPT TO:<demo@example.test>\r\nDATA\r\n' +3 \
		"Subject: alive $ALIVE_N\\r\\n\\r\\nstill serving\\r\\n.\\r\\n" +1 'QUIT\r\n' eof
	_c=$(codes)
	if [ "$_c" = "220,250,250 2.1.0,250 2.1.5,354,250 2.0.0,221 2.0.0,#EOF" ] && t_wait_count 10 "$DEMO" $((_n + 1)) &&
		grep -qx "Subject: alive $ALIVE_N" "$(newest "$DEMO")"; then
		ok "after $1: a normal session is served and delivered"
	else
		fail "after $1: a normal session is served and delivered (got '$_c')"
	fi
}

check "tcpserver started" start_smtpd P
echo "# port $P"

# ================= normal sessions =================

# --- swaks ---
n=$(t_count "$DEMO")
swaks --server "127.0.0.1:$P" --helo swaks.test --from sender@remote.example --to demo@example.test \
	--header 'Subject: swaks test' --body 'swaks body' >"$OUT" 2>&1
is "swaks: exit 0" $? 0
miss=""
for e in PIPELINING 8BITMIME ENHANCEDSTATUSCODES SMTPUTF8 CHUNKING DSN 'SIZE 52428800'; do
	grep -q "^<-  250[- ]$e\$" "$OUT" || miss="$miss $e"
done
is "swaks: EHLO advertises SIZE, PIPELINING, 8BITMIME, ENHANCEDSTATUSCODES, SMTPUTF8, CHUNKING, DSN" "$miss" ""
check "swaks: MAIL 250 2.1.0, RCPT 250 2.1.5, DATA 250 2.0.0" sh -c "
	grep -q '^<-  250 2.1.0 ' '$OUT' && grep -q '^<-  250 2.1.5 ' '$OUT' && grep -q '^<-  250 2.0.0 ok: queued as ' '$OUT'"
check "swaks: exactly one message delivered" settled "$DEMO" $((n + 1))
f=$(newest "$DEMO")
check "swaks: Subject and body" sh -c "grep -qx 'Subject: swaks test' '$f' && grep -qx 'swaks body' '$f'"
check "Received: HELO name, [127.0.0.1], with ESMTP, for <demo@example.test>" pyre "$f" \
	'\nReceived: from swaks\.test \(\[127\.0\.0\.1\]\)\n\tby localhost \(tern-smtpd\) with ESMTP id [0-9a-f.]+\n\tfor <demo@example\.test>; [A-Z][a-z]{2}, [0-9]{1,2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} [+-][0-9]{4}\n'
check "Return-Path is the MAIL FROM address" grep -qx 'Return-Path: <sender@remote.example>' "$f"
# The logs join: the id in the 250 reply is logged by tern-queue with the queue id,
# which tern-send logs when it picks the message up.
mid=$(sed -n 's/^<-  250 2.0.0 ok: queued as \([0-9a-f.]*\).*/\1/p' "$OUT" | head -n 1)
qid=$(sed -n "s/^prog=tern-queue qid=\([0-9a-f]*\) event=queued sid=$mid .*/\1/p" "$LOG" | head -n 1)
check "log: tern-queue logs the reply's id ($mid) with its queue id" test -n "$qid"
check "log: tern-send's event=new has that queue id" t_wait 5 grep -q "qid=$qid event=new" "$H/log/send.log"

# --- SIZE advertised; a SIZE under the limit ---
dlgis "SIZE advertised; MAIL SIZE=1000 250 2.1.0" "220,250,250 2.1.0,221 2.0.0,#EOF" \
	"$P" 'EHLO x\r\n' +1 'MAIL FROM:<a@remote.example> SIZE=1000\r\n' +1 'QUIT\r\n' eof
check "  ... 250-SIZE 52428800 (the default databytes)" grep -qx '250-SIZE 52428800' "$OUT"

# --- smtplib: 8BITMIME body byte for byte, dot-stuffing done by smtplib, two recipients ---
n=$(t_count "$DEMO")
pyok "$P" "$H/py8.body" <<'PY'
import smtplib, sys
port, bodyfile = int(sys.argv[1]), sys.argv[2]
def want(c, what): print(("ok " if c else "not ok ") + what)
body = ("8-bit: grüße, € 5, naïve\n.\n..two dots\n.leading dot\n...\n"
        "tab\tand trailing space \nlast line\n").encode()
open(bodyfile, "wb").write(body)
msg = b"Subject: smtplib 8bit\nMIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n" \
      b"Content-Transfer-Encoding: 8bit\n\n" + body
s = smtplib.SMTP("127.0.0.1", port, local_hostname="py.test", timeout=10)
code, _ = s.ehlo()
want(code == 250 and s.has_extn("8bitmime") and s.has_extn("pipelining") and s.has_extn("size"),
     "smtplib: EHLO 250 with 8BITMIME, PIPELINING, SIZE")
r = s.mail("py@remote.example", ["BODY=8BITMIME"])
want(r[0] == 250 and r[1].startswith(b"2.1.0"), "smtplib: MAIL BODY=8BITMIME 250 2.1.0 (%r)" % (r,))
r1 = s.rcpt("demo@example.test"); r2 = s.rcpt("root@localhost")
want(r1[0] == 250 and r1[1].startswith(b"2.1.5") and r2[0] == 250 and r2[1].startswith(b"2.1.5"),
     "smtplib: RCPT demo and root (an alias) 250 2.1.5")
r = s.data(msg.replace(b"\n", b"\r\n"))
want(r[0] == 250 and r[1].startswith(b"2.0.0"), "smtplib: DATA 250 2.0.0 (%r)" % (r,))
r = s.quit()
want(r[0] == 221 and r[1].startswith(b"2.0.0"), "smtplib: QUIT 221 2.0.0")
PY
check "smtplib: two copies (demo, root -> demo), no more" settled "$DEMO" $((n + 2))
f=$(grep -lx 'Subject: smtplib 8bit' "$DEMO"/new/* | head -n 1)
body "${f:-/dev/null}" >"$H/got.body"
check "smtplib: 8-bit body with dot lines byte for byte" cmp -s "$H/got.body" "$H/py8.body"
check "two recipients: Received has no 'for' clause" pyre "${f:-/dev/null}" \
	'\nReceived: from py\.test \(\[127\.0\.0\.1\]\)\n\tby localhost \(tern-smtpd\) with ESMTP id [0-9a-f.]+;\n\t[A-Z]'

# --- send_message (the email package's message object) ---
n=$(t_count "$DEMO")
pyok "$P" <<'PY'
import smtplib, sys
from email.message import EmailMessage
def want(c, what): print(("ok " if c else "not ok ") + what)
m = EmailMessage()
m["From"] = "py@remote.example"; m["To"] = "demo@example.test"; m["Subject"] = "send_message"
m.set_content("Ünïcödé body\n.\nend\n", cte="8bit")
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10) as s:
    refused = s.send_message(m)
    want(refused == {}, "send_message: accepted, nothing refused")
PY
check "send_message: delivered once" settled "$DEMO" $((n + 1))
f=$(grep -lx 'Subject: send_message' "$DEMO"/new/* | head -n 1)
check "send_message: 8-bit body and the lone dot line intact" sh -c "grep -qx 'Ünïcödé body' '$f' && grep -qx '.' '$f'"

# --- pipelining: RFC 2920 groups, and a whole transaction in one write ---
n=$(t_count "$DEMO")
dlgis "pipelining: MAIL RCPT RCPT DATA in one group" \
	"220,250,250 2.1.0,250 2.1.5,550 5.1.1,354,250 2.0.0,250 2.0.0,250 2.1.0,250 2.1.5,354,250 2.0.0,221 2.0.0,#EOF" \
	"$P" 'EHLO pipe.test\r\n' +1 \
	'MAIL FROM:<a@remote.example>\r\nRCPT TO:<demo@example.test>\r\nRCPT TO:<nosuch@example.test>\r\nDATA\r\n' +4 \
	'Subject: pipelined 1\r\n\r\none\r\n.\r\n' +1 \
	'RSET\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<demo@example.test>\r\nDATA\r\nSubject: pipelined 2\r\n\r\ntwo\r\n.\r\nQUIT\r\n' +6 eof
check "pipelining: two messages, one each" settled "$DEMO" $((n + 2))
check "  ... both subjects there" sh -c "grep -qx 'Subject: pipelined 1' '$DEMO'/new/* && grep -qx 'Subject: pipelined 2' '$DEMO'/new/*"

# --- dot-unstuffing round trip (raw) ---
n=$(t_count "$DEMO")
dlgis "dot-stuffed DATA accepted" "220,250,250 2.1.0,250 2.1.5,354,250 2.0.0,221 2.0.0,#EOF" \
	"$P" 'EHLO x\r\n' +1 'MAIL FROM:<a@remote.example>\r\nRCPT TO:<demo@example.test>\r\nDATA\r\n' +3 \
	'Subject: dots\r\n\r\n..\r\n...\r\n..leading\r\n....three\r\nx.\r\n .\r\n\r\n..\r\n.\r\n' +1 'QUIT\r\n' eof
check "dots: delivered once" settled "$DEMO" $((n + 1))
f=$(grep -lx 'Subject: dots' "$DEMO"/new/* | head -n 1)
is "dots: lines arrive unstuffed" "$(body "${f:-/dev/null}" | od -An -c | tr -s ' \n' ' ')" \
	"$(printf '.\n..\n.leading\n...three\nx.\n .\n\n.\n' | od -An -c | tr -s ' \n' ' ')"

# --- SMTPUTF8: a UTF-8 local part (a real user) ---
pyok "$P" <<'PY'
import smtplib, sys
def want(c, what): print(("ok " if c else "not ok ") + what)
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="utf8.test", timeout=10)
s.ehlo()
want(s.has_extn("smtputf8"), "SMTPUTF8 advertised")
r = s.mail("jörg@bücher.example", ["SMTPUTF8", "BODY=8BITMIME"])
want(r[0] == 250 and r[1].startswith(b"2.1.0"), "SMTPUTF8: MAIL FROM a UTF-8 address 250 2.1.0 (%r)" % (r,))
r = s.rcpt("jösé@example.test")
want(r[0] == 250 and r[1].startswith(b"2.1.5"), "SMTPUTF8: RCPT TO:<jösé@example.test> 250 2.1.5 (%r)" % (r,))
r = s.rcpt("jösé-nicht@example.test")
want(r[0] == 550 and r[1].startswith(b"5.1.1"), "SMTPUTF8: an unknown UTF-8 user 550 5.1.1 (%r)" % (r,))
r = s.data("Subject: utf8\r\nFrom: jörg@bücher.example\r\n\r\nHallo José\r\n".encode())
want(r[0] == 250 and r[1].startswith(b"2.0.0"), "SMTPUTF8: DATA 250 2.0.0 (%r)" % (r,))
s.quit()
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
s.ehlo()
s.command_encoding = "utf-8"
r = s.mail("plain@remote.example")
r = s.rcpt("jösé@example.test")
want(r[0] == 553 and r[1].startswith(b"5.6.7"), "without SMTPUTF8: RCPT to a UTF-8 address 553 5.6.7 (%r)" % (r,))
s.rset()
s.command_encoding = "utf-8"
r = s.docmd("MAIL", "FROM:<jörg@bücher.example>")
want(r[0] == 553 and r[1].startswith(b"5.6.7"), "without SMTPUTF8: MAIL from a UTF-8 address 553 5.6.7 (%r)" % (r,))
s.quit()
PY
check "SMTPUTF8: delivered once to jösé's Maildir" settled "$UTF8" 1
f=$(newest "$UTF8")
check "SMTPUTF8: Received says with UTF8SMTP and for <jösé@example.test>" pyre "${f:-/dev/null}" \
	'with UTF8SMTP id [0-9a-f.]+\n\tfor <jösé@example\.test>; '
check "SMTPUTF8: UTF-8 header and body intact" sh -c "grep -qx 'From: jörg@bücher.example' '$f' && grep -qx 'Hallo José' '$f'"

# --- BDAT (RFC 3030) ---
n=$(t_count "$DEMO")
# chunk 1 ends inside a CR LF; a line with a leading dot is not unstuffed in BDAT.
printf 'Subject: bdat\r\n\r\nfirst\r' >"$H/c1"
printf '\n.dot stays\r\n..two\r\n8-bit \303\274\r\nend\r\n' >"$H/c2"
printf 'Subject: bdat\n\nfirst\n.dot stays\n..two\n8-bit \303\274\nend\n' >"$H/bdat.want"
l1=$(wc -c <"$H/c1"); l2=$(wc -c <"$H/c2")
dlgis "BDAT $l1, BDAT $l2 LAST: 250 2.0.0 each" "220,250,250 2.1.0,250 2.1.5,250 2.0.0,250 2.0.0,221 2.0.0,#EOF" \
	"$P" 'EHLO bdat.test\r\n' +1 'MAIL FROM:<a@remote.example> BODY=8BITMIME\r\nRCPT TO:<demo@example.test>\r\n' +2 \
	"BDAT $l1\\r\\n" "@$H/c1" +1 "BDAT $l2 LAST\\r\\n" "@$H/c2" +1 'QUIT\r\n' eof
check "  ... the chunk reply says chunk received, the last one queued" sh -c "grep -q '^250 2.0.0 chunk received' '$OUT' && grep -q '^250 2.0.0 ok: queued as' '$OUT'"
check "BDAT: delivered once" settled "$DEMO" $((n + 1))
f=$(grep -lx 'Subject: bdat' "$DEMO"/new/* | head -n 1)
check "BDAT: the bytes arrive exactly (CR LF as LF, no unstuffing)" pyre "${f:-/dev/null}" \
	'\n\tfor <demo@example\.test>; [^\n]+\nSubject: bdat\n\nfirst\n\.dot stays\n\.\.two\n8-bit \xc3\xbc\nend\n$'
n=$(t_count "$DEMO")
dlgis "BDAT 13 + BDAT 0 LAST (pipelined with MAIL and RCPT)" "220,250,250 2.1.0,250 2.1.5,250 2.0.0,250 2.0.0,221 2.0.0,#EOF" \
	"$P" 'EHLO bdat.test\r\n' +1 'MAIL FROM:<a@remote.example>\r\nRCPT TO:<demo@example.test>\r\nBDAT 13\r\nSubject: b0\r\nBDAT 0 LAST\r\n' +4 'QUIT\r\n' eof
check "BDAT 0 LAST: delivered once" settled "$DEMO" $((n + 1))
check "  ... it is the b0 message" grep -qx 'Subject: b0' "$(newest "$DEMO")"

# --- DSN parameters: checked, and kept in the queue for tern-send ---
n=$(t_count "$DEMO")
dlgis "DSN: RET ENVID NOTIFY ORCPT accepted" "220,250,250 2.1.0,250 2.1.5,250 2.1.5,354,250 2.0.0,221 2.0.0,#EOF" \
	"$P" 'EHLO dsn.test\r\n' +1 'MAIL FROM:<a@remote.example> RET=HDRS ENVID=QQ+2B314\r\n' +1 \
	'RCPT TO:<demo@example.test> NOTIFY=FAILURE,DELAY ORCPT=rfc822;demo@example.test\r\n' +1 \
	'RCPT TO:<root@localhost> NOTIFY=NEVER ORCPT=rfc822;root+40localhost\r\n' +1 'DATA\r\n' +1 \
	'Subject: dsn\r\n\r\nx\r\n.\r\n' +1 'QUIT\r\n' eof
check "DSN: delivered to both" settled "$DEMO" $((n + 2))
n=$(t_count "$DEMO")
dlgis "DSN: NOTIFY=SUCCESS from a local sender" "220,250,250 2.1.0,250 2.1.5,354,250 2.0.0,221 2.0.0,#EOF" \
	"$P" 'EHLO dsn.test\r\n' +1 'MAIL FROM:<root@localhost> ENVID=env+2D42\r\n' +1 \
	'RCPT TO:<demo@example.test> NOTIFY=success ORCPT=rfc822;demo+40example.test\r\n' +1 'DATA\r\n' +1 \
	'Subject: dsn-success\r\n\r\nx\r\n.\r\n' +1 'QUIT\r\n' eof
check "DSN: the message and a delivered report reach demo" settled "$DEMO" $((n + 2))
rep=$(grep -l '^Action: delivered' "$DEMO"/new/* 2>/dev/null | head -n 1)
check "DSN: the report says Action: delivered, Status: 2.0.0" grep -q '^Status: 2.0.0' "${rep:-/nonexistent}"
check "DSN: Original-Envelope-Id from ENVID (xtext decoded)" grep -q '^Original-Envelope-Id: env-42' "${rep:-/nonexistent}"
check "DSN: Original-Recipient from ORCPT" grep -q '^Original-Recipient: rfc822; *demo@example.test' "${rep:-/nonexistent}"
dlgis "DSN: RET=FULL, NOTIFY=delay (any case) accepted" "220,250,250 2.1.0,250 2.1.5,221 2.0.0,#EOF" \
	"$P" 'EHLO dsn.test\r\n' +1 'MAIL FROM:<> RET=FULL\r\n' +1 'RCPT TO:<demo@example.test> notify=delay\r\n' +1 'QUIT\r\n' eof
for bad in 'MAIL FROM:<a@b.example> RET=BOGUS|501 5.5.4' 'MAIL FROM:<a@b.example> ENVID=a+zz|501 5.5.4' \
	"MAIL FROM:<a@b.example> ENVID=$(printf '%0101d' 0)|501 5.5.4" 'MAIL FROM:<a@b.example> ENVID=a=b|501 5.5.4'; do
	dlgis "DSN: ${bad%|*}: ${bad#*|}" "220,250,${bad#*|},221 2.0.0,#EOF" "$P" 'EHLO x\r\n' +1 "${bad%|*}\\r\\n" +1 'QUIT\r\n' eof
done
for bad in 'NOTIFY=NEVER,SUCCESS' 'NOTIFY=SOMETIMES' 'NOTIFY=' 'ORCPT=nosemicolon' 'ORCPT=rfc822;a+zz' 'ORCPT=;x'; do
	dlgis "DSN: RCPT $bad refused 501 5.5.4" "220,250,250 2.1.0,501 5.5.4,221 2.0.0,#EOF" \
		"$P" 'EHLO x\r\n' +1 'MAIL FROM:<a@b.example>\r\n' +1 "RCPT TO:<demo@example.test> $bad\\r\\n" +1 'QUIT\r\n' eof
done

# ================= the small commands =================
n=$(t_count "$DEMO")
dlgis "RCPT TO:<postmaster> without domain, MAIL FROM:<>" "220,250,250 2.1.0,250 2.1.5,354,250 2.0.0,221 2.0.0,#EOF" \
	"$P" 'EHLO x\r\n' +1 'MAIL FROM:<>\r\n' +1 'RCPT TO:<Postmaster>\r\n' +1 'DATA\r\n' +1 \
	'Subject: to postmaster\r\n\r\nx\r\n.\r\n' +1 'QUIT\r\n' eof
check "postmaster: delivered to demo (postmaster@localhost alias)" settled "$DEMO" $((n + 1))
f=$(newest "$DEMO")
check "postmaster: Return-Path <> and for <postmaster@localhost>" sh -c "grep -qx 'Return-Path: <>' '$f' && grep -q 'for <postmaster@localhost>' '$f'"
dlgis "unknown local user: 550 5.1.1 at RCPT" "220,250,250 2.1.0,550 5.1.1,550 5.1.1,221 2.0.0,#EOF" \
	"$P" 'EHLO x\r\n' +1 'MAIL FROM:<a@remote.example>\r\n' +1 'RCPT TO:<nosuch@example.test>\r\n' +1 'RCPT TO:<nosuch@localhost>\r\n' +1 'QUIT\r\n' eof
dlgis "VRFY 252 2.1.5, HELP 214 2.0.0, EXPN 502 5.5.1, NOOP 250 2.0.0, RSET 250 2.0.0" \
	"220,252 2.1.5,252 2.1.5,214 2.0.0,502 5.5.1,250 2.0.0,250 2.0.0,221 2.0.0,#EOF" \
	"$P" 'VRFY demo\r\n' +1 'VRFY nosuch@example.test\r\n' +1 'HELP\r\n' +1 'EXPN postmaster\r\n' +1 'NOOP\r\n' +1 'RSET\r\n' +1 'QUIT\r\n' eof
dlgis "HELO (not EHLO): 250, plain MAIL works, Received says with SMTP" "220,250,250 2.1.0,250 2.1.5,354,250 2.0.0,221 2.0.0,#EOF" \
	"$P" 'HELO old.test\r\n' +1 'MAIL FROM:<a@remote.example>\r\n' +1 'RCPT TO:<demo@example.test>\r\n' +1 'DATA\r\n' +1 \
	'Subject: helo\r\n\r\nx\r\n.\r\n' +1 'QUIT\r\n' eof
t_wait 10 sh -c "grep -qx 'Subject: helo' '$DEMO'/new/*"
f=$(grep -lx 'Subject: helo' "$DEMO"/new/* | head -n 1)
check "  ... Received: from old.test ... with SMTP" pyre "${f:-/dev/null}" 'Received: from old\.test \(\[127\.0\.0\.1\]\)\n\tby localhost \(tern-smtpd\) with SMTP id '

# ================= no open relay =================
nsend=$(grep -c 'remote.example\|relay.example' "$H/log/send.log")
relay() { # relay ADDRESS EXPECTED-CODE: RCPT TO:<ADDRESS> from 127.0.0.1 without RELAYCLIENT
	dlg "$1" 'EHLO relay.test\r\n' +1 'MAIL FROM:<spammer@remote.example>\r\n' +1 "RCPT TO:<$2>\\r\\n" +1 'QUIT\r\n' eof
	_r=$(nth 4)
	case $_r in
		250*) fail "relay: RCPT TO:<$2> accepted ($_r): open relay!";;
		"$3") ok "relay: RCPT TO:<$2> refused: $_r";;
		*) fail "relay: RCPT TO:<$2> (got '$(codes)', expected $3)";;
	esac
}
relay "$P" 'someone@remote.example' '554 5.7.1'
relay "$P" 'user%remote.example@localhost' '550 5.1.1'
relay "$P" 'remote.example!user@localhost' '550 5.1.1'
relay "$P" '"user@remote.example"@localhost' '550 5.1.1'
relay "$P" '"user@remote.example"@example.test' '550 5.1.1'
relay "$P" '@localhost:user@remote.example' '554 5.7.1'
relay "$P" '@localhost,@example.test:user@remote.example' '554 5.7.1'
relay "$P" 'user@remote.example@localhost' '501 5.1.2'
relay "$P" 'user@[127.0.0.1]' '554 5.7.1'
relay "$P" 'postmaster@[127.0.0.1]' '554 5.7.1'
relay "$P" 'user@remote.example.' '501 5.1.2'
relay "$P" 'USER@REMOTE.EXAMPLE' '554 5.7.1'
relay "$P" 'user@localhost.' '501 5.1.2'
relay "$P" 'demo@example.test.' '501 5.1.2'
relay "$P" 'user@remote.example:25' '501 5.1.2'
relay "$P" 'user@remote.example>@localhost' '501 5.5.4'
relay "$P" 'user@localhost@remote.example' '501 5.1.2'
relay "$P" 'user@relay.example' '554 5.7.1'
# A source route to a local address is just dropped: the local address is fine.
dlgis "relay: @remote.example:demo@example.test is demo (the route is dropped)" "220,250,250 2.1.0,250 2.1.5,221 2.0.0,#EOF" \
	"$P" 'EHLO x\r\n' +1 'MAIL FROM:<a@remote.example>\r\n' +1 'RCPT TO:<@remote.example:demo@example.test>\r\n' +1 'QUIT\r\n' eof
# rcpthosts
printf 'relay.example\n' >"$C/rcpthosts"
dlgis "rcpthosts: x@relay.example and X@RELAY.EXAMPLE 250 2.1.5, sub.relay.example 554 5.7.1" \
	"220,250,250 2.1.0,250 2.1.5,250 2.1.5,554 5.7.1,554 5.7.1,221 2.0.0,#EOF" \
	"$P" 'EHLO x\r\n' +1 'MAIL FROM:<a@remote.example>\r\n' +1 'RCPT TO:<x@relay.example>\r\n' +1 'RCPT TO:<X@RELAY.EXAMPLE>\r\n' +1 \
	'RCPT TO:<x@sub.relay.example>\r\n' +1 'RCPT TO:<x@remote.example>\r\n' +1 'QUIT\r\n' eof
rm -f "$C/rcpthosts"
is "relay: tern-send never saw any of these (nothing queued)" "$(grep -c 'remote.example\|relay.example' "$H/log/send.log")" "$nsend"
check "relay: queue empty" qempty
# RELAYCLIENT from tcprules
echo '127.0.0.1:allow,RELAYCLIENT=""' | tcprules "$H/rules.cdb" "$H/rules.tmp"
check "tcprules built rules.cdb" test -s "$H/rules.cdb"
check "tcpserver -x rules.cdb started" start_smtpd PR -x "$H/rules.cdb"
dlgis "RELAYCLIENT: remote recipients 250 2.1.5; unknown local users still 550 5.1.1" \
	"220,250,250 2.1.0,250 2.1.5,250 2.1.5,550 5.1.1,221 2.0.0,#EOF" \
	"$PR" 'EHLO x\r\n' +1 'MAIL FROM:<a@example.test>\r\n' +1 'RCPT TO:<someone@remote.example>\r\n' +1 'RCPT TO:<USER@[192.0.2.1]>\r\n' +1 \
	'RCPT TO:<nosuch@example.test>\r\n' +1 'QUIT\r\n' eof
# A local session on a pipe relays (it is a user of this host); nothing is sent here.
printf 'EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<someone@remote.example>\r\nQUIT\r\n' | "$T_BIN/tern-smtpd" 2>>"$LOG" >"$OUT"
is "pipe session: exit 0" $? 0
is "pipe session: remote recipient accepted" "$(codes)" "220,250,250 2.1.0,250 2.1.5,221 2.0.0"
check "pipe session: EHLO names the client local" grep -q '^250-localhost hello x \[local\]' "$OUT"
alive "the relay attempts"

# ================= SMTP smuggling =================
SMUG='MAIL FROM:<evil@x>\r\nRCPT TO:<demo@example.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n'
# nosmuggled: no message in demo's Maildir has a header field "Subject: smuggled".
nosmuggled() {
	"$PY" - "$DEMO" <<'PY'
import email, os, sys
for d in ("new", "cur"):
    p = os.path.join(sys.argv[1], d)
    for f in os.listdir(p):
        m = email.message_from_binary_file(open(os.path.join(p, f), "rb"))
        if any("smuggled" in (v or "") for v in m.get_all("Subject", [])): sys.exit(1)
PY
}
i=0
for seq in '\n.\n' '\r.\r' '\n.\r\n' '\r\n.\n' '\r.\r\n'; do
	i=$((i + 1))
	sq=$(printf '%s' "$seq" | sed 's/\\r/<CR>/g; s/\\n/<LF>/g')
	n=$(t_count "$DEMO")
	dlgis "smuggling $sq: 521 5.5.2 and closed" "220,250,250 2.1.0,250 2.1.5,354,521 5.5.2,#EOF" \
		"$P" 'EHLO x\r\n' +1 'MAIL FROM:<a@remote.example>\r\nRCPT TO:<demo@example.test>\r\nDATA\r\n' +3 \
		"Subject: outer $i\\r\\n\\r\\nbody$seq${SMUG}QUIT\\r\\n" +1 eof
	sleep 0.2
	check "smuggling $sq: nothing queued, nothing delivered" sh -c "[ \$(find '$H/queue/mess' '$H/queue/tmp' -type f | wc -l) -eq 0 ] && [ \$(ls '$DEMO/new' '$DEMO/cur' | grep -vc -e '^\$' -e ':\$') -eq $n ]"
done
check "smuggling: no smuggled message in the Maildir" nosmuggled
alive "the smuggling attempts"
echo 1 >"$C/smtpbarelf"
i=0
for seq in '\n.\n' '\r.\r' '\n.\r\n' '\r\n.\n' '\r.\r\n'; do
	i=$((i + 1))
	sq=$(printf '%s' "$seq" | sed 's/\\r/<CR>/g; s/\\n/<LF>/g')
	n=$(t_count "$DEMO")
	dlgis "smtpbarelf=1, $sq: one message (250 2.0.0), the smuggled lines are data" "220,250,250 2.1.0,250 2.1.5,354,250 2.0.0,221 2.0.0,#EOF" \
		"$P" 'EHLO x\r\n' +1 'MAIL FROM:<a@remote.example>\r\nRCPT TO:<demo@example.test>\r\nDATA\r\n' +3 \
		"Subject: relaxed $i\\r\\n\\r\\nbody$seq$SMUG" +1 'QUIT\r\n' eof
	check "smtpbarelf=1, $sq: exactly one message" settled "$DEMO" $((n + 1))
	f=$(newest "$DEMO")
	check "  ... it is the outer one, the smuggled lines in it as data" sh -c "grep -qx 'Subject: relaxed $i' '$f' && grep -q 'Subject: smuggled' '$f'"
done
check "smtpbarelf=1: still no message with a smuggled Subject header" nosmuggled
rm -f "$C/smtpbarelf"
alive "the relaxed smuggling"

# ================= malformed commands =================
# bad "what" STEP-AFTER-EHLO EXPECTED: one bad command in its own session.
bad() {
	dlgis "bad input: $1: $3" "220,250,$3,221 2.0.0,#EOF" "$P" 'EHLO x\r\n' +1 "$2" +1 'QUIT\r\n' eof
}
# badm: the same after a MAIL FROM.
badm() {
	dlgis "bad input: $1: $3" "220,250,250 2.1.0,$3,221 2.0.0,#EOF" "$P" 'EHLO x\r\n' +1 'MAIL FROM:<a@remote.example>\r\n' +1 "$2" +1 'QUIT\r\n' eof
}
bad "MAIL without FROM:" 'MAIL <a@b.example>\r\n' '501 5.5.4'
bad "MAIL FROM without brackets" 'MAIL FROM:a@b.example\r\n' '501 5.5.4'
bad "MAIL FROM: nothing" 'MAIL FROM:\r\n' '501 5.5.4'
bad "MAIL FROM:<a@b> junk glued on" 'MAIL FROM:<a@b.example>junk\r\n' '501 5.5.4'
bad "MAIL FROM:<a@b> unknown parameter" 'MAIL FROM:<a@b.example> JUNK\r\n' '555 5.5.4'
bad "MAIL FROM:<a@b> FOO=bar" 'MAIL FROM:<a@b.example> FOO=bar\r\n' '555 5.5.4'
bad "MAIL FROM: malformed UTF-8 with SMTPUTF8" 'MAIL FROM:<j\xffo@b.example> SMTPUTF8\r\n' '501 5.1.3'
bad "MAIL FROM: overlong UTF-8 with SMTPUTF8" 'MAIL FROM:<\xc0\xafx@b.example> SMTPUTF8\r\n' '501 5.1.3'
badm "RCPT TO: a UTF-8 surrogate (malformed before non-ASCII)" 'RCPT TO:<\xed\xa0\x80@example.test>\r\n' '501 5.1.3'
bad "MAIL FROM: a quoted local part of 65 octets as sent" 'MAIL FROM:<"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"@b.example>\r\n' '501 5.1.3'
bad "SIZE=abc" 'MAIL FROM:<a@b.example> SIZE=abc\r\n' '501 5.5.4'
bad "SIZE= (empty)" 'MAIL FROM:<a@b.example> SIZE=\r\n' '501 5.5.4'
bad "SIZE=99999999999999999999999" 'MAIL FROM:<a@b.example> SIZE=99999999999999999999999\r\n' '501 5.5.4'
bad "SIZE=-1" 'MAIL FROM:<a@b.example> SIZE=-1\r\n' '501 5.5.4'
bad "BODY=9BIT" 'MAIL FROM:<a@b.example> BODY=9BIT\r\n' '555 5.5.4'
bad "SMTPUTF8=yes" 'MAIL FROM:<a@b.example> SMTPUTF8=yes\r\n' '555 5.5.4'
bad "MAIL FROM:<a@b>, a parameter with bad characters" 'MAIL FROM:<a@b.example> SI*ZE=1\r\n' '501 5.5.4'
bad "MAIL FROM:<a..b@c>" 'MAIL FROM:<a..b@c.example>\r\n' '501 5.1.3'
bad "MAIL FROM:<.a@c>" 'MAIL FROM:<.a@c.example>\r\n' '501 5.1.3'
bad "MAIL FROM:<a@-c.example>" 'MAIL FROM:<a@-c.example>\r\n' '501 5.1.2'
bad "MAIL FROM:<a@b..example>" 'MAIL FROM:<a@b..example>\r\n' '501 5.1.2'
bad "MAIL FROM:<a@>" 'MAIL FROM:<a@>\r\n' '501 5.1.2'
bad "MAIL FROM:<a> (no domain)" 'MAIL FROM:<a>\r\n' '501 5.1.3'
bad "MAIL FROM:<a b@c>" 'MAIL FROM:<a b@c.example>\r\n' '501 5.1.3'
bad "MAIL FROM:<\"unterminated@c>" 'MAIL FROM:<"a@c.example>\r\n' '501 5.1.3'
bad "MAIL FROM:<@bad route:a@c>" 'MAIL FROM:<@bad route:a@c.example>\r\n' '501 5.1.3'
bad "RCPT before MAIL" 'RCPT TO:<demo@example.test>\r\n' '503 5.5.1'
bad "DATA before MAIL" 'DATA\r\n' '503 5.5.1'
badm "DATA before RCPT" 'DATA\r\n' '554 5.5.1'
badm "nested MAIL" 'MAIL FROM:<b@remote.example>\r\n' '503 5.5.1'
badm "RCPT without TO:" 'RCPT <demo@example.test>\r\n' '501 5.5.4'
badm "RCPT TO:<>" 'RCPT TO:<>\r\n' '501 5.1.3'
badm "RCPT TO:<abuse> (only postmaster may lack a domain)" 'RCPT TO:<abuse>\r\n' '501 5.1.3'
badm "RCPT unknown parameter" 'RCPT TO:<demo@example.test> FOO=1\r\n' '555 5.5.4'
badm "RCPT junk glued on" 'RCPT TO:<demo@example.test>x\r\n' '501 5.5.4'
bad "unknown command" 'FROBNICATE\r\n' '500 5.5.1'
bad "empty line" '\r\n' '500 5.5.1'
bad "EHLO without a name" 'EHLO\r\n' '501 5.5.4'
bad "DATA with an argument" 'DATA now\r\n' '501 5.5.4'
bad "BDAT x" 'BDAT x\r\n' '501 5.5.4'
bad "BDAT without a size" 'BDAT\r\n' '501 5.5.4'
bad "BDAT before MAIL (the chunk is read, not run)" 'BDAT 6\r\nQUIT\r\n' '503 5.5.1'
bad "STARTTLS" 'STARTTLS\r\n' '502 5.5.1'
bad "AUTH" 'AUTH PLAIN\r\n' '502 5.5.1'
dlgis "bad input: MAIL before EHLO/HELO: 503 5.5.1" "220,503 5.5.1,221 2.0.0,#EOF" "$P" 'MAIL FROM:<a@b.example>\r\n' +1 'QUIT\r\n' eof
dlgis "bad input: parameters after HELO: 555 5.5.4" "220,250,555 5.5.4,221 2.0.0,#EOF" \
	"$P" 'HELO x\r\n' +1 'MAIL FROM:<a@b.example> SIZE=10\r\n' +1 'QUIT\r\n' eof
bad "NUL byte in a command" 'NOOP a\x00b\r\n' '500 5.5.2'
bad "NUL byte in an address" 'MAIL FROM:<a\x00@b.example>\r\n' '500 5.5.2'
bad "a bare LF ends a command" 'NOOP\n' '500 5.5.2'
bad "a bare CR inside a command" 'NOOP\rRSET\r\n' '500 5.5.2'
bad "8-bit sender without SMTPUTF8" 'MAIL FROM:<jörg@b.example>\r\n' '553 5.6.7'
bad "8-bit domain without SMTPUTF8" 'MAIL FROM:<a@bücher.example>\r\n' '553 5.6.7'
bad "8-bit parameter without SMTPUTF8" 'MAIL FROM:<a@b.example> ENVID=grüße\r\n' '501 5.5.4'
bad "8-bit command verb" 'NÖÖP\r\n' '500 5.5.1'
badm "8-bit recipient without SMTPUTF8" 'RCPT TO:<jösé@example.test>\r\n' '553 5.6.7'
# line lengths: 510 octets + CR LF is the most
l510=$(printf 'NOOP %0505d' 0)
bad "a 512-octet command line (510 + CR LF) is fine" "$l510\\r\\n" '250 2.0.0'
bad "a 513-octet command line: 500 5.5.2" "${l510}x\\r\\n" '500 5.5.2'
bad "a 5000-octet command line: 500 5.5.2" "NOOP $(printf '%05000d' 0)\\r\\n" '500 5.5.2'
# local part and domain lengths
l64=$(printf '%064d' 0); l65=$(printf '%065d' 0)
d63=$(printf '%063d' 0)
bad "a 64-octet local part is fine" "MAIL FROM:<$l64@b.example>\\r\\n" '250 2.1.0'
bad "a 65-octet local part: 501 5.1.3" "MAIL FROM:<$l65@b.example>\\r\\n" '501 5.1.3'
bad "a quoted 65-octet local part: 501 5.1.3" "MAIL FROM:<\"$l65\"@b.example>\\r\\n" '501 5.1.3'
badm "a 65-octet local part in RCPT: 501 5.1.3" "RCPT TO:<$l65@example.test>\\r\\n" '501 5.1.3'
bad "a 64-octet label: 501 5.1.2" "MAIL FROM:<a@${d63}0.example>\\r\\n" '501 5.1.2'
d250="$d63.$d63.$d63.$(printf '%058d' 0)"
d256="$d63.$d63.$d63.$d63"
bad "a 250-octet domain is fine" "MAIL FROM:<a@$d250>\\r\\n" '250 2.1.0'
bad "a 255-octet domain with its local part is over the 256-octet path: 501 5.1.3" \
	"MAIL FROM:<a@$d63.$d63.$d63.$(printf '%063d' 0)>\\r\\n" '501 5.1.3'
bad "a 256-octet domain: 501 5.1.2" "MAIL FROM:<a@$d256.x>\\r\\n" '501 5.1.2'
badm "a 256-octet domain in RCPT: 501 5.1.2" "RCPT TO:<a@$d256.x>\\r\\n" '501 5.1.2'
alive "the malformed commands"

# --- 10 bad commands: 421 and close ---
dlgis "10 bad commands: ten 500 5.5.1, then 421 4.7.0 and closed" \
	"220,500 5.5.1,500 5.5.1,500 5.5.1,500 5.5.1,500 5.5.1,500 5.5.1,500 5.5.1,500 5.5.1,500 5.5.1,500 5.5.1,421 4.7.0,#EOF" \
	"$P" '*10:BOGUS\r\n' +11 eof
dlgis "9 bad commands then good ones: still served" "220,250,501 5.5.4,501 5.5.4,501 5.5.4,501 5.5.4,501 5.5.4,501 5.5.4,501 5.5.4,501 5.5.4,501 5.5.4,250 2.0.0,221 2.0.0,#EOF" \
	"$P" 'EHLO x\r\n' +1 '*9:MAIL FROM:x\r\n' +9 'NOOP\r\n' +1 'QUIT\r\n' eof

# --- 10,000 pipelined NOOPs in one write ---
dlg -t 30 "$P" 'EHLO x\r\n' +1 '*10000:NOOP\r\n' +10000 'QUIT\r\n' +1 eof
is "10000 NOOPs in one write: 10000 replies 250 2.0.0" "$(grep -c '^250 2.0.0 ok$' "$OUT")" 10000
is "  ... then QUIT 221 2.0.0 and closed" "$(tail -n 2 "$OUT" | tr '\n' ' ')" "221 2.0.0 localhost closing #EOF "

# --- 1000 RCPTs: smtpmaxrcpt (100) ---
n=$(t_count "$DEMO")
"$PY" -c '
import sys
sys.stdout.write("MAIL FROM:<many@remote.example>\r\n" + "".join("RCPT TO:<demo+%d@example.test>\r\n" % i for i in range(1, 1001)) + "DATA\r\n")' >"$H/many.in"
dlg -t 30 "$P" 'EHLO x\r\n' +1 "@$H/many.in" +1002 'Subject: many\r\n\r\nto a hundred\r\n.\r\n' +1 'QUIT\r\n' eof
is "1000 RCPTs: 100 of 250 2.1.5" "$(grep -c '^250 2.1.5 ' "$OUT")" 100
is "1000 RCPTs: 900 of 452 4.5.3" "$(grep -c '^452 4.5.3 ' "$OUT")" 900
is "1000 RCPTs: the 100 accepted came first" "$(grep -E '^(250 2.1.5|452 4.5.3)' "$OUT" | head -n 100 | grep -c '^250')" 100
check "1000 RCPTs: DATA 354, 250 2.0.0, QUIT 221 2.0.0" sh -c "grep -q '^354 ' '$OUT' && grep -q '^250 2.0.0 ok: queued' '$OUT' && tail -n 2 '$OUT' | grep -q '^221 2.0.0'"
check "1000 RCPTs: delivered once to each of the 100 accepted (100 copies)" settled "$DEMO" $((n + 100))
is "1000 RCPTs: Delivered-To demo+1 .. demo+100, each once" \
	"$(grep -h '^Delivered-To: demo+' $(grep -lx 'Subject: many' "$DEMO"/new/*) | sort | uniq | wc -l)" 100
check "  ... and demo+101 got nothing" sh -c "! grep -qx 'Delivered-To: demo+101@example.test' '$DEMO'/new/*"

# --- connections dropped mid-DATA and mid-BDAT ---
n=$(t_count "$DEMO")
l=$(nlost)
dlg "$P" 'EHLO x\r\n' +1 'MAIL FROM:<a@remote.example>\r\nRCPT TO:<demo@example.test>\r\nDATA\r\n' +3 'Subject: dropped\r\n\r\npartial li' sleep:0.2 close
check "dropped mid-DATA: the session ends in the message" t_wait 10 lost_gt "$l"
dlg "$P" 'EHLO x\r\n' +1 'MAIL FROM:<a@remote.example>\r\nRCPT TO:<demo@example.test>\r\nBDAT 1000 LAST\r\n' +2 'Subject: dropped\r\n\r\npartial' sleep:0.2 close
check "dropped mid-BDAT: the session ends in the chunk" t_wait 10 lost_gt $((l + 1))
dlg "$P" 'EHLO x\r\n' +1 'MAIL FROM:<a@remote.example>\r\nRCPT TO:<demo@example.test>\r\nBDAT 20\r\nSubject: dropped\r\n\r\n' +3 close
sleep 0.3
check "dropped between BDAT chunks: nothing queued, nothing delivered" sh -c "[ \$(find '$H/queue/mess' '$H/queue/tmp' -type f | wc -l) -eq 0 ]"
check "dropped: nothing queued, nothing delivered" settled "$DEMO" "$n"
check "dropped: no message with Subject dropped" sh -c "! grep -qx 'Subject: dropped' '$DEMO'/new/*"

# --- BDAT size mismatches ---
n=$(t_count "$DEMO")
dlg -t 1.5 "$P" 'EHLO x\r\n' +1 'MAIL FROM:<a@remote.example>\r\nRCPT TO:<demo@example.test>\r\n' +2 'BDAT 100 LAST\r\nSubject: short\r\n\r\nfifty bytes or so\r\nQUIT\r\n' +1 close
is "BDAT with fewer bytes than announced: QUIT is data, no reply" "$(codes)" "220,250,250 2.1.0,250 2.1.5,#TIMEOUT"
dlgis "BDAT with more bytes than announced: the rest is a (bad) command" "220,250,250 2.1.0,250 2.1.5,250 2.0.0,500 5.5.1,221 2.0.0,#EOF" \
	"$P" 'EHLO x\r\n' +1 'MAIL FROM:<a@remote.example>\r\nRCPT TO:<demo@example.test>\r\n' +2 'BDAT 21 LAST\r\nSubject: long\r\n\r\nabcdEXTRA STUFF\r\n' +2 'QUIT\r\n' eof
check "BDAT more bytes: one message" settled "$DEMO" $((n + 1))
f=$(newest "$DEMO")
check "  ... of exactly the announced bytes" pyre "${f:-/dev/null}" '\nSubject: long\n\nabcd\n?$'
dlgis "BDAT then DATA: 503 5.5.1; RSET drops the chunks" "220,250,250 2.1.0,250 2.1.5,250 2.0.0,503 5.5.1,250 2.0.0,221 2.0.0,#EOF" \
	"$P" 'EHLO x\r\n' +1 'MAIL FROM:<a@remote.example>\r\nRCPT TO:<demo@example.test>\r\n' +2 'BDAT 17\r\nSubject: rset\r\n\r\n' +1 'DATA\r\n' +1 'RSET\r\n' +1 'QUIT\r\n' eof
dlgis "BDAT 10 NOTLAST: 501 5.5.4, the chunk is read, not run" "220,250,250 2.1.0,250 2.1.5,501 5.5.4,250 2.0.0,221 2.0.0,#EOF" \
	"$P" 'EHLO x\r\n' +1 'MAIL FROM:<a@remote.example>\r\nRCPT TO:<demo@example.test>\r\n' +2 'BDAT 6 NOTLAST\r\nQUIT\r\n' +1 'RSET\r\n' +1 'QUIT\r\n' eof
# Many BDAT-RSET rounds in one session: no queue program may be left behind.
"$PY" -c '
import sys
sys.stdout.write("".join("MAIL FROM:<a@remote.example>\r\nRCPT TO:<demo@example.test>\r\nBDAT 8\r\nX: y\r\n\r\nRSET\r\n" for i in range(200)))' >"$H/rounds.in"
dlg -t 30 "$P" 'EHLO x\r\n' +1 "@$H/rounds.in" +800 sleep:3 'NOOP\r\n' +1 'QUIT\r\n' eof &
dlgpid=$!
T_PIDS="$T_PIDS $dlgpid"
# While that session waits: how many tern-queue processes do its tern-smtpd children hold?
# (The fork server, tern-queue -z, stays for the session; its children are the queue
# programs.)
t_wait 20 sh -c "[ \$(grep -c '^250 ' '$OUT') -ge 801 ]"
sleep 0.3
nq=0
for sp in $(ps -o pid= --ppid "$P_PID"); do
	for qp in $(ps -o pid= -o comm= --ppid "$sp" | awk '$2 == "tern-queue" {print $1}'); do
		if tr '\0' ' ' <"/proc/$qp/cmdline" | grep -q -- ' -z'; then
			nq=$((nq + $(ps -o pid= --ppid "$qp" | grep -c .)))
		else
			nq=$((nq + 1))
		fi
	done
done
is "200 BDAT-RSET rounds: no queue program left running" "$nq" 0
wait $dlgpid
T_PIDS=$(for p in $T_PIDS; do [ "$p" = "$dlgpid" ] || printf '%s ' "$p"; done)
is "200 BDAT-RSET rounds: all 250" "$(grep -c '^250 ' "$OUT")" 802
check "200 BDAT-RSET rounds: nothing queued, nothing delivered" settled "$DEMO" $((n + 1))
check "  ... no message with Subject rset or short" sh -c "! grep -qx -e 'Subject: rset' -e 'Subject: short' '$DEMO'/new/*"
alive "the dropped connections and BDAT mismatches"

# ================= databytes =================
echo 10000 >"$C/databytes"
dlgis "databytes 10000: MAIL SIZE=10001 552 5.3.4, SIZE=10000 250 2.1.0" "220,250,552 5.3.4,250 2.1.0,221 2.0.0,#EOF" \
	"$P" 'EHLO x\r\n' +1 'MAIL FROM:<a@remote.example> SIZE=10001\r\n' +1 'MAIL FROM:<a@remote.example> SIZE=10000\r\n' +1 'QUIT\r\n' eof
check "  ... 250-SIZE 10000 advertised" grep -qx '250-SIZE 10000' "$OUT"
n=$(t_count "$DEMO")
"$PY" -c 'import sys; sys.stdout.write("Subject: too big\r\n\r\n" + ("0123456789" * 7 + "\r\n") * 300 + ".\r\n")' >"$H/big.in"
dlgis "databytes 10000: a 21 kB message in DATA: 552 5.3.4, the session goes on" \
	"220,250,250 2.1.0,250 2.1.5,354,552 5.3.4,250 2.1.0,221 2.0.0,#EOF" \
	"$P" 'EHLO x\r\n' +1 'MAIL FROM:<a@remote.example>\r\nRCPT TO:<demo@example.test>\r\nDATA\r\n' +3 "@$H/big.in" +1 \
	'MAIL FROM:<a@remote.example>\r\n' +1 'QUIT\r\n' eof
"$PY" -c 'import sys; sys.stdout.write("Subject: too big\r\n\r\n" + ("0123456789" * 7 + "\r\n") * 300)' >"$H/big.bdat"
dlgis "databytes 10000: a 21 kB BDAT LAST: 552 5.3.4; RSET; a small message then" \
	"220,250,250 2.1.0,250 2.1.5,552 5.3.4,250 2.0.0,250 2.1.0,250 2.1.5,250 2.0.0,221 2.0.0,#EOF" \
	"$P" 'EHLO x\r\n' +1 'MAIL FROM:<a@remote.example>\r\nRCPT TO:<demo@example.test>\r\n' +2 "BDAT $(wc -c <"$H/big.bdat") LAST\\r\\n" "@$H/big.bdat" +1 \
	'RSET\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<demo@example.test>\r\nBDAT 21 LAST\r\nSubject: small ok\r\n\r\n' +4 'QUIT\r\n' eof
check "databytes: only the small message delivered" settled "$DEMO" $((n + 1))
check "  ... the small one" grep -qx 'Subject: small ok' "$(newest "$DEMO")"
check "databytes: no too-big message" sh -c "! grep -qx 'Subject: too big' '$DEMO'/new/*"
echo 0 >"$C/databytes"
n=$(t_count "$DEMO")
dlgis "databytes 0 (no limit): SIZE=99999999999 250 2.1.0 and a 21 kB message 250 2.0.0" "220,250,250 2.1.0,250 2.1.5,354,250 2.0.0,221 2.0.0,#EOF" \
	"$P" 'EHLO x\r\n' +1 'MAIL FROM:<a@remote.example> SIZE=99999999999\r\nRCPT TO:<demo@example.test>\r\nDATA\r\n' +3 "@$H/big.in" +1 'QUIT\r\n' eof
check "databytes 0: delivered" settled "$DEMO" $((n + 1))
rm -f "$C/databytes"

# ================= timeouts and the greeting delay =================
echo 2 >"$C/timeoutsmtpd"
t0=$(date +%s)
dlgis "timeoutsmtpd=2: a silent client gets 421 4.4.2 and is closed" "220,250,421 4.4.2,#EOF" "$P" 'EHLO slow\r\n' +1 +1 eof
t1=$(date +%s)
check "  ... after about 2 s" test $((t1 - t0)) -ge 1 -a $((t1 - t0)) -le 5
n=$(t_count "$DEMO")
dlgis "timeoutsmtpd=2: silent in DATA: 421 4.4.2, nothing queued" "220,250,250 2.1.0,250 2.1.5,354,421 4.4.2,#EOF" \
	"$P" 'EHLO slow\r\n' +1 'MAIL FROM:<a@remote.example>\r\nRCPT TO:<demo@example.test>\r\nDATA\r\n' +3 'Subject: slow\r\n\r\nhalf' +1 eof
check "  ... nothing delivered" settled "$DEMO" "$n"
dlgis "timeoutsmtpd=2: a slow but steady client (1 s pauses) is served" "220,250,250 2.1.0,250 2.1.5,221 2.0.0,#EOF" \
	"$P" sleep:1 'EHLO slow\r\n' +1 sleep:1 'MAIL FROM:<a@remote.example>\r\n' +1 sleep:1 'RCPT TO:<demo@example.test>\r\n' +1 sleep:1 'QUIT\r\n' eof
rm -f "$C/timeoutsmtpd"
echo 1 >"$C/smtpgreetdelay"
dlgis "smtpgreetdelay=1: a client talking first gets 554 5.5.0 and no greeting" "554 5.5.0,#EOF" -n "$P" 'EHLO early\r\n' +1 eof
dlgis "smtpgreetdelay=1: a patient client is greeted and served" "220,250,250 2.0.0,221 2.0.0,#EOF" "$P" 'EHLO patient\r\n' +1 'NOOP\r\n' +1 'QUIT\r\n' eof
rm -f "$C/smtpgreetdelay"
alive "the timeouts"

# ================= the end =================
check "both tcpservers still running" kill -0 "$P_PID" "$PR_PID"
check "queue empty at the end" t_wait 10 qempty
nsm=0
for pid in $P_PID $PR_PID; do nsm=$((nsm + $(ps -o pid= --ppid "$pid" | wc -l))); done
is "no tern-smtpd left running after the sessions" "$nsm" 0
t_done
