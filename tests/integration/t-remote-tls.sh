#!/bin/sh
# tern-remote's STARTTLS client and control/tlsdestinations, in a network namespace of the
# test's own (as t-remote.sh): dnsd.py answers for *.test, sink.py peers speak TLS with
# certificates made here by openssl (a test CA; a wrong name, an untrusted CA and an
# expired certificate), or offer no STARTTLS, refuse it, answer it with garbage, or stall.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
t_netns "$0" "$@"

t_home
H=$TERN_HOME
rm -f "$H/control/smtproutes"
W=$H/work
mkdir -p "$W"
D=$T_TOP/tests/integration
DNSCACHEIP=127.0.0.1
export DNSCACHEIP

# ---- certificates ----
C=$W/certs
mkdir -p "$C/db"
: >"$C/db/index"
echo 10 >"$C/db/serial"
cat >"$C/ca.cnf" <<'EOF'
[ ca ]
default_ca = test
[ test ]
dir = .
database = db/index
serial = db/serial
new_certs_dir = db
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
[ anything ]
commonName = supplied
EOF
# ca NAME: a self-signed CA (EC P-256)
ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$C/$1.key" \
		-out "$C/$1.pem" -days 30 -subj "/CN=tern $1" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
}
# cert NAME DNSNAME CA KEYTYPE [openssl ca date options]: a server certificate for DNSNAME
cert() {
	_n=$1 _dns=$2 _ca=$3 _kt=$4; shift 4
	if [ "$_kt" = rsa ]; then _np="-newkey rsa:2048"; else _np="-newkey ec -pkeyopt ec_paramgen_curve:P-256"; fi
	openssl req -new $_np -nodes -keyout "$C/$_n.key" -subj "/CN=$_dns" -out "$C/$_n.csr" &&
	printf '[ srv ]\nsubjectAltName = DNS:%s\nbasicConstraints = CA:FALSE\nextendedKeyUsage = serverAuth\n' \
		"$_dns" >"$C/$_n.ext" &&
	(cd "$C" && openssl ca -batch -config ca.cnf -cert "$_ca.pem" -keyfile "$_ca.key" -in "$_n.csr" \
		-out "$_n.pem" -extfile "$_n.ext" -extensions srv -notext "$@")
}
mkcerts() {
	ca ca && ca evil &&
	cert good mx.good.test ca rsa -days 30 &&
	cert wrong other.example.test ca ec -days 30 &&
	cert untrusted mx.untrusted.test evil ec -days 30 &&
	cert expired mx.expired.test ca ec -startdate 20200101000000Z -enddate 20200201000000Z &&
	cert ternpeer mx.tern.test ca ec -days 30
}
mkcerts >"$W/openssl.log" 2>&1 || { fail "openssl makes the test certificates"; cat "$W/openssl.log"; t_done; }
ok "openssl makes the test CA and certificates ($(openssl version | cut -d' ' -f1-2))"
echo "$C/ca.pem" >"$H/control/tlscafile"
# The good certificate's SHA-256 as openssl prints it (upper case, colons) and as logged.
FPO=$(openssl x509 -in "$C/good.pem" -noout -fingerprint -sha256 | sed 's/.*=//')
FP=$(echo "$FPO" | tr -d ':' | tr 'A-F' 'a-f')
FPWRONG=$(echo "$FP" | tr '0-9a-f' 'f0-9a-e')

