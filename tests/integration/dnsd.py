#!/usr/bin/env python3
"""A tiny DNS server with canned answers, for tests that resolve names (tern-remote).

usage: dnsd.py ZONEFILE [--addr 127.0.0.1] [--port 53] [--pidfile F] [--log F]

It answers like a recursive resolver would (RA set, CNAME chains followed here and the whole
chain put in the answer section), over UDP and TCP (2-byte length prefix, several queries
per connection) on ADDR:PORT.  A UDP answer over 512 bytes is cut to the whole records that
fit and gets TC, so the client retries over TCP.  EDNS0 is ignored.  TTL is always 60.
The pidfile is written once both sockets listen: wait for it before querying.

Zone file, re-read whenever its mtime, size or inode changes (write a new one and mv it
into place: that is atomic and always noticed); one line per record:
    # comment
    example.test       MX 10 mx1.example.test
    nullmx.test        MX 0 .                     null MX (RFC 7505)
    mx1.example.test   A 127.0.0.2
    mx1.example.test   AAAA ::1
    alias.test         CNAME mx1.example.test
    example.test       TXT v=spf1 -all            rest of the line; "quotes" are stripped
    broken.test        SERVFAIL                   every query for it: rcode 2
    refused.test       REFUSED                    rcode 5
    black.test         TIMEOUT                    no answer at all
    slow.test          DELAY 3                    its normal answer, 3 seconds late
Names are case-insensitive, the trailing dot is optional.  A name with no line at all is
NXDOMAIN (rcode 3, no SOA); a name with some line but none of the queried type is NODATA
(rcode 0, empty answer).  Special lines apply to CNAME targets too.

Log (--log F, else stderr), one line per query:  qname qtype rcode nanswers
e.g. "example.test MX 0 1"; a TIMEOUT query logs rcode "timeout"; a UDP answer sent
truncated adds " TC" and a query that came over TCP adds " tcp".
"""
import argparse
import os
import signal
import socket
import struct
import sys
import threading
import time

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16,
         "AAAA": 28, "SRV": 33, "ANY": 255}
TYPENAMES = {v: k for k, v in TYPES.items()}
SPECIALS = ("SERVFAIL", "REFUSED", "TIMEOUT", "DELAY")
TTL = 60


def norm(name):
    name = name.strip().lower()
    if name.endswith(".") and name != ".":
        name = name[:-1]
    return name


class Zone:
    """records: name -> list of (type, rdata-spec); special: name -> (kind, arg)."""

    def __init__(self, path):
        self.path = path
        self.sig = None
        self.records = {}
        self.special = {}
        self.lock = threading.Lock()

    def maybe_reload(self, log):
        try:
            st = os.stat(self.path)
        except OSError as e:
            log("# zone: %s" % e)
            return
        sig = (st.st_mtime_ns, st.st_size, st.st_ino)
        if sig == self.sig:
            return
        try:
            records, special = self.parse(self.path)
        except (OSError, ValueError) as e:
            log("# zone: %s (keeping the old zone)" % e)
            return
        with self.lock:
            self.records, self.special, self.sig = records, special, sig

    @staticmethod
    def parse(path):
        records, special = {}, {}
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                parts = line.split(None, 2)
                if len(parts) < 2:
                    raise ValueError("%s:%d: need 'name TYPE value'" % (path, n))
                name, kind = norm(parts[0]), parts[1].upper()
                val = parts[2].strip() if len(parts) > 2 else ""
                records.setdefault(name, [])	# the name exists from now on
                if kind in SPECIALS:
                    arg = float(val) if kind == "DELAY" else None
                    special[name] = (kind, arg)
                    continue
                if kind not in TYPES or kind == "ANY":
                    raise ValueError("%s:%d: unknown type %s" % (path, n, kind))
                if not val:
                    raise ValueError("%s:%d: %s needs a value" % (path, n, kind))
                try:
                    rdata = encode_rdata(kind, val)
                except (OSError, ValueError) as e:
                    raise ValueError("%s:%d: bad %s value %r: %s" % (path, n, kind, val, e))
                records[name].append((TYPES[kind], rdata))
        return records, special

    def lookup(self, qname, qtype):
        """-> (action, delay, rcode, answers): action "answer" or "timeout"; answers are
        (owner, type, rdata-spec)."""
        with self.lock:
            records, special = self.records, self.special
        answers, delay, name, seen = [], 0.0, qname, set()
        while True:
            kind, arg = special.get(name, (None, None))
            if kind == "TIMEOUT":
                return "timeout", 0, None, []
            if kind == "SERVFAIL":
                return "answer", delay, 2, []
            if kind == "REFUSED":
                return "answer", delay, 5, []
            if kind == "DELAY":
                delay += arg
            if name not in records:
                return "answer", delay, 3, answers
            rrs = records[name]
            cnames = [r for r in rrs if r[0] == 5]
            if cnames and qtype not in (5, 255) and name not in seen and len(seen) < 16:
                seen.add(name)
                answers.append((name, 5, cnames[0][1]))
                name = cnames[0][1][1]		# follow the chain
                continue
            answers += [(name, t, r) for t, r in rrs if qtype in (t, 255)]
            return "answer", delay, 0, answers


