#!/bin/sh
# tern-remote and tern-send's remote deliveries, in a network namespace of the test's own:
# a test DNS server on 127.0.0.1:53 (dnsd.py) answers for *.test, scriptable SMTP sinks
# (sink.py) and a second tern (tern-smtpd under tcpserver) listen on port 25 of other
# loopback addresses.  127.0.0.1 is "this host" for the MX loop check.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
t_netns "$0" "$@"

t_home
H=$TERN_HOME
rm -f "$H/control/smtproutes"	# here remote mail goes by the test DNS
W=$H/work
mkdir -p "$W"
D=$T_TOP/tests/integration
DNSCACHEIP=127.0.0.1
export DNSCACHEIP

cat >"$W/zone" <<'EOF'
a.test            MX 10 mx1.a.test
a.test            MX 20 mx2.a.test
mx1.a.test        A 127.0.0.2
mx2.a.test        A 127.0.0.3
b.test            MX 10 dead.b.test
b.test            MX 20 mx1.a.test
dead.b.test       A 127.0.0.9
c.test            A 127.0.0.3
e.test            CNAME c.test
v6.test           MX 10 six.v6.test
six.v6.test       AAAA ::1
null.test         MX 0 .
servfail.test     SERVFAIL
loop.test         MX 10 self.loop.test
self.loop.test    A 127.0.0.1
backup.test       MX 10 mx1.a.test
backup.test       MX 20 self.loop.test
loopfirst.test    MX 10 self.loop.test
loopfirst.test    MX 20 mx1.a.test
size.test         A 127.0.0.5
seven.test        A 127.0.0.6
busy.test         MX 10 busy.busy.test
busy.test         MX 20 mx2.a.test
busy.busy.test    A 127.0.0.7
drop.test         MX 10 drop.drop.test
drop.test         MX 20 mx2.a.test
drop.drop.test    A 127.0.0.8
slow.test         A 127.0.0.10
helo.test         A 127.0.0.11
peer.test         MX 5 mx.peer.test
mx.peer.test      A 127.0.0.4
down.test         A 127.0.0.12
EOF

python3 "$D/dnsd.py" "$W/zone" --addr 127.0.0.1 --port 53 --pidfile "$W/dnsd.pid" --log "$W/dnsd.log" &
T_PIDS="$T_PIDS $!"
check "test DNS server up" t_wait 10 test -s "$W/dnsd.pid"

# sink NAME ADDR [options]: a sink.py on ADDR:25 storing into $W/NAME.
sink() {
	_n=$1 _a=$2; shift 2
	mkdir -p "$W/$_n"
	python3 "$D/sink.py" --addr "$_a" --port 25 --dir "$W/$_n" --pidfile "$W/$_n.pid" "$@" &
	T_PIDS="$T_PIDS $!"
	eval "SINK_$_n=$!"
	t_wait 10 test -s "$W/$_n.pid"
}
check "sink mx1 (127.0.0.2)" sink mx1 127.0.0.2 --rcpt '^bad@=550 5.1.1 no such user' --rcpt '^later@=451 4.2.0 try again later'
check "sink mx2 (127.0.0.3)" sink mx2 127.0.0.3
check "sink on ::1" sink six ::1
check "sink with SIZE 2000" sink size 127.0.0.5 --size 2000
check "sink without 8BITMIME, SMTPUTF8, DSN" sink seven 127.0.0.6 --no-8bitmime --no-smtputf8 --no-dsn --no-pipelining
check "sink greeting 421" sink busy 127.0.0.7 --greeting "421 4.3.2 too busy"
check "sink that drops" sink drop 127.0.0.8 --drop-after-greeting
check "slow sink" sink slow 127.0.0.10 --delay 4
check "sink without EHLO" sink helo 127.0.0.11 --no-ehlo

printf 'Subject: hello\n\nline one\n.leading dot\n..two dots\n.\nlast\n' >"$W/msg"
# rr TAG RCPT...: tern-remote with $W/msg, sender demo@example.test; output in $W/TAG.out
rr() {
	_t=$1; shift
	tern-remote -f demo@example.test "$@" <"$W/msg" >"$W/$_t.out" 2>"$W/$_t.err"
}
line() { sed -n "${2}p" "$W/$1.out" | cut -c1-"${3:-200}"; }
nmsgs() { ls "$W/$1" | grep -c '^msg\.'; }

