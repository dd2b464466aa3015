#!/usr/bin/env python3
"""POP3 benchmark: tern-pop3d behind tern-tlsd -i (implicit TLS) under tcpserver on a
loopback port, and Debian's Dovecot POP3 (dovecot-pop3d) as a reference, each on its own
copy of the same mailboxes and the same password hash.  Prints name=value lines:
  pop3_tls_logins_per_s       N sequential full sessions: TLS handshake, USER, PASS, QUIT
  pop3_retr_mb_per_s          RETR of 200 messages of 100 KiB in one TLS session
  pop3_10k_first_login_stat_s connect, login and STAT on a 10,000-message mailbox the
                              first time (tern moves new/ to cur/, Dovecot builds its index)
  pop3_10k_login_stat_s       the same again
  dovecot_pop3_* the same for Dovecot, and pop3_*_ratio = tern / Dovecot (times: Dovecot /
  tern, so that above 1 always means tern is faster); dovecot=unavailable reason=... when
  Dovecot cannot be installed or run.  Dovecot runs as an isolated instance (its own
  config, base_dir and passwd-file); the system's config and service are never touched.
usage: pop3.py BINDIR"""
import os, shutil, socket, ssl, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import free_port, wait_port, stop_all

binp = os.path.abspath(sys.argv[1])
base = tempfile.mkdtemp(prefix="tern-bench-pop3.")
home = base + "/tern"
env = dict(os.environ, TERN_HOME=home, PATH=binp + ":" + os.environ["PATH"])
root = os.getuid() == 0
OWNER = (65534, 65534) if root else (os.getuid(), os.getgid())
PW = "bench-Passw0rd"
NLOGIN = 50
CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE
procs = []


def sh(cmd, **kw):
    return subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, **kw)


