"""The tests' client of a fork server (PROG -z, src/lib/zfork.h), speaking as tern-send
does: one SOCK_SEQPACKET packet per job, "L" id NUL fields..., with the message and the
result pipe attached; "R" id " " code back."""
import os, socket, subprocess


class ForkServer:
    def __init__(self, binp, home, log):
        self.a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.p = subprocess.Popen([binp, "-z"], stdin=b, stderr=open(log, "ab"))
        b.close()
        self.a.settimeout(20)
        self.msg = os.path.join(home, "zf-msg")

    def req(self, jid, rcpt, msg, qid, dtag=None, fds=True):
        """Delivery jid of msg to rcpt; the read end of its result pipe."""
        with open(self.msg, "wb") as f:
            f.write(msg)
        m = os.open(self.msg, os.O_RDONLY)
        r, w = os.pipe()
        fields = [str(jid), "a@b", rcpt, qid, dtag or qid + ".0", str(len(msg))]
        pk = b"L" + b"".join(x.encode() + b"\0" for x in fields)
        socket.send_fds(self.a, [pk], [m, w] if fds else [m])
        os.close(m)
        os.close(w)
        return r

    def answer(self):
        try:
            return self.a.recv(64).decode()
        except OSError as e:
            return "error %s" % e

    def close(self, limit=10):
        """Closes our end: the server's exit code, or None when it did not exit in time."""
        self.a.close()
        try:
            return self.p.wait(limit)
        except subprocess.TimeoutExpired:
            self.p.kill()
            return None


def result(r):
    """All of a result pipe, then closed."""
    out = b""
    while True:
        d = os.read(r, 512)
        if not d:
            break
        out += d
    os.close(r)
    return out.decode()