# peer NAME N [sink.py options]: NAME.test has the MX mx.NAME.test, 127.0.0.N, where a
# sink.py listens on port 25 and stores into $W/NAME.
peer() {
	_n=$1 _a=127.0.0.$2; shift 2
	printf '%s.test MX 10 mx.%s.test\nmx.%s.test A %s\n' "$_n" "$_n" "$_n" "$_a" >>"$W/zone"
	mkdir -p "$W/$_n"
	python3 "$D/sink.py" --addr "$_a" --port 25 --dir "$W/$_n" --pidfile "$W/$_n.pid" "$@" &
	T_PIDS="$T_PIDS $!"
	t_wait 10 test -s "$W/$_n.pid"
}
tlsopt() { echo "--tls-cert $C/$1.pem --tls-key $C/$1.key"; }
: >"$W/zone"
check "peer good (TLS, mx.good.test by the test CA)" peer good 2 $(tlsopt good)
check "peer plain (no STARTTLS)" peer plain 3
check "peer wrong (TLS, certificate for another name)" peer wrong 4 $(tlsopt wrong)
check "peer untrusted (TLS, certificate of an unknown CA)" peer untrusted 5 $(tlsopt untrusted)
check "peer expired (TLS, expired certificate)" peer expired 6 $(tlsopt expired)
check "peer refuse (STARTTLS gets 454)" peer refuse 7 --starttls-advert
check "peer garbage (220, then not TLS)" peer garbage 8 --tls-garbage
check "peer stall (220, then silence)" peer stall 9 --tls-stall
printf 'two.test MX 10 mx.wrong.test\ntwo.test MX 20 mx.good.test\n' >>"$W/zone"
printf 'tern.test MX 10 mx.tern.test\nmx.tern.test A 127.0.0.20\n' >>"$W/zone"
python3 "$D/dnsd.py" "$W/zone" --addr 127.0.0.1 --port 53 --pidfile "$W/dnsd.pid" --log "$W/dnsd.log" &
T_PIDS="$T_PIDS $!"
check "test DNS server up" t_wait 10 test -s "$W/dnsd.pid"

# A message with dot lines and enough bytes for many TLS records.
python3 - "$W/msg" <<'EOF'
import sys
with open(sys.argv[1], "wb") as f:
    f.write(b"Subject: over TLS\n\nfirst line\n.leading dot\n..two dots\n.\n")
    for i in range(4000):
        f.write(b"%s line %d %s\n" % (b"." if i % 7 == 0 else b"", i, b"x" * (i % 90)))
    f.write(b"last\n")
EOF
sed 's/$/\r/' "$W/msg" >"$W/want"

rr() {
	_t=$1; shift
	tern-remote -f demo@example.test "$@" <"$W/msg" >"$W/$_t.out" 2>"$W/$_t.err"
}
line() { sed -n "${2}p" "$W/$1.out" | cut -c1-"${3:-300}"; }
nmsgs() { ls "$W/$1" | grep -c '^msg\.'; }
last() { ls "$W/$1" | grep '^msg\.' | sort -t. -k2 -n | tail -n 1; }
body_ok() { sed '1,/^$/d' "$W/$1/$(last "$1")" | cmp -s - "$W/want"; }
policy() { printf '%s\n' "$@" >"$H/control/tlsdestinations"; }
tlslog() { grep 'event=tls' "$W/$1.err"; }

# ---- opportunistic (the default) ----
rr may x@good.test
is "may: accepted over TLS" "$(line may 1 1)" "r"
check "may: log tls=TLSv1.2 with cipher, fingerprint, verify=ok" \
	grep -Eq "event=tls relay=mx.good.test\[127.0.0.2\]:25 policy=may tls=TLSv1.2 cipher=ECDHE-RSA-[A-Z0-9-]+ fingerprint=sha256:$FP verify=ok" "$W/may.err"
check "may: the sink saw a TLS session" grep -q '^X-Sink-TLS: TLSv1.2 ECDHE-RSA-' "$W/good/$(last good)"
check "may: EHLO again after the handshake" sh -c "grep -A1 'TLS TLSv1.2' '$W/good/log' | grep -q 'C: EHLO '"
check "may: nothing but EHLO and STARTTLS in cleartext" sh -c "sed -n '1,/TLS TLSv1.2/p' '$W/good/log' | grep 'C: ' | grep -v -e 'C: EHLO' -e 'C: STARTTLS' -e 'C: \[TLS' | wc -l | grep -qx 0"
check "may: message bytes intact over TLS (dot lines, 4000 lines)" body_ok good
check "may: QUIT over TLS" grep -q 'C: QUIT' "$W/good/log"