# ---- MX, routing and DNS outcomes ----
rr mx x@a.test
is "MX: accepted" "$(line mx 1 1)" "r"
is "MX: message line names the best MX" "$(line mx 2 | cut -d' ' -f1,3)" "R mx1.a.test[127.0.0.2]:25"
is "MX: stored by mx1" "$(nmsgs mx1)" 1
printf 'line one\n.leading dot\n..two dots\n.\nlast\n' >"$W/want"
check "MX: dot-stuffing round trip (body identical, CRLF)" \
	sh -c "tail -n 5 '$W/mx1/msg.1' | tr -d '\r' | cmp -s - '$W/want' && tail -n 1 '$W/mx1/msg.1' | grep -q \"\$(printf 'last\r')\""

rr fallback y@b.test
is "MX fallback: dead first MX, accepted by the second" "$(line fallback 2 | cut -d' ' -f1,3)" "R mx1.a.test[127.0.0.2]:25"
rr implicit z@c.test
is "implicit MX (A record only)" "$(line implicit 2 | cut -d' ' -f1,3)" "R c.test[127.0.0.3]:25"
rr cname z@e.test
is "CNAME to a domain with an A record" "$(line cname 2 | cut -d' ' -f1,3)" "R e.test[127.0.0.3]:25"
rr six s@v6.test
is "IPv6 MX on this host's ::1: a mail loop" "$(line six 1 | cut -d' ' -f1,2)" "h 5.4.6"
echo ::1 >"$H/control/notipme"
rr six s@v6.test
rm "$H/control/notipme"
is "IPv6 MX (::1 in control/notipme)" "$(line six 2 | cut -d' ' -f1,3)" "R six.v6.test[::1]:25"
rr nx u@nxdomain.test
is "NXDOMAIN: hard 5.1.2" "$(line nx 1 | cut -d' ' -f1,2)" "h 5.1.2"
rr null u@null.test
is "null MX: hard 5.1.10" "$(line null 1 | cut -d' ' -f1,2)" "h 5.1.10"
rr sf u@servfail.test
is "SERVFAIL: soft 4.4.3" "$(line sf 1 | cut -d' ' -f1,2)" "s 4.4.3"
rr loop u@loop.test
is "MX pointing at this host: 5.4.6 mail loop" "$(line loop 1 | cut -d' ' -f1,2)" "h 5.4.6"
rr backup u@backup.test
is "this host as the backup MX: the better MX is used" "$(line backup 2 | cut -d' ' -f1,3)" "R mx1.a.test[127.0.0.2]:25"
rr loopfirst u@loopfirst.test
is "this host as the best MX: loop, worse MXs not tried" "$(line loopfirst 1 | cut -d' ' -f1,2)" "h 5.4.6"

# ---- per-recipient results in one transaction ----
n0=$(nmsgs mx1)
rr mixed good@a.test bad@a.test later@a.test
is "mixed: good accepted" "$(line mixed 1 1)" "r"
is "mixed: bad refused with the peer's reply" "$(line mixed 2)" "h 5.1.1 550 5.1.1 no such user"
is "mixed: later deferred with the peer's reply" "$(line mixed 3)" "s 4.2.0 451 4.2.0 try again later"
is "mixed: message accepted" "$(line mixed 4 1)" "R"
is "mixed: one message stored" "$(nmsgs mx1)" $((n0 + 1))
check "mixed: one X-Sink-To (only the good one)" sh -c "[ \$(grep -c '^X-Sink-To:' '$W/mx1/msg.$((n0 + 1))') -eq 1 ]"

