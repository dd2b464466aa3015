#!/bin/sh
# tern-pop3d and tern-pop3d-box under tcpserver and tern-tlsd, as clients see them: python
# poplib (STLS, implicit TLS, USER/PASS, AUTH PLAIN, TOP, UIDL), fetchmail and getmail6
# fetching and deleting (the messages byte-identical to those delivered), DELE/RSET/QUIT
# and dropped connections, bad arguments and commands, wrong states, overlong lines, wrong
# passwords, a second session (IN-USE), messages removed and renamed under a session,
# malformed file names, cleartext logins refused by default, idle timeouts, the log, and
# a 10,000-message mailbox.  Raw dialogues and the checks are in pop3dlg.py.
. "$(dirname "$0")/lib.sh"
t_home
H=$TERN_HOME
C=$H/control
LOG=$H/log/pop3d.log
PY=$(python3 -c 'import sys; print(sys.executable)')
DLG="$PY $T_TOP/tests/integration/pop3dlg.py"
MAILHOME=$H/mail/example.test
PW='p0p-Secret with space'
: >"$LOG"
echo 0 >"$C/authfaildelay"

# A self-signed certificate for tern-tlsd, its key private.
mkdir -p "$C/tls"
(umask 077; openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$C/tls/localhost.key" -out "$C/tls/localhost.pem" -days 30 -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost >/dev/null 2>&1) || fail "openssl made a certificate"
chmod 600 "$C/tls/localhost.key"
chmod 644 "$C/tls/localhost.pem"

# Users; as root the mailboxes belong to nobody (tern-checkpassword refuses root's).
for u in bob carol odd big; do "$T_BIN/tern-users" add "$u@example.test" >/dev/null || fail "tern-users add $u"; done
for u in demo bob carol odd big; do
	printf '%s\n' "$PW" | "$T_BIN/tern-users" passwd "$u@example.test" || fail "passwd $u"
done
if [ "$(id -u)" -eq 0 ]; then OWNER=65534:65534; chmod 0755 "$H" "$H/mail" "$MAILHOME"; else OWNER=$(id -u):$(id -g); fi
export P110=0 P995=0 PPLAIN=0 PW MAILHOME OWNER

# Messages written straight into new/, as tern-local names them.
"$PY" - "$MAILHOME" <<'PY' || fail "writing the test messages"
import os, sys
home = sys.argv[1]
def put(user, name, data, sub="new"):
    p = os.path.join(home, user, "Maildir", sub, name)
    with open(p, "wb") as f:
        f.write(data)
demo = [
    b"Subject: plain\nFrom: a@example.org\n\nhello\nworld\n",
    b"Subject: dots\n\n.\n..\n.leading dot\n...\nend\n",
    b"Subject: crlf\r\n\r\nalready CRLF\r\nlines\r\n",
    b"Subject: no final newline\n\nlast line",
    b"",
    b"Subject: lone CR\n\na\rb\n\r\n",
    b"Subject: 8bit\n\n" + bytes(range(128, 256)) + b"\n",
    b"Subject: long line\n\n" + b"x" * 20000 + b"\n",
    b"Subject: big\n\n" + (b"0123456789" * 7 + b"\n") * 4500,
    b"Subject: header only, no empty line\n",
]
for i, m in enumerate(demo):
    put("demo", "17000000%02d.M%dP42.testhost" % (i, i), m)
# For fetchmail and getmail: what tern-local writes (LF, a final newline).
for user in ("bob", "carol"):
    for i in range(6):
        body = b"".join(b"line %d of %s\n" % (k, user.encode()) for k in range(i * 40))
        put(user, "17000001%02d.M%dP7.testhost" % (i, i),
            b"From: x@example.org\nTo: %s@example.test\nSubject: fetch %d\n\n%s.dot line\n..two\nend\n" % (user.encode(), i, body))
# Odd names for "odd": served safely, or skipped.
put("odd", "1700000000.M1P1.normal:2,", b"Subject: normal\n\nx\n", "cur")
put("odd", "1700000001.M1 P1.odd name:2,S", b"Subject: space\n\nx\n", "cur")
put("odd", "1700000002.M\xc3\xbc.host:2,".encode("latin-1").decode("utf-8", "surrogateescape"), b"Subject: utf8\n\nx\n", "cur")
put("odd", "1700000003." + "x" * 200, b"Subject: long name, no info\n\nx\n", "cur")
put("odd", "1700000004.dup:2,S", b"Subject: dup in cur\n\nx\n", "cur")
put("odd", "1700000004.dup", b"Subject: dup in new\n\ny\n", "new")
put("odd", ".hidden", b"Subject: hidden\n\nx\n", "cur")
os.symlink("/etc/passwd", os.path.join(home, "odd", "Maildir", "cur", "1700000005.link:2,"))
os.mkdir(os.path.join(home, "odd", "Maildir", "cur", "1700000006.dir:2,"))
# 10,000 small messages, straight into new/.
for i in range(10000):
    put("big", "%d.M%dP1.big" % (1700000000 + i // 100, i), b"Subject: m %d\nFrom: a@example.org\n\nbody %d\n" % (i, i))
PY
mkdir -p "$H/bob.sent" "$H/carol.sent"
cp "$MAILHOME"/bob/Maildir/new/* "$H/bob.sent/"
cp "$MAILHOME"/carol/Maildir/new/* "$H/carol.sent/"
[ "$(id -u)" -eq 0 ] && chown -R -h "$OWNER" "$MAILHOME"/*

# start_pop VAR PROGRAM...: tcpserver on a free port in 40000-49999, put into $VAR.
start_pop() {
	_v=$1; shift
	T_TCPOPTS="-c 40"
	t_listen "$_v" 40000 "$LOG" "$@"
}
check "tcpserver + tern-tlsd + tern-pop3d (STLS) started" start_pop P110 "$T_BIN/tern-tlsd" "$T_BIN/tern-pop3d"
check "tcpserver + tern-tlsd -i + tern-pop3d (implicit TLS) started" start_pop P995 "$T_BIN/tern-tlsd" -i "$T_BIN/tern-pop3d"
check "tcpserver + tern-pop3d (no TLS) started" start_pop PPLAIN "$T_BIN/tern-pop3d"
echo "# ports $P110 $P995 $PPLAIN"

# py CASE ARGS...: pop3dlg.py's ok/not ok lines become ours.
py() {
	$DLG "$@" >"$H/py.out" 2>&1
	while IFS= read -r line; do
		case $line in
		"ok - "*) ok "${line#ok - }" ;;
		"not ok - "*) fail "${line#not ok - }" ;;
		*) echo "# $line" ;;
		esac
	done <"$H/py.out"
}

# ---- sessions ----
py basic "$H/uidl.1"
py uidl "$H/uidl.1"
py auth
py badargs
py lf
py dele
py inuse
py removed
py names
py cleartext refused
echo 1 >"$C/pop3cleartext"
py cleartext allowed
rm "$C/pop3cleartext"
echo 1 >"$C/timeoutpop3d"
py timeout before
py timeout after
rm "$C/timeoutpop3d"

# ---- fetchmail: STLS on the POP3 port, every message fetched through an MDA, deleted ----
check "fetchmail is installed (.ci/deps)" sh -c "command -v fetchmail >/dev/null"
mkdir -p "$H/fm" "$H/bob.got"
cat >"$H/fm/mda" <<EOF
#!/bin/sh
cat >"$H/bob.got/m.\$\$"
EOF
chmod 755 "$H/fm/mda"
cat >"$H/fm/rc" <<EOF
set no bouncemail
set no syslog
poll 127.0.0.1 service $P110 protocol pop3 timeout 20
  user "bob@example.test" there with password "$PW" is "$(id -un)" here
  sslproto tls1.2+ no sslcertck fetchall no keep no rewrite mda "$H/fm/mda"
EOF
chmod 600 "$H/fm/rc"
HOME=$H/fm fetchmail -f "$H/fm/rc" --invisible -N >"$H/fm/out" 2>&1
rc=$?
sed 's/^/# fetchmail: /' "$H/fm/out" | tail -n 5
is "fetchmail fetched everything (exit 0)" "$rc" 0
py compare "$H/bob.sent" "$H/bob.got"
is "  ... and deleted it from the mailbox" "$(ls "$MAILHOME/bob/Maildir/cur" "$MAILHOME/bob/Maildir/new" | grep -vc -e '^$' -e ':$')" 0
grep -q 'event=starttls' "$LOG"
check "  ... over STLS" test $? -eq 0

# ---- getmail6: implicit TLS, into a Maildir, deleting ----
check "getmail (getmail6) is installed (.ci/deps)" sh -c "command -v getmail >/dev/null"
mkdir -p "$H/gm" "$H/carol.got/new" "$H/carol.got/cur" "$H/carol.got/tmp"
cat >"$H/gm/getmailrc" <<EOF
[retriever]
type = SimplePOP3SSLRetriever
server = 127.0.0.1
port = $P995
username = carol@example.test
password = $PW
ca_certs = $C/tls/localhost.pem
ssl_cert_hostname = localhost

[destination]
type = Maildir
path = $H/carol.got/

[options]
delete = true
read_all = true
received = false
delivered_to = false
verbose = 0
EOF
# getmail refuses to deliver as root: as root it delivers as the owner of the mailboxes.
if [ "$(id -u)" -eq 0 ]; then
	sed -i "s|^path = .*|&\nuser = $(id -un 65534)|" "$H/gm/getmailrc"
	chown -R "$OWNER" "$H/carol.got"
fi
getmail --rcfile="$H/gm/getmailrc" --getmaildir="$H/gm" >"$H/gm/out" 2>&1
rc=$?
sed 's/^/# getmail: /' "$H/gm/out" | tail -n 5
is "getmail fetched everything (exit 0)" "$rc" 0
# getmail writes the envelope sender it got, none over POP3, as a first header line.
py compare "$H/carol.sent" "$H/carol.got/new" "Return-Path: <unknown>"
is "  ... and deleted it from the mailbox" "$(ls "$MAILHOME/carol/Maildir/cur" "$MAILHOME/carol/Maildir/new" | grep -vc -e '^$' -e ':$')" 0

# ---- a big mailbox ----
py big

# ---- the log ----
check "log: a good login, with the user and the mechanism" grep -q 'event=login mech=USER user=demo@example.test result=ok' "$LOG"
check "log: a failed one" grep -q 'event=login mech=PLAIN user=demo@example.test result=fail' "$LOG"
check "log: IN-USE" grep -q 'result=in-use' "$LOG"
check "log: the mailbox part's end, with retr and dele counts" grep -q 'prog=tern-pop3d-box .*event=end .*why=quit retr=[0-9]* dele=[1-9]' "$LOG"
if grep -qF "$PW" "$LOG" || grep -qF "$(printf '%s' "$PW" | base64)" "$LOG"; then fail "the password is never logged"; else ok "the password is never logged"; fi
check "no fatal lines in the log" sh -c "! grep -E 'fatal|ERROR: AddressSanitizer|runtime error' '$LOG'"
check "every listener still running" sh -c "kill -0 $T_PIDS"
echo "$((T_N - T_FAILED)) passed, $T_FAILED failed"
t_done
