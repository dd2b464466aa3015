"""Helpers for the crash tests (crash.py, run by t-crash.sh; doc/crashtest.md).

A scenario gets a fresh TERN_HOME (Home), starts the real programs from $TERN_TEST_BIN,
kills some of them with SIGKILL at seeded random moments, and at the end counts what
landed in the Maildirs (or the SMTP sink) against what was acknowledged.

Kills only ever go to processes this test started or their descendants, found by walking
the ppid field of /proc/*/stat from a PID we started, and sent through a pidfd after the
parent and the program name were checked again (a PID that was reused is never hit).

Every test message is generated from its id ("mid"): a header with X-Crash-Id, a body
of numbered lines and a last line "end-of-MID".  Its body's length and SHA-256 are kept,
so a delivered copy is complete only when its body is byte for byte what was sent.
"""
import hashlib
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.abspath(os.environ.get("TERN_TEST_BIN") or os.path.join(TOP, "bin"))
SENDER = "demo@example.test"


def prog(name):
    return os.path.join(BIN, name)


# ---------------------------------------------------------------- TAP

class Tap:
    """ok / not ok lines, each prefixed with the scenario's name."""

    def __init__(self, name):
        self.name = name
        self.failed = 0

    def ok(self, cond, what):
        print("%s - %s: %s" % ("ok" if cond else "not ok", self.name, what), flush=True)
        if not cond:
            self.failed += 1
        return cond

    def is_(self, what, got, want):
        if got == want:
            return self.ok(True, what)
        return self.ok(False, "%s (got %r, expected %r)" % (what, got, want))

    def note(self, text):
        for line in str(text).splitlines() or [""]:
            print("# " + line, flush=True)


def seeded(name):
    """A random.Random for scenario NAME from CRASH_SEED (printed, so a run can be
    repeated); without CRASH_SEED a fresh seed."""
    s = os.environ.get("CRASH_SEED")
    seed = int(s) if s else int.from_bytes(os.urandom(4), "big")
    print("# %s: seed=%d (repeat with CRASH_SEED=%d)" % (name, seed, seed), flush=True)
    return random.Random("%d/%s" % (seed, name))


class Deadline:
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self):
        return self.end - time.monotonic()

    def over(self):
        return self.left() <= 0


def wait_until(cond, timeout, step=0.02):
    end = time.monotonic() + timeout
    while True:
        if cond():
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(step)


# ---------------------------------------------------------------- processes

def _stat(pid):
    """(comm, state, ppid) from /proc/PID/stat, or None."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            s = f.read()
    except OSError:
        return None
    l, r = s.find(b"("), s.rfind(b")")
    f = s[r + 2:].split()
    return s[l + 1:r].decode("latin-1"), f[0].decode(), int(f[1])


class Procs:
    """Finds descendants of a PID by ppid.  Processes seen not to be children of anything
    we look for are remembered for a short while, so that polling stays cheap."""

    def __init__(self):
        self.memo = {}		# pid -> ppid
        self.memo_at = time.monotonic()

    def ppids(self):
        now = time.monotonic()
        if now - self.memo_at > 0.5:	# pids are not reused that fast
            self.memo, self.memo_at = {}, now
        out = {}
        for e in os.listdir("/proc"):
            if not e.isdigit():
                continue
            pid = int(e)
            pp = self.memo.get(pid)
            if pp is None:
                st = _stat(pid)
                if st is None:
                    continue
                pp = st[2]
                self.memo[pid] = pp
            out[pid] = pp
        return out

    def descendants(self, root):
        pp = self.ppids()
        kids = {}
        for pid, parent in pp.items():
            kids.setdefault(parent, []).append(pid)
        out, todo = [], [root]
        while todo:
            p = todo.pop()
            for c in kids.get(p, []):
                out.append(c)
                todo.append(c)
        return out

    def find(self, root, comm):
        """Live (not zombie) descendants of root whose program name is comm, with their
        parent: [(pid, ppid)]."""
        out = []
        for pid in self.descendants(root):
            st = _stat(pid)
            if st and st[0] == comm and st[1] != "Z":
                out.append((pid, st[2]))
        return out


def kill9(pid, parent, comm):
    """SIGKILL pid if it still is a live `comm` whose parent is `parent`: the check is
    made after a pidfd pinned the process, so a reused PID is never hit.  True if sent."""
    fd = pin(pid, parent, comm)
    return fd is not None and kill_pinned(fd)


def pin(pid, parent, comm):
    """A pidfd for pid if it is a live `comm` whose parent is `parent`, else None: the
    pidfd keeps naming that process, so a signal sent through it later cannot hit a
    reused PID.  (Close it with os.close.)"""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return None
    st = _stat(pid)
    if not st or st[0] != comm or st[2] != parent or st[1] == "Z":
        os.close(fd)
        return None
    return fd


def kill_pinned(fd):
    try:
        signal.pidfd_send_signal(fd, signal.SIGKILL)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def fds_of(pid):
    """Targets of pid's open descriptors."""
    out = []
    try:
        for e in os.listdir("/proc/%d/fd" % pid):
            try:
                out.append(os.readlink("/proc/%d/fd/%s" % (pid, e)))
            except OSError:
                pass
    except OSError:
        pass
    return out