def fill(md):
    """The benchmark's mailboxes under md/USER/Maildir: login (5 small), retr (200 x
    100 KiB), big (10,000 small); all owned by OWNER."""
    line = b"y" * 78 + b"\n"
    for user, n, body in (("login", 5, b"hello\n"), ("retr", 200, line * (102400 // len(line))),
                          ("big", 10000, b"small body\n")):
        for sub in ("tmp", "new", "cur"):
            os.makedirs("%s/%s/Maildir/%s" % (md, user, sub), exist_ok=True)
        for i in range(n):
            with open("%s/%s/Maildir/new/%d.M%dP1.bench" % (md, user, 1700000000 + i // 100, i), "wb") as f:
                f.write(b"From: a@example.org\nSubject: m %d\n\n" % i + body)
    if root:
        for d, dirs, files in os.walk(md):
            os.chown(d, *OWNER)
            for f in files:
                os.chown(os.path.join(d, f), *OWNER)


class Conn:
    """A minimal POP3 client over TLS: as little client work as possible per byte."""

    def __init__(self, port):
        self.s = CTX.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=60))
        self.buf = b""
        self.line()

    def fill(self):
        d = self.s.recv(262144)
        if not d:
            raise EOFError
        self.buf += d

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        l, self.buf = self.buf.split(b"\r\n", 1)
        return l

    def cmd(self, c):
        self.s.sendall(c.encode() + b"\r\n")
        l = self.line()
        if not l.startswith(b"+OK"):
            raise RuntimeError("%s: %r" % (c, l))
        return l

    def multi(self, c):
        """A multi-line answer; returns its size in bytes."""
        self.cmd(c)
        while not (self.buf.endswith(b"\r\n.\r\n") or self.buf == b".\r\n"):
            self.fill()
        n = len(self.buf)
        self.buf = b""
        return n

    def login(self, user):
        self.cmd("USER %s@example.test" % user)
        self.cmd("PASS " + PW)

    def close(self):
        self.s.close()


def measure(port):
    r = {}
    t0 = time.time()
    for _ in range(NLOGIN):
        c = Conn(port)
        c.login("login")
        c.cmd("QUIT")
        c.close()
    r["tls_logins_per_s"] = NLOGIN / (time.time() - t0)
    c = Conn(port)
    c.login("retr")
    c.cmd("STAT")
    t0 = time.time()
    n = sum(c.multi("RETR %d" % i) for i in range(1, 201))
    r["retr_mb_per_s"] = n / (time.time() - t0) / 1e6
    c.cmd("QUIT")
    c.close()
    for k in ("10k_first_login_stat_s", "10k_login_stat_s"):
        t0 = time.time()
        c = Conn(port)
        c.login("big")
        st = c.cmd("STAT")
        r[k] = time.time() - t0
        if not st.startswith(b"+OK 10000 "):
            raise RuntimeError("STAT: %r" % st)
        c.cmd("QUIT")
        c.close()
        time.sleep(0.2)
    return r


def tern_setup():
    sh([binp + "/tern-run", "-i", "-d", home])
    c = home + "/control"
    open(c + "/authfaildelay", "w").write("0\n")
    os.makedirs(c + "/tls", exist_ok=True)
    old = os.umask(0o77)
    sh(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", c + "/tls/localhost.key", "-out", c + "/tls/localhost.pem", "-days", "30",
        "-subj", "/CN=localhost"], stderr=subprocess.DEVNULL)
    os.umask(old)
    os.chmod(c + "/tls/localhost.pem", 0o644)
    md = home + "/mail/example.test"
    for u in ("login", "retr", "big"):
        sh([binp + "/tern-users", "add", u + "@example.test"])
        sh([binp + "/tern-users", "passwd", u + "@example.test"], input=(PW + "\n").encode())
    if root:
        for d in (base, home, home + "/mail", md):
            os.chmod(d, 0o755)
    fill(md)
    port = free_port()
    procs.append(subprocess.Popen(["tcpserver", "-q", "-R", "-H", "-l", "localhost", "-c", "200", "127.0.0.1",
                                   str(port), binp + "/tern-tlsd", "-i", binp + "/tern-pop3d"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=open(base + "/pop3d.log", "ab")))
    if not wait_port(port):
        raise RuntimeError("tcpserver did not start")
    return port


DOVECOT_CONF = """
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <{c}/tls/localhost.pem
ssl_key = <{c}/tls/localhost.key
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain
default_login_user = {loginuser}
default_internal_user = {internaluser}
first_valid_uid = 1
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=CRYPT {d}/passwd
}}
userdb {{
  driver = passwd-file
  args = {d}/passwd
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
  inet_listener pop3s {{
    port = {port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"""


def dovecot_available():
    """The dovecot binary, installing dovecot-pop3d as root when missing; or a reason."""
    if not shutil.which("dovecot"):
        if not root:
            return None, "dovecot-pop3d not installed and not root"
        r = subprocess.run(["apt-get", "install", "-y", "-qq", "dovecot-pop3d"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        if r.returncode != 0 or not shutil.which("dovecot"):
            return None, "apt-get install dovecot-pop3d failed"
    return shutil.which("dovecot"), ""


def user_hash(addr):
    for l in open(home + "/users/users"):
        f = l.rstrip("\n").split(":")
        if len(f) >= 3 and f[0] == "U" and f[1] == addr:
            return f[2]
    raise RuntimeError("no hash for " + addr)


def dovecot_setup():
    exe, why = dovecot_available()
    if not exe:
        return None, why
    d = base + "/dovecot"
    for sub in ("run", "state", "home"):
        os.makedirs(d + "/" + sub, exist_ok=True)
    fill(d + "/home")
    with open(d + "/passwd", "w") as f:
        for u in ("login", "retr", "big"):
            f.write("%s@example.test:{CRYPT}%s:%d:%d::%s/home/%s::\n" % (u, user_hash(u + "@example.test"),
                                                                         OWNER[0], OWNER[1], d, u))
    port = free_port()
    me = __import__("pwd").getpwuid(os.getuid()).pw_name
    conf = DOVECOT_CONF.format(d=d, c=home + "/control", port=port,
                               loginuser="dovenull" if root else me, internaluser="dovecot" if root else me)
    if root:
        os.chmod(d, 0o755)
        os.chmod(d + "/home", 0o755)
    open(d + "/dovecot.conf", "w").write(conf)
    p = subprocess.Popen([exe, "-F", "-c", d + "/dovecot.conf"], stdout=subprocess.DEVNULL,
                         stderr=open(d + "/stderr", "ab"))
    procs.append(p)
    if not wait_port(port):
        tail = open(d + "/stderr").read().strip().splitlines()[-1:] or ["no listener"]
        return None, "dovecot did not start: " + tail[0]
    return port, ""


def main():
    try:
        t = measure(tern_setup())
        for k, v in t.items():
            print("pop3_%s=%.3f" % (k, v))
        try:
            port, why = dovecot_setup()
            dv = measure(port) if port else None
        except Exception as e:
            dv, why = None, "%s: %s" % (type(e).__name__, e)
        if not dv:
            print("dovecot=unavailable reason=%s" % why.replace(" ", "_"))
            return
        for k, v in dv.items():
            print("dovecot_pop3_%s=%.3f" % (k, v))
        for k in t:
            ratio = t[k] / dv[k] if k.endswith("_per_s") else dv[k] / t[k]
            print("pop3_%s_ratio=%.2f" % (k, ratio))
    finally:
        stop_all(procs, 10)
        if not os.environ.get("TERN_KEEP"): shutil.rmtree(base, ignore_errors=True)


main()
