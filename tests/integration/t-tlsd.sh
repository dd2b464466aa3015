#!/bin/sh
# tern-tlsd on its own, in front of a small shell program that prints what it was told:
# client certificates (control/tlsclientca: one from the CA, one from a stranger, none),
# the privilege split when run as root (the program as -u's ids, tern-tlsd as -U's, not
# dumpable), and usage errors.
. "$(dirname "$0")/lib.sh"
t_home
H=$TERN_HOME
C=$H/control
W=$(mktemp -d /tmp/tern-tlsd.XXXXXX)
trap '[ "${TERN_KEEP:-}" ] || rm -rf "$W"; t_cleanup' EXIT
LOG=$H/log/tlsd.log
unset TERN_TLS TERN_TLSCTL

ossl() { openssl "$@" >/dev/null 2>&1; }
mkdir -p "$C/tls"
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost -days 30 \
	-keyout "$C/tls/localhost.key" -out "$C/tls/localhost.pem"
chmod 600 "$C/tls/localhost.key"
# A client CA, a client it signed, and a stranger's self-signed certificate.
printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n' >"$W/ext"
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=Test-Client-CA -days 30 \
	-keyout "$W/ca.key" -out "$W/ca.pem"
ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=alice laptop" \
	-keyout "$W/cl.key" -out "$W/cl.csr"
ossl x509 -req -in "$W/cl.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" -CAcreateserial -days 30 \
	-extfile "$W/ext" -out "$W/cl.pem"
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=stranger -days 30 \
	-keyout "$W/st.key" -out "$W/st.pem"
check "test certificates made" test -s "$W/cl.pem" -a -s "$W/st.pem" -a -s "$C/tls/localhost.pem"
cat >"$W/show" <<'EOF'
#!/bin/sh
echo "desc=$TERN_TLS"
echo "uid=$(id -u) gid=$(id -g)"
echo "ip=$TCPREMOTEIP"
EOF
chmod 755 "$W/show"

# start PORTVAR ARGS...: tcpserver on a free port in 50000-54999 running tern-tlsd ARGS.
start() {
	_v=$1; shift
	T_TCPOPTS=""
	t_listen "$_v" 50000 "$LOG" "$T_BIN/tern-tlsd" "$@"
}
# client PORT [CERT KEY]: what the program behind an implicit TLS port printed.
client() {
	_p=$1; shift
	if [ $# -ge 2 ]; then _c=$1 _k=$2; shift 2; set -- -cert "$_c" -key "$_k" "$@"; fi
	sleep 1 | timeout 10 openssl s_client -connect "127.0.0.1:$_p" -quiet "$@" 2>/dev/null
}

# ---- client certificates ----
start P0 -i "$W/show" || fail "tern-tlsd without tlsclientca"
out=$(client "$P0" "$W/cl.pem" "$W/cl.key")
case $out in
	*"desc=tls=TLSv1.2 cipher="*) ok "without control/tlsclientca: a session";;
	*) fail "without control/tlsclientca: $out";;
esac
case $out in *ccert*) fail "without control/tlsclientca no certificate is asked for: $out";; *) ok "without control/tlsclientca no certificate is asked for";; esac

cp "$W/ca.pem" "$C/tlsclientca"
start P1 -i "$W/show" || fail "tern-tlsd with tlsclientca"
fp=$(openssl x509 -in "$W/cl.pem" -outform der | sha256sum | cut -d' ' -f1)
out=$(client "$P1" "$W/cl.pem" "$W/cl.key")
case $out in
	*"ccert_cn=alice_laptop ccert_fp=sha256:$fp ccert_verify=ok"*) ok "a client certificate from the CA: CN, fingerprint, verified";;
	*) fail "a client certificate from the CA: $out";;
esac
out=$(client "$P1" "$W/st.pem" "$W/st.key")
case $out in
	*"ccert_cn=stranger "*"ccert_verify=fail"*) ok "a stranger's certificate: served, not verified";;
	*) fail "a stranger's certificate: $out";;
