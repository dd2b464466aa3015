#!/bin/sh
# tern-tlsd in front of tern-smtpd under tcpserver: STARTTLS on a port 25 style listener,
# submission with STARTTLS (587) and with implicit TLS (465), as real clients (swaks,
# smtplib, openssl s_client, msmtp) and hostile ones (tlsdlg.py) see them.  The protocol
# (what is advertised when, the AUTH exchanges and their limits, who may relay and with
# which sender), the security cases (STARTTLS command injection, garbage and stalled
# handshakes, old protocol versions, a readable key, no secret in any file), and the
# choice of certificate (key type, SNI, renewal).  Every reply is checked with its
# enhanced status code; after every hostile client a normal one is served.
. "$(dirname "$0")/lib.sh"
t_home
H=$TERN_HOME
C=$H/control
DEMO=$(t_demo)
PY=$(python3 -c 'import sys; print(sys.executable)')
DLG="$PY -W ignore $T_TOP/tests/integration/tlsdlg.py"
LOG=$H/log/smtpd.log
# The clients' transcripts hold credentials: they live outside TERN_HOME, which is
# searched for secrets at the end.
W=$(mktemp -d /tmp/tern-tlsw.XXXXXX)
trap '[ "${TERN_KEEP:-}" ] || rm -rf "$W"; t_cleanup' EXIT
OUT=$W/out
unset TERN_QUEUE RELAYCLIENT TERN_TLS TERN_TLSCTL
echo 0 >"$C/authfaildelay"
PASS='c0rrect-h0rse tls'
echo "$PASS" | "$T_BIN/tern-users" passwd demo@example.test >/dev/null || fail "tern-users passwd demo@example.test"
"$T_BIN/tern-users" add other@example.test >/dev/null || fail "tern-users add other@example.test"
echo 'other pass' | "$T_BIN/tern-users" passwd other@example.test >/dev/null || fail "tern-users passwd other@example.test"
# A user whose PLAIN response makes a 600-octet AUTH line.
LONGPASS=$(printf 'p%.0s' $(seq 1 420))
"$T_BIN/tern-users" add long@example.test >/dev/null || fail "tern-users add long@example.test"
echo "$LONGPASS" | "$T_BIN/tern-users" passwd long@example.test >/dev/null || fail "tern-users passwd long@example.test"
# And one with a password near tern-users' limit (511 octets).
PASS500=$(printf 'q%.0s' $(seq 1 500))
"$T_BIN/tern-users" add long500@example.test >/dev/null || fail "tern-users add long500@example.test"
echo "$PASS500" | "$T_BIN/tern-users" passwd long500@example.test >/dev/null || fail "tern-users passwd long500@example.test (500 octets)"
t_start_send || fail "tern-send started"

# ---- helpers ----

# start_srv VAR PROG ARGS...: tcpserver on a free port in 30000-34999 running PROG ARGS
# (PROG from $T_BIN), the port into $VAR, its PID into ${VAR}_PID and T_PIDS.
start_srv() {
	_v=$1; _p=$T_BIN/$2; shift 2
	T_TCPOPTS=""
	t_listen "$_v" 30000 "$LOG" "$_p" "$@"
}

# dlg [-n] [-i] [-t S] [-sni NAME] PORT STEP...: a dialogue (tlsdlg.py), output in $OUT.
dlg() { $DLG "$@" >"$OUT" 2>&1; }
# codes: the replies in $OUT as "code[ x.y.z]" joined by commas, with #TLS (handshake
# done), #TLSFAIL, #ALERT level description, #EOF and #TIMEOUT.
codes() {
	awk '/^[0-9][0-9][0-9]( |$)/ { if ($2 ~ /^[245]\.[0-9]+\.[0-9]+$/) r = r s $1 " " $2; else r = r s $1; s = "," }
	     /^#(EOF|TIMEOUT|TLS|TLSFAIL)( |$)/ { r = r s $1; s = "," }
	     /^#ALERT / { r = r s $1 " " $2 " " $3; s = "," }
	     END { print r }' "$OUT"
}
# runis "what" EXPECTED-CODES COMMAND ARGS...: runs a dialogue command, compares its codes;
# dlgis does it with dlg.
runis() { _d=$1; _e=$2; shift 2; "$@"; is "$_d" "$(codes)" "$_e"; }
dlgis() { _d=$1; _e=$2; shift 2; runis "$_d" "$_e" dlg "$@"; }
# elapsed: the "#ELAPSED s" of $OUT; within LO HI: LO <= it < HI.
elapsed() { sed -n 's/^#ELAPSED //p' "$OUT" | head -n 1; }
within() { _e=$(elapsed); [ -n "$_e" ] && awk -v e="$_e" -v lo="$1" -v hi="$2" 'BEGIN { exit !(e >= lo && e < hi) }'; }

# Base64: of a string; of a PLAIN message (authzid authcid password).
b64() { printf '%s' "$1" | base64 -w0; }
plain() { "$PY" -c 'import base64,sys; print(base64.b64encode("\0".join(sys.argv[1:]).encode()).decode())' "$@"; }
GOOD=$(plain '' demo@example.test "$PASS")

# The openings most dialogues share.  STARTTLS on PORT, then EHLO inside TLS:
#   st PORT STEP...      codes start  $ST
# and then AUTH PLAIN as demo:  sta PORT STEP...   codes start  $STA
st() { _p=$1; shift; dlg "$_p" 'EHLO pre.test\r\n' +1 'STARTTLS\r\n' +1 tls 'EHLO post.test\r\n' +1 "$@"; }
sta() { _p=$1; shift; st "$_p" "AUTH PLAIN $GOOD\\r\\n" +1 "$@"; }
ST="220,250,220 2.0.0,#TLS,250"
STA="$ST,235 2.7.0"
# Implicit TLS on 465, EHLO; and AUTH PLAIN as demo.
im() { dlg -i "$P465" 'EHLO im.test\r\n' +1 "$@"; }
ima() { im "AUTH PLAIN $GOOD\\r\\n" +1 "$@"; }
IM="#TLS,220,250"
IMA="$IM,235 2.7.0"
Q='QUIT\r\n'
QC="221 2.0.0,#EOF"

