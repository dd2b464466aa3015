"""What every benchmark script needs: free loopback ports, waiting for a listener,
stopping the processes it started, the PSS of running programs, and (as root) a fresh
file system of its own for a run."""
import os
import socket
import subprocess
import time


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, limit=10):
    """True once 127.0.0.1:port accepts a connection, False after limit seconds."""
    end = time.time() + limit
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def stop_all(procs, grace=40):
    """SIGTERM to each process started (subprocess.Popen), then SIGKILL after grace s."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            p.kill()


def pss_of(exes):
    """(total PSS in KiB, number of processes) of the running programs whose
    /proc/PID/exe is one of exes."""
    total, n = 0, 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.readlink("/proc/%s/exe" % pid) not in exes:
                continue
            for line in open("/proc/%s/smaps_rollup" % pid):
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    n += 1
        except OSError:
            pass
    return total, n


def loop_fs(tmp, name, mounts):
    """A fresh ext4 for name's files, as mkfs.ext4 makes one (with its journal), in a 4 GB
    sparse image tmp/name.img, attached with losetup --direct-io (no second page cache)
    and mounted on tmp/name-fs (mode 0755).  Root only.  (mount point, None), with
    (mount point, device) appended to mounts for unmount(); or (None, why)."""
    img, mnt = os.path.join(tmp, name + ".img"), os.path.join(tmp, name + "-fs")
    def run(*a):
        return subprocess.run(a, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    try:
        os.makedirs(mnt)
        with open(img, "wb") as f:
            f.truncate(4 << 30)
        run("mkfs.ext4", "-q", "-F", img)
        try:
            dev = run("losetup", "-f", "--show", "--direct-io=on", img).stdout.decode().strip()
        except subprocess.CalledProcessError:
            dev = run("losetup", "-f", "--show", img).stdout.decode().strip()
        try:
            run("mount", dev, mnt)
        except subprocess.CalledProcessError:
            run("losetup", "-d", dev)
            raise
        mounts.append((mnt, dev))
        os.chmod(mnt, 0o755)
        return mnt, None
    except (OSError, subprocess.SubprocessError) as e:
        err = (getattr(e, "stderr", b"") or b"").decode()[:100].strip()
        return None, "%s %s" % (type(e).__name__, err)


def unmount(mounts):
    """Detaches what loop_fs attached, last first; a mount still busy (a server's last
    process on its way out) gets three tries a second apart, then a lazy unmount.  The
    problems, as lines to log."""
    msgs = []
    while mounts:
        mnt, dev = mounts.pop()
        for t in range(4):
            cmd = ["umount", mnt] if t < 3 else ["umount", "-l", mnt]
            r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
            if r.returncode == 0:
                break
            time.sleep(1)
        else:
            msgs.append("umount %s: %s" % (mnt, r.stderr.decode().strip()[:200]))
        r = subprocess.run(["losetup", "-d", dev], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
        if r.returncode != 0:
            msgs.append("losetup -d %s: %s" % (dev, r.stderr.decode().strip()[:200]))
    return msgs
