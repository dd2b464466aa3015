#!/usr/bin/env python3
"""POP3 checks for t-pop3d.sh: python3 pop3dlg.py CASE [ARGS...] prints "ok - ..." and
"not ok - ..." lines.  Ports and paths come from the environment the test sets:
P110 (STLS through tern-tlsd), P995 (implicit TLS), PPLAIN (no tern-tlsd), PW (the
users' password), MAILHOME (TERN_HOME/mail/example.test), OWNER ("uid:gid" of the
mailboxes)."""
import base64, hashlib, os, poplib, socket, ssl, sys, time

P110, P995, PPLAIN = (int(os.environ.get(k, "0")) for k in ("P110", "P995", "PPLAIN"))
PW = os.environ.get("PW", "")
MAILHOME = os.environ.get("MAILHOME", "")
UID, GID = (int(x) for x in os.environ.get("OWNER", "%d:%d" % (os.getuid(), os.getgid())).split(":"))
poplib._MAXLINE = 1 << 20	# a test message has a 20,000-byte line
CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE

failed = 0


def check(what, cond, detail=""):
    global failed
    if cond:
        print("ok - " + what)
    else:
        failed += 1
        print("not ok - " + what + (" (%s)" % (detail,) if detail != "" else ""))


def maildir(user):
    return os.path.join(MAILHOME, user, "Maildir")


def files(user, sub=None):
    """Names in cur/ and new/ of a user's Maildir (dot files left out)."""
    out = []
    for s in ([sub] if sub else ["cur", "new"]):
        d = os.path.join(maildir(user), s)
        out += [s + "/" + n for n in sorted(os.listdir(d)) if not n.startswith(".")]
    return out


def crlf(b):
    """The CRLF form tern-pop3d-box sends (pop3.h): bare LF to CRLF, CRLF at the end."""
    out = bytearray()
    prev = 0
    for c in b:
        if c == 10 and prev != 13:
            out += b"\r"
        out.append(c)
        prev = c
    if b and not b.endswith(b"\n"):
        out += b"\r\n"
    return bytes(out)


def joined(lines):
    """poplib's lines (dot-stuffing undone) back into the bytes of the message."""
    return b"".join(l + b"\r\n" for l in lines)


def login_tls(port=None, user="demo@example.test", implicit=True):
    if implicit:
        p = poplib.POP3_SSL("127.0.0.1", port or P995, context=CTX, timeout=20)
    else:
        p = poplib.POP3("127.0.0.1", port or P110, timeout=20)
        p.stls(context=CTX)
    p.user(user)
    p.pass_(PW)
    return p


def err(fn, *a):
    """The -ERR text of a poplib call, or "" when it succeeded."""
    try:
        fn(*a)
        return ""
    except poplib.error_proto as e:
        return e.args[0].decode("latin-1") if isinstance(e.args[0], bytes) else str(e.args[0])


class Raw:
    """A raw dialogue: plain socket, or TLS on P995."""

    def __init__(self, port, tls=False):
        s = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.s = CTX.wrap_socket(s) if tls else s
        self.f = self.s.makefile("rb")
        self.greeting = self.line()

    def line(self):
        l = self.f.readline()
        return l.decode("latin-1").rstrip("\r\n") if l else "#EOF"

    def cmd(self, c):
        self.s.sendall((c + "\r\n").encode("latin-1") if isinstance(c, str) else c + b"\r\n")
        return self.line()

    def multi(self, c):
        r = self.cmd(c)
        lines = []
        if r.startswith("+OK"):
            while True:
                l = self.line()
                if l in (".", "#EOF"):
                    break
                lines.append(l)
        return r, lines

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def plain(user, pw, authz=""):
    return base64.b64encode(("%s\0%s\0%s" % (authz, user, pw)).encode()).decode()


def fresh(r=None):
    """Ends r (if any) with QUIT; a new raw session on P995, logged in as demo."""
    if r:
        r.cmd("QUIT")
        r.close()
    r = Raw(P995, tls=True)
    r.cmd("AUTH PLAIN " + plain("demo@example.test", PW))
    return r


# ---- the cases ----