# Maildir and queue.
arrived() { grep -qx "Subject: $1" "$DEMO"/new/* 2>/dev/null; }
msgfile() { grep -lx "Subject: $1" "$DEMO"/new/* 2>/dev/null | head -n 1; }
pyre() { "$PY" -c 'import re,sys; sys.exit(0 if re.search(sys.argv[2].encode(), open(sys.argv[1],"rb").read()) else 1)' "$1" "$2"; }
# pyok: runs python (script on stdin, args), turning its "ok ..."/"not ok ..." lines into ours.
pyok() {
	"$PY" - "$@" >"$W/py.out" 2>&1 || echo "not ok python helper failed: $(tail -n 3 "$W/py.out")" >>"$W/py.out"
	while IFS= read -r line; do
		case $line in "ok "*) ok "${line#ok }";; "not ok "*) fail "${line#not ok }";; *) echo "# $line";; esac
	done <"$W/py.out"
}
# recv_tls FILE PROTO CIPHER: the Received field tern-smtpd wrote says PROTO and names
# TLS 1.2 and CIPHER.
recv_tls() {
	pyre "$1" "\\nReceived: from [^\\n]+ \\(\\[127\\.0\\.0\\.1\\]\\)\\n\\t\\(using TLSv1\\.2 with cipher $3\\)\\n\\tby localhost \\(tern-smtpd\\) with $2 id [0-9a-f.]+\\n\\tfor <demo@example\\.test>; "
}

ALIVE_N=0
# alive "after what": complete sessions still work, STARTTLS on the port 25 listener and
# an authenticated one on 465: each message arrives.
alive() {
	ALIVE_N=$((ALIVE_N + 1))
	st "$P25" 'MAIL FROM:<a@remote.example>\r\nRCPT TO:<demo@example.test>\r\nDATA\r\n' +3 \
		"Subject: alive25 $ALIVE_N\\r\\n\\r\\nstill serving\\r\\n.\\r\\n" +1 "$Q" eof
	_c1=$(codes)
	ima 'MAIL FROM:<demo@example.test>\r\nRCPT TO:<demo@example.test>\r\nDATA\r\n' +3 \
		"Subject: alive465 $ALIVE_N\\r\\n\\r\\nstill serving\\r\\n.\\r\\n" +1 "$Q" eof
	_c2=$(codes)
	if [ "$_c1" = "$ST,250 2.1.0,250 2.1.5,354,250 2.0.0,$QC" ] && [ "$_c2" = "$IMA,250 2.1.0,250 2.1.5,354,250 2.0.0,$QC" ] &&
		t_wait 10 arrived "alive25 $ALIVE_N" && t_wait 10 arrived "alive465 $ALIVE_N"; then
		ok "after $1: normal TLS sessions (STARTTLS, implicit with AUTH) are served and delivered"
	else
		fail "after $1: normal TLS sessions are served and delivered (got '$_c1' and '$_c2')"
	fi
}

check "tcpserver + tern-tlsd tern-smtpd (STARTTLS) started" start_srv P25 tern-tlsd tern-smtpd
check "tcpserver + tern-tlsd tern-smtpd -s (submission, STARTTLS) started" start_srv P587 tern-tlsd tern-smtpd -s
check "tcpserver + tern-tlsd -i tern-smtpd -s (submission, implicit TLS) started" start_srv P465 tern-tlsd -i tern-smtpd -s
echo "# ports ${P25:-} ${P587:-} ${P465:-}, home $H"

# ================= without a certificate =================

dlgis "no certificate: EHLO 250, STARTTLS 502 5.5.1" "220,250,502 5.5.1,$QC" "$P25" 'EHLO x\r\n' +1 'STARTTLS\r\n' +1 "$Q" eof
check "no certificate: STARTTLS not advertised, AUTH neither" sh -c "! grep -q -e '^250.STARTTLS' -e '^250.AUTH' '$OUT'"
dlgis "no certificate, submission: EHLO without STARTTLS or AUTH; MAIL 530 5.7.0" "220,250,530 5.7.0,$QC" \
	"$P587" 'EHLO x\r\n' +1 'MAIL FROM:<demo@example.test>\r\n' +1 "$Q" eof
check "  ... STARTTLS and AUTH not advertised" sh -c "! grep -q -e '^250.STARTTLS' -e '^250.AUTH' '$OUT'"
check "  ... tern-tlsd said why" grep -q 'tern-tlsd: .*no certificate in control/tls: STARTTLS not offered' "$LOG"
dlgis "no certificate, implicit TLS: the connection is closed, no greeting" "#TLSFAIL,#EOF" -n -i "$P465" eof
check "  ... tern-tlsd said why" grep -q 'tern-tlsd: fatal: no certificate in control/tls: no TLS' "$LOG"

# ================= the certificates =================

mkdir -p "$C/tls"
# mkcert NAME ec|rsa DIR: a self-signed certificate DIR/NAME.pem, key DIR/NAME.key (mode 600).
mkcert() {
	case $2 in ec) _k="-newkey ec -pkeyopt ec_paramgen_curve:P-256";; *) _k="-newkey rsa:2048";; esac
	openssl req -x509 $_k -nodes -days 30 -subj "/CN=$1" -addext "subjectAltName=DNS:$1" \
		-keyout "$3/$1.key" -out "$3/$1.pem" >/dev/null 2>&1 && chmod 600 "$3/$1.key"
}
check "openssl: EC P-256 certificate for a.test" mkcert a.test ec "$C/tls"
check "openssl: RSA-2048 certificate for b.test" mkcert b.test rsa "$C/tls"
fpr() { openssl x509 -noout -fingerprint -sha256 -in "$1" | sed 's/.*=//'; }
# presented [s_client args]: the subject CN of the certificate the implicit port shows.
presented() {
	openssl s_client -connect "127.0.0.1:$P465" "$@" </dev/null 2>/dev/null >"$W/sc.out"
	openssl x509 -noout -subject -in "$W/sc.out" 2>/dev/null | sed 's/^subject= *//; s/ //g'
}
presented_fpr() {
	openssl s_client -connect "127.0.0.1:$P465" "$@" </dev/null 2>/dev/null >"$W/sc.out"
	openssl x509 -noout -fingerprint -sha256 -in "$W/sc.out" 2>/dev/null | sed 's/.*=//'
}

# ================= real clients =================

# swaks SUBJECT ARGS...: a message to demo through swaks, its transcript in $OUT.
swk() {
	_s=$1; shift
	swaks --server 127.0.0.1 --helo swaks.test --to demo@example.test --header "Subject: $_s" \
		--body 'over TLS' --timeout 20 "$@" >"$OUT" 2>&1
}
swcipher() { sed -n 's/^=== TLS started with cipher TLSv1\.2:\([A-Z0-9-]*\):.*/\1/p' "$OUT" | head -n 1; }
# swaks_ok WHAT PROTO SUBJECT ARGS...
swaks_ok() {
	_w=$1; _pr=$2; _s=$3; shift 3
	swk "$_s" "$@"
	_rc=$?
	_ci=$(swcipher)
	if [ $_rc -eq 0 ] && [ -n "$_ci" ] && grep -q '^<~  250 2.0.0 ok: queued as ' "$OUT"; then ok "$_w: TLS 1.2 ($_ci), DATA 250 2.0.0"
	else fail "$_w: exit $_rc, cipher '$_ci': $(grep -E '^(<~|<-|\*\*\*)' "$OUT" | tail -n 3 | tr '\n' ' ')"; fi
	if t_wait 10 arrived "$_s"; then
		check "$_w: delivered; Received says with $_pr (using TLSv1.2 with cipher $_ci)" recv_tls "$(msgfile "$_s")" "$_pr" "${_ci:-none}"
	else fail "$_w: the message did not arrive"; fi
}
AU="--auth-user demo@example.test --auth-password"
swaks_ok "swaks --tls --auth PLAIN (587)" ESMTPSA "swaks tls plain" --port "$P587" --tls --auth PLAIN $AU "$PASS" --from demo@example.test
check "  ... AUTH PLAIN 235 2.7.0 inside TLS" grep -q '^<~  235 2.7.0 ' "$OUT"
swaks_ok "swaks --tls --auth LOGIN (587)" ESMTPSA "swaks tls login" --port "$P587" --tls --auth LOGIN $AU "$PASS" --from demo@example.test
check "  ... AUTH LOGIN 334 334 235 2.7.0" sh -c "grep -q '^<~  334 VXNlcm5hbWU6' '$OUT' && grep -q '^<~  334 UGFzc3dvcmQ6' '$OUT' && grep -q '^<~  235 2.7.0 ' '$OUT'"
swaks_ok "swaks --tlsc --auth PLAIN (465)" ESMTPSA "swaks tlsc plain" --port "$P465" --tlsc --auth PLAIN $AU "$PASS" --from demo@example.test
swaks_ok "swaks --tlsc --auth LOGIN (465)" ESMTPSA "swaks tlsc login" --port "$P465" --tlsc --auth LOGIN $AU "$PASS" --from demo@example.test
swaks_ok "swaks --tls, no AUTH (25)" ESMTPS "swaks tls 25" --port "$P25" --tls --from someone@remote.example
check "  ... no AUTH offered on port 25, even in TLS" sh -c "! grep -q '^<~  250.AUTH' '$OUT'"