def tcp_inode(local_port, remote_port=None):
    """Socket inode of the IPv4 TCP connection with that local (and remote) port."""
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                p = line.split()
                lp = int(p[1].split(":")[1], 16)
                rp = int(p[2].split(":")[1], 16)
                if lp == local_port and (remote_port is None or rp == remote_port) and p[3] != "0A":
                    return int(p[9])
    except OSError:
        pass
    return None


def holder(cands, inode):
    """The candidate (pid, ppid) holding socket inode, or None."""
    want = "socket:[%d]" % inode
    for c in cands:
        if want in fds_of(c[0]):
            return c
    return None


# ---------------------------------------------------------------- the home

class Home:
    """A fresh self-contained TERN_HOME (tern-run -i), as lib.sh's t_home makes it, and
    every process started for it, stopped (by PID) in cleanup()."""

    def __init__(self, users=("u1", "u2")):
        self.dir = tempfile.mkdtemp(prefix="tern-test.", dir="/tmp")
        os.environ["TERN_HOME"] = self.dir
        os.environ.pop("TERN_QUEUE", None)
        os.environ.pop("RELAYCLIENT", None)
        subprocess.run([prog("tern-run"), "-i", "-d", self.dir], stdout=subprocess.DEVNULL, check=True)
        os.makedirs(self.path("log"), exist_ok=True)
        # Remote mail goes to a closed port unless a scenario routes it (lib.sh does the same).
        self.write("control/smtproutes", ":[127.0.0.1]:1\n")
        for u in users:
            subprocess.run([prog("tern-users"), "add", "%s@example.test" % u],
                           stdout=subprocess.DEVNULL, check=True)
        self.boxes = {"demo@example.test": self.maildir("demo")}
        for u in users:
            self.boxes["%s@example.test" % u] = self.maildir(u)
        self.procs = []
        self.mounts = []
        self.send = None

    def path(self, rel):
        return os.path.join(self.dir, rel)

    def write(self, rel, text):
        with open(self.path(rel), "w") as f:
            f.write(text)

    def maildir(self, user):
        return self.path("mail/example.test/%s/Maildir" % user)

    def log(self, name):
        return open(self.path("log/" + name), "ab")

    def spawn(self, argv, **kw):
        p = subprocess.Popen(argv, **kw)
        self.procs.append(p)
        return p

    def queue_files(self, sub="mess"):
        try:
            return os.listdir(self.path("queue/" + sub))
        except OSError:
            return []

    def flush(self):
        subprocess.run([prog("tern-flush")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def listen_smtpd(self, base=55000):
        """tcpserver + tern-smtpd on a free port of 127.0.0.1 in base..base+4999 (like
        lib.sh's t_listen).  Returns (port, tcpserver Popen)."""
        r = random.Random(os.getpid())
        for _ in range(20):
            port = base + r.randrange(5000)
            p = self.spawn(["tcpserver", "-1", "-q", "-R", "-H", "-l", "0", "127.0.0.1", str(port),
                            prog("tern-smtpd")], stdout=subprocess.PIPE, stderr=self.log("smtpd.log"))
            line = p.stdout.readline()
            if line.strip() == str(port).encode() and p.poll() is None:
                return port, p
            p.kill()
            p.wait()
        raise RuntimeError("no free port for tcpserver")

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for m in reversed(self.mounts):
            if subprocess.run(["umount", m], stderr=subprocess.DEVNULL).returncode != 0:
                time.sleep(0.5)
                if subprocess.run(["umount", m]).returncode != 0:
                    subprocess.run(["umount", "-l", m])
        if os.environ.get("TERN_KEEP"):
            print("# kept %s" % self.dir, flush=True)
        elif self.dir.startswith("/tmp/tern-test."):
            shutil.rmtree(self.dir, ignore_errors=True)


class Send:
    """tern-send, started, killed and restarted by the test."""

    def __init__(self, home):
        self.home = home
        self.p = None

    def start(self):
        self.p = self.home.spawn([prog("tern-send")], stderr=self.home.log("send.log"))
        pidfile = self.home.path("queue/pid")

        def up():
            try:
                with open(pidfile) as f:
                    return f.read().strip() == str(self.p.pid)
            except OSError:
                return False
        if not wait_until(up, 10):
            raise RuntimeError("tern-send did not start (see log/send.log)")
        return self.p

    def stop(self):
        if self.p and self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(40)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()

    def log_count(self, word):
        try:
            with open(self.home.path("log/send.log"), "rb") as f:
                return f.read().count(word.encode())
        except OSError:
            return 0


# ---------------------------------------------------------------- messages

FILL = b"the quick brown fox jumps over the lazy dog 0123456789 ABCDEFGHIJKLMNOP"


class Msgs:
    """Test messages and their expected bodies."""

    def __init__(self):
        self.exp = {}		# mid -> (body length, sha256)

    def make(self, mid, size):
        """The message (LF line ends) for mid, about size bytes."""
        m = mid.encode()
        n = max(1, size // (len(m) + len(FILL) + 9))
        body = b"".join([b"%s %06d %s\n" % (m, i, FILL) for i in range(n)]) + b"end-of-" + m + b"\n"
        self.exp[mid] = (len(body), hashlib.sha256(body).digest())
        return b"Subject: crash " + m + b"\nX-Crash-Id: " + m + b"\n\n" + body

    def check(self, data):
        """(mid, complete) for a delivered copy (CR LF taken as LF), or (None, False)."""
        data = data.replace(b"\r\n", b"\n")
        end = data.find(b"\n\n")
        head = data if end < 0 else data[:end + 1]
        m = re.search(rb"^X-Crash-Id: (\S+)$", head, re.M)
        if not m:
            return None, False
        mid = m.group(1).decode()
        exp = self.exp.get(mid)
        if end < 0 or not exp:
            return mid, False
        body = data[end + 2:]
        return mid, len(body) == exp[0] and hashlib.sha256(body).digest() == exp[1]


def envelope(sender, rcpts):
    return b"F" + sender.encode() + b"\0" + b"".join(b"T" + r.encode() + b"\0" for r in rcpts) + b"\0"


def tern_queue(msg, rcpts, sender=SENDER):
    """Runs tern-queue with msg and an envelope; its exit code."""
    mr, mw = os.pipe()
    er, ew = os.pipe()
    p = subprocess.Popen([prog("tern-queue")], stdin=mr, stdout=er, stderr=subprocess.DEVNULL)
    os.close(mr)
    os.close(er)
    try:
        write_all(mw, msg)
    finally:
        os.close(mw)
    try:
        write_all(ew, envelope(sender, rcpts))
    finally:
        os.close(ew)
    return p.wait()


def write_all(fd, data):
    try:
        mv = memoryview(data)
        while mv:
            mv = mv[os.write(fd, mv):]
        return True
    except OSError:
        return False


def scan_boxes(boxes, msgs):
    """What the Maildirs' new/ and cur/ hold: ({(mid, rcpt): [complete, ...]}, foreign
    files (not a test message), files left in tmp/)."""
    copies, foreign, litter = {}, 0, 0
    for rcpt, d in boxes.items():
        for sub in ("new", "cur"):
            try:
                names = os.listdir(os.path.join(d, sub))
            except OSError:
                continue
            for n in names:
                try:
                    with open(os.path.join(d, sub, n), "rb") as f:
                        data = f.read()
                except OSError:
                    continue
                mid, complete = msgs.check(data)
                if mid is None:
                    foreign += 1
                    continue
                copies.setdefault((mid, rcpt), []).append(complete)
        try:
            litter += len(os.listdir(os.path.join(d, "tmp")))
        except OSError:
            pass
    return copies, foreign, litter


def count_new(boxes):
    n = 0
    for d in boxes.values():
        for sub in ("new", "cur"):
            try:
                n += len(os.listdir(os.path.join(d, sub)))
            except OSError:
                pass
    return n


def drain(home, want, timeout=30, settle=0.3):
    """Waits until the queue is empty and the Maildirs hold at least `want` files,
    flushing now and then (a killed delivery waits a minute otherwise); then a pause in
    which a second copy would show up.  True if it got there."""
    end = time.monotonic() + timeout
    last = 0
    while time.monotonic() < end:
        if not home.queue_files() and count_new(home.boxes) >= want:
            time.sleep(settle)
            return True
        if time.monotonic() - last > 2:
            home.flush()
            last = time.monotonic()
        time.sleep(0.05)
    return False


def report(tap, scen, messages, kills, acked, copies, allowed=None, extra=""):
    """The per-scenario count line and its assertions.  acked: the (mid, rcpt) keys that
    were acknowledged; copies: {(mid, rcpt): [complete, ...]} as delivered; allowed:
    {(mid, rcpt): n} extra copies a kill may explain (remote: at-least-once)."""
    allowed = allowed or {}
    full = {k: sum(1 for c in v if c) for k, v in copies.items()}
    losses = sorted(k for k in acked if not full.get(k))
    dups = {k: n - 1 - allowed.get(k, 0) for k, n in full.items() if n - 1 - allowed.get(k, 0) > 0}
    partial = sum(len(v) - full[k] for k, v in copies.items())
    unacked = sorted(k for k, v in copies.items() if k not in acked)
    print("# crash: scenario=%s messages=%d kills=%d losses=%d duplicates=%d partial=%d "
          "unacked_delivered=%d%s" % (scen, messages, kills, len(losses), sum(dups.values()),
                                       partial, len(unacked), extra), flush=True)
    for what, items in (("lost", losses), ("duplicated", sorted(dups)), ("unacknowledged but delivered", unacked)):
        if items:
            tap.note("%s: %s" % (what, " ".join("%s>%s" % k for k in items[:20])))
    tap.ok(not losses, "every acknowledged message delivered (losses=%d)" % len(losses))
    tap.ok(not dups, "no message delivered twice (duplicates=%d)" % sum(dups.values()))
    tap.ok(partial == 0, "no partial message visible (partial=%d)" % partial)
    tap.ok(not unacked, "no unacknowledged message delivered (unacked_delivered=%d)" % len(unacked))


# ---------------------------------------------------------------- SMTP

class SmtpClient:
    """A raw SMTP client: cmd() sends a line and reads the reply, (code, text);
    (None, "EOF") when the connection ended."""

    def __init__(self, port, timeout=30):
        self.s = socket.create_connection(("127.0.0.1", port), timeout)
        self.buf = b""
        self.port = self.s.getsockname()[1]

    def reply(self):
        lines = []
        while True:
            i = self.buf.find(b"\n")
            while i < 0:
                try:
                    d = self.s.recv(65536)
                except OSError:
                    d = b""
                if not d:
                    return None, "EOF"
                self.buf += d
                i = self.buf.find(b"\n")
            line, self.buf = self.buf[:i + 1].rstrip(b"\r\n"), self.buf[i + 1:]
            lines.append(line.decode("latin-1"))
            if len(line) < 4 or line[3:4] != b"-":
                code = int(line[:3]) if line[:3].isdigit() else 0
                return code, " ".join(l[4:] for l in lines)

    def send(self, data):
        try:
            self.s.sendall(data)
            return True
        except OSError:
            return False

    def cmd(self, line):
        if not self.send(line.encode() + b"\r\n"):
            return None, "EOF"
        return self.reply()

    def start(self, sender, rcpts):
        """MAIL, RCPT..., DATA; True if the server said 354."""
        if self.cmd("MAIL FROM:<%s>" % sender)[0] != 250:
            return False
        for r in rcpts:
            if self.cmd("RCPT TO:<%s>" % r)[0] != 250:
                return False
        return self.cmd("DATA")[0] == 354

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def smtp_data(msg):
    """msg (LF) as DATA bytes: CR LF line ends and the final dot (test bodies have no line
    starting with a dot, so no stuffing is needed)."""
    assert b"\n." not in msg
    return msg.replace(b"\n", b"\r\n") + b".\r\n"


# ---------------------------------------------------------------- the SMTP sink

class Sink:
    """An SMTP server in a thread of the test, standing in for the remote MX.  It reads
    DATA slowly (small socket buffer, a pause after each chunk) so that a kill of
    tern-remote can land in the middle of a transfer, and keeps a message only when its
    DATA ended with CR LF . CR LF (written to its list before the final 250, which can
    be delayed).  The killer can see each connection's progress (conns).

    A killed sender's kernel still sends what it had buffered, and on loopback that is
    the whole message (the send buffer grows past 1 MB), so a remote far away would see
    a cut transfer where this one would not: the killer sets conns[n]["abort"] right
    after a kill in DATA, and the sink then drops the connection as a cut one."""

    def __init__(self, msgs, chunk=32768, pause=0.002):
        self.msgs = msgs
        self.chunk, self.pause = chunk, pause
        self.lock = threading.Lock()
        self.stored = []	# (conn, [rcpt], data)
        self.conns = {}		# n -> state (dict)
        self.nconn = 0
        self.cut = 0		# transfers that ended inside DATA
        self.reply_delay = 0.0	# seconds before the final 250 (the killer sets it)
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        r = random.Random(os.getpid() * 7)
        for _ in range(50):
            self.port = 57000 + r.randrange(3000)
            try:
                self.ls.bind(("127.0.0.1", self.port))
                break
            except OSError:
                continue
        else:
            raise RuntimeError("no free port for the sink")
        self.ls.listen(16)
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, peer = self.ls.accept()
            except OSError:
                return
            with self.lock:
                self.nconn += 1
                n = self.nconn
                st = {"peer": peer[1], "phase": "cmd", "got": 0, "mid": None,
                      "last": None, "settled": True, "alive": True}
                self.conns[n] = st
            threading.Thread(target=self.session, args=(c, n, st), daemon=True).start()

    def session(self, c, n, st):
        buf = b""
        c.settimeout(60)

        def line():
            nonlocal buf
            while b"\n" not in buf:
                d = c.recv(4096)
                if not d:
                    raise EOFError
                buf += d
            i = buf.index(b"\n")
            ln, buf = buf[:i + 1], buf[i + 1:]
            return ln.rstrip(b"\r\n")
        try:
            c.sendall(b"220 sink.test ESMTP\r\n")
            sender, rcpts = None, []
            while True:
                ln = line()
                verb = ln[:4].upper()
                if verb == b"EHLO":
                    c.sendall(b"250-sink.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 52428800\r\n")
                elif verb == b"HELO":
                    c.sendall(b"250 sink.test\r\n")
                elif verb in (b"MAIL", b"RSET"):
                    st["settled"] = True	# the last result went back to tern-send
                    sender, rcpts = (ln if verb == b"MAIL" else None), []
                    c.sendall(b"250 2.1.0 ok\r\n")
                elif verb == b"RCPT":
                    m = re.search(rb"<([^>]*)>", ln)
                    rcpts.append(m.group(1).decode() if m else "?")
                    c.sendall(b"250 2.1.5 ok\r\n")
                elif verb == b"DATA":
                    if not sender or not rcpts:
                        c.sendall(b"503 5.5.1 no transaction\r\n")
                        continue
                    c.sendall(b"354 go ahead\r\n")
                    st["phase"], st["got"], st["mid"] = "data", 0, None
                    data = b"\r\n" + buf	# so that an empty body ends the same way
                    buf = b""
                    look = 0
                    while True:
                        i = data.find(b"\r\n.\r\n", look)
                        if i >= 0:
                            break
                        look = max(0, len(data) - 4)
                        if st["mid"] is None:
                            m = re.search(rb"X-Crash-Id: (\S+)\r\n", data[:4096])
                            if m:
                                st["mid"] = m.group(1).decode()
                        d = c.recv(self.chunk)
                        if not d or st.get("abort"):
                            raise EOFError
                        data += d
                        st["got"] = len(data) - 2
                        time.sleep(self.pause)
                    body, buf = data[:i + 2], data[i + 5:]
                    body = body.replace(b"\r\n..", b"\r\n.")[2:]
                    st["phase"] = "reply"
                    with self.lock:
                        self.stored.append((n, list(rcpts), body))
                        st["last"], st["settled"] = (st["mid"], list(rcpts)), False
                    if self.reply_delay:
                        time.sleep(self.reply_delay)
                    c.sendall(b"250 2.0.0 stored\r\n")
                    st["phase"] = "cmd"
                    sender, rcpts = None, []
                elif verb == b"QUIT":
                    c.sendall(b"221 2.0.0 bye\r\n")
                    break
                elif verb == b"NOOP":
                    c.sendall(b"250 2.0.0 ok\r\n")
                else:
                    c.sendall(b"500 5.5.2 what\r\n")
        except (EOFError, OSError):
            if st["phase"] == "data":
                with self.lock:
                    self.cut += 1
        finally:
            st["alive"] = False
            c.close()

    def copies(self):
        """{(mid, rcpt): [complete, ...]} and the number of foreign messages."""
        out, foreign = {}, 0
        with self.lock:
            stored = list(self.stored)
        for _, rcpts, data in stored:
            mid, complete = self.msgs.check(data)
            if mid is None:
                foreign += 1
                continue
            for r in rcpts:
                out.setdefault((mid, r), []).append(complete)
        return out, foreign