def case_basic():
    """STLS with poplib; every message's LIST size and RETR bytes against its file."""
    user = "demo"
    p = poplib.POP3("127.0.0.1", P110, timeout=20)
    caps = p.capa()
    check("CAPA before STLS offers STLS", "STLS" in caps, caps)
    check("  ... but neither USER nor SASL (logins only inside TLS)", "USER" not in caps and "SASL" not in caps, caps)
    check("  ... and RESP-CODES, AUTH-RESP-CODE, TOP, UIDL, PIPELINING",
          all(k in caps for k in ("RESP-CODES", "AUTH-RESP-CODE", "TOP", "UIDL", "PIPELINING")), caps)
    r = p.stls(context=CTX)
    check("STLS through tern-tlsd", r.startswith(b"+OK"), r)
    caps = p.capa()
    check("CAPA inside TLS offers USER and SASL PLAIN, not STLS",
          "USER" in caps and caps.get("SASL") == ["PLAIN"] and "STLS" not in caps, caps)
    p.user("demo@example.test")
    r = p.pass_(PW)
    check("USER/PASS inside TLS", r.startswith(b"+OK"), r)
    check("at login new/ moved to cur/", files(user, "new") == [], files(user, "new"))
    names = [f for f in files(user, "cur")]
    n, size = p.stat()
    check("STAT counts every message", n == len(names), (n, names))
    _, lst, _ = p.list()
    sizes = [int(l.split()[1]) for l in lst]
    check("  ... and its size is the sum of LIST's", sum(sizes) == size, (sizes, size))
    good = True
    for i in range(1, n + 1):
        _, lines, _ = p.retr(i)
        got = joined(lines)
        if sizes[i - 1] != len(got):
            good = False
            print("# message %d: LIST %d, RETR %d bytes" % (i, sizes[i - 1], len(got)))
    check("LIST sizes == len(RETR bytes) in CRLF form, for every message", good)
    # The files, in the server's order (oldest first), against what RETR gave.
    by_uidl = {}
    _, ul, _ = p.uidl()
    for l in ul:
        k, u = l.decode().split(" ", 1)
        by_uidl[u] = int(k)
    good = True
    for f in names:
        raw = open(os.path.join(maildir(user), f), "rb").read()
        u = f.split("/", 1)[1].split(":", 1)[0].split(",W=")[0]
        k = by_uidl.get(u)
        if k is None:
            good = False
            print("# no UIDL %s" % u)
            continue
        _, lines, _ = p.retr(k)
        if joined(lines) != crlf(raw):
            good = False
            print("# message %d (%s) differs" % (k, f))
    check("RETR bytes are the file's, LF to CRLF, dot-stuffing undone by poplib", good)
    _, lines, _ = p.top(1, 0)
    check("TOP 1 0: the header and the empty line", lines and lines[-1] == b"" and b"" not in lines[:-1], lines)
    _, lines1, _ = p.top(1, 1)
    check("TOP 1 1: one body line more", len(lines1) == len(lines) + 1, (lines, lines1))
    _, full, _ = p.retr(1)
    _, big, _ = p.top(1, 10 ** 30)
    check("TOP with a huge count is the whole message", big == full)
    r = p.noop()
    check("NOOP", r.startswith(b"+OK"))
    p.quit()
    return [l.decode() for l in ul]


def case_uidl_again(first):
    """UIDLs again, on the implicit-TLS port: the same as in the first session."""
    p = login_tls()
    _, ul, _ = p.uidl()
    ul = [l.decode() for l in ul]
    check("UIDL the same in a second session (another listener, another process)", ul == first.split("|"),
          (ul, first))
    good = all(0 < len(l.split(" ", 1)[1]) <= 70 and all(0x21 <= ord(c) <= 0x7e for c in l.split(" ", 1)[1]) for l in ul)
    check("every UIDL is 1..70 bytes of 0x21..0x7E", good, ul)
    check("UIDLs are unique", len(set(l.split(" ", 1)[1] for l in ul)) == len(ul))
    r = p.uidl(1)
    check("UIDL 1", r.split()[1:] == ul[0].encode().split(), (r, ul[0]))
    p.quit()