rr plain x@plain.test
is "may, no STARTTLS offered: accepted in cleartext" "$(line plain 1 1)" "r"
check "may, no STARTTLS: log tls=none starttls=not-offered" grep -q 'event=tls relay=mx.plain.test\[127.0.0.3\]:25 policy=may tls=none starttls=not-offered' "$W/plain.err"
check "may, no STARTTLS: bytes intact" body_ok plain

rr mwrong x@wrong.test
is "may, wrong name: still accepted (opportunistic)" "$(line mwrong 1 1)" "r"
check "may, wrong name: verify=fail(name-mismatch) recorded" grep -q 'tls=TLSv1.2 .*verify=fail(name-mismatch)' "$W/mwrong.err"
rr muntrusted x@untrusted.test
is "may, unknown CA: accepted" "$(line muntrusted 1 1)" "r"
check "may, unknown CA: verify=fail(untrusted) recorded" grep -q 'tls=TLSv1.2 .*verify=fail(untrusted)' "$W/muntrusted.err"
rr mexpired x@expired.test
is "may, expired: accepted" "$(line mexpired 1 1)" "r"
check "may, expired: verify=fail(expired) recorded" grep -q 'tls=TLSv1.2 .*verify=fail(expired)' "$W/mexpired.err"

n0=$(cat "$W/refuse/connections" 2>/dev/null || echo 0)
rr refuse x@refuse.test
is "may, STARTTLS answered 454: accepted in cleartext" "$(line refuse 1 1)" "r"
check "may, 454: log starttls=refused" grep -q 'policy=may tls=none starttls=refused' "$W/refuse.err"
is "may, 454: the same connection goes on (Postfix's choice)" "$(cat "$W/refuse/connections")" $((n0 + 1))

rr garbage x@garbage.test
is "may, garbage after 220: accepted" "$(line garbage 1 1)" "r"
check "may, garbage: log tls=failed action=plaintext-retry" grep -q 'policy=may tls=failed .*action=plaintext-retry' "$W/garbage.err"
check "may, garbage: then cleartext on a new connection" grep -q 'policy=may tls=none starttls=plaintext-retry' "$W/garbage.err"
is "may, garbage: two connections, no loop" "$(cat "$W/garbage/connections")" 2
check "may, garbage: bytes intact in cleartext" body_ok garbage

# A full system bundle is not loaded just to record a verdict (it costs ~80 ms).
echo /etc/ssl/certs/ca-certificates.crt >"$H/control/tlscafile"
rr bigca x@good.test
is "may, large CA bundle: accepted" "$(line bigca 1 1)" "r"
check "may, large CA bundle: verify=unchecked" grep -q 'tls=TLSv1.2 .*verify=unchecked' "$W/bigca.err"
echo "$C/ca.pem" >"$H/control/tlscafile"

# ---- none ----
policy good.test:none
c0=$(grep -c 'C: STARTTLS' "$W/good/log")
rr none x@good.test
is "none: accepted" "$(line none 1 1)" "r"
check "none: log tls=none starttls=disabled" grep -q 'policy=none tls=none starttls=disabled' "$W/none.err"
is "none: no STARTTLS sent although offered" "$(grep -c 'C: STARTTLS' "$W/good/log")" "$c0"
check "none: stored without TLS" sh -c "! grep -q '^X-Sink-TLS' '$W/good/$(last good)'"

# ---- verify ----
policy good.test:verify wrong.test:verify untrusted.test:verify expired.test:verify \
	plain.test:verify refuse.test:verify garbage.test:verify two.test:verify stall.test:verify
rr vgood x@good.test
is "verify, good certificate: accepted" "$(line vgood 1 1)" "r"
check "verify: log policy=verify verify=ok" grep -q 'policy=verify tls=TLSv1.2 .*verify=ok' "$W/vgood.err"