# --- smtplib: starttls(), login(), sendmail() ---
pyok "$P587" "$PASS" <<'PY'
import smtplib, ssl, sys
port, pw = int(sys.argv[1]), sys.argv[2]
def want(c, what): print(("ok " if c else "not ok ") + what)
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP("127.0.0.1", port, local_hostname="py.test", timeout=10)
s.ehlo()
want(s.has_extn("starttls") and not s.has_extn("auth"), "smtplib: STARTTLS advertised, AUTH not before TLS")
r = s.starttls(context=ctx)
want(r[0] == 220 and r[1].startswith(b"2.0.0"), "smtplib: starttls() 220 2.0.0 (%r)" % (r,))
s.ehlo()
want(s.has_extn("auth") and not s.has_extn("starttls"), "smtplib: inside TLS AUTH advertised, STARTTLS not")
want(sorted(s.esmtp_features.get("auth", "").split()) == ["LOGIN", "PLAIN"], "smtplib: AUTH PLAIN LOGIN (%r)" % s.esmtp_features.get("auth"))
r = s.login("demo@example.test", pw)
want(r[0] == 235 and r[1].startswith(b"2.7.0"), "smtplib: login() 235 2.7.0 (%r)" % (r,))
refused = s.sendmail("demo@example.test", ["demo@example.test"], b"Subject: smtplib tls\r\n\r\nvia starttls\r\n")
want(refused == {}, "smtplib: sendmail() accepted")
r = s.quit()
want(r[0] == 221, "smtplib: QUIT 221")
PY
if t_wait 10 arrived "smtplib tls"; then
	check "smtplib: delivered, Received says ESMTPSA and the cipher" recv_tls "$(msgfile "smtplib tls")" ESMTPSA 'ECDHE-[A-Z0-9-]+'
else fail "smtplib: the message did not arrive"; fi

# --- openssl s_client ---
printf 'EHLO os.test\nQUIT\n' | openssl s_client -starttls smtp -connect "127.0.0.1:$P587" -crlf -brief -ign_eof 2>&1 | tr -d '\r' >"$OUT"
check "openssl s_client -starttls smtp (587): TLSv1.2, EHLO answered with AUTH inside TLS, 221" sh -c "
	grep -q '^Protocol version: TLSv1.2' '$OUT' && grep -qx '250-localhost hello os.test \[127.0.0.1\]' '$OUT' &&
	grep -qx '250-AUTH PLAIN LOGIN' '$OUT' && grep -q '^221 2.0.0' '$OUT'"
printf 'EHLO os.test\nQUIT\n' | openssl s_client -starttls smtp -connect "127.0.0.1:$P25" -crlf -brief -ign_eof 2>&1 | tr -d '\r' >"$OUT"
check "openssl s_client -starttls smtp (25): EHLO answered inside TLS, no AUTH, 221" sh -c "
	grep -q '^Protocol version: TLSv1.2' '$OUT' && grep -qx '250-localhost hello os.test \[127.0.0.1\]' '$OUT' &&
	! grep -q 'AUTH' '$OUT' && grep -q '^221 2.0.0' '$OUT'"
printf 'EHLO os.test\nQUIT\n' | openssl s_client -connect "127.0.0.1:$P465" -crlf -brief -ign_eof 2>&1 | tr -d '\r' >"$OUT"
check "openssl s_client (implicit, 465): greeting 220 and EHLO over TLS, 221" sh -c "
	grep -q '^Protocol version: TLSv1.2' '$OUT' && grep -q '^220 localhost ESMTP tern' '$OUT' &&
	grep -qx '250-AUTH PLAIN LOGIN' '$OUT' && grep -q '^221 2.0.0' '$OUT'"

# --- msmtp (GnuTLS) ---
if ! command -v msmtp >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
	echo "# installing msmtp"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq msmtp >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq msmtp >/dev/null 2>&1; }
fi
if command -v msmtp >/dev/null 2>&1; then
	cat >"$W/msmtprc" <<EOF
account tern
host 127.0.0.1
port $P587
domain msmtp.test
tls on
tls_starttls on
tls_certcheck off
auth plain
user demo@example.test
password "$PASS"
from demo@example.test
account default : tern
EOF
	chmod 600 "$W/msmtprc"
	printf 'Subject: msmtp tls\n\nvia msmtp\n' | msmtp -C "$W/msmtprc" demo@example.test >"$OUT" 2>&1
	is "msmtp (tls, starttls, auth plain) through 587: exit 0" "$?" 0
	if t_wait 10 arrived "msmtp tls"; then
		check "msmtp: delivered, Received says ESMTPSA and the cipher" recv_tls "$(msgfile "msmtp tls")" ESMTPSA 'ECDHE-[A-Z0-9-]+'
	else fail "msmtp: the message did not arrive ($(head -c 300 "$OUT"))"; fi
else
	fail "msmtp is not installed and could not be installed (apt-get install msmtp, as root)"
fi

# ================= protocol =================

# --- what is advertised when ---
st "$P25" "$Q" eof
is "STARTTLS on 25: 220 2.0.0, handshake, EHLO again" "$(codes)" "$ST,$QC"
check "  ... STARTTLS advertised before TLS, not after" sh -c "
	sed -n '1,/^#TLS/p' '$OUT' | grep -qx '250-STARTTLS' && ! sed -n '/^#TLS/,\$p' '$OUT' | grep -q STARTTLS"
check "  ... no AUTH on 25, before or inside TLS" sh -c "! grep -q '^250.AUTH' '$OUT'"
st "$P587" "$Q" eof
is "STARTTLS on 587" "$(codes)" "$ST,$QC"
check "  ... AUTH PLAIN LOGIN only inside TLS; STARTTLS only before" sh -c "
	! sed -n '1,/^#TLS/p' '$OUT' | grep -q AUTH && sed -n '/^#TLS/,\$p' '$OUT' | grep -qx '250-AUTH PLAIN LOGIN' &&
	sed -n '1,/^#TLS/p' '$OUT' | grep -qx '250-STARTTLS' && ! sed -n '/^#TLS/,\$p' '$OUT' | grep -q STARTTLS"
