#!/usr/bin/env python3
"""Crash scenarios: python3 crash.py SCENARIO (smtpd queue send local remote disk).

Each one runs in a fresh TERN_HOME, kills a program with SIGKILL at seeded random moments
(CRASH_ROUNDS kills, default 20; CRASH_SEED repeats a run), restarts or retries, and then
checks the Maildirs (or the SMTP sink) against what was acknowledged.  It prints TAP
lines ("ok - SCENARIO: ...") and one count line
    # crash: scenario=S messages=N kills=K losses=0 duplicates=0 partial=0 unacked_delivered=0 ...
and exits 1 if anything failed.  doc/crashtest.md says what each scenario does.
"""
import os
import subprocess
import sys
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from crashlib import (SENDER, Deadline, Home, Msgs, Procs, Send, Sink, SmtpClient, Tap, _stat,  # noqa: E402
                      drain, envelope, fds_of, holder, kill9, kill_pinned, pin, prog, report,
                      scan_boxes, seeded, smtp_data, tcp_inode, tern_queue, wait_until, write_all)

ROUNDS = int(os.environ.get("CRASH_ROUNDS", "20"))
BIG = (200_000, 1_000_000)	# sizes of the messages a kill lands in
LBIG = (1_000_000, 3_000_000)	# tern-local's: a forked delivery of 1 MB takes only ms


def keys(mid, rcpts):
    return {(mid, r) for r in rcpts}


def send_slowly(c, data, upto, pause=0.001):
    """The first `upto` bytes of data, in 64 KiB pieces with a pause between."""
    pos = 0
    while pos < upto:
        n = min(65536, upto - pos)
        if not c.send(data[pos:pos + n]):
            return False
        pos += n
        time.sleep(pause)
    return True


def smtpd_of(procs, tcpserver, port, client):
    """(pid, ppid) of the tern-smtpd that serves client's connection."""
    inode = tcp_inode(port, client.port)
    return holder(procs.find(tcpserver.pid, "tern-smtpd"), inode) if inode else None


def session(tap, port):
    """A connected, greeted SmtpClient, or None."""
    try:
        c = SmtpClient(port)
    except OSError as e:
        tap.ok(False, "connect: %s" % e)
        return None
    if c.reply()[0] != 220 or c.cmd("EHLO crash.test")[0] != 250:
        tap.ok(False, "greeting and EHLO")
        c.close()
        return None
    return c


def smtp_message(c, msg, rcpts):
    """A whole message over c; the final reply's code."""
    if not c.start(SENDER, rcpts) or not c.send(smtp_data(msg)):
        return None
    return c.reply()[0]


# ------------------------------------------------------------------ (a) tern-smtpd mid-DATA

def scen_smtpd(tap, rng, home):
    """Sessions each send 0-2 whole messages (acknowledged with 250), then start one
    more and, after a random part of its DATA, tern-smtpd is killed: that message must
    never appear, the acknowledged ones exactly once."""
    Send(home).start()
    port, tcps = home.listen_smtpd()
    procs, msgs = Procs(), Msgs()
    pool = sorted(home.boxes)
    acked, nmsg, kills, eof, dl = set(), 0, 0, 0, Deadline(70)
    for r in range(ROUNDS):
        if dl.over():
            tap.ok(False, "out of time after %d rounds" % r)
            break
        c = session(tap, port)
        if not c:
            continue
        for k in range(rng.randint(0, 2)):
            mid, rc = "a%02d.%d" % (r, k), rng.sample(pool, rng.randint(1, 2))
            nmsg += 1
            if smtp_message(c, msgs.make(mid, rng.randint(500, 100_000)), rc) == 250:
                acked |= keys(mid, rc)
        mid, rc = "a%02d.killed" % r, rng.sample(pool, rng.randint(1, 2))
        data = smtp_data(msgs.make(mid, rng.randint(*BIG)))
        nmsg += 1
        if not c.start(SENDER, rc):
            tap.ok(False, "round %d: MAIL, RCPT, DATA" % r)
            c.close()
            continue
        cut = rng.randrange(len(data))		# the final CRLF.CRLF is never complete
        send_slowly(c, data, cut)
        time.sleep(rng.uniform(0, 0.02))
        victim = smtpd_of(procs, tcps, port, c)
        if victim and kill9(victim[0], victim[1], "tern-smtpd"):
            kills += 1
            eof += c.reply()[0] is None		# no reply, the connection just ends
        c.close()
    # The server still serves after all that.
    c = session(tap, port)
    if c:
        nmsg += 1
        code = smtp_message(c, msgs.make("a.after", 5000), [SENDER])
        tap.is_("a normal session after the kills: 250", code, 250)
        if code == 250:
            acked |= keys("a.after", [SENDER])
        c.cmd("QUIT")
        c.close()
    tap.ok(drain(home, len(acked)), "queue drained")
    copies, foreign, litter = scan_boxes(home.boxes, msgs)
    report(tap, "smtpd", nmsg, kills, acked, copies, extra=" acked=%d" % len(acked))
    tap.is_("every round's kill landed in DATA", kills, ROUNDS)
    tap.is_("every killed session ended with no reply", eof, kills)
    tap.is_("no other mail (bounces) in the Maildirs", foreign, 0)
    tap.ok(wait_until(lambda: not home.queue_files("tmp"), 10),
           "queue/tmp empty: each orphaned tern-queue removed its file (%d left)" % len(home.queue_files("tmp")))


