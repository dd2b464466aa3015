#!/usr/bin/env python3
"""tern beside Postfix (issue 8): the same workloads on both servers in one run.

tern runs from BINDIR in its own temporary home (tern-run -i, tern-send, tern-smtpd under
tcpserver on a free loopback port).  Postfix (Debian's package, installed as root when
missing, debconf "No configuration", no system instance left running) runs as an ISOLATED
instance: its own config_directory (postfix -c DIR), queue_directory and data_directory under
a temp dir, smtpd on 127.0.0.1:PORT (a free high port, set in its master.cf), virtual Maildir
delivery for demo@example.test, no chroot, no DNS.  The machine's own mail setup is never
used or touched; all traffic is on 127.0.0.1.  As root each server's files (and the sync
floor's) go on a fresh journaled ext4 of its own, loop-mounted from a sparse image in the
temp dir (TERN_BENCH_FS=loop, the default as root; TERN_BENCH_FS=tmp keeps them in the temp
dir); bench_fs= says which.

Workloads (each for tern, then for Postfix, each bounded in time):
  recv_2k_s4, recv_2k_s16      2,000 messages of 2 KiB over 4 / 16 parallel SMTP sessions
                               (one connection each, PIPELINING), msgs/s from the first
                               connect until every file is in the Maildir's new/
  recv_100k_s4, recv_100k_s16  the same, 400 messages of 100 KiB
  latency_median_ms            connect to file-in-new/ for one message, median of 50
  sendmail_seq                 500 sequential `sendmail -t -oi` (Postfix: /usr/sbin/sendmail
                               -C its config dir; tern: BINDIR/tern-sendmail), msgs/s until
                               all 500 are in new/
  relay                        2,000 2 KiB messages for user@relay.example over 16 SMTP
                               sessions, relayed through a smarthost route ([127.0.0.1]:PORT:
                               tern control/smtproutes, Postfix relayhost) to
                               tests/integration/sink.py; msgs/s until the sink stored all
                               (receive + queue + relay: the end-to-end figure)
  idle_session_pss_kib         20 sessions idle after EHLO: mean PSS of one session process
                               (tern: tern-smtpd; Postfix: smtpd)
  peak_pss_s16_kib             peak total PSS of all the server's processes (its whole process
                               tree) sampled every 0.1 s during recv_2k_s16
  fsync_per_msg                fsync+fdatasync calls per accepted message: strace -f -c
                               attached to every process of the server's tree during a
                               200-message run (4 sessions, 2 KiB)
  loadgen_sink_rate            the load generator's rate against sink.py with 16 sessions:
                               above the servers' rates, so it is not what limits them
  sync_floor_tern_ms,          the file system's part of the latency, without any server:
  sync_floor_postfix_ms        median of 50 of the disk work each design does in series
                               before a message is in new/, on the same file system.  tern
                               (invariant 1: queue, then Maildir): create, write 2 KiB,
                               link into another directory, unlink, then fsync (loop: a
                               journaled ext4) or fdatasync and fsync of that directory
                               (doc/queue.md); then create, write, fdatasync, link (new/ is
                               synced after the file is visible).  Postfix (twice: cleanup, then
                               virtual): create, write 2 KiB, fsync, rename; no directory
                               fsync.
Output: name=value lines tern_*, postfix_*, ratio_* (tern/postfix for rates; postfix/tern for
latency, memory and fsyncs: above 1 always means tern is better), target_* with met/not_met,
then a Markdown table.  postfix=unavailable reason=... when Postfix cannot be installed or
started (tern's figures are printed anyway).  TERN_BENCH_KEEP=1 keeps the temp dirs.
usage: postfix.py BINDIR   (as root for Postfix)"""
import os, re, shutil, signal, socket, statistics, subprocess, sys, tempfile, threading, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import free_port, wait_port, loop_fs, unmount

binp = os.path.abspath(sys.argv[1])
here = os.path.dirname(os.path.abspath(__file__))
sinkpy = os.path.join(here, "..", "integration", "sink.py")
root = os.getuid() == 0
N_2K, N_100K, N_LAT, N_SM, N_RELAY, N_IDLE, N_FSYNC = 2000, 400, 50, 500, 2000, 20, 200
if os.environ.get("TERN_BENCH_QUICK"):	# a smoke test of the script itself
    N_2K, N_100K, N_LAT, N_SM, N_RELAY, N_FSYNC = 160, 32, 5, 20, 160, 40