# vdefer TAG SINK DOMAIN STATUS TEXT: verify deferred with STATUS, text says TEXT, nothing sent
vdefer() {
	_m0=$(nmsgs "$2"); _c0=$(grep -c 'MAIL FROM' "$W/$2/log"); _t0=$(grep -c 'C: \[TLS TLSv' "$W/$2/log")
	rr "$1" "x@$3"
	is "verify, $1: deferred $4" "$(line "$1" 1 | cut -d' ' -f1,2)" "s $4"
	check "verify, $1: text says why ($5)" grep -qF "$5" "$W/$1.out"
	is "verify, $1: the sink got no message" "$(nmsgs "$2")" "$_m0"
	is "verify, $1: no MAIL sent at all" "$(grep -c 'MAIL FROM' "$W/$2/log")" "$_c0"
	is "verify, $1: no TLS session completed" "$(grep -c 'C: \[TLS TLSv' "$W/$2/log")" "$_t0"
}
vdefer vwrong wrong wrong.test 4.7.5 'TLS required by tlsdestinations: certificate not trusted (name does not match)'
vdefer vuntrusted untrusted untrusted.test 4.7.5 'certificate not trusted (unknown issuer)'
vdefer vexpired expired expired.test 4.7.5 'certificate not trusted (expired or not yet valid)'
vdefer vplain plain plain.test 4.7.4 'does not offer STARTTLS'
vdefer vrefuse refuse refuse.test 4.7.4 'STARTTLS was refused: 454 4.7.0'
vdefer vgarbage garbage garbage.test 4.7.5 'TLS required by tlsdestinations: '
check "verify, garbage: no cleartext retry" sh -c "! grep -q 'policy=verify tls=none' '$W/vgarbage.err'"
check "verify, wrong name: log tls=failed verify=fail(name-mismatch) action=next-host" \
	grep -q 'policy=verify tls=failed .*verify=fail(name-mismatch) .*action=next-host' "$W/vwrong.err"

echo 2 >"$H/control/timeoutremote"
start=$(date +%s)
vdefer vstall stall stall.test 4.7.5 'timed out'
check "verify, stalled handshake: ended by timeoutremote" test $(( $(date +%s) - start )) -lt 10
rm "$H/control/timeoutremote"

rr vtwo x@two.test
is "verify, first MX's certificate fails: the next MX delivers" "$(line vtwo 2 | cut -d' ' -f1,3)" "R mx.good.test[127.0.0.2]:25"
check "verify, two MXs: the first one's failure logged" grep -q 'relay=mx.wrong.test\[127.0.0.4\]:25 policy=verify tls=failed' "$W/vtwo.err"

echo "$W/nonexistent.pem" >"$H/control/tlscafile"
rr noca x@good.test
is "verify, CA bundle missing: deferred 4.7.5" "$(line noca 1 | cut -d' ' -f1,2)" "s 4.7.5"
check "verify, CA bundle missing: says so" grep -q 'CA bundle .*nonexistent.pem cannot be loaded' "$W/noca.out"
echo "$C/ca.pem" >"$H/control/tlscafile"

# ---- fingerprint ----
policy "good.test:fingerprint:$FPO" "wrong.test:fingerprint:$FPWRONG,$FP" "expired.test:fingerprint:$FPWRONG"
rr fpgood x@good.test
is "fingerprint (openssl's form, upper case with colons): accepted" "$(line fpgood 1 1)" "r"
rr fpsecond x@wrong.test
is "fingerprint: several listed, wrong name does not matter, no match" "$(line fpsecond 1 | cut -d' ' -f1,2)" "s 4.7.5"
policy "wrong.test:fingerprint:$FPWRONG,$(openssl x509 -in "$C/wrong.pem" -noout -fingerprint -sha256 | sed 's/.*=//' | tr -d ':')"
rr fpsecond2 x@wrong.test
is "fingerprint: the second of two matches (name ignored)" "$(line fpsecond2 1 1)" "r"
policy "expired.test:fingerprint:$FPWRONG"
vdefer fpwrong expired expired.test 4.7.5 'certificate fingerprint not listed'

