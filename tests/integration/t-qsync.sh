#!/bin/sh
# How tern-queue makes a message durable, on real file systems (doc/queue.md): on an ext4
# with a journal, fsync of the file after its link (the journal commits the link with it;
# no directory fsync); on an ext4 without one, fdatasync and an fsync of queue/mess.  Then
# a simulated power cut (EXT4_IOC_SHUTDOWN, NOLOGFLUSH: whatever the journal has not
# committed is lost) right after tern-queue's exit 0: the message is there, byte for byte,
# after the remount; a link made after it and never synced is not (the cut is real).  The
# same cut after tern-local's exit 0: the delivered file is in the Maildir's new/.
# Needs root (loop devices); otherwise it says so and fails.
. "$(dirname "$0")/lib.sh"
t_home
python3 - "$T_BIN" "$TERN_HOME" <<'PY'
import fcntl, os, re, struct, subprocess, sys
binp, scratch = sys.argv[1], sys.argv[2]
n = bad = 0
def say(ok, what):
    global n, bad
    n += 1
    bad += not ok
    print(("ok %d - " if ok else "not ok %d - ") % n + what, flush=True)
    return ok
if os.getuid() != 0:
    say(False, "cannot run: loop devices and mounts need root (uid %d)" % os.getuid())
    sys.exit(1)
EXT4_IOC_SHUTDOWN, NOLOGFLUSH = 0x8004587D, 2
mounted = []
def run(*a, **kw):
    return subprocess.run(a, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, **kw)
def make_fs(name, journal):
    img, mnt = os.path.join(scratch, name + ".img"), os.path.join(scratch, name)
    os.makedirs(mnt)
    with open(img, "wb") as f:
        f.truncate(64 << 20)
    r = run("mkfs.ext4", "-q", "-F", *([] if journal else ["-O", "^has_journal"]), img)
    if r.returncode:
        raise RuntimeError("mkfs.ext4: " + r.stderr.decode()[:200])
    dev = run("losetup", "-f", "--show", img).stdout.decode().strip()
    if not dev or run("mount", dev, mnt).returncode:
        if dev:
            run("losetup", "-d", dev)
        raise RuntimeError("cannot loop-mount " + img)
    mounted.append((mnt, dev))
    return mnt, dev
def home_on(mnt):
    h = os.path.join(mnt, "home")
    if run(binp + "/tern-run", "-i", "-d", h).returncode:
        raise RuntimeError("tern-run -i on " + mnt)
    return h
def queue(h, subject, strace=None):
    env = dict(os.environ, TERN_HOME=h)
    mr, mw = os.pipe(); er, ew = os.pipe()
    cmd = [binp + "/tern-queue"]
    if strace:
        cmd = ["strace", "-f", "-y", "-e", "trace=fsync,fdatasync,link", "-o", strace] + cmd
        # under ptrace LeakSanitizer cannot run (the ASan pass of make test)
        opts = [o for o in env.get("ASAN_OPTIONS", "").split(":") if o]
        env["ASAN_OPTIONS"] = ":".join(opts + ["detect_leaks=0"])
    p = subprocess.Popen(cmd, stdin=mr, stdout=er, stderr=subprocess.DEVNULL, env=env)
    os.close(mr); os.close(er)
    os.write(mw, b"Subject: %s\n\n" % subject + b"durable\n" * 300); os.close(mw)
    os.write(ew, b"Fa@example.test\0Tdemo@example.test\0\0"); os.close(ew)
    return p.wait()
def cut(mnt, dev, h, path, tag, what):
    """A power cut right after path was acknowledged: a link made now is never synced;
    EXT4_IOC_SHUTDOWN without a log flush, umount, mount (the journal replays).  Asserts
    the unsynced link is gone and path is there, byte for byte.  False when the remount
    failed (nothing more can be checked)."""
    data = open(path, "rb").read()
    ctl = os.path.join(h, "control-" + tag.replace(" ", "-"))
    with open(ctl + ".tmp", "wb") as f:
        f.write(b"not synced\n")
    os.link(ctl + ".tmp", ctl)
    fd = os.open(mnt, os.O_RDONLY)
    fcntl.ioctl(fd, EXT4_IOC_SHUTDOWN, struct.pack("I", NOLOGFLUSH))
    os.close(fd)
    ok = run("umount", mnt).returncode == 0 and run("mount", dev, mnt).returncode == 0
    if not say(ok, "%s: unmounted and mounted again (journal replayed)" % tag):
        return False
    say(not os.path.exists(ctl), "%s: the unsynced link made after it is gone (the cut lost what was not committed)" % tag)
    say(os.path.exists(path) and open(path, "rb").read() == data, "%s: %s, byte for byte" % (tag, what))
    return True