WAIT = 300		# seconds any one phase may take
procs = []		# Popen objects to stop
tmp = tempfile.mkdtemp(prefix="tern-bench-postfix.")
os.chmod(tmp, 0o755)
results = {"tern": {}, "postfix": {}}


def log(msg):
    print("# " + msg, flush=True)


def stop(p, grace=20):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


# ---------- process trees and PSS ----------
def children_map():
    kids = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            st = open("/proc/%s/stat" % pid).read()
            ppid = int(st[st.rindex(")") + 2:].split()[1])
        except (OSError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(pid))
    return kids


def tree(roots):
    """The pids of roots and all their descendants."""
    kids = children_map()
    out, todo = [], list(roots)
    while todo:
        p = todo.pop()
        if p in out:
            continue
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def exe(pid):
    try:
        return os.readlink("/proc/%d/exe" % pid)
    except OSError:
        return ""


def pss(pid):
    try:
        for line in open("/proc/%d/smaps_rollup" % pid):
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_pss(roots, only=None):
    """(total PSS KiB, processes) of the trees under roots, optionally only exes in only."""
    total = n = 0
    for p in tree(roots):
        if only is None or exe(p) in only:
            total += pss(p)
            n += 1
    return total, n


# ---------- the load generator ----------
def body(size, i, dom="example.test", user="demo"):
    line = "x" * 76 + "\r\n"
    head = ("From: bench@example.test\r\nTo: %s@%s\r\nSubject: bench %d\r\n"
            "Message-ID: <bench.%d.%f@example.test>\r\n\r\n" % (user, dom, i, i, time.time()))
    return (head + line * max(1, (size - len(head)) // len(line))).encode()


class Session:
    """One SMTP client connection: greeting, EHLO, then pipelined transactions."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), 60)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.f = self.s.makefile("rb")
        self.replies(1, b"220")
        self.s.sendall(b"EHLO bench.test\r\n")
        self.replies(1, b"250")

    def replies(self, n, want=None):
        got = []
        while len(got) < n:
            line = self.f.readline()
            if not line:
                raise EOFError("server closed the connection")
            if line[3:4] != b"-":
                got.append(line)
        if want and not all(r.startswith(want) for r in got):
            raise RuntimeError(got)
        return got

    def send(self, rcpt, data):
        self.s.sendall(b"MAIL FROM:<bench@example.test>\r\nRCPT TO:<%s>\r\nDATA\r\n" % rcpt.encode())
        r = self.replies(3)
        if not (r[0].startswith(b"250") and r[1].startswith(b"250") and r[2].startswith(b"354")):
            raise RuntimeError(r)
        self.s.sendall(data.replace(b"\r\n.", b"\r\n..") + b".\r\n")
        self.replies(1, b"250")

    def quit(self):
        try:
            self.s.sendall(b"QUIT\r\n")
            self.replies(1)
        except OSError:
            pass
        self.s.close()


def count(d):
    try:
        return sum(1 for _ in os.scandir(d))
    except OSError:
        return 0


def stored(d):
    try:
        return sum(1 for e in os.scandir(d) if e.name.startswith("msg."))
    except OSError:
        return 0


def wait_n(fn, n, limit=WAIT, step=0.005):
    end = time.time() + limit
    while time.time() < end:
        if fn() >= n:
            return True
        time.sleep(step)
    return False


def clear(d):
    """Empties a Maildir's new/ by moving its files aside (bench-trash beside the Maildir,
    on the same file system, removed at the end): removing them here would slow the next
    workload's file creation (settle())."""
    if not os.path.isdir(d):
        return			# nothing delivered yet (Postfix makes its Maildir then)
    trash = os.path.join(os.path.dirname(os.path.dirname(d)), "bench-trash")
    os.makedirs(trash, exist_ok=True)
    for e in os.scandir(d):
        try:
            os.rename(e.path, os.path.join(trash, "%d.%s" % (id(e), e.name)))
        except OSError:
            os.unlink(e.path)


# Where the servers' files go.  "loop" (the default as root): each server, and the sync
# floor, on a fresh ext4 of its own, made by mkfs.ext4 as Debian makes one (with its
# journal), in a 4 GB sparse image on this machine's disk, attached with losetup
# --direct-io (no second page cache) and removed at the end.  Neither server then pays for
# the other's, or an earlier program's, file churn, and the file system is the kind a mail
# server runs on.  "tmp": the temp dir itself (on these machines ext4 without a journal).
FS = os.environ.get("TERN_BENCH_FS", "loop" if root else "tmp")
mounts = []		# (mount point, loop device)


def fs_for(name):
    """The directory that holds name's files (see FS): a fresh loop file system, or tmp."""
    global FS
    if FS == "loop":
        mnt, why = loop_fs(tmp, name, mounts)
        if mnt:
            return mnt
        log("no loop file system (%s): using %s" % (why, tmp))
        FS = "tmp"
    return tmp


def unmount_all():
    for msg in unmount(mounts):
        log(msg)


SETTLE = float(os.environ.get("TERN_BENCH_SETTLE", "0" if os.environ.get("TERN_BENCH_QUICK")
                              else "65" if FS == "tmp" else "5"))


def settle():
    """A clean start for the next server.  On ext4 without a journal (this machine class)
    a new file skips every inode freed in the last 60 s, or 6 minutes while its inode table
    block is dirty (fs/ext4/ialloc.c, recently_deleted), and each skip is a lookup: after
    thousands of deletions every file creation is slow for minutes.  Each server deletes
    a queue file per message (its own cost), but the one that runs second would also pay
    for the first one's: sync writes the dirty blocks, and the pause outlasts the 60 s.
    The same holds for whatever ran before the benchmark."""
    os.sync()
    time.sleep(SETTLE)


LOADGEN = None		# tests/bench/loadgen.c, compiled at the start; else the Python client


def build_loadgen():
    global LOADGEN
    out = os.path.join(tmp, "loadgen")
    r = subprocess.run(["gcc", "-O2", "-pthread", "-o", out, os.path.join(here, "loadgen.c")],
                       stderr=subprocess.PIPE)
    if r.returncode == 0:
        LOADGEN = out
    else:
        log("loadgen.c did not build, using the Python client: %s" % r.stderr.decode()[:200])


def blast(port, sessions, total, size, rcpt="demo@example.test", done=None, sampler=None):
    """total messages over sessions parallel connections; msgs/s until done() >= total
    (done: count of delivered messages), 0.0 on any error or timeout."""
    per = total // sessions
    total = per * sessions
    errors = []
    user, dom = rcpt.split("@")

    def worker(k):
        try:
            s = Session(port)
            for i in range(k * per, (k + 1) * per):
                s.send(rcpt if "%" not in rcpt else rcpt % i, body(size, i, dom, user))
            s.quit()
        except Exception as e:
            errors.append(repr(e))

    def loadgen(k):
        # One C process for all sessions (k is 0: the thread below runs it once).
        try:
            r = subprocess.run([LOADGEN, str(port), str(sessions), str(total), str(size), rcpt],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=WAIT)
            if r.returncode != 0:
                errors.append("loadgen exit %d: %s" % (r.returncode, r.stderr.decode()[:200]))
        except Exception as e:
            errors.append(repr(e))

    stopflag = []
    peak = [0]
    if sampler:
        def sample():
            while not stopflag:
                peak[0] = max(peak[0], sampler())
                time.sleep(0.1)
        st = threading.Thread(target=sample)
        st.start()
    t0 = time.time()
    if LOADGEN:
        ts = [threading.Thread(target=loadgen, args=(0,))]
    else:
        ts = [threading.Thread(target=worker, args=(k,)) for k in range(sessions)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(WAIT)
    ok = not errors and wait_n(done, total)
    dt = time.time() - t0
    stopflag.append(1)
    if sampler:
        st.join()
    if errors:
        log("errors: %s" % errors[:3])
    elif not ok:
        log("only %d of %d delivered in %d s" % (done(), total, WAIT))
    return (total / dt if ok else 0.0), peak[0]


# ---------- servers ----------
class Tern:
    name = "tern"

    def __init__(self, sink_port):
        self.home = os.path.join(fs_for("tern"), "tern")
        self.env = dict(os.environ, TERN_HOME=self.home, PATH=binp + ":" + os.environ["PATH"])
        self.env.pop("TERN_QUEUE", None)
        subprocess.run([binp + "/tern-run", "-i", "-d", self.home], env=self.env, check=True,
                       stdout=subprocess.DEVNULL, timeout=60)
        os.makedirs(self.home + "/log", exist_ok=True)
        with open(self.home + "/control/smtproutes", "w") as f:
            f.write(":[127.0.0.1]:%d\n" % sink_port)
        self.new = self.home + "/mail/example.test/demo/Maildir/new"
        os.makedirs(self.new, exist_ok=True)
        self.send = self._start([binp + "/tern-send"], "send.log", self.env)
        wait_n(lambda: os.path.exists(self.home + "/queue/pid") and 1 or 0, 1, 10, 0.02)
        self.port = free_port()
        # RELAYCLIENT: 127.0.0.1 may relay (Postfix: mynetworks), as tcprules would set it.
        self.smtpd = self._start(["tcpserver", "-q", "-R", "-H", "-l", "localhost", "-c", "200",
                                  "127.0.0.1", str(self.port), binp + "/tern-smtpd"], "smtpd.log",
                                 dict(self.env, RELAYCLIENT=""))
        if not wait_port(self.port):
            raise RuntimeError("tern's tcpserver did not listen")
        self.session_exes = {binp + "/tern-smtpd"}

    def _start(self, cmd, logname, env):
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                             stderr=open(os.path.join(self.home, "log", logname), "ab"))
        procs.append(p)
        return p

    def roots(self):
        return [self.smtpd.pid, self.send.pid]

    def sendmail(self, msg):
        subprocess.run([binp + "/tern-sendmail", "-t", "-oi"], input=msg, env=self.env,
                       check=True, timeout=30)

    def stop(self):
        stop(self.smtpd)
        stop(self.send)


class Postfix:
    name = "postfix"

    def __init__(self, sink_port):
        self.d = d = os.path.join(fs_for("postfix"), "postfix")
        self.pc, pq, pdata, self.pm = d + "/etc", d + "/spool", d + "/data", d + "/vmail"
        for x in (self.pc, pq, pdata, self.pm):
            os.makedirs(x)
        os.chmod(d, 0o755)
        subprocess.run(["chown", "postfix:postfix", pdata, self.pm], check=True)
        self.port = free_port()
        mc = open("/etc/postfix/master.cf").read()
        mc, n = re.subn(r"(?m)^smtp(\s+inet\s)", "%d\\1" % self.port, mc, count=1)
        if n != 1:
            raise RuntimeError("no smtp inet line in /etc/postfix/master.cf")
        open(self.pc + "/master.cf", "w").write(mc)
        open(self.pc + "/main.cf", "w").close()
        import pwd
        pw = pwd.getpwnam("postfix")
        settings = [
            "compatibility_level = 3.6",
            "config_directory = " + self.pc,
            "queue_directory = " + pq,
            "data_directory = " + pdata,
            "mail_owner = postfix",
            "setgid_group = postdrop",
            "myhostname = mx.bench.test",
            "mydomain = bench.test",
            "myorigin = example.test",
            "mydestination =",
            "inet_interfaces = 127.0.0.1",
            "inet_protocols = ipv4",
            "mynetworks = 127.0.0.0/8",
            "smtpd_peername_lookup = no",
            "smtp_dns_support_level = disabled",
            "smtp_host_lookup = native",
            "relayhost = [127.0.0.1]:%d" % sink_port,
            "virtual_mailbox_domains = example.test",
            "virtual_mailbox_base = " + self.pm,
            "virtual_mailbox_maps = inline:{demo@example.test=demo/Maildir/}",
            "virtual_uid_maps = static:%d" % pw.pw_uid,
            "virtual_gid_maps = static:%d" % pw.pw_gid,
            "virtual_mailbox_limit = 0",
            "message_size_limit = 10240000",
            "default_process_limit = 200",
            "smtpd_client_connection_count_limit = 0",
            "maillog_file = %s/maillog" % d, "maillog_file_prefixes = " + d,
            "alias_maps =", "alias_database =",
            "biff = no",
            "smtp_tls_security_level = none", "smtpd_tls_security_level = none",
        ]
        subprocess.run(["postconf", "-c", self.pc, "-e"] + settings, check=True, timeout=30)
        subprocess.run(["postconf", "-c", self.pc, "-F", "*/*/chroot = n"], check=True, timeout=30)
        self.master = 0
        try:
            self._start(pq)
        except Exception:
            self.stop()
            raise

    def _start(self, pq):
        r = subprocess.run(["postfix", "-c", self.pc, "start"], capture_output=True, timeout=60)
        self.master = 0
        for _ in range(100):
            try:
                self.master = int(open(pq + "/pid/master.pid").read().strip())
                break
            except (OSError, ValueError):
                time.sleep(0.1)
        if not self.master:
            raise RuntimeError("postfix start: " + (r.stdout + r.stderr).decode().strip().replace("\n", " | ")[:300])
        if not wait_port(self.port):
            raise RuntimeError("the Postfix instance does not listen on 127.0.0.1:%d" % self.port)
        self.new = self.pm + "/demo/Maildir/new"
        # The probe connection above: wait until Postfix delivered nothing and is idle.
        time.sleep(0.5)
        self.session_exes = {"/usr/lib/postfix/sbin/smtpd"}
        self.env = os.environ

    def roots(self):
        return [self.master]

    def sendmail(self, msg):
        subprocess.run(["/usr/sbin/sendmail", "-C", self.pc, "-t", "-oi"], input=msg, check=True,
                       timeout=30)

    def stop(self):
        pids = tree([self.master]) if self.master else []
        subprocess.run(["postfix", "-c", self.pc, "stop"], capture_output=True, timeout=60)
        end = time.time() + 20
        while time.time() < end and any(os.path.exists("/proc/%d" % p) for p in pids):
            time.sleep(0.1)
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass


def postfix_available():
    """'' when /usr/sbin/postfix is there (installing it as root if missing), else a reason."""
    if os.path.exists("/usr/sbin/postfix"):
        return ""
    if not root:
        return "postfix not installed and not root"
    was = subprocess.run(["pgrep", "-x", "master"], capture_output=True).returncode == 0
    log("installing postfix (debconf: No configuration)")
    subprocess.run(["debconf-set-selections"], input=b"postfix postfix/main_mailer_type select No configuration\n",
                   capture_output=True, timeout=60)
    try:
        r = subprocess.run(["apt-get", "install", "-y", "-qq", "postfix"], capture_output=True, timeout=600,
                           env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    except subprocess.TimeoutExpired:
        return "apt-get install postfix timed out"
    if r.returncode != 0 or not os.path.exists("/usr/sbin/postfix"):
        return "apt-get install postfix failed: " + r.stderr.decode(errors="replace").strip()[-200:]
    # The package must not leave a system Postfix running on port 25.
    if not was:
        try:
            p = int(open("/var/spool/postfix/pid/master.pid").read().strip())
            os.kill(p, 0)
            log("stopping the system postfix its postinst started")
            if subprocess.run(["/usr/sbin/postfix", "stop"], capture_output=True, timeout=60).returncode != 0:
                os.kill(p, signal.SIGTERM)
        except (OSError, ValueError):
            pass
    return ""


# ---------- measurements ----------
def m_idle(srv, r):
    idle = [Session(srv.port) for _ in range(N_IDLE)]
    time.sleep(0.5)
    total, n = tree_pss(srv.roots(), srv.session_exes)
    for s in idle:
        s.quit()
    r["idle_sessions_measured"] = n
    r["idle_session_pss_kib"] = total / n if n else 0.0


def m_recv(srv, r, size, tag, n, sessions):
    sampler = (lambda: tree_pss(srv.roots())[0]) if (tag, sessions) == ("2k", 16) else None
    rate, peak = blast(srv.port, sessions, n, size, done=lambda: count(srv.new), sampler=sampler)
    clear(srv.new)
    r["recv_%s_s%d_msgs_per_s" % (tag, sessions)] = rate
    if sampler:
        r["peak_pss_s16_kib"] = peak
    log("%s recv_%s_s%d %.1f msgs/s" % (srv.name, tag, sessions, rate))


def m_latency(srv, r):
    lat = []
    for i in range(N_LAT):
        clear(srv.new)
        t0 = time.time()
        s = Session(srv.port)
        s.send("demo@example.test", body(2048, i))
        s.quit()
        if not wait_n(lambda: count(srv.new), 1, 10, 0.0005):
            log("%s: latency message %d not delivered in 10 s" % (srv.name, i))
        lat.append((time.time() - t0) * 1000)
    clear(srv.new)
    r["latency_median_ms"] = statistics.median(lat)


def m_sendmail(srv, r):
    t0 = time.time()
    for i in range(N_SM):
        srv.sendmail(("To: demo@example.test\nSubject: bench %d\n\n" % i + ("x" * 76 + "\n") * 26).encode())
    ok = wait_n(lambda: count(srv.new), N_SM)
    dt = time.time() - t0
    clear(srv.new)
    r["sendmail_seq_msgs_per_s"] = N_SM / dt if ok else 0.0


def m_relay(srv, r, sinkdir):
    base = stored(sinkdir)
    rate, _ = blast(srv.port, 16, N_RELAY, 2048, rcpt="user%d@relay.example",
                    done=lambda: stored(sinkdir) - base)
    r["relay_msgs_per_s"] = rate


def m_fsync(srv, r):
    out = os.path.join(tmp, srv.name + ".strace")
    pids = tree(srv.roots())
    cmd = ["strace", "-f", "-c", "-e", "trace=fsync,fdatasync", "-o", out]
    for p in pids:
        cmd += ["-p", str(p)]
    st = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(st)
    time.sleep(1.0)		# let strace attach to every process
    rate, _ = blast(srv.port, 4, N_FSYNC, 2048, done=lambda: count(srv.new))
    time.sleep(1.0)		# late fsyncs (directory, queue cleanup)
    st.send_signal(signal.SIGINT)
    try:
        st.wait(30)
    except subprocess.TimeoutExpired:
        st.kill()
    clear(srv.new)
    calls = 0
    try:
        for line in open(out):
            f = line.split()
            if len(f) >= 5 and f[-1] in ("fsync", "fdatasync"):
                calls += int(f[3])
    except OSError:
        pass
    r["fsync_calls"] = calls
    r["fsync_per_msg"] = calls / N_FSYNC if rate else 0.0
    r["strace_rate_msgs_per_s"] = rate


def sync_floor():
    """Median ms of the two designs' disk work for one message (see the docstring)."""
    d = os.path.join(fs_for("floor"), "floor")
    for sub in ("a", "b", "c"):
        os.makedirs(os.path.join(d, sub))
    data = b"x" * 2048

    def tern_stage(i, k):
        t, m = "%s/a/%d.%d" % (d, i, k), "%s/b/%d.%d" % (d, i, k)
        fd = os.open(t, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, data)
        if k:	# the Maildir: the file synced, then linked; new/ is synced after it is visible
            os.fdatasync(fd)
            os.close(fd)
            os.link(t, m)
            return
        os.link(t, m)	# the queue: linked, then synced (doc/queue.md)
        os.unlink(t)
        if FS == "loop":	# a journaled ext4: the file's fsync carries the link
            os.fsync(fd)
            os.close(fd)
            return
        os.fdatasync(fd)
        os.close(fd)
        dfd = os.open(d + "/b", os.O_RDONLY | os.O_DIRECTORY)
        os.fsync(dfd)
        os.close(dfd)

    def postfix_stage(i, k):
        t = "%s/c/%d.%d" % (d, i, k)
        fd = os.open(t, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, data)
        os.fsync(fd)
        os.close(fd)
        os.rename(t, t + ".done")

    out = {}
    for name, stage in (("tern", tern_stage), ("postfix", postfix_stage)):
        times = []
        for i in range(N_LAT):
            t0 = time.perf_counter()
            stage(i, 0)
            stage(i, 1)
            times.append((time.perf_counter() - t0) * 1000)
        out[name] = statistics.median(times)
    return out


def loadgen_rate():
    d = os.path.join(tmp, "sink-null")
    os.makedirs(d)
    port = free_port()
    p = subprocess.Popen([sys.executable, sinkpy, "--addr", "127.0.0.1", "--port", str(port), "--dir", d,
                          "--pidfile", d + ".pid"], stdout=subprocess.DEVNULL, stderr=open(d + ".err", "ab"))
    procs.append(p)
    wait_n(lambda: os.path.exists(d + ".pid") and 1 or 0, 1, 10, 0.02)
    rate, _ = blast(port, 16, N_2K, 2048, done=lambda: stored(d))
    stop(p)
    return rate


# ---------- main ----------
RATES = ["recv_2k_s4_msgs_per_s", "recv_2k_s16_msgs_per_s", "recv_100k_s4_msgs_per_s",
         "recv_100k_s16_msgs_per_s", "sendmail_seq_msgs_per_s", "relay_msgs_per_s"]
LOWER = ["latency_median_ms", "idle_session_pss_kib", "peak_pss_s16_kib", "fsync_per_msg"]
TARGETS = {"recv_2k_s4_msgs_per_s": 1.5, "recv_2k_s16_msgs_per_s": 1.5, "latency_median_ms": 2.0,
           "sendmail_seq_msgs_per_s": 3.0, "relay_msgs_per_s": 1.0, "idle_session_pss_kib": 1 / 0.3}
TEXT = {"recv_2k_s4_msgs_per_s": "receive → Maildir, 2 KiB, 4 sessions (msgs/s)",
        "recv_2k_s16_msgs_per_s": "receive → Maildir, 2 KiB, 16 sessions (msgs/s)",
        "recv_100k_s4_msgs_per_s": "receive → Maildir, 100 KiB, 4 sessions (msgs/s)",
        "recv_100k_s16_msgs_per_s": "receive → Maildir, 100 KiB, 16 sessions (msgs/s)",
        "latency_median_ms": "connect → Maildir latency, median of 50 (ms)",
        "sendmail_seq_msgs_per_s": "500 sequential sendmail -t -oi (msgs/s)",
        "relay_msgs_per_s": "SMTP in → relay to sink, 2 KiB, 16 sessions (msgs/s)",
        "idle_session_pss_kib": "PSS per idle SMTP session (KiB)",
        "peak_pss_s16_kib": "peak PSS of all server processes, 16 sessions (KiB)",
        "fsync_per_msg": "fsync+fdatasync per accepted message"}


# For work on one figure: TERN_BENCH_STEPS=recv,latency runs only those steps,
# TERN_BENCH_SERVERS=tern only that server (the table then lacks the rest).
STEPS = os.environ.get("TERN_BENCH_STEPS", "loadgen,floor,idle,recv,latency,sendmail,relay,fsync").split(",")
SERVERS = os.environ.get("TERN_BENCH_SERVERS", "tern,postfix").split(",")


def units(sinkdir):
    """The measurements asked for (STEPS), each one workload: (name, function(srv, r))."""
    u = [("idle", m_idle)] if "idle" in STEPS else []
    if "recv" in STEPS:
        for size, tag, n in ((2048, "2k", N_2K), (102400, "100k", N_100K)):
            for sessions in (4, 16):
                u.append(("recv_%s_s%d" % (tag, sessions),
                          lambda srv, r, a=(size, tag, n, sessions): m_recv(srv, r, *a)))
    u += [(k, f) for k, f in (("latency", m_latency), ("sendmail", m_sendmail)) if k in STEPS]
    if "relay" in STEPS:
        def relay(srv, r):
            m_relay(srv, r, sinkdir)
            log("%s relay %.1f msgs/s" % (srv.name, r["relay_msgs_per_s"]))
        u.append(("relay", relay))
    if "fsync" in STEPS:
        u.append(("fsync", m_fsync))
    return u


ROUNDS = int(os.environ.get("TERN_BENCH_ROUNDS", "1" if os.environ.get("TERN_BENCH_QUICK") else "3"))
ONCE = ("idle", "fsync")	# memory and system call counts: the same every time


def plan(us, servers):
    """(unit, server) in the order they run.  On loop file systems (each server has its
    own) both servers are up and each workload runs on one right after the other, ROUNDS
    times, the first one alternating: a ratio then compares runs seconds apart, not
    minutes, and the median of the rounds leaves out a moment of heavy load on the host.
    In the shared temp dir, one server after the other, once, as each must not pay for
    the other's deleted inodes (settle())."""
    if FS != "loop":
        return [(u, s) for s in servers for u in us]
    out, k = [], 0
    for u in us:
        for _ in range(1 if u[0] in ONCE else ROUNDS):
            out += [(u, s) for s in (servers if k % 2 == 0 else servers[::-1])]
            k += 1
    return out


def main():
    build_loadgen()
    print("loadgen=%s" % ("c" if LOADGEN else "python"), flush=True)
    sinkdir = os.path.join(tmp, "sink-relay")
    os.makedirs(sinkdir)
    sport = free_port()
    sink = subprocess.Popen([sys.executable, sinkpy, "--addr", "127.0.0.1", "--port", str(sport), "--dir",
                             sinkdir, "--pidfile", sinkdir + ".pid"], stdout=subprocess.DEVNULL,
                            stderr=open(sinkdir + ".err", "ab"))
    procs.append(sink)
    wait_n(lambda: os.path.exists(sinkdir + ".pid") and 1 or 0, 1, 10, 0.02)
    lg = loadgen_rate() if "loadgen" in STEPS else 0.0
    print("loadgen_sink_rate=%.1f" % lg, flush=True)
    if "floor" in STEPS:
        fl = sync_floor()
        for k in ("tern", "postfix"):
            print("sync_floor_%s_ms=%.2f" % (k, fl[k]), flush=True)

    servers = []
    why = "not asked for"
    try:
        if "tern" in SERVERS:
            servers.append(Tern(sport))
        why = postfix_available() if "postfix" in SERVERS else why
        if not why:
            try:
                servers.append(Postfix(sport))
            except Exception as e:
                why = "%s: %s" % (type(e).__name__, e)
                results["postfix"] = {}
        last = None
        rounds = {"tern": {}, "postfix": {}}
        for (name, fn), srv in plan(units(sinkdir), servers):
            if FS == "loop" or srv is not last:
                settle()
            last = srv
            r = {}
            fn(srv, r)
            for k, v in r.items():
                rounds[srv.name].setdefault(k, []).append(v)
        for name, keys in rounds.items():
            for k, vs in keys.items():
                results[name][k] = statistics.median(vs)
                if len(vs) > 1:
                    print("%s_%s_rounds=%s" % (name, k, ",".join("%.1f" % v for v in vs)), flush=True)
    finally:
        for s in servers:
            s.stop()
    print("bench_fs=%s" % ("loop-ext4" if FS == "loop" else "tmp"))
    for k, v in sorted(results["tern"].items()):
        print("tern_%s=%s" % (k, ("%.2f" % v) if isinstance(v, float) else v))
    if why:
        print("postfix=unavailable reason=%s" % why.replace(" ", "_"))
    else:
        for k, v in sorted(results["postfix"].items()):
            print("postfix_%s=%s" % (k, ("%.2f" % v) if isinstance(v, float) else v))
    ratios = {}
    if not why:
        tr, pr = results["tern"], results["postfix"]
        for k in RATES + LOWER:
            a, b = (tr.get(k, 0), pr.get(k, 0)) if k in RATES else (pr.get(k, 0), tr.get(k, 0))
            ratios[k] = a / b if b else 0.0
            print("ratio_%s=%.2f" % (k, ratios[k]))
            if k in TARGETS:
                print("target_%s=%.2f %s" % (k, TARGETS[k], "met" if ratios[k] >= TARGETS[k] else "not_met"))
    print()
    print("load generator against sink.py (16 sessions, 2 KiB): %.0f msgs/s" % lg)
    print()
    print("| workload | tern | Postfix | ratio | target | |")
    print("|---|---:|---:|---:|---:|---|")
    for k in RATES[:4] + LOWER[:1] + RATES[4:] + LOWER[1:]:
        tv = results["tern"].get(k, 0)
        pv = results["postfix"].get(k)
        fmt = "%.0f" if "pss" in k else "%.1f" if "per_s" in k or "ms" in k else "%.2f"
        row = [TEXT[k], fmt % tv, (fmt % pv) if pv is not None else "n/a"]
        if k in ratios:
            row.append("%.2f" % ratios[k])
            row.append("≥ %.2f" % TARGETS[k] if k in TARGETS else "—")
            row.append(("met" if ratios[k] >= TARGETS[k] else "not met") if k in TARGETS else "")
        else:
            row += ["n/a", "—", ""]
        print("| " + " | ".join(row) + " |")
    print()
    print("ratio: tern/Postfix for rates, Postfix/tern for latency, memory and fsyncs (above 1: tern better)")


try:
    main()
finally:
    for p in procs:
        stop(p)
    if os.environ.get("TERN_BENCH_KEEP"):
        print("# kept %s%s" % (tmp, " (its file systems still mounted)" if mounts else ""))
    else:
        unmount_all()
        subprocess.run(["rm", "-rf", tmp])