# ---- the table ----
policy ':verify' 'good.test:may'
rr tdefault x@plain.test
is "tlsdestinations: the default line (empty domain) applies" "$(line tdefault 1 | cut -d' ' -f1,2)" "s 4.7.4"
policy '.test:verify' 'plain.test:may'
rr tsuffix x@plain.test
is "tlsdestinations: the domain's own line wins over a suffix" "$(line tsuffix 1 1)" "r"
policy 'plain.test:verfy'
rr tbad x@plain.test
is "tlsdestinations: a malformed policy defers, never guesses" "$(line tbad 1 | cut -d' ' -f1,2)" "s 4.3.5"
check "tlsdestinations: the malformed line is named" grep -q 'malformed policy: plain.test:verfy' "$W/tbad.out"

# ---- one session (tern-remote -s), jobs of several domains through one relay ----
# jobs DOMAIN...: one job per domain on one tern-remote -s session; each answer's first line.
jobs() {
	python3 - "$W/msg" "$@" <<'EOF'
import os, socket, subprocess, sys
msg = sys.argv[1]
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
p = subprocess.Popen(["tern-remote", "-s"], stdin=b, stderr=open(msg + ".session.err", "ab"))
b.close()
for i, dom in enumerate(sys.argv[2:]):
    fd = os.open(msg, os.O_RDONLY)
    env = b"Fdemo@example.test\0Tx@" + dom.encode() + b"\0\0"
    socket.send_fds(a, [b"J%d %032x\n" % (os.fstat(fd).st_size, i) + env], [fd])
    os.close(fd)
    print(a.recv(65536).decode().splitlines()[0])
a.close()
p.wait()
EOF
}
printf 'relay1.test:mx.wrong.test\nrelay2.test:mx.wrong.test\nrelay3.test:mx.wrong.test\n' >"$H/control/smtproutes"
policy relay1.test:may relay2.test:verify relay3.test:may
c0=$(cat "$W/wrong/connections")
jobs relay1.test relay3.test relay2.test >"$W/jobs.out"
is "session: may over TLS, accepted" "$(sed -n 1p "$W/jobs.out" | cut -c1)" "r"
is "session: may again, same connection" "$(sed -n 2p "$W/jobs.out" | cut -c1)" "r"
is "session: verify does not reuse the unverified connection: deferred" "$(sed -n 3p "$W/jobs.out" | cut -d' ' -f1,2)" "s 4.7.5"
is "session: two connections (one reused, one new for verify)" "$(cat "$W/wrong/connections")" $((c0 + 2))
check "session: RSET over TLS" sh -c "tail -n 40 '$W/wrong/log' | grep -q 'C: RSET'"
rm "$H/control/smtproutes"

# ---- through tern-send: connection reuse over TLS, deferral keeps the message ----
policy good.test:verify wrong.test:verify
t_start_send
inject() { python3 "$D/qinject.py" "$@"; }
m0=$(nmsgs good); c0=$(cat "$W/good/connections")
for i in 1 2 3 4 5 6; do printf 'Subject: reuse %s\n\nx\n' "$i" | inject demo@example.test "r$i@good.test"; done
check "tern-send: 6 messages arrive over verified TLS" t_wait 30 sh -c "[ \$(ls '$W/good' | grep -c '^msg\.') -ge $((m0 + 6)) ]"
check "tern-send: each stored over TLS" sh -c "for f in \$(ls '$W/good' | grep '^msg\.' | sort -t. -k2 -n | tail -n 6); do grep -q '^X-Sink-TLS: TLSv1.2' '$W/good/'\$f || exit 1; done"
c1=$(cat "$W/good/connections")
check "tern-send: connections reused over TLS ($((c1 - c0)) for 6)" test $((c1 - c0)) -le 3
check "tern-send: RSET over TLS on a reused connection" sh -c "sed -n '/TLS TLSv1.2/,\$p' '$W/good/log' | grep -q 'C: RSET'"
check "log: delivered" t_wait 5 grep -q 'event=delivered rcpt=r6@good.test' "$H/log/send.log"