# ---- what the peer lacks ----
head -c 3000 /dev/zero | tr '\0' 'x' | fold -w 70 >"$W/big"
tern-remote -f demo@example.test u@size.test <"$W/big" >"$W/size.out" 2>/dev/null
is "SIZE: too big for the peer: 5.3.4" "$(line size 1 | cut -d' ' -f1,2)" "h 5.3.4"
check "SIZE: nothing sent (no MAIL)" sh -c "! grep -q 'MAIL FROM' '$W/size/log'"
rr small u@size.test
is "SIZE: a small one is accepted" "$(line small 1 1)" "r"
check "SIZE: SIZE= sent in MAIL" grep -q 'MAIL FROM:<demo@example.test> SIZE=' "$W/size/log"
printf 'Subject: caf\303\251\n\ncaf\303\251\n' >"$W/eight"
tern-remote -f demo@example.test u@seven.test <"$W/eight" >"$W/eight.out" 2>/dev/null
is "8-bit message to a peer without 8BITMIME: 5.6.3" "$(line eight 1 | cut -d' ' -f1,2)" "h 5.6.3"
rr seven u@seven.test
is "7-bit message, no PIPELINING peer: accepted" "$(line seven 1 1)" "r"
U=$(printf 'jos\303\251')
tern-remote -f demo@example.test "$U@seven.test" <"$W/msg" >"$W/utf8.out" 2>/dev/null
is "UTF-8 address, peer without SMTPUTF8: 5.6.7" "$(line utf8 1 | cut -d' ' -f1,2)" "h 5.6.7"
tern-remote -f demo@example.test "$U@a.test" <"$W/eight" >"$W/utf8ok.out" 2>/dev/null
is "UTF-8 address, SMTPUTF8 peer: accepted" "$(line utf8ok 1 1)" "r"
check "UTF-8: MAIL carries SMTPUTF8 and BODY=8BITMIME" grep -q 'MAIL FROM:<demo@example.test> BODY=8BITMIME SMTPUTF8' "$W/mx1/log"
rr helo u@helo.test
is "EHLO refused: HELO fallback works" "$(line helo 1 1)" "r"
check "HELO: HELO was sent" grep -q 'C: HELO ' "$W/helo/log"
tern-remote -f 'a "quoted" local@example.test' 'x y@a.test' <"$W/msg" >"$W/quote.out" 2>/dev/null
check "quoted local parts are re-quoted" grep -q 'RCPT TO:<"x y"@a.test>' "$W/mx1/log"
check "sender quoted too" grep -q 'MAIL FROM:<"a \\"quoted\\" local"@example.test>' "$W/mx1/log"

# ---- connection-level failures move on ----
rr busy u@busy.test
is "greeting 421: next MX" "$(line busy 2 | cut -d' ' -f1,3)" "R mx2.a.test[127.0.0.3]:25"
rr drop u@drop.test
is "dropped after greeting: next MX" "$(line drop 2 | cut -d' ' -f1,3)" "R mx2.a.test[127.0.0.3]:25"
echo 2 >"$H/control/timeoutremote"
start=$(date +%s)
rr slow u@slow.test
is "slow peer: timeout is soft" "$(line slow 1 1)" "s"
check "slow peer: gave up within the timeout" test $(( $(date +%s) - start )) -lt 10
rm "$H/control/timeoutremote"
echo 2 >"$H/control/timeoutconnect"
rr down u@down.test
is "nothing listening: soft" "$(line down 1 | cut -d' ' -f1,2)" "s 4.4.1"
rm "$H/control/timeoutconnect"

# ---- smtproutes ----
printf 'routed.test:[127.0.0.3]\n.sub.test:mx1.a.test\n' >"$H/control/smtproutes"
rr route u@routed.test
is "smtproutes: domain to [ip]" "$(line route 2 | cut -d' ' -f1,3)" "R [127.0.0.3]:25"
rr routesub u@x.sub.test
is "smtproutes: .domain to a host" "$(line routesub 2 | cut -d' ' -f1,3)" "R mx1.a.test[127.0.0.2]:25"
printf ':[127.0.0.3]\n' >"$H/control/smtproutes"
rr smarthost u@nxdomain.test
is "smtproutes: default smarthost, no DNS needed" "$(line smarthost 2 | cut -d' ' -f1,3)" "R [127.0.0.3]:25"
rm "$H/control/smtproutes"

# ---- a second tern as the peer ----
P=$(mktemp -d /tmp/tern-test.XXXXXX)
"$T_BIN/tern-run" -i -d "$P" >/dev/null
TERN_HOME=$P tern-users add-domain peer.test >/dev/null
TERN_HOME=$P tern-users add demo@peer.test >/dev/null
echo peer.test >"$P/control/me"
TERN_HOME=$P tcpserver -q -R -H -l mx.peer.test 127.0.0.4 25 "$T_BIN/tern-smtpd" 2>"$W/peer-smtpd.log" &
T_PIDS="$T_PIDS $!"
TERN_HOME=$P "$T_BIN/tern-send" 2>"$W/peer-send.log" &
T_PIDS="$T_PIDS $!"
PM=$P/mail/peer.test/demo/Maildir
t_wait 5 python3 -c "import socket; socket.create_connection(('127.0.0.4', 25), 1).close()"

# ---- through tern-send ----
t_start_send
inject() { python3 "$D/qinject.py" "$@"; }
printf 'Subject: to the peer\n\nhello peer\n.dot\n' | inject demo@example.test demo@peer.test
check "tern-send → tern-remote → tern peer → Maildir" t_wait_count 15 "$PM" 1
f=$(ls "$PM/new" "$PM/cur" 2>/dev/null | grep -v ':$' | head -n 1)
ff=$(find "$PM" -type f | head -n 1)
check "peer Maildir: body intact (dot line)" grep -qx '.dot' "$ff"
check "peer Maildir: Received by the peer's tern-smtpd" grep -q '^Received: from localhost' "$ff"
check "log: delivered with relay" t_wait 5 grep -q 'event=delivered rcpt=demo@peer.test relay=mx.peer.test\[127.0.0.4\]:25' "$H/log/send.log"

