#!/usr/bin/env python3
"""Relay benchmark (issue 5): tern-send and tern-remote relaying through a smarthost route
(control/smtproutes ":[127.0.0.1]:PORT") to tests/integration/sink.py.  Prints name=value lines:
  relay_sink_rate          msgs/s a python client sends straight to the sink (5 parallel
                           connections, reused, like tern-send's per-destination limit):
                           shows the sink is not what limits the numbers below
  relay_msgs, relay_rate, relay_connections, relay_seconds
                           2,000 2 KiB messages, one recipient each, all to one remote domain,
                           injected while tern-send is stopped; msgs/s from starting tern-send
                           until the sink has stored all of them, and the connections it opened
  relay_multi_rate, relay_multi_connections, relay_multi_seconds
                           the same with 20 destination domains sharing the smarthost
  relay_multi_domains_per_conn
                           mean number of distinct domains one connection carried (1.0:
                           connections are not shared by the domains of one route)
  relay_postfix_ref, relay_ratio
                           issue 5's figure for Postfix on this machine class (not measured
                           here) and relay_rate / that figure
usage: relay.py BINDIR"""
import os, socket, subprocess, sys, tempfile, threading, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import free_port

binp = os.path.abspath(sys.argv[1])
sinkpy = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration", "sink.py")
N = 2000
SIZE = 2048
POSTFIX_REF = 330
procs = []
homes = []


def stop(p):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(40)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def start_sink(d):
    port = free_port()
    pidf = d + ".pid"
    p = subprocess.Popen([sys.executable, sinkpy, "--addr", "127.0.0.1", "--port", str(port),
                          "--dir", d, "--pidfile", pidf],
                         stdout=subprocess.DEVNULL, stderr=open(d + ".err", "ab"))
    procs.append(p)
    for _ in range(200):
        if os.path.exists(pidf):
            break
        time.sleep(0.02)
    return p, port


def stored(d):
    return sum(1 for f in os.listdir(d) if f.startswith("msg."))


def wait_stored(d, n, limit=300):
    end = time.time() + limit
    while time.time() < end:
        if stored(d) >= n:
            return True
        time.sleep(0.005)
    return False