im "$Q" eof
is "implicit TLS on 465: EHLO" "$(codes)" "$IM,$QC"
check "  ... AUTH PLAIN LOGIN advertised, STARTTLS not" sh -c "grep -qx '250-AUTH PLAIN LOGIN' '$OUT' && ! grep -q STARTTLS '$OUT'"
sta "$P587" 'EHLO again.test\r\n' +1 "$Q" eof
is "after AUTH, EHLO again" "$(codes)" "$STA,250,$QC"
check "  ... AUTH no longer advertised" sh -c "sed -n '/^235 /,\$p' '$OUT' | grep -q '^250 ' && ! sed -n '/^235 /,\$p' '$OUT' | grep -q AUTH"

# --- STARTTLS ---
runis "STARTTLS twice: 503 5.5.1" "$ST,503 5.5.1,$QC" st "$P25" 'STARTTLS\r\n' +1 "$Q" eof
runis "STARTTLS on implicit TLS: 503 5.5.1" "$IM,503 5.5.1,$QC" im 'STARTTLS\r\n' +1 "$Q" eof
dlgis "STARTTLS with an argument: 501 5.5.4" "220,250,501 5.5.4,250 2.0.0,$QC" \
	"$P25" 'EHLO x\r\n' +1 'STARTTLS now\r\n' +1 'NOOP\r\n' +1 "$Q" eof
dlgis "after STARTTLS the session is reset: MAIL without a new EHLO 503 5.5.1, after EHLO 250 2.1.0" \
	"220,250,220 2.0.0,#TLS,503 5.5.1,250,250 2.1.0,$QC" \
	"$P25" 'EHLO x\r\n' +1 'STARTTLS\r\n' +1 tls 'MAIL FROM:<a@remote.example>\r\n' +1 'EHLO y\r\n' +1 'MAIL FROM:<a@remote.example>\r\n' +1 "$Q" eof
dlgis "a transaction begun before STARTTLS is forgotten: RCPT after it 503 5.5.1" \
	"220,250,250 2.1.0,220 2.0.0,#TLS,250,503 5.5.1,$QC" \
	"$P25" 'EHLO x\r\n' +1 'MAIL FROM:<a@remote.example>\r\n' +1 'STARTTLS\r\n' +1 tls 'EHLO y\r\n' +1 'RCPT TO:<demo@example.test>\r\n' +1 "$Q" eof

# --- submission needs TLS, then AUTH ---
dlgis "submission: AUTH before TLS 530 5.7.0" "220,250,530 5.7.0,$QC" "$P587" 'EHLO x\r\n' +1 "AUTH PLAIN $GOOD\\r\\n" +1 "$Q" eof
dlgis "submission: MAIL before TLS 530 5.7.0" "220,250,530 5.7.0,$QC" "$P587" 'EHLO x\r\n' +1 'MAIL FROM:<demo@example.test>\r\n' +1 "$Q" eof
runis "submission: MAIL inside TLS before AUTH 530 5.7.0" "$ST,530 5.7.0,$QC" st "$P587" 'MAIL FROM:<demo@example.test>\r\n' +1 "$Q" eof
runis "implicit submission: MAIL before AUTH 530 5.7.0" "$IM,530 5.7.0,$QC" im 'MAIL FROM:<demo@example.test>\r\n' +1 "$Q" eof
runis "port 25 inside TLS: AUTH 502 5.5.1" "$ST,502 5.5.1,$QC" st "$P25" "AUTH PLAIN $GOOD\\r\\n" +1 "$Q" eof

# --- the AUTH exchanges ---
runis "AUTH CRAM-MD5: 504 5.5.4" "$ST,504 5.5.4,$QC" st "$P587" 'AUTH CRAM-MD5\r\n' +1 "$Q" eof
runis "AUTH PLAIN with bad base64: 501 5.5.2" "$ST,501 5.5.2,501 5.5.2,$QC" \
	st "$P587" 'AUTH PLAIN !!!!\r\n' +1 'AUTH PLAIN AGRlbW8\r\n' +1 "$Q" eof
runis "AUTH PLAIN, 334, bad base64: 501 5.5.2" "$ST,334,501 5.5.2,$QC" st "$P587" 'AUTH PLAIN\r\n' +1 'a b c=\r\n' +1 "$Q" eof
runis "AUTH PLAIN, 334, *: 501 5.0.0" "$ST,334,501 5.0.0,250 2.0.0,$QC" st "$P587" 'AUTH PLAIN\r\n' +1 '*\r\n' +1 'NOOP\r\n' +1 "$Q" eof
runis "AUTH LOGIN, 334, *: 501 5.0.0" "$ST,334,501 5.0.0,$QC" st "$P587" 'AUTH LOGIN\r\n' +1 '*\r\n' +1 "$Q" eof
runis "AUTH LOGIN, 334, user, 334, *: 501 5.0.0" "$ST,334,334,501 5.0.0,$QC" \
	st "$P587" 'AUTH LOGIN\r\n' +1 "$(b64 demo@example.test)\\r\\n" +1 '*\r\n' +1 "$Q" eof
runis "AUTH PLAIN with an initial response: 235 2.7.0" "$STA,$QC" sta "$P587" "$Q" eof
runis "AUTH PLAIN without: 334, response, 235 2.7.0" "$ST,334,235 2.7.0,$QC" st "$P587" 'AUTH PLAIN\r\n' +1 "$GOOD\\r\\n" +1 "$Q" eof
check "  ... the challenge is '334 ' (empty)" grep -qx '334 ' "$OUT"
runis "AUTH LOGIN with the user name as initial response: 334, password, 235 2.7.0" "$ST,334,235 2.7.0,$QC" \
	st "$P587" "AUTH LOGIN $(b64 demo@example.test)\\r\\n" +1 "$(b64 "$PASS")\\r\\n" +1 "$Q" eof
check "  ... the challenge is 334 UGFzc3dvcmQ6 (Password:)" grep -qx '334 UGFzc3dvcmQ6' "$OUT"
runis "AUTH LOGIN without: 334, user, 334, password, 235 2.7.0" "$ST,334,334,235 2.7.0,$QC" \
	st "$P587" 'AUTH LOGIN\r\n' +1 "$(b64 demo@example.test)\\r\\n" +1 "$(b64 "$PASS")\\r\\n" +1 "$Q" eof
check "  ... the challenges are 334 VXNlcm5hbWU6 (Username:) then UGFzc3dvcmQ6" sh -c "
	grep -n '^334 ' '$OUT' | tr '\n' ' ' | grep -q ':334 VXNlcm5hbWU6 .*:334 UGFzc3dvcmQ6'"
runis "AUTH LOGIN over implicit TLS (465): 235 2.7.0" "$IM,334,334,235 2.7.0,$QC" \
	im 'AUTH LOGIN\r\n' +1 "$(b64 demo@example.test)\\r\\n" +1 "$(b64 "$PASS")\\r\\n" +1 "$Q" eof
runis "AUTH PLAIN pipelined with MAIL and RCPT (one write): 235 2.7.0, 250 2.1.0, 250 2.1.5" "$IM,235 2.7.0,250 2.1.0,250 2.1.5,$QC" \
	im "AUTH PLAIN $GOOD\\r\\nMAIL FROM:<demo@example.test>\\r\\nRCPT TO:<demo@example.test>\\r\\n" +3 "$Q" eof
