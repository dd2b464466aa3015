#!/usr/bin/env python3
"""TLS benchmark: tern-tlsd in front of tern-smtpd under tcpserver on loopback ports.
Prints name=value lines:
  tls_handshakes_per_s_ecdsa, tls_handshakes_per_s_rsa
      implicit TLS (the 465 setup): full handshakes per second, connect + handshake +
      greeting + close, from 4 client threads; each connection is a new tern-tlsd
  tls_client_only_handshakes_per_s_ecdsa
      the same client against Python's own TLS server in this process's sibling:
      what the load generator alone can do (if it is close to tern's figure, the
      figure is the client's)
  tls_idle_session_pss_kib  PSS of one idle implicit-TLS session after EHLO
      (tern-tlsd + tern-smtpd together), mean over 20 sessions
  smtp_starttls_2k_s4_msgs_per_s, smtp_clear_2k_s4_msgs_per_s, starttls_vs_clear_ratio
      2 KiB messages from 4 sessions, STARTTLS vs cleartext, until every file is in new/
usage: tls.py BINDIR"""
import os, smtplib, socket, ssl, subprocess, sys, tempfile, threading, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import free_port, wait_port, stop_all, pss_of

binp = os.path.abspath(sys.argv[1])
home = tempfile.mkdtemp(prefix="tern-bench-tls.")
env = dict(os.environ, TERN_HOME=home, PATH=binp + ":" + os.environ["PATH"])
subprocess.run([binp + "/tern-run", "-i", "-d", home], env=env, check=True, stdout=subprocess.DEVNULL)
os.makedirs(home + "/log", exist_ok=True)
tlsdir = home + "/control/tls"
os.makedirs(tlsdir, exist_ok=True)
new = home + "/mail/example.test/demo/Maildir/new"
procs = []
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE


def cert(kind, name):
    key, pem = "%s/%s.key" % (tlsdir, name), "%s/%s.pem" % (tlsdir, name)
    newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if kind == "ecdsa" else ["-newkey", "rsa:2048"]
    subprocess.run(["openssl", "req", "-x509"] + newkey + ["-nodes", "-keyout", key, "-out", pem, "-days", "30",
                    "-subj", "/CN=localhost"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.chmod(key, 0o600)
    return key, pem


def only(kind):
    for f in os.listdir(tlsdir):
        os.unlink(os.path.join(tlsdir, f))
    return cert(kind, "localhost")


def start(cmd, log):
    p = subprocess.Popen(cmd, env=env, stderr=open(log, "ab"), stdout=subprocess.DEVNULL)
    procs.append(p)
    return p


def listen(args):
    port = free_port()
    start(["tcpserver", "-q", "-R", "-H", "-l", "localhost", "-c", "200", "127.0.0.1", str(port)] + args,
          home + "/log/tls.log")
    wait_port(port)
    return port


def handshakes(port, seconds=4.0, threads=4, greet=True):
    done, errors = [0], []
    end = time.time() + seconds

    def worker():
        while time.time() < end:
            try:
                with socket.create_connection(("127.0.0.1", port), 10) as raw:
                    with ctx.wrap_socket(raw) as s:
                        if greet:
                            s.recv(512)
                done[0] += 1
            except Exception as e:
                errors.append(repr(e))
                if len(errors) > 20:
                    return
    t0 = time.time()
    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        print("# errors: %s" % errors[:2])
    return done[0] / (time.time() - t0)


def python_server(keypem):
    """A TLS server in a child process: accept, handshake, close (the client's ceiling)."""
    port = free_port()
    code = r'''
import socket, ssl, sys, os
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[2], sys.argv[1])
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", int(sys.argv[3]))); ls.listen(64)
while True:
    c, _ = ls.accept()
    try:
        with ctx.wrap_socket(c, server_side=True) as s:
            s.sendall(b"220 x\r\n")
    except Exception:
        pass
'''
    p = subprocess.Popen([sys.executable, "-c", code, keypem[0], keypem[1], str(port)])
    procs.append(p)
    wait_port(port)
    return port


def count():
    return len(os.listdir(new)) if os.path.isdir(new) else 0


def wait_for(n, limit=300):
    end = time.time() + limit
    while time.time() < end:
        if count() >= n:
            return True
        time.sleep(0.002)
    return False


def smtp_run(port, starttls, sessions=4, total=1000):
    body = "From: bench@example.test\r\nTo: demo@example.test\r\nSubject: b\r\n\r\n" + ("x" * 76 + "\r\n") * 26
    base, per, errors = count(), total // sessions, []

    def worker():
        try:
            s = smtplib.SMTP("127.0.0.1", port, timeout=60)
            s.ehlo("bench.test")
            if starttls:
                s.starttls(context=ctx)
                s.ehlo("bench.test")
            for _ in range(per):
                s.sendmail("bench@example.test", ["demo@example.test"], body)
            s.quit()
        except Exception as e:
            errors.append(repr(e))
    t0 = time.time()
    ts = [threading.Thread(target=worker) for _ in range(sessions)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    ok = wait_for(base + per * sessions) and not errors
    if errors:
        print("# errors: %s" % errors[:2])
    return per * sessions / (time.time() - t0) if ok else 0.0


try:
    smtpd = binp + "/tern-smtpd"
    tlsd = binp + "/tern-tlsd"
    ec = only("ecdsa")
    p = listen([tlsd, "-i", smtpd, "-s"])
    print("tls_handshakes_per_s_ecdsa=%.1f" % handshakes(p))
    print("tls_client_only_handshakes_per_s_ecdsa=%.1f" % handshakes(python_server(ec)))

    # Idle sessions on the implicit port: tern-tlsd and tern-smtpd, both counted.
    idle = []
    for i in range(20):
        raw = socket.create_connection(("127.0.0.1", p))
        s = ctx.wrap_socket(raw)
        s.recv(1000)
        s.sendall(b"EHLO idle.test\r\n")
        time.sleep(0.01)
        s.recv(1000)
        idle.append(s)
    time.sleep(0.3)
    total, n = pss_of({smtpd, tlsd})
    for s in idle:
        s.close()
    print("tls_idle_processes_measured=%d" % n)
    print("tls_idle_session_pss_kib=%.0f" % (total / 20 if n else -1))

    only("rsa")
    p = listen([tlsd, "-i", smtpd, "-s"])
    print("tls_handshakes_per_s_rsa=%.1f" % handshakes(p))

    only("ecdsa")
    start([binp + "/tern-send"], home + "/log/send.log")
    for _ in range(100):
        if os.path.exists(home + "/queue/pid") and os.path.getsize(home + "/queue/pid"):
            break
        time.sleep(0.05)
    ptls = listen([tlsd, smtpd])
    pclear = listen([smtpd])
    clear = smtp_run(pclear, False)
    tls = smtp_run(ptls, True)
    print("smtp_clear_2k_s4_msgs_per_s=%.1f" % clear)
    print("smtp_starttls_2k_s4_msgs_per_s=%.1f" % tls)
    print("starttls_vs_clear_ratio=%.2f" % (tls / clear if clear else 0))
finally:
    stop_all(procs)
    subprocess.run(["rm", "-rf", home])