def body(i, crlf):
    eol = "\r\n" if crlf else "\n"
    line = "x" * 76 + eol
    head = ("From: bench@example.test%sTo: user%d@relay.example%sSubject: relay %d%s%s"
            % (eol, i, eol, i, eol, eol))
    return (head + line * ((SIZE - len(head)) // len(line))).encode()


def sink_rate(tmp, conns=5):
    """A pipelining client (RSET, MAIL, RCPT, DATA in one write) straight to the sink."""
    d = os.path.join(tmp, "sink-direct")
    os.makedirs(d)
    p, port = start_sink(d)
    per = N // conns
    errors = []

    def replies(f, n):
        got = []
        while len(got) < n:
            line = f.readline()
            if not line:
                raise EOFError("sink closed the connection")
            if line[3:4] != b"-":
                got.append(line)
        return got

    def worker(k):
        try:
            s = socket.create_connection(("127.0.0.1", port), 30)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            f = s.makefile("rb")
            replies(f, 1)
            s.sendall(b"EHLO bench.test\r\n")
            replies(f, 1)
            for i in range(k * per, (k + 1) * per):
                s.sendall(b"RSET\r\nMAIL FROM:<bench@example.test>\r\nRCPT TO:<user%d@relay.example>\r\nDATA\r\n" % i)
                r = replies(f, 4)
                if not r[3].startswith(b"354"):
                    raise RuntimeError(r)
                s.sendall(body(i, True) + b".\r\n")
                r = replies(f, 1)
                if not r[0].startswith(b"250"):
                    raise RuntimeError(r)
            s.sendall(b"QUIT\r\n")
            replies(f, 1)
            s.close()
        except Exception as e:
            errors.append(repr(e))

    t0 = time.time()
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(conns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    ok = wait_stored(d, per * conns, 60) and not errors
    dt = time.time() - t0
    stop(p)
    if errors:
        print("# relay_sink errors: %s" % errors[:3])
    return per * conns / dt if ok else 0.0


def inject(env, rcpt_of):
    """N messages straight into the queue, one tern-queue each, a few at a time."""
    running = []
    for i in range(N):
        mr, mw = os.pipe()
        er, ew = os.pipe()
        p = subprocess.Popen([binp + "/tern-queue"], stdin=mr, stdout=er, env=env)
        os.close(mr)
        os.close(er)
        os.write(mw, body(i, False))	# 2 KiB: fits in the pipe
        os.close(mw)
        os.write(ew, b"Fbench@example.test\0T" + rcpt_of(i).encode() + b"\0\0")
        os.close(ew)
        running.append(p)
        if len(running) >= 8:
            if running.pop(0).wait() != 0:
                sys.exit("relay.py: tern-queue failed")
    for p in running:
        if p.wait() != 0:
            sys.exit("relay.py: tern-queue failed")


def domains_per_conn(d):
    """Mean number of distinct recipient domains over the sink's connections."""
    doms = {}
    for f in os.listdir(d):
        if not f.startswith("msg."):
            continue
        conn, to = None, []
        with open(os.path.join(d, f), "rb") as fh:
            for line in fh:
                if line == b"\n":
                    break
                if line.startswith(b"X-Sink-Conn: "):
                    conn = line.split()[1]
                elif line.startswith(b"X-Sink-To: "):
                    to.append(line.split()[1].rstrip(b">").rsplit(b"@", 1)[-1].lower())
        doms.setdefault(conn, set()).update(to)
    return sum(len(v) for v in doms.values()) / len(doms) if doms else 0.0


def relay(tmp, name, rcpt_of):
    """Returns (msgs/s or 0, connections, seconds, domains per connection)."""
    home = os.path.join(tmp, name)
    env = dict(os.environ, TERN_HOME=home, PATH=binp + ":" + os.environ["PATH"])
    subprocess.run([binp + "/tern-run", "-i", "-d", home], env=env, check=True, stdout=subprocess.DEVNULL)
    os.makedirs(home + "/log", exist_ok=True)
    d = os.path.join(tmp, name + "-sink")
    os.makedirs(d)
    sink, port = start_sink(d)
    with open(home + "/control/smtproutes", "w") as f:
        f.write(":[127.0.0.1]:%d\n" % port)
    inject(env, rcpt_of)
    t0 = time.time()
    send = subprocess.Popen([binp + "/tern-send"], env=env, stdout=subprocess.DEVNULL,
                            stderr=open(home + "/log/send.log", "ab"))
    procs.append(send)
    ok = wait_stored(d, N, 300)
    dt = time.time() - t0
    stop(send)
    stop(sink)
    try:
        conns = int(open(os.path.join(d, "connections")).read())
    except (OSError, ValueError):
        conns = 0
    if not ok:
        print("# %s: only %d of %d messages reached the sink in 300 s" % (name, stored(d), N))
    return (N / dt if ok else 0.0), conns, dt, domains_per_conn(d)


tmp = tempfile.mkdtemp(prefix="tern-bench-relay.")
try:
    print("relay_sink_rate=%.1f" % sink_rate(tmp))
    rate, conns, dt, _ = relay(tmp, "one", lambda i: "user%d@relay.example" % i)
    print("relay_msgs=%d" % N)
    print("relay_rate=%.1f" % rate)
    print("relay_connections=%d" % conns)
    print("relay_seconds=%.3f" % dt)
    mrate, mconns, mdt, mdom = relay(tmp, "multi", lambda i: "user%d@d%d.relay.example" % (i, i % 20))
    print("relay_multi_rate=%.1f" % mrate)
    print("relay_multi_connections=%d" % mconns)
    print("relay_multi_seconds=%.3f" % mdt)
    print("relay_multi_domains_per_conn=%.1f" % mdom)
    print("# relay_postfix_ref: issue 5's figure for Postfix on this machine class, not measured here")
    print("relay_postfix_ref=%d" % POSTFIX_REF)
    print("relay_ratio=%.2f" % (rate / POSTFIX_REF))
finally:
    for p in procs:
        stop(p)
    if not os.environ.get("TERN_BENCH_KEEP"):
        subprocess.run(["rm", "-rf", tmp])
    else:
        print("# kept %s" % tmp)