esac
out=$(client "$P1")
case $out in
	*ccert*) fail "no client certificate: no ccert fields ($out)";;
	*"desc=tls=TLSv1.2"*) ok "no client certificate: served, no ccert fields";;
	*) fail "no client certificate: $out";;
esac
check "log: the verified certificate" grep -q "event=tls .*ccert_cn=alice_laptop ccert_fp=sha256:$fp ccert_verify=ok" "$LOG"
# The longest SNI a client may send, with a certificate: the description still fits.
l63=$(printf 'a%.0s' $(seq 1 63))
sni="$l63.$l63.$l63.$(printf 'b%.0s' $(seq 1 61))"
out=$(client "$P1" "$W/cl.pem" "$W/cl.key" -servername "$sni")
case $out in
	*"sni=$sni ccert_cn=alice_laptop"*"ccert_verify=ok"*) ok "a 253-byte SNI and a client certificate: all of it described";;
	*) fail "a 253-byte SNI and a client certificate: $out";;
esac
# A CA file that is no PEM: tern-tlsd refuses to start the session (111), clearly.
echo garbage >"$C/tlsclientca"
out=$(client "$P1")
case $out in *desc=*) fail "a broken tlsclientca: no session ($out)";; *) ok "a broken tlsclientca: no session";; esac
check "a broken tlsclientca: one clear line in the log" grep -q 'tern-tlsd: fatal: reading .*tlsclientca' "$LOG"
rm -f "$C/tlsclientca"

# ---- the environment a superserver did not set ----
out=$(client "$P0")
case $out in *"ip=127.0.0.1"*) ok "TCPREMOTEIP reaches the program";; *) fail "TCPREMOTEIP: $out";; esac

# ---- privileges (root only: the split needs two users) ----
if [ "$(id -u)" = 0 ]; then
	start P2 -i -u 1:1 -U 65534:65534 "$W/show" || fail "tern-tlsd -u -U"
	chmod 711 "$W"
	out=$(client "$P2")
	case $out in
		*"uid=1 gid=1"*) ok "root: the program runs as -u's ids";;
		*) fail "root: the program's ids: $out";;
	esac
	# Hold a session open and look at the tern-tlsd that keeps the key.
	cat >"$W/hold" <<'EOF'
#!/bin/sh
echo ready; sleep 3
EOF
	chmod 755 "$W/hold"
	start P3 -i -u 1:1 -U 65534:65534 "$W/hold" || fail "tern-tlsd -u -U (hold)"
	(sleep 3 | timeout 10 openssl s_client -connect "127.0.0.1:$P3" -quiet >/dev/null 2>&1) &
	cpid=$!
	t_wait 5 sh -c "ps -C tern-tlsd -o user=,uid= | grep -q ' 65534\$'"
	check "root: tern-tlsd, holding the key, runs as -U's uid" sh -c "ps -C tern-tlsd -o uid= | grep -qx ' *65534'"
	tp=$(ps -C tern-tlsd -o pid=,uid= | awk '$2 == 65534 { print $1; exit }')
	check "root: tern-tlsd is not dumpable (no core, no ptrace by the program's user)" \
		sh -c "[ -n '$tp' ] && [ \"\$(stat -c %u /proc/$tp/environ 2>/dev/null)\" = 0 ]"
	check "root: no tern-tlsd runs as root" sh -c "! ps -C tern-tlsd -o uid= | grep -qx ' *0'"
	wait $cpid 2>/dev/null
else
	fail "privilege split: needs root to run (two users); not tested here"
fi

# ---- usage ----
"$T_BIN/tern-tlsd" </dev/null >/dev/null 2>"$W/err"
is "no program: exit 64" $? 64
check "no program: a usage line" grep -q 'usage: tern-tlsd \[-i\]' "$W/err"
"$T_BIN/tern-tlsd" -u nobody true </dev/null >/dev/null 2>"$W/err"
is "-u takes numeric ids: exit 64" $? 64
t_done
