#!/usr/bin/env python3
"""Raw SMTP dialogues for the integration tests.

usage: smtpdlg.py [-n] [-t SECONDS] PORT STEP...

Connects to 127.0.0.1:PORT, reads the greeting (not with -n), then runs the steps:
  +N          wait for N more complete replies (a line "ddd " or "ddd" ends a reply)
  eof         read until the server closes the connection (or the timeout)
  close       close the connection now (mid-DATA, mid-BDAT ...)
  sleep:S     sleep S seconds (a float)
  @FILE       send the bytes of FILE
  *N:TEXT     send TEXT N times in one write
  TEXT        send TEXT; backslash escapes are decoded (\\r \\n \\x00 ...), other bytes are
              sent as they are (UTF-8 from the command line stays UTF-8)
Sending reads the server's replies at the same time, so a big pipelined write cannot
deadlock.  Every reply line is printed as received (CR LF removed); then "#EOF" when the
server closed the connection, "#TIMEOUT" when a wait ran out, "#RESET" on a reset.
Exit 0 unless the connection could not be made (2).
"""
import codecs
import os
import select
import socket
import sys
import time


class Dialogue:
    def __init__(self, port, timeout):
        self.timeout = timeout
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.s.setblocking(False)
        self.buf = b""
        self.replies = 0	# complete replies seen
        self.eof = False
        self.closed = False	# by us
        self.out = sys.stdout.buffer

    def _take(self):
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            line = line.rstrip(b"\r")
            self.out.write(line + b"\n")
            if len(line) >= 3 and line[:3].isdigit() and (len(line) == 3 or line[3:4] == b" "):
                self.replies += 1

    def _read(self, wait):
        if self.eof:
            return
        r, _, _ = select.select([self.s], [], [], wait)
        if not r:
            return
        try:
            d = self.s.recv(65536)
        except BlockingIOError:
            return
        except (ConnectionResetError, BrokenPipeError):
            self.out.write(b"#RESET\n")
            self.eof = True
            return
        if not d:
            self.eof = True
            if self.buf:
                self.out.write(self.buf + b"\n")
                self.buf = b""
            return
        self.buf += d
        self._take()

    def send(self, data):
        deadline = time.monotonic() + self.timeout
        while data and not self.eof:
            if time.monotonic() > deadline:
                self.out.write(b"#TIMEOUT\n")
                return
            r, w, _ = select.select([self.s], [self.s], [], 0.5)
            if r:
                self._read(0)
            if w:
                try:
                    n = self.s.send(data[:65536])
                    data = data[n:]
                except BlockingIOError:
                    pass
                except (ConnectionResetError, BrokenPipeError):
                    self.out.write(b"#RESET\n")
                    self.eof = True

    def wait(self, n):
        self.out.flush()
        want = self.replies + n
        deadline = time.monotonic() + self.timeout
        while self.replies < want and not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                self.out.write(b"#TIMEOUT\n")
                return
            self._read(left)

    def wait_eof(self):
        deadline = time.monotonic() + self.timeout
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                self.out.write(b"#TIMEOUT\n")
                return
            self._read(left)
        self.out.flush()


def unescape(text):
    return codecs.escape_decode(os.fsencode(text))[0]


def main(argv):
    greet = True
    timeout = 10.0
    while argv and argv[0].startswith("-") and argv[0] != "-":
        a = argv.pop(0)
        if a == "-n":
            greet = False
        elif a == "-t":
            timeout = float(argv.pop(0))
        else:
            sys.stderr.write("smtpdlg.py: unknown option %s\n" % a)
            return 2
    port = int(argv.pop(0))
    try:
        d = Dialogue(port, timeout)
    except OSError as e:
        sys.stderr.write("smtpdlg.py: connect: %s\n" % e)
        return 2
    if greet:
        d.wait(1)
    for step in argv:
        if step.startswith("+") and step[1:].isdigit():
            d.wait(int(step[1:]))
        elif step == "eof":
            d.wait_eof()
        elif step == "close":
            d.s.close()
            d.eof = d.closed = True
        elif step.startswith("sleep:"):
            time.sleep(float(step[6:]))
        elif step.startswith("@"):
            with open(step[1:], "rb") as f:
                d.send(f.read())
        elif step.startswith("*") and ":" in step:
            n, text = step[1:].split(":", 1)
            d.send(unescape(text) * int(n))
        else:
            d.send(unescape(step))
        d.out.flush()
    if d.eof and not d.closed:
        d.out.write(b"#EOF\n")
    d.out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