dlgis "AUTH inside TLS before EHLO, and after HELO: 503 5.5.1" "#TLS,220,503 5.5.1,250,503 5.5.1,$QC" \
	-i "$P465" "AUTH PLAIN $GOOD\\r\\n" +1 'HELO x\r\n' +1 "AUTH PLAIN $GOOD\\r\\n" +1 "$Q" eof
runis "AUTH without a mechanism: 501 5.5.4" "$IM,501 5.5.4,$QC" im 'AUTH\r\n' +1 "$Q" eof
for m in 'no password:\0demo@example.test\0' 'no NUL:demo@example.test' 'three NULs:\0demo@example.test\0pw\0x' \
	'a CR in the password:\0demo@example.test\0se\rcret' 'no authcid:\0\0pw'; do
	runis "AUTH PLAIN, malformed (${m%%:*}): 501 5.5.2" "$IM,501 5.5.2,$QC" \
		im "AUTH PLAIN $(printf "${m#*:}" | base64 -w0)\\r\\n" +1 "$Q" eof
done
runis "AUTH PLAIN = (an empty response): 501 5.5.2" "$IM,501 5.5.2,$QC" im 'AUTH PLAIN =\r\n' +1 "$Q" eof
runis "AUTH LOGIN, a user name with a NUL: 501 5.5.2" "$IM,501 5.5.2,$QC" im "AUTH LOGIN $(printf 'demo\0x' | base64 -w0)\\r\\n" +1 "$Q" eof
runis "AUTH PLAIN, user name in another case: 235 2.7.0" "$ST,235 2.7.0,$QC" \
	st "$P587" "AUTH PLAIN $(plain '' Demo@Example.TEST "$PASS")\\r\\n" +1 "$Q" eof

# --- lengths ---
# 13000 octets of base64: the line is refused, and its tail is not read as a command.
runis "an AUTH line over 12288 octets: 500 5.5.6 (RFC 4954), and the session stays in step (NOOP 250)" "$ST,500 5.5.6,250 2.0.0,$QC" \
	st "$P587" 'AUTH PLAIN ' '*3250:AAAA' 'HELP\r\n' +1 'NOOP\r\n' +1 "$Q" eof
runis "a 334 response over 12288 octets: 500 5.5.6, still in step" "$ST,334,500 5.5.6,250 2.0.0,$QC" \
	st "$P587" 'AUTH PLAIN\r\n' +1 '*3250:AAAA' 'HELP\r\n' +1 'NOOP\r\n' +1 "$Q" eof
LONG=$(plain '' long@example.test "$LONGPASS")
is "  (the long AUTH line is $((${#LONG} + 12)) octets)" "$(( ${#LONG} + 12 > 512 && ${#LONG} + 12 <= 12288 ))" 1
runis "an AUTH PLAIN line of $((${#LONG} + 12)) octets of valid base64 is read: 235 2.7.0" "$ST,235 2.7.0,$QC" \
	st "$P587" "AUTH PLAIN $LONG\\r\\n" +1 "$Q" eof
runis "a non-AUTH command over 512 octets: 500 5.5.2, then NOOP 250" "$ST,500 5.5.2,250 2.0.0,$QC" \
	st "$P587" 'NOOP ' '*600:x' '\r\n' +1 'NOOP\r\n' +1 "$Q" eof
runis "a 600-octet MAIL command after AUTH: 500 5.5.2" "$STA,500 5.5.2,$QC" \
	sta "$P587" 'MAIL FROM:<demo@example.test> ' '*580:x' '\r\n' +1 "$Q" eof

# --- failures ---
BAD=$(plain '' demo@example.test 'wrong password')
runis "wrong password: 535 5.7.8" "$ST,535 5.7.8,$QC" st "$P587" "AUTH PLAIN $BAD\\r\\n" +1 "$Q" eof
runis "unknown user: 535 5.7.8" "$ST,535 5.7.8,$QC" st "$P587" "AUTH PLAIN $(plain '' nobody@example.test "$PASS")\\r\\n" +1 "$Q" eof
runis "three wrong (PLAIN, LOGIN, PLAIN): 535 5.7.8, 535 5.7.8, 421 4.7.0 and closed" "$ST,535 5.7.8,334,334,535 5.7.8,421 4.7.0,#EOF" \
	st "$P587" "AUTH PLAIN $BAD\\r\\n" +1 'AUTH LOGIN\r\n' +1 "$(b64 demo@example.test)\\r\\n" +1 "$(b64 nope)\\r\\n" +1 \
	"AUTH PLAIN $BAD\\r\\n" +1 'NOOP\r\n' +1 eof
runis "two wrong, then the right one: 235 2.7.0" "$ST,535 5.7.8,535 5.7.8,235 2.7.0,$QC" \
	st "$P587" "AUTH PLAIN $BAD\\r\\n" +1 "AUTH PLAIN $BAD\\r\\n" +1 "AUTH PLAIN $GOOD\\r\\n" +1 "$Q" eof
# tern-users takes passwords up to 511 octets; the user must be able to log in with one.
runis "a 500-octet password (tern-users passwd took it): 235 2.7.0" "$ST,235 2.7.0,$QC" \
	st "$P587" "AUTH PLAIN $(plain '' long500@example.test "$PASS500")\\r\\n" +1 "$Q" eof
# No password is over 511 octets: a longer one is simply wrong, and counts as a failure.
HUGE=$(plain '' demo@example.test "$(printf 'x%.0s' $(seq 1 600))")
runis "a 600-octet password: 535 5.7.8 (wrong, not a temporary failure)" "$ST,535 5.7.8,$QC" \
	st "$P587" "AUTH PLAIN $HUGE\\r\\n" +1 "$Q" eof
runis "three 600-octet passwords: 535 5.7.8, 535 5.7.8, 421 4.7.0 and closed" "$ST,535 5.7.8,535 5.7.8,421 4.7.0,#EOF" \
	st "$P587" "AUTH PLAIN $HUGE\\r\\n" +1 "AUTH PLAIN $HUGE\\r\\n" +1 "AUTH PLAIN $HUGE\\r\\n" +1 'NOOP\r\n' +1 "$Q" +1 eof
runis "authzid other than the authcid (good password): 535 5.7.8" "$ST,535 5.7.8,$QC" \
	st "$P587" "AUTH PLAIN $(plain other@example.test demo@example.test "$PASS")\\r\\n" +1 "$Q" eof
runis "authzid equal to the authcid: 235 2.7.0" "$ST,235 2.7.0,$QC" \
	st "$P587" "AUTH PLAIN $(plain demo@example.test demo@example.test "$PASS")\\r\\n" +1 "$Q" eof
runis "a second AUTH after success: 503 5.5.1" "$STA,503 5.5.1,$QC" sta "$P587" "AUTH PLAIN $GOOD\\r\\n" +1 "$Q" eof
rm -f "$C/authfaildelay"
dlg "$P587" 'EHLO pre.test\r\n' +1 'STARTTLS\r\n' +1 tls 'EHLO post.test\r\n' +1 mark "AUTH PLAIN $BAD\\r\\n" +1 elapsed "$Q" eof
is "default authfaildelay: wrong password 535 5.7.8" "$(codes)" "$ST,535 5.7.8,$QC"
check "  ... after at least 2 s (took $(elapsed) s)" within 2 10
dlg "$P587" 'EHLO pre.test\r\n' +1 'STARTTLS\r\n' +1 tls 'EHLO post.test\r\n' +1 mark "AUTH PLAIN $GOOD\\r\\n" +1 elapsed "$Q" eof
is "default authfaildelay: the right password 235 2.7.0" "$(codes)" "$ST,235 2.7.0,$QC"
check "  ... at once (took $(elapsed) s)" within 0 1
echo 0 >"$C/authfaildelay"

# --- relaying and senders ---
runis "after AUTH: relay to someone@example.org 250 2.1.5, DATA 250 2.0.0" "$STA,250 2.1.0,250 2.1.5,354,250 2.0.0,$QC" \
	sta "$P587" 'MAIL FROM:<demo@example.test>\r\nRCPT TO:<someone@example.org>\r\nDATA\r\n' +3 \
	'Subject: relayed\r\n\r\nto the world\r\n.\r\n' +1 "$Q" eof
check "  ... it is queued for <someone@example.org>" t_wait 10 sh -c "'$T_BIN/tern-qread' | grep -q '<demo@example.test> <someone@example.org>'"
runis "implicit TLS after AUTH: relay 250 2.1.5" "$IMA,250 2.1.0,250 2.1.5,$QC" \
	ima 'MAIL FROM:<demo@example.test>\r\n' +1 'RCPT TO:<someone@example.org>\r\n' +1 "$Q" eof
runis "port 25 inside TLS, no AUTH: relay 554 5.7.1" "$ST,250 2.1.0,554 5.7.1,$QC" \
	st "$P25" 'MAIL FROM:<demo@example.test>\r\n' +1 'RCPT TO:<someone@example.org>\r\n' +1 "$Q" eof
dlgis "port 25 in the clear: relay 554 5.7.1" "220,250,250 2.1.0,554 5.7.1,$QC" \
	"$P25" 'EHLO x\r\n' +1 'MAIL FROM:<demo@example.test>\r\n' +1 'RCPT TO:<someone@example.org>\r\n' +1 "$Q" eof
for f in 'a@remote.example' 'other@example.test' 'demo@example.test.evil' 'demo@evil.example' ''; do
	runis "after AUTH as demo: MAIL FROM:<$f> 553 5.7.1" "$STA,553 5.7.1,$QC" sta "$P587" "MAIL FROM:<$f>\\r\\n" +1 "$Q" eof
done
for f in 'demo@example.test' 'demo+tag@example.test' 'DEMO@Example.Test' 'root@localhost' 'postmaster@localhost'; do
	runis "after AUTH as demo: MAIL FROM:<$f> 250 2.1.0" "$STA,250 2.1.0,$QC" sta "$P587" "MAIL FROM:<$f>\\r\\n" +1 "$Q" eof
done
"$T_BIN/tern-users" alias sales@example.test demo@example.test >/dev/null || fail "tern-users alias sales@example.test demo@example.test"
runis "after AUTH as demo: MAIL FROM an alias made for demo (sales@example.test) 250 2.1.0" "$STA,250 2.1.0,$QC" \
	sta "$P587" 'MAIL FROM:<sales@example.test>\r\n' +1 "$Q" eof
echo any >"$C/smtpauthsender"
runis "smtpauthsender=any: MAIL FROM:<a@remote.example> 250 2.1.0" "$STA,250 2.1.0,$QC" sta "$P587" 'MAIL FROM:<a@remote.example>\r\n' +1 "$Q" eof
rm -f "$C/smtpauthsender"

# --- sessions inside TLS: bulk data, pipelining, timeouts, clients that vanish ---
"$PY" - "$W" <<'PY'
import sys
w = sys.argv[1]
for name, size in (("big3", 3 << 20), ("big1", 1 << 20)):
    lines, n, i = [], 0, 0
    while n < size:
        l = ("%07d " % i) + "".join(chr(33 + (i * 7 + k) % 94) for k in range(70))
        l = l.replace(".", ",")
        lines.append(l); n += len(l) + 1; i += 1
    body = "\n".join(lines) + "\n"
    open("%s/%s.want" % (w, name), "w").write(body)
    open("%s/%s.in" % (w, name), "w", newline="").write(
        ("Subject: %s tls\n\n" % name + body).replace("\n", "\r\n") + ".\r\n")
PY
body() { sed '1,/^$/d' "$1"; }
runis "a 3 MiB message over implicit TLS: 250 2.0.0" "$IMA,250 2.1.0,250 2.1.5,354,250 2.0.0,$QC" \
	ima 'MAIL FROM:<demo@example.test>\r\nRCPT TO:<demo@example.test>\r\nDATA\r\n' +3 "@$W/big3.in" +1 "$Q" eof
if t_wait 10 arrived "big3 tls"; then
	body "$(msgfile "big3 tls")" >"$W/got"
	check "  ... it arrives byte for byte" cmp -s "$W/got" "$W/big3.want"
else fail "  ... it arrives (it did not)"; fi
runis "a 1 MiB message after STARTTLS (25): 250 2.0.0" "$ST,250 2.1.0,250 2.1.5,354,250 2.0.0,$QC" \
	st "$P25" 'MAIL FROM:<a@remote.example>\r\nRCPT TO:<demo@example.test>\r\nDATA\r\n' +3 "@$W/big1.in" +1 "$Q" eof
if t_wait 10 arrived "big1 tls"; then
	body "$(msgfile "big1 tls")" >"$W/got"
	check "  ... it arrives byte for byte" cmp -s "$W/got" "$W/big1.want"
else fail "  ... it arrives (it did not)"; fi
st "$P25" '*3000:NOOP\r\n' +3000 "$Q" eof
is "3000 NOOPs in one write inside TLS: 3000 replies 250 2.0.0, in step, then QUIT 221" \
	"$(grep -c '^250 2.0.0 ok$' "$OUT"),$(codes | sed 's/.*,\([^,]*,[^,]*\)$/\1/')" "3000,$QC"
echo 2 >"$C/timeoutsmtpd"
dlgis "timeoutsmtpd=2 inside implicit TLS: 421 4.4.2 reaches the client through TLS, then closed" "$IM,421 4.4.2,#EOF" \
	-i "$P465" 'EHLO idle.test\r\n' +1 +1 eof
runis "timeoutsmtpd=2 after STARTTLS: 421 4.4.2, then closed" "$ST,421 4.4.2,#EOF" st "$P25" +1 eof
rm -f "$C/timeoutsmtpd"
nkids() { ps -o pid= --ppid "$1" | wc -l; }
nokids() { [ "$(nkids "$1")" -eq 0 ]; }
runis "a client that resets mid-DATA over implicit TLS" "$IMA,250 2.1.0,250 2.1.5,354" \
	ima 'MAIL FROM:<demo@example.test>\r\nRCPT TO:<demo@example.test>\r\nDATA\r\n' +3 \
	'Subject: cut tls\r\n\r\nhalf a mess' sleep:0.3 reset
check "  ... tern-tlsd and tern-smtpd end at once" t_wait 3 nokids "$P465_PID"
check "  ... nothing delivered, the session logged as lost" sh -c "sleep 0.5; ! grep -qx 'Subject: cut tls' '$DEMO'/new/* && grep -q 'event=end why=\"connection lost in message\"' '$LOG'"
dlg -n "$P465" half close
check "a client that closes mid-handshake: tern-tlsd ends at once (not after timeouttls)" t_wait 3 nokids "$P465_PID"
dlg "$P25" 'EHLO x\r\n' +1 'STARTTLS\r\n' +1 half close
check "  ... and after STARTTLS" t_wait 3 nokids "$P25_PID"
alive "the protocol cases"

# ================= security =================

# --- STARTTLS command injection (CVE-2011-0411) ---
for p in "$P25" "$P587"; do
	dlgis "STARTTLS and HELP in one write ($p): after the handshake NOOP's 250 2.0.0 comes first, not HELP's 214" \
		"220,250,220 2.0.0,#TLS,250 2.0.0,$QC" \
		"$p" 'EHLO x\r\n' +1 'STARTTLS\r\nHELP\r\n' +1 tls 'NOOP\r\n' +1 "$Q" eof
done
dlgis "STARTTLS, MAIL and RCPT in one write: not carried into TLS (RCPT after EHLO: 503 5.5.1)" \
	"220,250,220 2.0.0,#TLS,250,503 5.5.1,$QC" \
	"$P25" 'EHLO x\r\n' +1 'STARTTLS\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<demo@example.test>\r\n' +1 tls \
	'EHLO y\r\n' +1 'RCPT TO:<demo@example.test>\r\n' +1 "$Q" eof

# --- garbage instead of a ClientHello ---
dlg -n -t 15 "$P465" mark 'GET / HTTP/1.0\r\nHost: x\r\n\r\n' eof elapsed
is "garbage instead of a ClientHello (implicit): closed, no reply" "$(codes)" "#EOF"
check "  ... within 3 s (took $(elapsed) s)" within 0 3
dlg -t 15 "$P25" 'EHLO x\r\n' +1 'STARTTLS\r\n' +1 mark '\x16\x03\x01\x00\x20 this is not a handshake message.\r\n' eof elapsed
is "garbage after STARTTLS: closed" "$(codes)" "220,250,220 2.0.0,#EOF"
check "  ... within 3 s (took $(elapsed) s)" within 0 3
dlg -n -t 15 "$P465" mark '\x16\x03\x01\xff\xff\x01' '*300:garbage!' eof elapsed
is "a record header claiming 65535 octets (implicit): closed" "$(codes)" "#EOF"
check "  ... within 3 s (took $(elapsed) s)" within 0 3
alive "garbage handshakes"

# --- stalled handshakes: control/timeouttls ---
echo 2 >"$C/timeouttls"
$DLG -n -t 20 "$P465" mark eof elapsed >"$W/stall1" 2>&1 & s1=$!
$DLG -n -t 20 "$P465" mark half eof elapsed >"$W/stall2" 2>&1 & s2=$!
$DLG -t 20 "$P25" 'EHLO x\r\n' +1 'STARTTLS\r\n' +1 mark half eof elapsed >"$W/stall3" 2>&1 & s3=$!
$DLG -t 20 "$P587" 'EHLO x\r\n' +1 'STARTTLS\r\n' +1 mark eof elapsed >"$W/stall4" 2>&1 & s4=$!
wait $s1 $s2 $s3 $s4
for c in "1:nothing on the implicit port" "2:half a ClientHello on the implicit port" \
	"3:half a ClientHello after STARTTLS" "4:nothing after STARTTLS (587)"; do
	cp "$W/stall${c%%:*}" "$OUT"
	if grep -q '^#EOF' "$OUT" && within 1.5 10; then ok "timeouttls=2: ${c#*:}: closed after $(elapsed) s"
	else fail "timeouttls=2: ${c#*:}: not closed in time ($(tr '\n' ' ' <"$OUT" | tail -c 200))"; fi
done
check "  ... tern-tlsd logged the timeouts" sh -c "[ \$(grep -c 'prog=tern-tlsd event=tls-fail .*error=timeout' '$LOG') -ge 4 ]"
rm -f "$C/timeouttls"

# --- old protocol versions, and what is not offered ---
openssl s_client -connect "127.0.0.1:$P465" -tls1_1 -cipher 'ALL:@SECLEVEL=0' -msg </dev/null >"$OUT" 2>&1
if grep -q '^>>> TLS 1.1, Handshake.*ClientHello' "$OUT"; then
	check "openssl s_client -tls1_1: its TLS 1.1 ClientHello is refused (no handshake, no greeting)" sh -c "
		! grep -q '^<<< TLS 1.1, Handshake.*ServerHello' '$OUT' && ! grep -q '^220 ' '$OUT' &&
		! grep -q 'Cipher is [A-Z]' '$OUT'"
else
	dlg -n "$P465" tls11 eof
	case $(sed -n 's/^#TLSFAIL //p' "$OUT") in
	'') fail "TLS 1.1 client: python's TLS 1.1-only handshake succeeded: $(head -n 2 "$OUT" | tr '\n' ' ')";;
	*NO_PROTOCOLS*|*UNSUPPORTED_PROTOCOL*|*NO_CIPHERS*)
		fail "TLS 1.1 client: neither openssl s_client -tls1_1 nor python ssl can offer TLS 1.1 here: $(head -n 1 "$OUT")";;
	*) ok "python ssl (TLS 1.0-1.1 only): refused ($(sed -n 's/^#TLSFAIL //p' "$OUT"))";;
	esac
