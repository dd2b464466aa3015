#!/usr/bin/env python3
"""SMTP benchmark: tern-smtpd under tcpserver on a loopback port, tern-send delivering
to a local Maildir.  Prints name=value lines:
  smtp_2k_s4_msgs_per_s, smtp_2k_s16_msgs_per_s, smtp_100k_s4_msgs_per_s
      messages per second from N parallel sessions (each sending over one connection)
      until every file is in new/
  smtp_latency_median_ms   connect to file-in-new/ for one message, median of 50
  smtp_idle_session_pss_kib  PSS of one idle tern-smtpd session (after EHLO), mean of 20
usage: smtp.py BINDIR"""
import os, smtplib, socket, statistics, subprocess, sys, tempfile, threading, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import free_port, wait_port, stop_all, pss_of

binp = os.path.abspath(sys.argv[1])
home = tempfile.mkdtemp(prefix="tern-bench-smtp.")
env = dict(os.environ, TERN_HOME=home, PATH=binp + ":" + os.environ["PATH"])
subprocess.run([binp + "/tern-run", "-i", "-d", home], env=env, check=True, stdout=subprocess.DEVNULL)
os.makedirs(home + "/log", exist_ok=True)
new = home + "/mail/example.test/demo/Maildir/new"
procs = []

def start(cmd, log):
    p = subprocess.Popen(cmd, env=env, stderr=open(log, "ab"), stdout=subprocess.DEVNULL)
    procs.append(p)
    return p

try:
    start([binp + "/tern-send"], home + "/log/send.log")
    port = free_port()
    start(["tcpserver", "-q", "-R", "-H", "-l", "localhost", "-c", "200", "127.0.0.1", str(port),
           binp + "/tern-smtpd"], home + "/log/smtpd.log")
    wait_port(port)

    def count():
        return len(os.listdir(new)) if os.path.isdir(new) else 0

    def wait_for(n, limit=300):
        end = time.time() + limit
        while time.time() < end:
            if count() >= n:
                return True
            time.sleep(0.002)
        return False

    def body(size, i):
        line = "x" * 76 + "\r\n"
        return ("From: bench@example.test\r\nTo: demo@example.test\r\nSubject: bench %d\r\n\r\n" % i
                + line * max(1, size // len(line)))

    def run(sessions, total, size):
        base = count()
        per = total // sessions
        errors = []

        def worker(k):
            try:
                s = smtplib.SMTP("127.0.0.1", port, timeout=60)
                s.ehlo("bench.test")
                for i in range(per):
                    s.sendmail("bench@example.test", ["demo@example.test"], body(size, k * per + i))
                s.quit()
            except Exception as e:
                errors.append(repr(e))

        t0 = time.time()
        ts = [threading.Thread(target=worker, args=(k,)) for k in range(sessions)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        ok = wait_for(base + per * sessions) and not errors
        dt = time.time() - t0
        if errors:
            print("# errors: %s" % errors[:3])
        return per * sessions / dt if ok else 0.0

    print("smtp_2k_s4_msgs_per_s=%.1f" % run(4, 2000, 2048))
    print("smtp_2k_s16_msgs_per_s=%.1f" % run(16, 2000, 2048))
    print("smtp_100k_s4_msgs_per_s=%.1f" % run(4, 400, 102400))

    lat = []
    for i in range(50):
        before = count()
        t0 = time.time()
        s = smtplib.SMTP("127.0.0.1", port, timeout=30)
        s.sendmail("bench@example.test", ["demo@example.test"], body(2048, i))
        s.quit()
        wait_for(before + 1, 10)
        lat.append((time.time() - t0) * 1000)
    print("smtp_latency_median_ms=%.2f" % statistics.median(lat))

    # Idle sessions: connect, EHLO, then look at the tern-smtpd processes' PSS.
    idle = []
    for i in range(20):
        s = socket.create_connection(("127.0.0.1", port))
        s.recv(1000)
        s.sendall(b"EHLO idle.test\r\n")
        time.sleep(0.01)
        s.recv(1000)
        idle.append(s)
    time.sleep(0.3)
    total, npss = pss_of({binp + "/tern-smtpd"})
    for s in idle:
        s.close()
    print("smtp_idle_sessions_measured=%d" % npss)
    print("smtp_idle_session_pss_kib=%.0f" % (total / npss if npss else -1))
finally:
    stop_all(procs)
    subprocess.run(["rm", "-rf", home])