def case_auth():
    """AUTH PLAIN with an initial response and with the continuation; AUTH listing."""
    r = Raw(P995, tls=True)
    check("POP3_SSL-style implicit TLS greeting", r.greeting.startswith("+OK"), r.greeting)
    st, mechs = r.multi("AUTH")
    check("AUTH alone lists PLAIN", st.startswith("+OK") and mechs == ["PLAIN"], (st, mechs))
    x = r.cmd("AUTH PLAIN " + plain("demo@example.test", PW))
    check("AUTH PLAIN with an initial response", x.startswith("+OK"), x)
    x = r.cmd("STAT")
    check("  ... STAT after it", x.startswith("+OK "), x)
    r.cmd("QUIT")
    r.close()
    r = Raw(P995, tls=True)
    x = r.cmd("AUTH PLAIN")
    check("AUTH PLAIN without one: the \"+ \" continuation", x == "+ ", repr(x))
    x = r.cmd(plain("demo@example.test", PW))
    check("  ... and the response logs in", x.startswith("+OK"), x)
    r.cmd("QUIT")
    r.close()
    r = Raw(P995, tls=True)
    r.cmd("AUTH PLAIN")
    x = r.cmd("*")
    check("AUTH PLAIN cancelled with *", x.startswith("-ERR"), x)
    x = r.cmd("AUTH PLAIN !!notbase64")
    check("bad base64 -> -ERR", x.startswith("-ERR"), x)
    x = r.cmd("AUTH PLAIN " + plain("demo@example.test", "wrong"))
    check("AUTH PLAIN, wrong password -> -ERR [AUTH]", x.startswith("-ERR [AUTH]"), x)
    x = r.cmd("AUTH PLAIN " + plain("demo@example.test", PW, "bob@example.test"))
    check("AUTH PLAIN for another authzid -> -ERR [AUTH]", x.startswith("-ERR [AUTH]"), x)
    x = r.cmd("AUTH CRAM-MD5")
    check("AUTH CRAM-MD5 -> -ERR", x.startswith("-ERR"), x)
    x = r.cmd("APOP demo@example.test 0123456789abcdef0123456789abcdef")
    check("APOP -> -ERR", x.startswith("-ERR"), x)
    x = r.cmd("USER demo@example.test")
    x = r.cmd("PASS " + PW + "x")
    check("third failed login: -ERR [AUTH]", x.startswith("-ERR [AUTH]"), x)
    check("  ... and the connection is closed", r.line() == "#EOF")
    r.close()
    r = Raw(P995, tls=True)
    r.cmd("USER demo@example.test")
    x = r.cmd("PASS " + PW + "x")
    check("wrong password -> -ERR [AUTH]", x.startswith("-ERR [AUTH]"), x)
    r.cmd("USER demo@example.test")
    x = r.cmd("PASS " + PW)
    check("  ... and the client may try again, and get in", x.startswith("+OK"), x)
    r.cmd("QUIT")
    r.close()
    r = Raw(P995, tls=True)
    x = r.cmd("USER nobody@example.test")
    check("USER of an unknown user: +OK (no hint)", x.startswith("+OK"), x)
    x = r.cmd("PASS " + PW)
    check("  ... PASS -> -ERR [AUTH]", x.startswith("-ERR [AUTH]"), x)
    x = r.cmd("PASS " + PW)
    check("PASS without USER -> -ERR", x.startswith("-ERR") and "[AUTH]" not in x, x)
    r.close()


def case_dele():
    """DELE + QUIT deletes; DELE and a dropped connection deletes nothing; RSET; DELE twice."""
    user = "demo"
    before = files(user)
    r = Raw(P995, tls=True)
    r.cmd("AUTH PLAIN " + plain("demo@example.test", PW))
    x = r.cmd("DELE 1")
    check("DELE 1", x.startswith("+OK"), x)
    x = r.cmd("DELE 1")
    check("DELE 1 twice -> -ERR", x.startswith("-ERR"), x)
    x = r.cmd("RETR 1")
    check("RETR of a deleted message -> -ERR", x.startswith("-ERR"), x)
    x = r.cmd("LIST 1")
    check("LIST of a deleted message -> -ERR", x.startswith("-ERR"), x)
    st, lst = r.multi("LIST")
    check("LIST leaves it out", not any(l.startswith("1 ") for l in lst), lst)
    x = r.cmd("STAT")
    check("STAT counts one less", x.split()[1] == str(len(before) - 1), x)
    r.close()  # dropped, no QUIT
    time.sleep(0.3)
    check("DELE and a dropped connection deletes nothing", files(user) == before, (files(user), before))
    r = Raw(P995, tls=True)
    r.cmd("AUTH PLAIN " + plain("demo@example.test", PW))
    r.cmd("DELE 1")
    r.cmd("DELE 2")
    x = r.cmd("RSET")
    check("RSET", x.startswith("+OK") and str(len(before)) in x, x)
    x = r.cmd("STAT")
    check("  ... unmarks: STAT counts all again", x.split()[1] == str(len(before)), x)
    x = r.cmd("QUIT")
    check("QUIT after RSET", x.startswith("+OK"), x)
    time.sleep(0.2)
    check("  ... deleted nothing", files(user) == before)
    p = login_tls()
    _, ul, _ = p.uidl()
    p.dele(1)
    r2 = p.quit()
    check("DELE 1 and QUIT: +OK", r2.startswith(b"+OK"), r2)
    after = files(user)
    check("  ... deleted exactly that message", len(after) == len(before) - 1 and set(after) < set(before),
          (before, after))
    p = login_tls()
    _, ul2, _ = p.uidl()
    p.quit()
    check("  ... and the others keep their UIDLs", [l.split()[1] for l in ul2] == [l.split()[1] for l in ul[1:]])


