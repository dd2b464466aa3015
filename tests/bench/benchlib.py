"""What every benchmark script needs: free loopback ports, waiting for a listener,
stopping the processes it started, and the PSS of running programs."""
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