# ------------------------------------------------------------------ (b) tern-queue mid-write

def scen_queue(tap, rng, home):
    """tern-queue killed while it writes a big message, run three ways in turn: directly
    (a random prefix of message + envelope, never the envelope's final NUL), under
    tern-smtpd (then the client must get a 4xx and the session go on; the killed message
    is the session's second, queued by tern-smtpd's session server tern-queue -z, except
    in every other such round, where it is the first, queued by an exec'd tern-queue),
    under tern-sendmail (which must exit non-zero).  Before each kill an acknowledged
    message goes the same way."""
    Send(home).start()
    port, tcps = home.listen_smtpd()
    procs, msgs = Procs(), Msgs()
    pool = sorted(home.boxes)
    acked, nmsg, kills, dl = set(), 0, 0, Deadline(70)
    bad = []		# what went wrong around a kill
    stats = {"direct": 0, "smtpd": 0, "sendmail": 0, "server": 0, "exec": 0}
    for r in range(ROUNDS):
        if dl.over():
            tap.ok(False, "out of time after %d rounds" % r)
            break
        how = ("direct", "smtpd", "sendmail")[r % 3]
        okmid, okrc = "b%02d.ok" % r, rng.sample(pool, rng.randint(1, 2))
        okmsg = msgs.make(okmid, rng.randint(500, 100_000))
        mid, rc = "b%02d.killed" % r, rng.sample(pool, rng.randint(1, 2))
        msg = msgs.make(mid, rng.randint(*BIG))
        nmsg += 2
        landed = False
        if how == "direct":
            if tern_queue(okmsg, okrc) == 0:
                acked |= keys(okmid, okrc)
            env = envelope(SENDER, rc)
            cut = rng.randrange(len(msg) + len(env))
            mr, mw = os.pipe()
            er, ew = os.pipe()
            p = home.spawn([prog("tern-queue")], stdin=mr, stdout=er, stderr=subprocess.DEVNULL)
            os.close(mr)
            os.close(er)
            pos = 0
            while pos < min(cut, len(msg)):
                n = min(65536, min(cut, len(msg)) - pos)
                write_all(mw, msg[pos:pos + n])
                pos += n
                time.sleep(0.001)
            if cut >= len(msg):
                os.close(mw)
                mw = -1
                write_all(ew, env[:cut - len(msg)])
            time.sleep(rng.uniform(0, 0.01))
            if p.poll() is None:
                p.kill()		# our own child
            landed = p.wait() == -9
            for fd in (mw, ew):
                if fd >= 0:
                    os.close(fd)
            if not landed:
                bad.append("%s: tern-queue exited %s before the kill" % (mid, p.returncode))
        elif how == "smtpd":
            c = session(tap, port)
            if not c:
                continue
            if r % 6 == 4:
                nmsg -= 1	# no message before the killed one
            elif smtp_message(c, okmsg, okrc) == 250:
                acked |= keys(okmid, okrc)
            data = smtp_data(msg)
            if c.start(SENDER, rc):
                cut = rng.randrange(len(data) - 3)	# the final dot comes after the kill
                send_slowly(c, data, cut)
                time.sleep(rng.uniform(0, 0.01))
                smtpd = smtpd_of(procs, tcps, port, c)
                # The queue program: tern-smtpd's child, the session server (tern-queue
                # -z, which queues in its own process) from the second message on.
                q = []
                if smtpd:
                    wait_until(lambda: q.extend(procs.find(smtpd[0], "tern-queue")) or q, 5, 0.001)
                if q:
                    stats["server" if b"-z" in cmdline(q[0][0]) else "exec"] += 1
                landed = bool(q) and kill9(q[0][0], q[0][1], "tern-queue")
                c.send(data[cut:])
                code = c.reply()[0]
                if landed and not (code and 400 <= code < 500):
                    bad.append("%s: reply %s after tern-queue was killed, expected 4xx" % (mid, code))
                # The session goes on.
                amid, arc = "b%02d.after" % r, rng.sample(pool, 1)
                nmsg += 1
                if smtp_message(c, msgs.make(amid, 2000), arc) == 250:
                    acked |= keys(amid, arc)
                else:
                    bad.append("%s: the session did not go on" % mid)
            c.cmd("QUIT")
            c.close()
        else:
            sm = [prog("tern-sendmail"), "-i", "-f", SENDER]
            if subprocess.run(sm + okrc, input=okmsg, stderr=subprocess.DEVNULL).returncode == 0:
                acked |= keys(okmid, okrc)
            p = home.spawn(sm + rc, stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
            # tern-queue starts once the header is read; stdin stays open until the kill
            hl = msg.index(b"\n\n") + 2
            cut = rng.randint(hl, len(msg))
            pos = 0
            while pos < cut:
                n = min(65536, cut - pos)
                p.stdin.write(msg[pos:pos + n])
                p.stdin.flush()
                pos += n
                time.sleep(0.001)
            q = []
            wait_until(lambda: q.extend(procs.find(p.pid, "tern-queue")) or q, 5, 0.001)
            time.sleep(rng.uniform(0, 0.01))
            landed = bool(q) and kill9(q[0][0], q[0][1], "tern-queue")
            try:
                p.stdin.close()
            except OSError:
                pass
            ex = p.wait()
            if landed and ex == 0:
                bad.append("%s: tern-sendmail exited 0 after its tern-queue was killed" % mid)
        if landed:
            kills += 1
            stats[how] += 1
        else:
            bad.append("%s (%s): the kill did not land" % (mid, how))
    tap.ok(drain(home, len(acked)), "queue drained")
    copies, foreign, litter = scan_boxes(home.boxes, msgs)
    report(tap, "queue", nmsg, kills, acked, copies,
           extra=" acked=%d direct=%d smtpd=%d (session_server=%d exec=%d) sendmail=%d tmp_left=%d" % (
               len(acked), stats["direct"], stats["smtpd"], stats["server"], stats["exec"], stats["sendmail"],
               len(home.queue_files("tmp"))))
    tap.ok(stats["server"] >= 2 and stats["exec"] >= 1,
           "under tern-smtpd, both the session server (tern-queue -z, %d) and an exec'd tern-queue (%d) were killed"
           % (stats["server"], stats["exec"]))
    for b in bad:
        tap.note(b)
    tap.is_("every round's kill landed", kills, ROUNDS)
    tap.ok(not bad, "a 4xx for the SMTP client, the session goes on, non-zero exit for sendmail (%d problems)" % len(bad))
    tap.is_("no other mail (bounces) in the Maildirs", foreign, 0)


# ------------------------------------------------------------------ (c) tern-send mid-scheduling

def scen_send(tap, rng, home):
    """Each round starts tern-send and injects 10-30 messages (1-3 recipients each)
    while, at a random moment, tern-send is killed -- alone in even rounds (its
    deliveries run on, their results lost), with all its children in odd ones.
    Injection goes on with tern-send down; the next round restarts it."""
    send = Send(home)
    procs, msgs = Procs(), Msgs()
    pool = sorted(home.boxes)
    acked, nmsg, kills, busy, dl = set(), 0, 0, 0, Deadline(70)
    for r in range(ROUNDS):
        if dl.over():
            tap.ok(False, "out of time after %d rounds" % r)
            break
        send.start()
        when, tree = rng.uniform(0, 0.25), r % 2 == 1
        got = {}

        def killer():
            time.sleep(when)
            kids = [(pid, pp, c) for c in ("tern-local", "tern-remote") for pid, pp in procs.find(send.p.pid, c)]
            pinned = [pin(*k) for k in kids] if tree else []
            got["kids"] = len(kids)
            got["ok"] = kill9(send.p.pid, os.getpid(), "tern-send")
            for fd in pinned:
                if fd is not None:
                    kill_pinned(fd)
        t = threading.Thread(target=killer)
        t.start()
        for k in range(rng.randint(10, 30)):
            mid, rc = "c%02d.%02d" % (r, k), rng.sample(pool, rng.randint(1, 3))
            nmsg += 1
            if tern_queue(msgs.make(mid, rng.randint(300, 30_000)), rc) == 0:
                acked |= keys(mid, rc)
        t.join()
        send.p.wait()
        if got.get("ok") and send.p.returncode == -9:
            kills += 1
            busy += got["kids"] > 0
    send.start()
    tap.ok(drain(home, len(acked), 40), "queue drained after the last restart")
    copies, foreign, litter = scan_boxes(home.boxes, msgs)
    report(tap, "send", nmsg, kills, acked, copies,
           extra=" acked=%d kills_with_deliveries_running=%d" % (len(acked), busy))
    tap.is_("every round's kill landed", kills, ROUNDS)
    tap.is_("no other mail (bounces) in the Maildirs", foreign, 0)
    send.stop()


# ------------------------------------------------------------------ (d) tern-local mid-write

def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def queue_watching(msg, rcpts, seen, timeout=3):
    """tern_queue(msg, rcpts) in a thread while this one polls seen() from the start (a
    delivery can begin and end before tern-queue has exited: under ASan its exit is
    slow); returns tern-queue's exit code once seen() is true or the time is up."""
    res = []
    t = threading.Thread(target=lambda: res.append(tern_queue(msg, rcpts)))
    t.start()
    wait_until(seen, timeout, 0)
    t.join()
    return res[0] if res else None


def children(pid):
    """pid's children, from /proc (one small file: fast enough to catch a short delivery)."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        return []


def deliveries(procs, send_pid):
    """The tern-local processes under tern-send that deliver, as (pid, ppid): the
    children of the fork server (tern-local -z, tern-send's child; they keep its command
    line) that have a delivery (a kept one between deliveries has /dev/null as fd 0), or
    tern-send's own tern-local children when it had to exec them."""
    out = []
    for pid in children(send_pid):
        st = _stat(pid)
        if not st or st[0] != "tern-local":
            continue
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                server = f.read().split(b"\0")[1:2] == [b"-z"]
        except OSError:
            continue
        if not server:
            out.append((pid, send_pid))
            continue
        for k in children(pid):
            st = _stat(k)
            try:
                idle = os.readlink("/proc/%d/fd/0" % k) == "/dev/null"
            except OSError:
                idle = True
            if st and st[0] == "tern-local" and st[1] != "Z" and not idle:
                out.append((k, pid))
    return out


def scen_local(tap, rng, home):
    """Big messages (1-3 MB, 1-2 recipients) one at a time; the first tern-local
    delivery that tern-send starts for each (a child of the fork server) is killed:
    half the time a random 0-15 ms after it appears, half the time once it has its
    Maildir tmp/ file open (0-2 ms later).
    tern-send records a temporary failure; a flush retries at once."""
    send = Send(home)
    send.start()
    procs, msgs = Procs(), Msgs()
    pool = sorted(home.boxes)
    acked, nmsg, kills, inwrite, tries, dl = set(), 0, 0, 0, 0, Deadline(70)
    while kills < ROUNDS and tries < 5 * ROUNDS and not dl.over():
        mid, rc = "d%02d" % tries, rng.sample(pool, rng.randint(1, 2))
        tries += 1
        attmp, delay = rng.random() < 0.5, 0
        delay = rng.uniform(0, 0.002) if attmp else rng.uniform(0, 0.006)	# a delivery lasts 10-30 ms
        before = send.log_count("tern-local exited 137")
        nmsg += 1
        cands = []
        if queue_watching(msgs.make(mid, rng.randint(*LBIG)), rc,
                          lambda: cands.extend(deliveries(procs, send.p.pid)) or cands) == 0:
            acked |= keys(mid, rc)
        if not cands:
            continue
        pid, pp = cands[0]
        if attmp:
            wait_until(lambda: any("/Maildir/tmp/" in f for f in fds_of(pid)) or not os.path.exists("/proc/%d" % pid), 3, 0)
        time.sleep(delay)
        writing = any("/Maildir/tmp/" in f for f in fds_of(pid))
        if kill9(pid, pp, "tern-local"):
            # Landed only if tern-send saw it die of the signal (not exit just before).
            wait_until(lambda: send.log_count("tern-local exited 137") > before or not home.queue_files(), 5)
            if send.log_count("tern-local exited 137") > before:
                kills += 1
                inwrite += writing
        home.flush()		# the retry now, not in a minute
        drain(home, 0, 10, 0)
    # The fork server itself, while a delivery of its runs: tern-send counts that one a
    # temporary failure, the orphaned child may still finish, and the retry (through a new
    # server) must not deliver a second copy.
    zkills, r = 0, 0
    while zkills < 3 and r < 15 and not dl.over():
        r += 1
        mid, rc = "dz%d" % r, rng.sample(pool, rng.randint(1, 2))
        nmsg += 1
        if queue_watching(msgs.make(mid, rng.randint(*LBIG)), rc, lambda: deliveries(procs, send.p.pid)) == 0:
            acked |= keys(mid, rc)
        if not deliveries(procs, send.p.pid):
            continue
        time.sleep(rng.uniform(0, 0.003))
        server = [pp for pid, pp in deliveries(procs, send.p.pid) if pp != send.p.pid]
        if server and kill9(server[0], send.p.pid, "tern-local"):
            zkills += 1
        home.flush()
        drain(home, 0, 10, 0)
    tap.ok(drain(home, len(acked)), "queue drained")
    copies, foreign, litter = scan_boxes(home.boxes, msgs)
    report(tap, "local", nmsg, kills + zkills, acked, copies,
           extra=" acked=%d kills_with_tmp_file_open=%d fork_server_kills=%d maildir_tmp_left=%d" % (
               len(acked), inwrite, zkills, litter))
    tap.is_("the fork server killed 3 times with a delivery running", zkills, 3)
    tap.ok(send.log_count("fork server ended") >= 1, "tern-send noticed the fork server's end")
    tap.is_("%d kills landed" % ROUNDS, kills, ROUNDS)
    tap.ok(inwrite > 0, "some kills landed while the tmp/ file was open (%d)" % inwrite)
    tap.is_("no other mail (bounces) in the Maildirs", foreign, 0)
    send.stop()


# ------------------------------------------------------------------ (e) tern-remote mid-DATA

def scen_remote(tap, rng, home):
    """Big messages to 1-2 remote recipients, routed (smtproutes) to a slow SMTP sink in
    this process.  tern-remote is killed after a random part of the DATA has reached the
    sink, or (about one round in eight) after the sink stored the message but before
    its 250.  Every acknowledged message must reach the sink whole at least once; more
    than once only where a kill came between the sink storing it and tern-send learning
    of it."""
    msgs = Msgs()
    sink = Sink(msgs)
    home.write("control/smtproutes", ":[127.0.0.1]:%d\n" % sink.port)
    send = Send(home)
    send.start()
    procs = Procs()
    pool = ["r1@remote.test", "r2@remote.test", "x@other.test"]
    acked, nmsg, kills, tries, dl = set(), 0, 0, 0, Deadline(80)
    allowed, late = {}, 0
    while kills < ROUNDS and tries < 3 * ROUNDS and not dl.over():
        mid, rc = "e%02d" % tries, rng.sample(pool, rng.randint(1, 2))
        tries += 1
        frac = rng.uniform(0, 1.125)
        sink.reply_delay = 0.05 if frac >= 1 else 0
        msg = msgs.make(mid, rng.randint(*BIG))
        before = send.log_count("tern-remote ended (status 137)")
        nmsg += 1
        if tern_queue(msg, rc) == 0:
            acked |= keys(mid, rc)
        st = {}

        def in_data():
            for s in list(sink.conns.values()):
                if s["alive"] and s["phase"] in ("data", "reply") and s["mid"] == mid:
                    st.update(s=s)
                    return True
            return False
        if not wait_until(in_data, 5, 0.0005):
            continue
        s = st["s"]
        if frac < 1:
            wait_until(lambda: s["got"] >= frac * len(msg) or s["phase"] != "data", 5, 0.0005)
        else:
            wait_until(lambda: s["phase"] != "data", 5, 0.0005)
            time.sleep(rng.uniform(0, 0.04))
        inode = tcp_inode(s["peer"], sink.port)
        victim = holder(procs.find(send.p.pid, "tern-remote"), inode) if inode else None
        if not victim or not kill9(victim[0], victim[1], "tern-remote"):
            wait_until(lambda: not home.queue_files(), 10)
            continue
        if frac < 1:
            s["abort"] = True	# what the kernel still sends for it stays unread (Sink)
        wait_until(lambda: not s["alive"], 5)
        wait_until(lambda: send.log_count("tern-remote ended (status 137)") > before, 5)
        kills += send.log_count("tern-remote ended (status 137)") > before
        with sink.lock:
            if s["last"] and not s["settled"]:
                # Stored, but its result may never have reached tern-send: a copy more is fair.
                late += 1
                for r in s["last"][1]:
                    allowed[(s["last"][0], r)] = allowed.get((s["last"][0], r), 0) + 1
        home.flush()
        wait_until(lambda: not home.queue_files(), 10)
    sink.reply_delay = 0

    def all_there():
        cp = sink.copies()[0]
        return not home.queue_files() and all(any(cp.get(k, [])) for k in acked)
    t0 = time.monotonic()
    while not all_there() and time.monotonic() - t0 < 30:
        home.flush()
        wait_until(all_there, 2)
    tap.ok(all_there(), "queue drained")
    time.sleep(0.3)
    copies, foreign = sink.copies()
    resent = sum(max(0, sum(v) - 1) for v in copies.values())
    report(tap, "remote", nmsg, kills, acked, copies, allowed,
           extra=" acked=%d resent=%d cut_in_data=%d kills_after_store=%d" % (len(acked), resent, sink.cut, late))
    tap.is_("%d kills landed" % ROUNDS, kills, ROUNDS)
    tap.ok(sink.cut > 0, "some kills cut a transfer short (%d)" % sink.cut)
    tap.is_("nothing else reached the sink", foreign, 0)
    send.stop()


# ------------------------------------------------------------------ (f) full disk

def fill(path):
    """Writes zeros to path until the file system is full; the bytes written."""
    n = 0
    with open(path, "wb", buffering=0) as f:
        for size in (1 << 20, 1 << 16, 1 << 12, 1 << 9, 1):
            while True:
                try:
                    n += f.write(b"\0" * size)
                except OSError:
                    break
    return n


def scen_disk(tap, rng, home):
    """The queue on a 2 MB tmpfs and demo's Maildir on another.  Queue full: SMTP gets
    452 4.3.1 at the end of DATA (a message with the disk already full, and one that
    fills it while it is written), tern-sendmail exits 75, nothing is left in the queue.
    Space back: both accept and deliver.  Maildir full: the message waits in the queue
    (tern-local's temporary failure), nothing is visible in new/; space back and a flush:
    delivered once."""
    if os.getuid() != 0:
        tap.ok(False, "cannot run: mounting a tmpfs for the full disk needs root (uid %d)" % os.getuid())
        return
    q = home.path("queue")
    md = home.maildir("demo")
    for d, size in ((q, "2m"), (md, "2m")):
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0700" % size, "tmpfs", d]).returncode != 0:
            tap.ok(False, "cannot run: mount -t tmpfs on %s failed" % d)
            return
        home.mounts.append(d)
    for sub in ("tmp", "mess", "info"):
        os.mkdir(os.path.join(q, sub), 0o700)
    os.mkfifo(os.path.join(q, "trigger"), 0o622)
    os.chmod(q, 0o750)
    for sub in ("tmp", "new", "cur"):
        os.mkdir(os.path.join(md, sub), 0o700)
    send = Send(home)
    send.start()
    port, tcps = home.listen_smtpd()
    msgs = Msgs()
    demo = [SENDER]
    boxes = {SENDER: md}
    acked, nmsg = set(), 0
    sm = [prog("tern-sendmail"), "-i", "-f", SENDER, SENDER]

    def smtp(mid, size):
        nonlocal nmsg
        nmsg += 1
        c = session(tap, port)
        if not c:
            return None, ""
        c.start(SENDER, demo)
        c.send(smtp_data(msgs.make(mid, size)))
        code, text = c.reply()
        c.cmd("QUIT")
        c.close()
        if code == 250:
            acked.add((mid, SENDER))
        return code, text

    def sendmail(mid, size):
        nonlocal nmsg
        nmsg += 1
        p = subprocess.run(sm, input=msgs.make(mid, size), stderr=subprocess.PIPE)
        if p.returncode == 0:
            acked.add((mid, SENDER))
        return p.returncode, p.stderr.decode(errors="replace").strip()

    def queue_clean():
        return not home.queue_files("tmp") and not home.queue_files("mess")

    code, text = smtp("f.before", 50_000)
    tap.is_("space: SMTP 250", code, 250)
    tap.is_("space: sendmail exit 0", sendmail("f.before-sm", 50_000)[0], 0)
    tap.ok(drain(home, 2), "space: both delivered")
    # The queue's file system full.
    filler = os.path.join(q, "filler")
    tap.note("queue filler: %d bytes" % fill(filler))
    code, text = smtp("f.full", 100_000)
    tap.is_("queue full: SMTP reply at the end of DATA", "%s %s" % (code, text[:5]), "452 4.3.1")
    ex, err = sendmail("f.full-sm", 100_000)
    tap.is_("queue full: sendmail exit 75", ex, 75)
    tap.ok("disk full" in err, "queue full: sendmail says disk full (%s)" % err[:160].replace("\n", " / "))
    tap.ok(queue_clean(), "queue full: nothing left in queue/tmp or queue/mess")
    os.unlink(filler)
    # A message that fills the disk while it is written.
    code, text = smtp("f.huge", 3_000_000)
    tap.is_("message bigger than the free space: 452 4.3.1", "%s %s" % (code, text[:5]), "452 4.3.1")
    tap.ok(queue_clean(), "bigger than the free space: nothing left in the queue")
    # Space back.
    tap.is_("space back: SMTP 250", smtp("f.back", 80_000)[0], 250)
    tap.is_("space back: sendmail exit 0", sendmail("f.back-sm", 80_000)[0], 0)
    tap.ok(drain(home, 4), "space back: delivered")
    # The Maildir's file system full: accepted, kept in the queue, delivered later.
    mfill = os.path.join(md, "filler")
    tap.note("Maildir filler: %d bytes" % fill(mfill))
    before = send.log_count("event=deferred")
    tap.is_("Maildir full: SMTP still 250 (the queue has room)", smtp("f.mdfull", 100_000)[0], 250)
    tap.ok(wait_until(lambda: send.log_count("event=deferred") > before, 10), "Maildir full: delivery deferred")
    tap.ok(home.queue_files() != [], "Maildir full: the message waits in the queue")
    os.unlink(mfill)
    home.flush()
    tap.ok(drain(home, 5), "Maildir space back: delivered after a flush")
    copies, foreign, litter = scan_boxes(boxes, msgs)
    report(tap, "disk", nmsg, 0, acked, copies, extra=" acked=%d" % len(acked))
    tap.is_("no other mail (bounces) in the Maildir", foreign, 0)
    send.stop()
    tcps.terminate()


SCENARIOS = {"smtpd": scen_smtpd, "queue": scen_queue, "send": scen_send,
             "local": scen_local, "remote": scen_remote, "disk": scen_disk}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in SCENARIOS:
        sys.exit("usage: crash.py %s" % "|".join(SCENARIOS))
    name = sys.argv[1]
    tap = Tap(name)
    rng = seeded(name)
    t0 = time.monotonic()
    home = None
    try:
        home = Home()
        SCENARIOS[name](tap, rng, home)
    except Exception:
        tap.note(traceback.format_exc())
        tap.ok(False, "the scenario ran to its end")
    finally:
        if home:
            home.cleanup()
    tap.note("%s: %.1fs" % (name, time.monotonic() - t0))
    sys.exit(1 if tap.failed else 0)


if __name__ == "__main__":
    main()