fi
dlgis "a raw TLS 1.1 ClientHello (AEAD suites offered): alert protocol_version" "#ALERT 2 70,#EOF" -n "$P465" hello:0302 eof
dlg -n "$P465" hello:0303
check "the same ClientHello as TLS 1.2: a ServerHello of version 1.2" grep -qx '#HANDSHAKE 2 0303' "$OUT"
openssl s_client -connect "127.0.0.1:$P465" -tls1_2 -cipher 'ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA' </dev/null >"$OUT" 2>&1
check "a TLS 1.2 client offering only CBC suites is refused" sh -c "! grep -q '^220 ' '$OUT' && ! grep -q 'Cipher is [A-Z]' '$OUT'"
openssl s_client -connect "127.0.0.1:$P465" -tls1_3 </dev/null >"$OUT" 2>&1
check "a TLS 1.3-only client is refused (BearSSL speaks TLS 1.2 at most)" sh -c "! grep -q '^220 ' '$OUT' && ! grep -q 'Cipher is [A-Z]' '$OUT'"

# --- renegotiation ---
(printf 'EHLO reneg.test\n'; sleep 0.7; printf 'R\n'; sleep 0.7; printf 'NOOP\n'; sleep 0.5; printf 'QUIT\n'; sleep 0.3) |
	openssl s_client -connect "127.0.0.1:$P465" -crlf 2>&1 | tr -d '\r' >"$OUT"
