#!/usr/bin/env python3
"""SMTP dialogues over TLS, and hostile TLS clients, for t-tls.sh (stdlib only).

usage: tlsdlg.py [-n] [-t SECONDS] [-i] [-sni NAME] PORT STEP...

Connects to 127.0.0.1:PORT; with -i does the TLS handshake first (implicit TLS); then
reads the greeting (not with -n) and runs the steps:
  +N          wait for N more complete replies (a line "ddd " or "ddd" ends a reply)
  eof         read until the server closes the connection (or the timeout)
  tls         the TLS handshake now (after a STARTTLS the dialogue sent itself); prints
              "#TLS VERSION CIPHER", or "#TLSFAIL reason" and stops
  tls11       a handshake offering TLS 1.0 and 1.1 only (OpenSSL's own, any cipher it has)
  hello:VER   a raw ClientHello whose highest version is VER (hex, 0303 = TLS 1.2, 0302 =
              1.1) offering ECDHE AEAD suites; prints the server's first record as
              "#ALERT level description", "#HANDSHAKE type version" or "#EOF"
  half        the first half of such a (TLS 1.2) ClientHello, and nothing more
  mark        start a stopwatch;  elapsed: print "#ELAPSED seconds" since the mark
  close       close the connection now;  reset: abort it (RST)
  @FILE       send the bytes of FILE
  sleep:S     sleep S seconds
  *N:TEXT     send TEXT N times in one write
  TEXT        send TEXT (backslash escapes decoded: \\r \\n \\x00 ...)
Before "tls" (or without -i) bytes go in the clear, after it inside TLS.  The
certificate is never verified.  Every reply line is printed as received (CR LF
removed); then "#EOF" when the server closed the connection, "#TIMEOUT" when a wait
ran out.  Exit 0 unless the connection could not be made (2).
"""
import codecs
import os
import socket
import ssl
import struct
import sys
import time


def unescape(text):
    return codecs.escape_decode(os.fsencode(text))[0]


