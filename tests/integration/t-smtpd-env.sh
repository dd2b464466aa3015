#!/bin/sh
# tern-smtpd in the places it runs besides plain tcpserver: behind rblsmtpd (with the
# decision made by tcprules, so no DNS is asked), started inetd/systemd style with the
# socket on fd 0 and no UCSPI variables, and with a queue program that refuses, whose
# exit code must become the right reply.
. "$(dirname "$0")/lib.sh"
t_home
H=$TERN_HOME
DEMO=$(t_demo)
PY=$(python3 -c 'import sys; print(sys.executable)')
DLG="$PY $T_TOP/tests/integration/smtpdlg.py"
LOG=$H/log/smtpd.log
unset TERN_QUEUE RELAYCLIENT TCPREMOTEIP TCPREMOTEHOST
t_start_send || fail "tern-send started"

# serve VAR PROGRAM...: tcpserver on a free loopback port running PROGRAM; port in $VAR.
serve() {
	_var=$1; shift
	_try=0
	while [ $_try -lt 20 ]; do
		_port=$((20000 + ($$ * 17 + _try * 991 + ${#_var} * 313) % 10000))
		: >"$H/log/port.$_var"
		tcpserver -1 -q -R -H -l 0 -x "$H/rules.cdb" 127.0.0.1 "$_port" "$@" >"$H/log/port.$_var" 2>>"$LOG" &
		_pid=$!
		_i=0
		while [ $_i -lt 250 ] && kill -0 $_pid 2>/dev/null && [ ! -s "$H/log/port.$_var" ]; do
			sleep 0.02; _i=$((_i + 1))
		done
		if kill -0 $_pid 2>/dev/null && [ -s "$H/log/port.$_var" ]; then
			T_PIDS="$T_PIDS $_pid"; eval "$_var=$_port; ${_var}_PID=$_pid"; return 0
		fi
		kill $_pid 2>/dev/null; wait $_pid 2>/dev/null
		_try=$((_try + 1))
	done
	return 1
}
codes() {
	awk '/^[0-9][0-9][0-9]( |$)/ { if ($2 ~ /^[245]\.[0-9]+\.[0-9]+$/) r = r s $1 " " $2; else r = r s $1; s = "," }
	     /^#(EOF|TIMEOUT)$/ { r = r s $1; s = "," } END { print r }' "$H/out"
}
dlgis() { _d=$1; _e=$2; shift 2; $DLG "$@" >"$H/out" 2>&1; is "$_d" "$(codes)" "$_e"; }
SEND='EHLO env.test\r\n'
MSG='MAIL FROM:<a@remote.example>\r\nRCPT TO:<demo@example.test>\r\nDATA\r\n'

# --- rblsmtpd in front, RBLSMTPD from tcprules (a listed client, then a clean one) ---
printf '127.0.0.1:allow,RBLSMTPD="-listed at test.rbl"\n' | tcprules "$H/rules.cdb" "$H/rules.tmp"
serve RBL rblsmtpd "$T_BIN/tern-smtpd" || fail "tcpserver with rblsmtpd started"
dlgis "rblsmtpd: a listed client gets 553 from rblsmtpd, never reaches tern-smtpd" "220,250,250,553,221,#EOF" \
	-n "$RBL" +1 "$SEND" +1 'MAIL FROM:<a@b.example>\r\n' +1 'RCPT TO:<demo@example.test>\r\n' +1 'QUIT\r\n' eof
check "rblsmtpd: tern-smtpd did not run" sh -c "! grep -q 'prog=tern-smtpd' '$LOG'"
printf '127.0.0.1:allow,RBLSMTPD=""\n' | tcprules "$H/rules.cdb" "$H/rules.tmp"
n=$(t_count "$DEMO")
dlgis "rblsmtpd: a clean client reaches tern-smtpd and its mail is queued" \
	"220,250,250 2.1.0,250 2.1.5,354,250 2.0.0,221 2.0.0,#EOF" \
	"$RBL" "$SEND" +1 "$MSG" +3 'Subject: via rblsmtpd\r\n\r\nx\r\n.\r\n' +1 'QUIT\r\n' eof
check "rblsmtpd: delivered" t_wait_count 10 "$DEMO" $((n + 1))

# --- a queue program that refuses: its exit code is the reply ---
printf ':allow\n' | tcprules "$H/rules.cdb" "$H/rules.tmp"
for c in '53|452 4.3.1' '31|554 5.3.0' '71|451 4.3.0' '91|554 5.6.0' '11|554 5.1.3' '81|451 4.3.0'; do
	code=${c%|*}; want=${c#*|}
	printf '#!/bin/sh\ncat >/dev/null\nexit %s\n' "$code" >"$H/q$code"
	chmod +x "$H/q$code"
	[ -n "${Q_PID:-}" ] && { kill "$Q_PID"; wait "$Q_PID" 2>/dev/null; }
	TERN_QUEUE=$H/q$code serve Q "$T_BIN/tern-smtpd" || fail "tcpserver with TERN_QUEUE"
	dlgis "queue program exit $code: $want, and the session goes on" \
		"220,250,250 2.1.0,250 2.1.5,354,$want,250 2.0.0,221 2.0.0,#EOF" \
		"$Q" "$SEND" +1 "$MSG" +3 'Subject: q\r\n\r\nx\r\n.\r\n' +1 'NOOP\r\n' +1 'QUIT\r\n' eof
done
kill "$Q_PID"; wait "$Q_PID" 2>/dev/null
TERN_QUEUE=$H/does-not-exist serve Q "$T_BIN/tern-smtpd" || fail "tcpserver with a missing TERN_QUEUE"
dlgis "queue program missing: 4xx, never 250" "220,250,250 2.1.0,250 2.1.5,451 4.3.0,221 2.0.0,#EOF" \
	"$Q" "$SEND" +1 "$MSG" +3 'QUIT\r\n' eof

# --- system accounts: RCPT accepts exactly what tern-local would deliver ---
echo 1 >"$H/control/systemaccounts"
kill "$Q_PID"; wait "$Q_PID" 2>/dev/null
serve S "$T_BIN/tern-smtpd" || fail "tcpserver for system accounts"
home=$(getent passwd daemon | cut -d: -f6)
owner=$(stat -c %u "$home" 2>/dev/null || echo none)
if [ "$owner" != "$(id -u daemon)" ]; then want='550 5.1.1'; else want='250 2.1.5'; fi
dlgis "systemaccounts=1: daemon (home $home, owner $owner) gets $want at RCPT, as tern-local decides" \
	"220,250,250 2.1.0,$want,221 2.0.0,#EOF" "$S" "$SEND" +1 'MAIL FROM:<a@b.example>\r\n' +1 'RCPT TO:<daemon@localhost>\r\n' +1 'QUIT\r\n' eof
printf 'x\n' | "$T_BIN/tern-local" a@b.example daemon@localhost >"$H/local.out" 2>/dev/null
is "systemaccounts=1: tern-local agrees about daemon" "$(cut -c1-5 "$H/local.out")" "$(case $want in 550*) echo 5.1.1;; *) echo 2.0.0;; esac)"
dlgis "systemaccounts=1: a missing account gets 550 5.1.1" "220,250,250 2.1.0,550 5.1.1,221 2.0.0,#EOF" \
	"$S" "$SEND" +1 'MAIL FROM:<a@b.example>\r\n' +1 'RCPT TO:<no-such-account-here@localhost>\r\n' +1 'QUIT\r\n' eof
echo 0 >"$H/control/systemaccounts"

# --- inetd / systemd Accept=yes: the socket on fd 0 and 1, no TCPREMOTEIP ---
"$PY" - "$T_BIN/tern-smtpd" "$H/out" "$H/inetd.log" <<'PY'
import os, socket, subprocess, sys
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(1)
c = socket.create_connection(ls.getsockname(), 5)
s, _ = ls.accept()
env = {k: v for k, v in os.environ.items() if not k.startswith("TCP") and k != "RELAYCLIENT"}
p = subprocess.Popen([sys.argv[1]], stdin=s.fileno(), stdout=s.fileno(), env=env,
                     stderr=open(sys.argv[3], "wb"))
s.close()
c.sendall(b"EHLO inetd.test\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@remote.example>\r\n"
          b"RCPT TO:<demo@example.test>\r\nQUIT\r\n")
data = b""
while True:
    b = c.recv(4096)
    if not b:
        break
    data += b
p.wait(10)
open(sys.argv[2], "wb").write(data + b"#EOF\n")
PY
is "inetd style: a network peer is not a local session (relay refused, local accepted)" \
	"$(codes | sed 's/^220,250,//')" "250 2.1.0,554 5.7.1,250 2.1.5,221 2.0.0,#EOF"
check "inetd style: the log names the peer's address (from getpeername)" grep -q 'event=start ip=127.0.0.1' "$H/inetd.log"

t_done
