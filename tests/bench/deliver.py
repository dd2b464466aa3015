#!/usr/bin/env python3
"""Delivery alone: N messages of 2 KiB are queued over SMTP with tern-send stopped, then
tern-send starts with control/concurrencylocal set to each value in turn; the figure is
msgs/s from its start until every file is in new/.  It separates tern's delivery half
(tern-send, tern-local) from the receiving half, which postfix.py measures together.
Prints deliver_c<N>_msgs_per_s lines, one per concurrency (doc/performance.md).  As
root each run has a fresh journaled ext4 of its own, as in postfix.py (bench_fs=loop-ext4;
TERN_BENCH_FS=tmp keeps the temp dir, where each run pays for the last one's deletions).
usage: deliver.py BINDIR [N [CONCURRENCY...]]   (default 3000 messages, 10 20 30)"""
import os, shutil, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import free_port, wait_port, stop_all, loop_fs, unmount

binp = os.path.abspath(sys.argv[1])
n = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
concs = [int(c) for c in sys.argv[3:]] or [10, 20, 30]
WAIT = 300		# seconds any one phase may take
here = os.path.dirname(os.path.abspath(__file__))
tmp = tempfile.mkdtemp(prefix="tern-bench-deliver.")
os.chmod(tmp, 0o755)
FS = os.environ.get("TERN_BENCH_FS", "loop" if os.getuid() == 0 else "tmp")
mounts = []


def count(d):
    return len(os.listdir(d))


def run(conc):
    global FS
    base = tmp
    if FS == "loop":
        mnt, why = loop_fs(tmp, "c%d.%d" % (conc, len(mounts)), mounts)
        if mnt:
            base = mnt
        else:
            print("# no loop file system (%s): using %s" % (why, tmp), flush=True)
            FS = "tmp"
    home = os.path.join(base, "c%d" % conc)
    env = dict(os.environ, TERN_HOME=home, PATH=binp + ":" + os.environ["PATH"])
    subprocess.run([binp + "/tern-run", "-i", "-d", home], env=env, check=True, stdout=subprocess.DEVNULL)
    os.makedirs(home + "/log", exist_ok=True)
    new = home + "/mail/example.test/demo/Maildir/new"
    os.makedirs(new, exist_ok=True)
    with open(home + "/control/concurrencylocal", "w") as f:
        f.write("%d\n" % conc)
    procs = []
    try:
        port = free_port()
        procs.append(subprocess.Popen(["tcpserver", "-q", "-R", "-H", "-l", "localhost", "-c", "200",
                                       "127.0.0.1", str(port), binp + "/tern-smtpd"],
                                      env=dict(env, RELAYCLIENT=""), stdout=subprocess.DEVNULL,
                                      stderr=open(home + "/log/smtpd.log", "ab")))
        if not wait_port(port):
            raise RuntimeError("tcpserver did not listen")
        r = subprocess.run([loadgen, str(port), "4", str(n), "2048", "demo@example.test"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=WAIT)
        if r.returncode != 0:
            raise RuntimeError("loadgen: " + r.stderr.decode()[:200])
        stop_all(procs)
        procs = []
        queued = count(home + "/queue/mess")
        t0 = time.time()
        procs.append(subprocess.Popen([binp + "/tern-send"], env=env, stdout=subprocess.DEVNULL,
                                      stderr=open(home + "/log/send.log", "ab")))
        end = t0 + WAIT
        while count(new) < queued and time.time() < end:
            time.sleep(0.005)
        dt = time.time() - t0
        ok = count(new) >= queued == n
        return n / dt if ok else 0.0
    finally:
        stop_all(procs)
        shutil.rmtree(home, ignore_errors=True)


try:
    loadgen = os.path.join(tmp, "loadgen")
    subprocess.run(["gcc", "-O2", "-pthread", "-o", loadgen, os.path.join(here, "loadgen.c")], check=True)
    for c in concs:
        rate = run(c)
        print("deliver_c%d_msgs_per_s=%.1f" % (c, rate), flush=True)
    print("deliver_bench_fs=%s" % ("loop-ext4" if FS == "loop" else "tmp"))
finally:
    for msg in unmount(mounts):
        print("# " + msg)
    shutil.rmtree(tmp, ignore_errors=True)