check "client-initiated renegotiation is refused: the NOOP after it gets no answer" sh -c "
	grep -q '^250 DSN' '$OUT' && grep -q '^RENEGOTIATING' '$OUT' && ! grep -q '^250 2.0.0' '$OUT'"

# --- a key others can read ---
chmod 644 "$C/tls/a.test.key"
pyok "$T_BIN/tern-tlsd" "$T_BIN/tern-smtpd" "$C/tls/a.test.key" <<'PY'
import socket, subprocess, sys
tlsd, smtpd, key = sys.argv[1:4]
def want(c, what): print(("ok " if c else "not ok ") + what)
a, b = socket.socketpair()
p = subprocess.Popen([tlsd, smtpd, "-s"], stdin=b, stdout=b, stderr=subprocess.PIPE)
b.close()
try:
    err = p.communicate(timeout=10)[1].decode(errors="replace")
except subprocess.TimeoutExpired:
    p.kill(); err = p.communicate()[1].decode(errors="replace")
a.settimeout(2)
try:
    got = a.recv(100)
except OSError:
    got = b""
want(p.returncode == 111, "key file mode 644: tern-tlsd (on a socketpair) exits 111 (got %r)" % p.returncode)
want(err.strip() == "tern-tlsd: fatal: key file is readable by group or others (chmod 600 it): " + key,
     "  ... with one clear line on stderr (%r)" % err.strip())