def encode_rdata(kind, val):
    """Rdata spec: ("raw", bytes) or ("name", domain) or ("mx", pref, domain)."""
    if kind == "A":
        return ("raw", socket.inet_pton(socket.AF_INET, val))
    if kind == "AAAA":
        return ("raw", socket.inet_pton(socket.AF_INET6, val))
    if kind in ("CNAME", "NS", "PTR"):
        return ("name", norm(val))
    if kind == "MX":
        pref, host = val.split()
        pref = int(pref)
        if not 0 <= pref <= 65535:
            raise ValueError("preference out of range")
        return ("mx", pref, norm(host))
    if kind == "TXT":
        if len(val) >= 2 and val[0] == val[-1] == '"':
            val = val[1:-1]
        b = val.encode()
        chunks = [b[i:i + 255] for i in range(0, len(b), 255)] or [b""]
        return ("raw", b"".join(bytes([len(c)]) + c for c in chunks))
    raise ValueError("type %s is not supported" % kind)


class Packet:
    """Builds a response with name compression (every suffix already written is reused)."""

    def __init__(self):
        self.buf = bytearray()
        self.names = {}		# lower-case suffix -> offset

    def name(self, name):
        labels = [] if name in ("", ".") else name.split(".")
        for i in range(len(labels)):
            suffix = ".".join(labels[i:]).lower()
            if suffix in self.names:
                self.buf += struct.pack(">H", 0xC000 | self.names[suffix])
                return
            if len(self.buf) < 0x3FFF:
                self.names[suffix] = len(self.buf)
            lab = labels[i].encode()
            if not 0 < len(lab) < 64:
                raise ValueError("bad label in %r" % name)
            self.buf += bytes([len(lab)]) + lab
        self.buf.append(0)

    def rr(self, owner, rtype, spec):
        self.name(owner)
        self.buf += struct.pack(">HHIH", rtype, 1, TTL, 0)
        lenpos = len(self.buf) - 2
        if spec[0] == "raw":
            self.buf += spec[1]
        elif spec[0] == "name":
            self.name(spec[1])
        else:
            self.buf += struct.pack(">H", spec[1])
            self.name(spec[2])
        struct.pack_into(">H", self.buf, lenpos, len(self.buf) - lenpos - 2)


def parse_query(data):
    """-> (id, flags, qname-lower, qtype, question-bytes) or None for anything malformed."""
    if len(data) < 12:
        return None
    qid, flags, qd = struct.unpack(">HHH", data[:6])
    if flags & 0x8000 or qd != 1:
        return None
    pos, labels = 12, []
    while True:
        if pos >= len(data):
            return None
        n = data[pos]
        pos += 1
        if n == 0:
            break
        if n >= 64 or pos + n > len(data):	# compression in a question: not from resolvers
            return None
        labels.append(data[pos:pos + n].decode("latin-1"))
        pos += n
    if pos + 4 > len(data):
        return None
    qtype, qclass = struct.unpack(">HH", data[pos:pos + 4])
    qname = ".".join(labels).lower() or "."
    return qid, flags, qname, qtype, bytes(data[12:pos + 4])