def case_badargs():
    """Missing, non-numeric, zero, negative, too-large arguments; wrong states; unknown
    commands; overlong lines.  Each -ERR, and the session goes on."""
    r = Raw(P995, tls=True)
    x = r.cmd("STAT")
    check("STAT before login -> -ERR", x.startswith("-ERR"), x)
    x = r.cmd("RETR 1")
    check("RETR before login -> -ERR", x.startswith("-ERR"), x)
    x = r.cmd("NOOP")
    check("NOOP before login -> -ERR", x.startswith("-ERR"), x)
    x = r.cmd("XYZZY")
    check("unknown command before login -> -ERR", x.startswith("-ERR"), x)
    x = r.cmd("U" * 300)
    check("overlong line before login -> -ERR", x.startswith("-ERR"), x)
    x = r.cmd("AUTH PLAIN " + plain("demo@example.test", PW))
    check("  ... and then a login works", x.startswith("+OK"), x)
    n = int(r.cmd("STAT").split()[1])
    good = True
    sent = 0
    for c in ("RETR", "DELE", "TOP"):
        for a in ("", " x", " 0", " -1", " +1", " 1x", " 0x1", " %d" % (n + 1), " 99999999999999999999999999", " 1.0",
                  "  ", " \xff"):
            if sent == 8:
                # Start over: the bad-command limit (10) counts these.
                r = fresh(r)
                sent = 0
            extra = " 1" if c == "TOP" and a.strip() else ""
            x = r.cmd(c + a + extra)
            y = r.cmd("NOOP")
            sent += 1
            if not x.startswith("-ERR") or y != "+OK":
                good = False
                print("# %r -> %r, then NOOP %r" % (c + a + extra, x, y))
    check("RETR/DELE/TOP with missing, non-numeric, zero, negative, signed, too-large args: -ERR, session goes on",
          good)
    r = fresh(r)
    x = r.cmd("TOP 1 -1")
    check("TOP 1 -1 -> -ERR", x.startswith("-ERR"), x)
    x = r.cmd("TOP 1 x")
    check("TOP 1 x -> -ERR", x.startswith("-ERR"), x)
    x = r.cmd("TOP 1")
    check("TOP 1 (no count) -> -ERR", x.startswith("-ERR"), x)
    x = r.cmd("RETR 1 2")
    check("RETR 1 2 -> -ERR", x.startswith("-ERR"), x)
    x = r.cmd("RETR 01")
    check("RETR 01 is message 1", x.startswith("+OK"), x)
    while r.line() != ".":
        pass
    r = fresh(r)
    x = r.cmd("USER demo@example.test")
    check("USER after login -> -ERR", x.startswith("-ERR"), x)
    x = r.cmd("PASS x")
    check("PASS after login -> -ERR", x.startswith("-ERR"), x)
    x = r.cmd("STLS")
    check("STLS after login -> -ERR", x.startswith("-ERR"), x)
    x = r.cmd("FOO")
    check("unknown command after login -> -ERR", x.startswith("-ERR"), x)
    x = r.cmd("LIST " + "1" * 300)
    check("overlong line after login -> -ERR", x.startswith("-ERR") and "too long" in x, x)
    x = r.cmd("NOOP")
    check("  ... and the session goes on", x == "+OK", x)
    x = r.cmd(b"NO\x00OP")
    check("a NUL in a command -> -ERR", x.startswith("-ERR"), x)
    x = r.cmd("stat")
    check("commands in lower case", x.startswith("+OK"), x)
    st, caps = r.multi("CAPA")
    check("CAPA after login: no USER, SASL or STLS", st.startswith("+OK") and "TOP" in caps and
          not any(c.startswith(("USER", "SASL", "STLS")) for c in caps), caps)
    n = 0
    while True:
        x = r.cmd("BOGUS")
        n += 1
        if "bad commands" in x or x == "#EOF" or n > 20:
            break
    rest = r.line()
    check("the bad-command limit closes the session", "bad commands" in x and rest in ("#EOF", "-ERR too many bad commands, closing"),
          (n, x, rest))
    r.close()