want(got == b"", "  ... and says nothing to the client (%r)" % got)
PY
dlgis "key file mode 644, under tcpserver: the client is closed without a greeting" "#EOF" -t 5 "$P25" eof
check "  ... the log says why" grep -q "tern-tlsd: fatal: key file is readable by group or others (chmod 600 it): $C/tls/a.test.key" "$LOG"
chmod 640 "$C/tls/a.test.key"
dlgis "key file mode 640: refused too" "#EOF" -n -t 5 "$P465" eof
chmod 600 "$C/tls/a.test.key"
alive "a readable key, made private again"

# ================= certificates =================

is "ECDSA-only client (ECDHE-ECDSA-AES128-GCM-SHA256): the EC certificate" \
	"$(presented -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256)" "CN=a.test"
is "RSA-only client (ECDHE-RSA-AES128-GCM-SHA256): the RSA certificate" \
	"$(presented -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256)" "CN=b.test"
check "  ... and the cipher is that one" grep -q 'Cipher is ECDHE-RSA-AES128-GCM-SHA256' "$W/sc.out"
is "SNI a.test: the a.test certificate" "$(presented -servername a.test)" "CN=a.test"
is "SNI b.test: the b.test certificate" "$(presented -servername b.test)" "CN=b.test"
is "SNI B.TEST (case): the b.test certificate" "$(presented -servername B.TEST)" "CN=b.test"
is "SNI c.test (none of ours): the first usable, a.test" "$(presented -servername c.test)" "CN=a.test"
is "SNI b.test but ECDSA only: the EC certificate still (b.test's key type is not usable)" \
	"$(presented -servername b.test -cipher ECDHE-ECDSA-AES128-GCM-SHA256)" "CN=a.test"
printf 'EHLO sni.test\nQUIT\n' | openssl s_client -starttls smtp -connect "127.0.0.1:$P25" -servername b.test -crlf -ign_eof >"$W/sc.out" 2>&1
is "STARTTLS with SNI b.test: the b.test certificate" \
	"$(openssl x509 -noout -subject -in "$W/sc.out" 2>/dev/null | sed 's/^subject= *//; s/ //g')" "CN=b.test"
check "  ... tern-tlsd logged sni=b.test" grep -q 'prog=tern-tlsd event=tls .*sni=b.test' "$LOG"

is "ECDHE-ECDSA-CHACHA20-POLY1305: the EC certificate" "$(presented -tls1_2 -cipher ECDHE-ECDSA-CHACHA20-POLY1305)" "CN=a.test"
check "  ... with that cipher" grep -q 'Cipher is ECDHE-ECDSA-CHACHA20-POLY1305' "$W/sc.out"
is "ECDHE-RSA-AES256-GCM-SHA384: the RSA certificate" "$(presented -tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384)" "CN=b.test"
check "  ... with that cipher" grep -q 'Cipher is ECDHE-RSA-AES256-GCM-SHA384' "$W/sc.out"
printf 'QUIT\n' | openssl s_client -connect "127.0.0.1:$P465" -servername 'zq9 name="x" sni=b.test' -crlf -ign_eof >"$W/sc.out" 2>&1
check "a hostile SNI (spaces, quotes, =): served (220), the a.test certificate" sh -c "
	grep -q '^220 ' '$W/sc.out' && openssl x509 -noout -subject -in '$W/sc.out' | grep -q 'a.test'"
check "  ... and it is kept out of the log" sh -c "! grep -q 'zq9' '$LOG'"
old=$(presented_fpr -servername a.test)
is "a.test: the presented certificate is the file's" "$old" "$(fpr "$C/tls/a.test.pem")"
mkdir -p "$W/new"
mkcert a.test ec "$W/new" || fail "openssl: a renewed a.test certificate"
mv "$W/new/a.test.key" "$C/tls/a.test.key" && mv "$W/new/a.test.pem" "$C/tls/a.test.pem"
new=$(presented_fpr -servername a.test)
check "renewed a.test (files replaced, nothing restarted): the next connection presents it" \
	sh -c "[ -n '$new' ] && [ '$new' = '$(fpr "$C/tls/a.test.pem")' ] && [ '$new' != '$old' ]"
check "  ... and the STARTTLS listener too" sh -c "
	printf 'QUIT\n' | openssl s_client -starttls smtp -connect 127.0.0.1:$P25 -servername a.test -crlf -ign_eof 2>/dev/null |
	openssl x509 -noout -fingerprint -sha256 2>/dev/null | grep -q '=$new\$'"
alive "the certificate renewal"

# ================= no secret anywhere =================

# The clear passwords, and the base64 forms they went over the wire in.
found=""
for s in "$PASS" "$LONGPASS" "$PASS500" 'wrong password' "$GOOD" "$BAD" "$(b64 "$PASS")" "$LONG" \
	"$(plain other@example.test demo@example.test "$PASS")" "$(plain demo@example.test demo@example.test "$PASS")"; do
	grep -rqaF -e "$s" "$H" && found="$found [$(grep -rlaF -e "$s" "$H" | head -n 3 | tr '\n' ' ')]"
done
is "no password, clear or base64, in TERN_HOME (logs, queue, mail, control)" "$found" ""
check "  ... while the log does record the AUTH events" grep -q 'event=auth mech=PLAIN user=demo@example.test result=ok' "$LOG"

# ================= the end =================
check "the three tcpservers still running" kill -0 "$P25_PID" "$P587_PID" "$P465_PID"
nleft=0
for pid in $P25_PID $P587_PID $P465_PID; do nleft=$((nleft + $(ps -o pid= --ppid "$pid" | wc -l))); done
is "no tern-tlsd or tern-smtpd left running after the sessions" "$nleft" 0
check "log: a session that began in TLS says so after its start" grep -q 'prog=tern-smtpd sid=[^ ]* event=tls tls=TLSv1.2 cipher=' "$LOG"
check "log: STARTTLS is logged with protocol and cipher" grep -q 'prog=tern-smtpd sid=[^ ]* event=starttls tls=TLSv1.2 cipher=' "$LOG"
t_done