def respond(zone, data, tcp, log):
    """-> (delay, response bytes) or None when nothing is to be sent."""
    q = parse_query(data)
    if q is None:
        return None
    qid, qflags, qname, qtype, question = q
    tname = TYPENAMES.get(qtype, str(qtype))
    opcode = (qflags >> 11) & 15
    if opcode != 0:
        action, delay, rcode, answers = "answer", 0, 4, []
    else:
        action, delay, rcode, answers = zone.lookup(qname, qtype)
    if action == "timeout":
        log("%s %s timeout 0%s" % (qname, tname, " tcp" if tcp else ""))
        return None
    p = Packet()
    # QR AA RA, opcode and RD copied from the query
    flags = 0x8000 | 0x0400 | 0x0080 | (qflags & 0x7800) | (qflags & 0x0100) | rcode
    p.buf += struct.pack(">HHHHHH", qid, flags, 1, 0, 0, 0)
    p.buf += question
    p.names[qname] = 12
    ends = []
    for owner, rtype, spec in answers:
        p.rr(owner, rtype, spec)
        ends.append(len(p.buf))
    n, tc = len(ends), False
    if not tcp and len(p.buf) > 512:
        n = sum(1 for e in ends if e <= 512)
        del p.buf[ends[n - 1] if n else 12 + len(question):]
        struct.pack_into(">H", p.buf, 2, flags | 0x0200)
        tc = True
    struct.pack_into(">H", p.buf, 6, n)
    log("%s %s %d %d%s%s" % (qname, tname, rcode, len(ends), " TC" if tc else "",
                              " tcp" if tcp else ""))
    return delay, bytes(p.buf)


def serve_udp(sock, zone, log):
    while True:
        try:
            data, peer = sock.recvfrom(65535)
        except OSError:
            continue
        zone.maybe_reload(log)
        try:
            r = respond(zone, data, False, log)
        except ValueError as e:
            log("# %s" % e)
            continue
        if r is None:
            continue
        delay, out = r
        if delay > 0:
            threading.Timer(delay, sock.sendto, (out, peer)).start()
        else:
            try:
                sock.sendto(out, peer)
            except OSError:
                pass


def recv_exact(conn, n):
    buf = b""
    while len(buf) < n:
        d = conn.recv(n - len(buf))
        if not d:
            return None
        buf += d
    return buf


def serve_tcp_conn(conn, zone, log):
    with conn:
        try:
            while True:
                hdr = recv_exact(conn, 2)
                if hdr is None:
                    return
                data = recv_exact(conn, struct.unpack(">H", hdr)[0])
                if data is None:
                    return
                zone.maybe_reload(log)
                try:
                    r = respond(zone, data, True, log)
                except ValueError as e:
                    log("# %s" % e)
                    continue
                if r is None:
                    continue
                delay, out = r
                if delay > 0:
                    time.sleep(delay)
                conn.sendall(struct.pack(">H", len(out)) + out)
        except OSError:
            return


def serve_tcp(lsock, zone, log):
    while True:
        try:
            conn, _ = lsock.accept()
        except OSError:
            continue
        threading.Thread(target=serve_tcp_conn, args=(conn, zone, log), daemon=True).start()


def main():
    ap = argparse.ArgumentParser(description="canned-answer DNS server for tests")
    ap.add_argument("zonefile")
    ap.add_argument("--addr", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=53)
    ap.add_argument("--pidfile")
    ap.add_argument("--log")
    a = ap.parse_args()

    out = open(a.log, "a", buffering=1) if a.log else sys.stderr
    loglock = threading.Lock()

    def log(line):
        with loglock:
            out.write(line + "\n")
            out.flush()

    zone = Zone(a.zonefile)
    try:
        zone.records, zone.special = Zone.parse(a.zonefile)
        st = os.stat(a.zonefile)
        zone.sig = (st.st_mtime_ns, st.st_size, st.st_ino)
    except (OSError, ValueError) as e:
        sys.exit("dnsd: %s" % e)

    fam = socket.AF_INET6 if ":" in a.addr else socket.AF_INET
    try:
        us = socket.socket(fam, socket.SOCK_DGRAM)
        us.bind((a.addr, a.port))
        ts = socket.socket(fam, socket.SOCK_STREAM)
        ts.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ts.bind((a.addr, a.port))
        ts.listen(64)
    except OSError as e:
        sys.exit("dnsd: cannot listen on %s port %d: %s" % (a.addr, a.port, e))

    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    threading.Thread(target=serve_tcp, args=(ts, zone, log), daemon=True).start()
    if a.pidfile:
        with open(a.pidfile + ".tmp", "w") as f:
            f.write("%d\n" % os.getpid())
        os.rename(a.pidfile + ".tmp", a.pidfile)
    try:
        serve_udp(us, zone, log)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