def case_lf():
    """A client that ends its lines with a bare LF, and pipelining."""
    s = socket.create_connection(("127.0.0.1", P995), timeout=20)
    s = CTX.wrap_socket(s)
    f = s.makefile("rb")
    f.readline()
    s.sendall(("AUTH PLAIN %s\r\nSTAT\nNOOP\r\nQUIT\r\n" % plain("demo@example.test", PW)).encode())
    got = [f.readline().decode().rstrip("\r\n") for _ in range(4)]
    check("pipelined commands after the login reach the mailbox part (and bare LF ends a line)",
          got[0].startswith("+OK") and got[1].startswith("+OK ") and got[2] == "+OK" and got[3].startswith("+OK"), got)
    s.close()


def case_inuse():
    a = login_tls()
    r = Raw(P995, tls=True)
    x = r.cmd("AUTH PLAIN " + plain("demo@example.test", PW))
    check("a second session for the mailbox -> -ERR [IN-USE]", x.startswith("-ERR [IN-USE]"), x)
    a.quit()
    time.sleep(0.2)
    x = r.cmd("AUTH PLAIN " + plain("demo@example.test", PW))
    check("  ... and once the first has quit, the same connection gets in", x.startswith("+OK"), x)
    r.cmd("QUIT")
    r.close()
    # A dropped session releases the lock too.
    a = login_tls()
    a.file.close()
    a.sock.close()
    for _ in range(50):
        time.sleep(0.1)
        r = Raw(P995, tls=True)
        x = r.cmd("AUTH PLAIN " + plain("demo@example.test", PW))
        r.cmd("QUIT")
        r.close()
        if not x.startswith("-ERR [IN-USE]"):
            break
    check("a dropped session releases the lock", x.startswith("+OK"), x)


def case_removed():
    """A message removed by another program during the session."""
    user = "demo"
    p = login_tls()
    n, _ = p.stat()
    victim = files(user, "cur")[-1]
    _, ul, _ = p.uidl()
    os.unlink(os.path.join(maildir(user), victim))
    # The server sorts oldest first and names are time-ordered: the victim is message n.
    e1 = err(p.retr, n)
    check("RETR of a message removed by another program -> -ERR", e1.startswith("-ERR"), e1)
    e2 = err(p.top, n, 0)
    check("  ... TOP too", e2.startswith("-ERR"), e2)
    check("  ... and the session goes on (NOOP)", p.noop().startswith(b"+OK"))
    _, lines, _ = p.retr(1)
    check("  ... RETR of another works", len(lines) > 0)
    # Renamed (flags changed) by another program: still served.
    other = files(user, "cur")[0]
    os.rename(os.path.join(maildir(user), other), os.path.join(maildir(user), other.split(":")[0] + ":2,S"))
    _, lines2, _ = p.retr(1)
    check("a message renamed by another program (new flags) is still served", lines2 == lines)
    p.dele(n)
    r = p.quit()
    check("DELE of the removed message, QUIT: +OK", r.startswith(b"+OK"), r)


def case_names():
    """Malformed Maildir file names: skipped or served safely."""
    user = "odd"
    md = maildir(user)
    p = login_tls(user="odd@example.test")
    n, size = p.stat()
    _, ul, _ = p.uidl()
    uidls = [l.split(b" ", 1)[1].decode("latin-1") for l in ul]
    check("odd names: the regular files served, dot files, symlinks and directories skipped", n == 6, (n, files(user)))
    good = all(0 < len(u) <= 70 and all(0x21 <= ord(c) <= 0x7e for c in u) for u in uidls)
    check("  ... every UIDL 1..70 printable bytes (long and odd names hashed)", good, uidls)
    check("  ... all different", len(set(uidls)) == len(uidls), uidls)
    check("  ... a normal name keeps its unique part as UIDL", "1700000000.M1P1.normal" in uidls, uidls)
    _, lst, _ = p.list()
    good = True
    for i in range(1, n + 1):
        _, lines, _ = p.retr(i)
        if len(joined(lines)) != int(lst[i - 1].split()[1]):
            good = False
    check("  ... each one retrievable with its LIST size", good)
    p.quit()
    p = login_tls(user="odd@example.test")
    _, ul2, _ = p.uidl()
    p.quit()
    check("  ... and the same UIDLs next time", ul2 == ul, (ul, ul2))


