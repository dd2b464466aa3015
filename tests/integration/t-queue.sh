#!/bin/sh
# tern-queue: the qmail-queue protocol, exit codes, atomic publication, limits.
. "$(dirname "$0")/lib.sh"
t_home
QI="python3 $T_TOP/tests/integration/qinject.py"
mess=$TERN_HOME/queue/mess
nmess() { ls "$mess" | wc -l; }

printf 'Subject: one\n\nhello\n' | $QI a@example.test demo@example.test b@example.test
is "valid message: exit 0" $? 0
is "one file published" "$(nmess)" 1
f=$(ls "$mess"/* | head -n 1)
qid=$(basename "$f")
check "header line TQ1" grep -q '^TQ1 128 ' "$f"
check "Received line names the uid and the id" grep -q "^Received: (tern-queue $qid invoked by uid $(id -u));" "$f"
check "message bytes kept" grep -q '^hello$' "$f"
is "nothing left in tmp" "$(ls "$TERN_HOME/queue/tmp" | wc -l)" 0

printf 'x\n' | $QI a@b
is "no recipients: 91" $? 91
printf 'x\n' | $QI --raw-envelope 46614062005463 ; is "truncated envelope: 91" $? 91
printf 'x\n' | $QI --raw-envelope 5461406200546340640000 ; is "no F record: 91" $? 91
printf 'x\n' | $QI --raw-envelope "" ; is "empty envelope: 54" $? 54
printf 'Fa@b\0Tc@d\0\0' >"$TERN_HOME/env1"
"$T_BIN/tern-queue" <"$TERN_HOME" 1<"$TERN_HOME/env1" 2>"$TERN_HOME/err"; is "unreadable message (a directory on fd 0): 54" $? 54
check "unreadable message: one line on stderr" test "$(wc -l <"$TERN_HOME/err")" -eq 1
long=$(python3 -c 'print("x"*1100 + "@example.test")')
printf 'x\n' | $QI a@b "$long"; is "address over 1000 bytes: 11" $? 11
printf 'x\n' | $QI a@b "$(printf 'bad\001x@y')"; is "control byte in address: 91" $? 91
is "refusals publish nothing" "$(nmess)" 1

echo 1000 > "$TERN_HOME/control/databytes"
python3 -c 'print("y"*2000)' | $QI a@b c@d
is "over databytes: 31" $? 31
rm "$TERN_HOME/control/databytes"

# NUL bytes and a 1 MB line without a newline are stored byte for byte.
python3 -c 'import sys; sys.stdout.buffer.write(b"Subject: nul\n\na\0b\n" + b"z"*1048576)' >"$TERN_HOME/in.bin"
$QI a@b demo@example.test <"$TERN_HOME/in.bin"
is "NUL bytes and a 1 MB line: exit 0" $? 0
newest=$(ls -t "$mess" | head -n 1)
python3 - "$mess/$newest" "$TERN_HOME/in.bin" <<'PY'
import sys
q = open(sys.argv[1], "rb").read(); m = open(sys.argv[2], "rb").read()
hdr = q[:128].split()
off, ln = int(hdr[1]), int(hdr[2])
body = q[off:off+ln]
body = body[body.index(b"\n", body.index(b"\n") + 1) + 1:]   # skip the 2-line Received:
sys.exit(0 if body == m else 1)
PY
is "stored message is byte-identical" $? 0

# A full disk (RLIMIT_FSIZE): exit 53, nothing half-written anywhere.
before=$(nmess)
python3 -c 'print("w"*3000000)' | sh -c "ulimit -f 200; exec $QI a@b c@d" 2>"$TERN_HOME/err"
is "file size limit: exit 53" $? 53
check "says disk full" grep -q 'disk full' "$TERN_HOME/err"
is "no message published" "$(nmess)" "$before"
is "no tmp file left" "$(ls "$TERN_HOME/queue/tmp" | wc -l)" 0

# Constant memory: a 30 MB message through tern-queue.
python3 -c 'import sys; sys.stdout.write(("line of text " * 6 + "\n") * 380000)' >"$TERN_HOME/big"
# Peak RSS of tern-queue itself, measured by GNU time (a forked python would count its
# own pages), for the 30 MB message and for a one-line one; the difference must stay small
# (this holds under ASan too, where the absolute figure is larger).
printf 'Fa@b\0Tdemo@example.test\0\0' >"$TERN_HOME/bigenv"
printf 'Subject: small\n\nx\n' >"$TERN_HOME/small"
peak() { { /usr/bin/time -f '%M' -o "$TERN_HOME/rss" "$T_BIN/tern-queue" <"$1" 1<"$TERN_HOME/bigenv" && cat "$TERN_HOME/rss"; } || echo -1; }
qsmall=$(peak "$TERN_HOME/small")
qrss=$(peak "$TERN_HOME/big")
echo "# tern-queue peak RSS: ${qsmall} KiB for one line, ${qrss} KiB for 30 MB"
if [ "$qsmall" -gt 0 ] && [ "$qrss" -gt 0 ] && [ "$qrss" -lt $((qsmall + 2048)) ]; then
	ok "tern-queue memory is constant (${qrss} KiB for 30 MB, ${qsmall} KiB for one line)"
else
	fail "tern-queue peak RSS ${qrss} KiB for 30 MB, ${qsmall} KiB for one line"
fi

# The trigger: a reader on the FIFO gets "N<qid>".
( timeout 5 head -n 1 "$TERN_HOME/queue/trigger" >"$TERN_HOME/trig" ) &
rp=$!
sleep 0.2
printf 'x\n' | $QI a@b c@d
wait $rp
check "tern-send is woken with N<qid>" grep -q '^N[0-9a-f]*$' "$TERN_HOME/trig"
# The session server (tern-queue -z, as tern-smtpd starts it): messages one after another
# in one process.  A failed one (bad envelope, over databytes, full disk) leaves no file
# and no descriptor behind, and the next one is queued as usual.
python3 - "$T_BIN/tern-queue" "$TERN_HOME" 2>>"$TERN_HOME/zq.log" <<'PY' || fail "queue server: the script ended early (exit $?)"
import os, resource, socket, subprocess, sys
binp, home = sys.argv[1:3]
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
def limit():
    resource.setrlimit(resource.RLIMIT_FSIZE, (400000, 400000))	# a "full disk" at 400 KB
p = subprocess.Popen([binp, "-z"], stdin=b, stderr=open(home + "/zq.err", "ab"), preexec_fn=limit)
b.close()
a.settimeout(20)
def say(ok, what):
    print(("ok" if ok else "not ok") + " - queue server: " + what, flush=True)
def job(jid, msg, env, sid="s1.%d"):
    mr, mw = os.pipe()
    er, ew = os.pipe()
    socket.send_fds(a, [b"L%d\0" % jid + (sid % jid).encode() + b"\0"], [mr, er])
    os.close(mr); os.close(er)
    # Write the message and the envelope as tern-smtpd does; a server that stops reading
    # (a failed message) gives EPIPE, which is its business.
    for fd, data in ((mw, msg), (ew, env)):
        try:
            os.write(fd, data) if len(data) < 65536 else [os.write(fd, data[i:i + 65536]) for i in range(0, len(data), 65536)]
        except OSError:
            pass
        os.close(fd)
    try:
        return a.recv(64).decode()
    except OSError as e:
        return "error %s" % e
def fds():
    return len(os.listdir("/proc/%d/fd" % p.pid))
mess = home + "/queue/mess"
n0 = len(os.listdir(mess))
good = b"Fa@b\0Tdemo@example.test\0\0"
say(job(1, b"Subject: z1\n\none\n", good) == "R1 0", "a message: R1 0")
base = fds()
say(job(2, b"Subject: z2\n\ntwo\n", b"Fa@b\0\0") == "R2 91", "no recipient: R2 91")
say(job(3, b"x" * 500000 + b"\n", good) == "R3 53", "over the file size limit: R3 53")
say(job(4, b"Subject: z4\n\nfour\n", b"") == "R4 54", "no envelope (an aborted message): R4 54")
say(job(5, b"Subject: z5\n\nfive\n", good) == "R5 0", "after three failures the next message: R5 0")
say(len(os.listdir(mess)) == n0 + 2, "exactly the two good messages are in queue/mess")
say(os.listdir(home + "/queue/tmp") == [], "nothing left in queue/tmp")
say(fds() == base, "no descriptor left open by the failed ones (%d, was %d)" % (fds(), base))
say(p.poll() is None, "the server is still running")
a.close()
try:
    say(p.wait(10) == 0, "EOF on its socket: it exits 0")
except subprocess.TimeoutExpired:
    p.kill()
    say(False, "EOF on its socket: it exits")
PY
check "queue server: each failure logged as one fatal line" sh -c '[ "$(grep -c "^tern-queue: fatal: " "$1")" -eq 3 ]' sh "$TERN_HOME/zq.err"
check "queue server: the good messages logged with their session ids" sh -c 'grep -q "sid=s1.1 " "$1" && grep -q "sid=s1.5 " "$1"' sh "$TERN_HOME/zq.err"

# A message that never ends (control/timeoutqueue 1 s): the whole server ends with 52,
# as an exec'd tern-queue would, and leaves no file in queue/tmp.
echo 1 >"$TERN_HOME/control/timeoutqueue"
python3 - "$T_BIN/tern-queue" "$TERN_HOME" <<'PY' || fail "queue server timeout: the script ended early (exit $?)"
import os, socket, subprocess, sys
binp, home = sys.argv[1:3]
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
p = subprocess.Popen([binp, "-z"], stdin=b, stderr=open(home + "/zqt.err", "wb"))
b.close()
mr, mw = os.pipe()
er, ew = os.pipe()
socket.send_fds(a, [b"L1\0s2.1\0"], [mr, er])
os.close(mr); os.close(er)
os.write(mw, b"Subject: never ends\n\n")
try:
    rc = p.wait(10)
except subprocess.TimeoutExpired:
    p.kill(); p.wait(); rc = "still running after 10 s"
print(("ok" if rc == 52 else "not ok") + " - queue server: a message that never ends: exit 52 (got %s)" % rc)
tmp = os.listdir(home + "/queue/tmp")
print(("ok" if not tmp else "not ok") + " - queue server: the timed-out message left nothing in queue/tmp (%s)" % tmp)
os.close(mw); os.close(ew); a.close()
PY
rm -f "$TERN_HOME/control/timeoutqueue"
check "queue server: the timeout logged" grep -q "timeout reading message or envelope" "$TERN_HOME/zqt.err"
t_done
