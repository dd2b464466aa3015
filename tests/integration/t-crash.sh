#!/bin/sh
# Crash safety (doc/crashtest.md).  First kill -9 tern-send in the middle of a burst of
# 500 injections; after a restart every acknowledged message is in the Maildir exactly
# once, none partial.  Then crash.py's scenarios, 20 kills each (CRASH_ROUNDS): tern-smtpd
# mid-DATA, tern-queue mid-write, tern-send mid-scheduling, tern-local mid-write,
# tern-remote mid-transaction, and a full disk (as root: the queue on a small tmpfs).
. "$(dirname "$0")/lib.sh"
t_home
DEMO=$(t_demo)
t_start_send || fail "tern-send started"
python3 - "$T_BIN/tern-queue" "$T_SEND_PID" "$TERN_HOME/acked" <<'PY'
import os, signal, subprocess, sys, random
binq, pid, acked = sys.argv[1], int(sys.argv[2]), sys.argv[3]
random.seed(7)
kill_at = random.randint(150, 350)
with open(acked, "w") as a:
    for n in range(500):
        msg = ("Subject: burst-%d\n\n" % n + "line\n" * (n % 50) + "end-of-%d\n" % n).encode()
        mr, mw = os.pipe(); er, ew = os.pipe()
        p = subprocess.Popen([binq], stdin=mr, stdout=er)
        os.close(mr); os.close(er)
        os.write(mw, msg); os.close(mw)
        os.write(ew, b"Fburst@example.test\0Tdemo@example.test\0\0"); os.close(ew)
        if p.wait() == 0:
            a.write("%d\n" % n)
        if n == kill_at:
            os.kill(pid, signal.SIGKILL)
PY
wait "$T_SEND_PID" 2>/dev/null
T_SEND_PID=""
acked=$(wc -l <"$TERN_HOME/acked")
is "all 500 injections acknowledged" "$acked" 500
t_start_send || fail "tern-send restarted"
check "all acknowledged messages delivered after restart" t_wait 60 t_count_is "$DEMO" "$acked"
python3 - "$DEMO" "$TERN_HOME/acked" <<'PY' || fail "the Maildir check script ended early (exit $?)"
import os, re, sys
d = sys.argv[1]
seen = {}
partial = 0
for sub in ("new", "cur"):
    for f in os.listdir(os.path.join(d, sub)):
        b = open(os.path.join(d, sub, f), "rb").read()
        m = re.search(rb"Subject: burst-(\d+)", b)
        if not m:
            continue
        n = int(m.group(1))
        seen[n] = seen.get(n, 0) + 1
        if not b.endswith(b"end-of-%d\n" % n):
            partial += 1
acked = {int(x) for x in open(sys.argv[2])}
missing = acked - set(seen)
dups = [n for n, c in seen.items() if c > 1]
print("# delivered=%d missing=%d duplicates=%d partial=%d" % (len(seen), len(missing), len(dups), partial))
print(("ok" if not missing else "not ok") + " - no acknowledged message missing (%d)" % len(missing))
print(("ok" if not dups else "not ok") + " - no message delivered twice (%d)" % len(dups))
print(("ok" if not partial else "not ok") + " - no partial message (%d)" % partial)
print(("ok" if set(seen) <= acked else "not ok") + " - nothing delivered that was not acknowledged")
PY
check "queue drained" t_wait 20 sh -c "[ -z \"\$(ls '$TERN_HOME/queue/mess')\" ]"
t_stop_send
export TERN_TEST_BIN="$T_BIN"
for s in ${CRASH_SCENARIOS:-smtpd queue send local remote disk}; do
	python3 "$T_TOP/tests/integration/crash.py" "$s" || T_FAILED=$((T_FAILED + 1))
done
t_done