w0=$(nmsgs wrong)
printf 'Subject: must not leak\n\nsecret\n' | inject demo@example.test v@wrong.test
check "tern-send, verify fails: deferred" t_wait 15 grep -q 'event=deferred rcpt=v@wrong.test.*4.7.5' "$H/log/send.log"
check "tern-send, verify fails: the message stays queued (tern-qstat)" sh -c "tern-qstat | grep -Eq 'messages=1 .*recipients_deferred=1'"
is "tern-send, verify fails: the sink got nothing" "$(nmsgs wrong)" "$w0"
check "tern-send, verify fails: the secret never crossed in cleartext" sh -c "! grep -rq secret '$W/wrong'"
t_stop_send

# ---- a tern peer: tern-tlsd + tern-smtpd with a certificate of the test CA ----
# (the receiving side of this same build, as a second instance on 127.0.0.20:25)
H2=$W/peerhome
"$T_BIN/tern-run" -i -d "$H2" >/dev/null
printf ':[127.0.0.1]:1\n' >"$H2/control/smtproutes"
mkdir -p "$H2/control/tls" "$H2/log"
cp "$C/ternpeer.pem" "$H2/control/tls/mx.tern.test.pem"
cp "$C/ternpeer.key" "$H2/control/tls/mx.tern.test.key"
chmod 600 "$H2/control/tls/mx.tern.test.key"
TERN_HOME=$H2 "$T_BIN/tern-users" add-domain tern.test >/dev/null &&
	TERN_HOME=$H2 "$T_BIN/tern-users" add x@tern.test >/dev/null || fail "tern peer: user x@tern.test"
TERN_HOME=$H2 "$T_BIN/tern-send" 2>>"$H2/log/send.log" &
T_PIDS="$T_PIDS $!"
# -U to our own ids: inside `unshare -rn` (not root) no other uid exists.
TERN_HOME=$H2 tcpserver -q -R -H -l mx.tern.test 127.0.0.20 25 \
	"$T_BIN/tern-tlsd" -U "$(id -u):$(id -g)" "$T_BIN/tern-smtpd" 2>>"$H2/log/smtpd.log" &
T_PIDS="$T_PIDS $!"
check "tern peer listening on 127.0.0.20:25" t_wait 10 python3 -c 'import socket; socket.create_connection(("127.0.0.20", 25), 1).close()'

PM=$H2/mail/tern.test/x/Maildir
FPT=$(openssl x509 -in "$C/ternpeer.pem" -noout -fingerprint -sha256 | sed 's/.*=//')
policy tern.test:verify
rr ternv x@tern.test
is "tern peer, verify: accepted" "$(line ternv 1 1)" "r"
check "tern peer, verify: log verify=ok" grep -q 'event=tls.*verify=ok' "$W/ternv.err"
check "tern peer, verify: delivered into the peer's Maildir" t_wait_count 15 "$PM" 1
pf=$(ls -t "$PM/new/"* 2>/dev/null | head -n 1)
check "tern peer: its Received says ESMTPS and the cipher" sh -c "grep -q 'with ESMTPS id' '$pf' && grep -q '(using TLSv1.2 with cipher ECDHE-ECDSA-' '$pf'"
sed '1,/^$/d' "$W/msg" >"$W/msg.body"
check "tern peer: the body arrived intact" sh -c "sed '1,/^\$/d' '$pf' | cmp -s - '$W/msg.body'"
check "tern peer: its tern-smtpd logged STARTTLS" grep -q 'event=starttls tls=TLSv1.2' "$H2/log/smtpd.log"
policy "tern.test:fingerprint:$FPT"
rr ternfp x@tern.test
is "tern peer, fingerprint (openssl's form): accepted" "$(line ternfp 1 1)" "r"
policy "tern.test:fingerprint:$FPWRONG"
rr ternfpbad x@tern.test
is "tern peer, a wrong fingerprint: deferred 4.7.5, nothing sent" "$(line ternfpbad 1 | cut -d' ' -f1,2)" "s 4.7.5"
check "tern peer: two messages, not three" t_wait_count 15 "$PM" 2
rm -f "$H/control/tlsdestinations"

t_done