# bounce with the peer's reply as Diagnostic-Code
DM=$(t_demo)
n0=$(t_count "$DM")
printf 'Subject: to bad\n\nx\n' | inject demo@example.test bad@a.test
check "5xx: a bounce reaches the sender" t_wait_count 15 "$DM" $((n0 + 1))
b=$(ls -t "$DM"/new/* | head -n 1)
check "bounce: Diagnostic-Code smtp; 550 5.1.1" grep -q '^Diagnostic-Code: smtp; 550 5.1.1 no such user' "$b"
check "bounce: Status 5.1.1" grep -q '^Status: 5.1.1' "$b"

printf 'Subject: nx\n\nx\n' | inject demo@example.test someone@nxdomain.test
check "NXDOMAIN: bounce" t_wait_count 15 "$DM" $((n0 + 2))
b=$(ls -t "$DM"/new/* | head -n 1)
check "NXDOMAIN bounce: Status 5.1.2" grep -q '^Status: 5.1.2' "$b"

# 4xx, then success after tern-flush
printf 'Subject: later\n\nx\n' | inject demo@example.test later@a.test
check "4xx: deferred" t_wait 15 grep -q 'event=deferred rcpt=later@a.test' "$H/log/send.log"
kill "$SINK_mx1"; wait "$SINK_mx1" 2>/dev/null
check "mx1 restarted without the 4xx rule" sink mx1b 127.0.0.2
tern-flush >/dev/null 2>&1
check "4xx then success after tern-flush" t_wait 15 sh -c "ls '$W/mx1b' | grep -q '^msg\.'"
check "log: later@ delivered" t_wait 5 grep -q 'event=delivered rcpt=later@a.test' "$H/log/send.log"

# connection reuse: 30 messages to one domain over few connections
for i in $(seq 1 30); do printf 'Subject: reuse %s\n\nx\n' "$i" | inject demo@example.test "r$i@a.test"; done
check "reuse: 30 messages arrive" t_wait 30 sh -c "[ \$(ls '$W/mx1b' | grep -c '^msg\.') -ge 31 ]"
conns=$(cat "$W/mx1b/connections")
check "reuse: at most 5 connections for 31 messages (got $conns)" test "$conns" -le 5
check "reuse: RSET between messages" grep -q 'C: RSET' "$W/mx1b/log"

# DSN parameters passed on
inject --envid ENV+2B1 --ret HDRS demo@example.test dsn@a.test NOTIFY=SUCCESS,FAILURE 'ORCPT=rfc822;dsn@a.test'
check "DSN: RET and ENVID passed on" t_wait 15 grep -q 'MAIL FROM:<demo@example.test> RET=HDRS ENVID=ENV+2B1' "$W/mx1b/log"
check "DSN: NOTIFY and ORCPT passed on" grep -q 'RCPT TO:<dsn@a.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;dsn@a.test' "$W/mx1b/log"

# a destination that fails is held
printf 'Subject: down 1\n\nx\n' | inject demo@example.test one@down.test
check "down: deferred and held" t_wait 20 grep -q 'event=dest-hold dest=down.test' "$H/log/send.log"
printf 'Subject: down 2\n\nx\n' | inject demo@example.test two@down.test
check "down: the next message waits without a connection" t_wait 10 grep -q 'rcpt=two@down.test.*held after 1 failures' "$H/log/send.log"

# lifetime over: 4.4.7 → 5.4.7 bounce
echo 1 >"$H/control/queuelifetime"
kill -HUP "$T_SEND_PID"
sleep 2
n1=$(t_count "$DM")
tern-flush >/dev/null 2>&1
check "lifetime: bounce after the queue lifetime" t_wait 30 t_count_is "$DM" $((n1 + 2))
b=$(ls -t "$DM"/new/* | head -n 1)
check "lifetime bounce: Status 5.4.7" grep -q '^Status: 5.4.7' "$b"

# tern-remote runs as control/remoteuser (default nobody), never as root
echo 3 >"$H/control/timeoutremote"
printf 'Subject: slow\n\nx\n' | inject demo@example.test u@slow.test
check "tern-remote runs as nobody" t_wait 10 sh -c "ps -C tern-remote -o user= | grep -qx nobody"
check "no tern-remote runs as root" sh -c "! ps -C tern-remote -o user= | grep -qx root"

t_stop_send
rm -rf "$P"
t_done