def qfiles(h):
    d = os.path.join(h, "queue/mess")
    return sorted(os.path.join(d, f) for f in os.listdir(d))
try:
    # 1. Which syncs, on each kind of ext4.
    for name, journal in (("journal", True), ("nojournal", False)):
        mnt, _ = make_fs(name, journal)
        h = home_on(mnt)
        tr = os.path.join(scratch, name + ".trace")
        say(queue(h, b"sync " + name.encode(), tr) == 0, "%s: tern-queue exit 0" % name)
        calls = open(tr).read()
        q = re.escape(os.path.join(h, "queue"))
        # the file's descriptor still names its tmp/ name, unlinked by then: "(deleted)"
        qf = r"\d+<%s/(?:tmp|mess)/[^>]+>(?: ?\(deleted\))?" % q
        file_fsync = re.search(r"\bfsync\(%s\) = 0" % qf, calls)
        file_fdatasync = re.search(r"\bfdatasync\(%s\) = 0" % qf, calls)
        dir_fsync = re.search(r"\bfsync\(\d+<%s/mess>\) = 0" % q, calls)
        link_at = calls.find("link(")
        if journal:
            say(bool(file_fsync) and not dir_fsync and not file_fdatasync,
                "journal: the file's fsync, no fsync of queue/mess")
            say(0 <= link_at < file_fsync.start() if file_fsync else False, "journal: the link comes before the fsync")
        else:
            say(bool(file_fdatasync) and bool(dir_fsync) and not file_fsync,
                "no journal: fdatasync of the file and fsync of queue/mess")
            say(0 <= link_at < file_fdatasync.start() if file_fdatasync else False,
                "no journal: the link comes before the syncs")
    # 2. Power cuts on the journaled one, three times.
    mnt, dev = mounted[0]
    h = os.path.join(mnt, "home")
    for r in range(3):
        before = set(qfiles(h))
        rc = queue(h, b"cut %d" % r)
        new = [f for f in qfiles(h) if f not in before]
        if not say(rc == 0 and len(new) == 1, "cut %d: tern-queue exit 0, one new file" % r):
            break
        if not cut(mnt, dev, h, new[0], "cut %d" % r, "the acknowledged message is in queue/mess"):
            break
    # 3. The same for tern-local's Maildir delivery (tmp/, fsync, link into new/, fsync of
    # new/): after its exit 0 and a cut, the message is in new/.
    newdir = os.path.join(h, "mail/example.test/demo/Maildir/new")
    for r in range(2):
        before = set(os.listdir(newdir)) if os.path.isdir(newdir) else set()
        body = b"Subject: local cut %d\n\n" % r + b"delivered\n" * 300
        p = subprocess.run([binp + "/tern-local", "a@example.test", "demo@example.test"], input=body,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ, TERN_HOME=h),
                           timeout=60)
        new = [f for f in os.listdir(newdir) if f not in before] if os.path.isdir(newdir) else []
        if not say(p.returncode == 0 and len(new) == 1, "local cut %d: tern-local exit 0, one file in new/ (%s)" % (
                r, p.stdout.decode().strip()[:80])):
            break
        if not cut(mnt, dev, h, os.path.join(newdir, new[0]), "local cut %d" % r,
                   "the delivered message is in new/"):
            break
except (OSError, RuntimeError, subprocess.SubprocessError) as e:
    say(False, "cannot run: %s" % e)
finally:
    for mnt, dev in reversed(mounted):
        run("umount", mnt)
        run("losetup", "-d", dev)
sys.exit(1 if bad else 0)
PY
rc=$?
[ $rc -eq 0 ] || T_FAILED=$((T_FAILED + 1))
t_done