def case_cleartext(mode):
    """Logins before STLS (P110) and without any TLS (PPLAIN): refused, or allowed."""
    for port, what in ((P110, "before STLS"), (PPLAIN, "without tern-tlsd")):
        r = Raw(port)
        st, caps = r.multi("CAPA")
        x = r.cmd("USER demo@example.test")
        y = r.cmd("AUTH PLAIN " + plain("demo@example.test", PW))
        if mode == "refused":
            check("USER %s: -ERR [AUTH]" % what, x.startswith("-ERR [AUTH]"), x)
            check("  ... AUTH too", y.startswith("-ERR [AUTH]"), y)
            check("  ... and CAPA has no USER", "USER" not in caps, caps)
        else:
            check("pop3cleartext=1: USER %s accepted" % what, x.startswith("+OK"), x)
            check("  ... and AUTH PLAIN logs in", y.startswith("+OK"), y)
            check("  ... CAPA has USER", "USER" in caps, caps)
            r.cmd("QUIT")
        r.close()


def case_timeout(where):
    r = Raw(P995, tls=True)
    if where == "after":
        r.cmd("AUTH PLAIN " + plain("demo@example.test", PW))
    t0 = time.time()
    x = r.line()
    check("idle timeout %s login: closed with -ERR after about a second" % where,
          x.startswith("-ERR") and time.time() - t0 < 5, (x, time.time() - t0))
    r.close()


def case_big():
    t0 = time.time()
    p = login_tls(user="big@example.test")
    n, size = p.stat()
    t1 = time.time()
    _, ul, _ = p.uidl()
    t2 = time.time()
    p.quit()
    print("# 10000 messages: login+STAT %.2f s, UIDL %.2f s (first login: moves new/ to cur/)" % (t1 - t0, t2 - t1))
    check("10,000-message mailbox: STAT counts them all", n == 10000, n)
    check("  ... UIDL lists them all", len(ul) == 10000, len(ul))
    check("  ... login, STAT and UIDL within 30 s", t2 - t0 < 30, t2 - t0)
    t0 = time.time()
    p = login_tls(user="big@example.test")
    n2, size2 = p.stat()
    _, ul2, _ = p.uidl()
    t1 = time.time()
    p.quit()
    print("# 10000 messages again: login+STAT+UIDL %.2f s" % (t1 - t0))
    check("  ... second login the same, within 30 s", (n2, size2, ul2) == (n, size, ul) and t1 - t0 < 30)


def case_compare(src, got, added=""):
    """Every file of directory src has a byte-identical twin among the files under got,
    once the header line the client adds itself (added, e.g. getmail's Return-Path) is
    taken off."""
    want = sorted(hashlib.sha256(open(os.path.join(src, f), "rb").read()).hexdigest() for f in os.listdir(src))
    have = []
    pre = added.encode() + b"\n" if added else b""
    for root, _, fs in os.walk(got):
        for f in fs:
            b = open(os.path.join(root, f), "rb").read()
            if pre and b.startswith(pre):
                b = b[len(pre):]
            have.append(hashlib.sha256(b).hexdigest())
    check("fetched messages are byte-identical to those delivered (%d)%s" % (len(want), " but for its " + added if added else ""),
          sorted(have) == want, "%d fetched, %d delivered" % (len(have), len(want)))


def main():
    c = sys.argv[1]
    a = sys.argv[2:]
    if c == "basic":
        ul = case_basic()
        with open(a[0], "w") as f:
            f.write("|".join(ul))
    elif c == "uidl":
        case_uidl_again(open(a[0]).read())
    else:
        globals()["case_" + c](*a)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:
        import traceback
        traceback.print_exc(file=sys.stdout)
        print("not ok - %s: %s: %s" % (sys.argv[1], type(e).__name__, e))
        sys.exit(1)