def client_hello(version, sni=None):
    """A ClientHello record offering the ECDHE AEAD suites tern-tlsd knows."""
    suites = [0xC02B, 0xC02F, 0xCCA9, 0xCCA8, 0xC02C, 0xC030]
    body = struct.pack(">H", version) + os.urandom(32) + b"\x00"
    body += struct.pack(">H", 2 * len(suites)) + b"".join(struct.pack(">H", s) for s in suites)
    body += b"\x01\x00"
    ext = b""
    groups = [23, 24, 29]
    g = b"".join(struct.pack(">H", x) for x in groups)
    ext += struct.pack(">HHH", 10, len(g) + 2, len(g)) + g			# supported_groups
    ext += struct.pack(">HHB", 11, 2, 1) + b"\x00"				# ec_point_formats
    algs = [0x0403, 0x0401, 0x0503, 0x0501, 0x0201, 0x0203]
    a = b"".join(struct.pack(">H", x) for x in algs)
    ext += struct.pack(">HHH", 13, len(a) + 2, len(a)) + a			# signature_algorithms
    if sni:
        n = sni.encode()
        entry = b"\x00" + struct.pack(">H", len(n)) + n
        ext += struct.pack(">HHH", 0, len(entry) + 2, len(entry)) + entry
    body += struct.pack(">H", len(ext)) + ext
    hs = b"\x01" + struct.pack(">I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack(">H", len(hs)) + hs


class Dialogue:
    def __init__(self, port, timeout, sni):
        self.timeout = timeout
        self.sni = sni
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.raw = self.s
        self.buf = b""
        self.replies = 0
        self.eof = False
        self.closed = False	# by us
        self.mark = time.monotonic()
        self.out = sys.stdout

    def say(self, text):
        self.out.write(text + "\n")
        self.out.flush()

    def _take(self):
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            line = line.rstrip(b"\r")
            self.say(line.decode("utf-8", "replace"))
            if len(line) >= 3 and line[:3].isdigit() and (len(line) == 3 or line[3:4] == b" "):
                self.replies += 1

    def _read(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        self.s.settimeout(left)
        try:
            d = self.s.recv(65536)
        except (socket.timeout, TimeoutError):
            return False
        except ssl.SSLError as e:
            self.say("#SSLERROR %s" % (e.reason or e))
            d = b""
        except OSError:
            d = b""
        if not d:
            self.eof = True
            if self.buf:
                self.say(self.buf.decode("utf-8", "replace"))
                self.buf = b""
            return False
        self.buf += d
        self._take()
        return True

    def wait(self, n):
        want = self.replies + n
        deadline = time.monotonic() + self.timeout
        while self.replies < want and not self.eof:
            if not self._read(deadline) and not self.eof:
                self.say("#TIMEOUT")
                return

    def wait_eof(self):
        deadline = time.monotonic() + self.timeout
        while not self.eof:
            if not self._read(deadline) and not self.eof:
                self.say("#TIMEOUT")
                return

    def send(self, data):
        if self.eof:
            return
        self.s.settimeout(self.timeout)
        try:
            self.s.sendall(data)
        except (OSError, ssl.SSLError):
            self.eof = True

    def tls(self, maxver=None):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if maxver is not None:
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = maxver
            ctx.set_ciphers("ALL:@SECLEVEL=0")
        self.raw.settimeout(self.timeout)
        try:
            self.s = ctx.wrap_socket(self.raw, server_hostname=self.sni)
        except (ssl.SSLError, OSError) as e:
            self.say("#TLSFAIL %s" % (getattr(e, "reason", None) or e))
            self.eof = True
            return
        self.say("#TLS %s %s" % (self.s.version(), self.s.cipher()[0]))

    def hello(self, version):
        self.send(client_hello(version, self.sni))
        deadline = time.monotonic() + self.timeout
        hdr = b""
        while len(hdr) < 5:
            left = deadline - time.monotonic()
            if left <= 0:
                self.say("#TIMEOUT")
                return
            self.s.settimeout(left)
            try:
                d = self.s.recv(5 - len(hdr))
            except (socket.timeout, TimeoutError):
                continue
            except OSError:
                d = b""
            if not d:
                self.eof = True
                return
            hdr += d
        typ, ver, ln = hdr[0], hdr[1:3].hex(), struct.unpack(">H", hdr[3:5])[0]
        body = b""
        while len(body) < min(ln, 6):
            try:
                d = self.s.recv(ln - len(body))
            except OSError:
                d = b""
            if not d:
                break
            body += d
        if typ == 21 and len(body) >= 2:
            self.say("#ALERT %d %d" % (body[0], body[1]))
        elif typ == 22 and len(body) >= 6:
            self.say("#HANDSHAKE %d %s" % (body[0], body[4:6].hex()))
        else:
            self.say("#RECORD %d %s" % (typ, ver))


def main(argv):
    greet, implicit, timeout, sni = True, False, 10.0, None
    while argv and argv[0].startswith("-"):
        a = argv.pop(0)
        if a == "-n":
            greet = False
        elif a == "-i":
            implicit = True
        elif a == "-t":
            timeout = float(argv.pop(0))
        elif a == "-sni":
            sni = argv.pop(0)
        else:
            sys.stderr.write("tlsdlg.py: unknown option %s\n" % a)
            return 2
    port = int(argv.pop(0))
    try:
        d = Dialogue(port, timeout, sni)
    except OSError as e:
        sys.stderr.write("tlsdlg.py: connect: %s\n" % e)
        return 2
    if implicit:
        d.tls()
    if greet and not d.eof:
        d.wait(1)
    for step in argv:
        if step.startswith("+") and step[1:].isdigit():
            d.wait(int(step[1:]))
        elif step == "eof":
            d.wait_eof()
        elif step == "tls":
            d.tls()
        elif step == "tls11":
            d.tls(ssl.TLSVersion.TLSv1_1)
        elif step.startswith("hello:"):
            d.hello(int(step[6:], 16))
        elif step == "half":
            h = client_hello(0x0303, sni)
            d.send(h[:len(h) // 2])
        elif step == "mark":
            d.mark = time.monotonic()
        elif step == "elapsed":
            d.say("#ELAPSED %.2f" % (time.monotonic() - d.mark))
        elif step in ("close", "reset"):
            if step == "reset":
                d.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            d.s.close()
            d.eof = d.closed = True
        elif step.startswith("@"):
            with open(step[1:], "rb") as f:
                d.send(f.read())
        elif step.startswith("sleep:"):
            time.sleep(float(step[6:]))
        elif step.startswith("*") and ":" in step:
            n, text = step[1:].split(":", 1)
            d.send(unescape(text) * int(n))
        else:
            d.send(unescape(step))
    if d.eof and not d.closed:
        d.say("#EOF")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
