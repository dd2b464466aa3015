#!/usr/bin/env python3
"""A scriptable SMTP server that stores what it accepts, for tests of SMTP clients.

usage: sink.py --addr 127.0.0.2 --port 25 --dir OUTDIR [--pidfile F] [options]

One thread, one selectors loop, any number of concurrent connections (delays included).
The pidfile is written once the socket listens: wait for it before connecting.
OUTDIR/log          every line, "N C: line" (received) / "N S: line" (sent), N = connection
                    number; the DATA body is logged as one "N C: [body: B bytes, L lines]"
                    line unless --log-data.  Buffered; flushed whenever the sink has
                    nothing to do, so it is current whenever the sink is idle.
OUTDIR/connections  the number of connections accepted so far (rewritten on each one).
OUTDIR/msg.N        each accepted message (N = 1, 2, ...; written to .tmp.N, then renamed,
                    before the final 250 is sent):
                        X-Sink-From: <sender> MAIL-PARAMS
                        X-Sink-To: <rcpt> RCPT-PARAMS        (one per accepted RCPT)
                        X-Sink-Conn: N
                        (empty line)
                        the DATA bytes as received, dot-unstuffed, CR LF kept
                    The X-Sink lines and the empty line end in LF alone.
Options:
  --greeting "220 ..."      a 4xx/5xx greeting allows only QUIT (others get 503)
  --drop-after-greeting     end the connection right after the greeting (half-close,
                            then input is discarded until the client closes)
  --no-ehlo                 EHLO gets 500 (HELO works)
  --no-pipelining --no-8bitmime --no-smtputf8 --no-dsn   leave out that EHLO keyword
  --size N                  advertise SIZE N; MAIL with SIZE= above N gets 552 5.3.4
  --starttls-advert         advertise STARTTLS; STARTTLS gets 454 4.7.0
  --tls-cert FILE --tls-key FILE
                            advertise STARTTLS and do it (Python's ssl, server side, TLS 1.2
                            or later); after the handshake the log gets "N C: [TLS VERSION
                            CIPHER]" (or "N C: [TLS failed: why]"), input pipelined after
                            STARTTLS is dropped, and each message stored over TLS has an
                            "X-Sink-TLS: VERSION CIPHER" line after X-Sink-Conn
  --tls-garbage             advertise STARTTLS, answer 220, then send bytes that are not
                            TLS and discard input until the client closes
  --tls-stall               advertise STARTTLS, answer 220, then send nothing more and
                            discard input until the client closes
  --rcpt 'REGEX=REPLY'      repeatable, first match wins (re.search on the bare address):
                            '^bad@=550 5.1.1 no such user'; default "250 2.1.5 ok"
  --mail REPLY              reply to every MAIL (a non-2xx one starts no transaction)
  --data REPLY              final reply after the data (default "250 2.0.0 queued as N";
                            a non-2xx one stores nothing)
  --delay SECS              sleep before every reply (the greeting too)
  --delay-data SECS         sleep before the final DATA reply only
  --max-msgs-per-conn N     after N accepted messages, MAIL gets 421 and the connection closes
  --log-data                log each DATA body line too
A reply of several lines is given with "\\n" between them.  Replies are sent when no
complete command is left in the input (RFC 2920), so pipelined commands are answered in
one write.  DATA without MAIL gets 503, with no accepted RCPT 554; RCPT without MAIL gets
503; unknown commands 500.  Commands end at LF (CR LF expected); the body ends at the
first CR LF . CR LF.  Bytes are never decoded.
"""
import argparse
import heapq
import ssl
import inspect
import os
import re
import selectors
import signal
import socket
import sys
import time

EHLO_NAME = b"sink.test"
READ = "read"		# what a session generator yields when it needs more input


class Sink:
    """What all connections share: options, counters, the log, the output directory."""

    def __init__(self, a):
        self.a = a
        self.dir = a.dir
        self.log = open(os.path.join(a.dir, "log"), "ab")
        self.nconn = 0
        self.nmsg = 0
        self.rules = []
        for r in a.rcpt:
            m = re.match(r"(.*?)=([2-5]\d\d(?:[ -].*)?)$", r, re.S)
            if not m:
                sys.exit("sink: --rcpt wants REGEX=REPLY, got %r" % r)
            self.rules.append((re.compile(m.group(1).encode()), m.group(2).encode()))

    def new_conn(self):
        self.nconn += 1
        tmp = os.path.join(self.dir, ".connections.tmp")
        with open(tmp, "w") as f:
            f.write("%d\n" % self.nconn)
        os.rename(tmp, os.path.join(self.dir, "connections"))
        return self.nconn

    def store(self, conn, sender, rcpts, body, tls=None):
        self.nmsg += 1
        n = self.nmsg
        head = [b"X-Sink-From: " + sender + b"\n"]
        head += [b"X-Sink-To: " + r + b"\n" for r in rcpts]
        head.append(b"X-Sink-Conn: %d\n" % conn)
        if tls:
            head.append(b"X-Sink-TLS: " + tls.encode() + b"\n")
        head.append(b"\n")
        tmp = os.path.join(self.dir, ".tmp.%d" % n)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            data = memoryview(b"".join(head) + body)
            while data:
                data = data[os.write(fd, data):]
        finally:
            os.close(fd)
        os.rename(tmp, os.path.join(self.dir, "msg.%d" % n))
        return n


class Session:
    """One SMTP connection.  run() is a generator: it yields READ when it needs more input
    and a number of seconds to sleep; the loop in main() resumes it."""

    def __init__(self, sink, sock, n):
        self.sink, self.a, self.sock, self.n = sink, sink.a, sock, n
        self.prefix = b"%d " % n
        self.inbuf = bytearray()	# received bytes; those before pos are consumed
        self.pos = 0
        self.eof = False
        self.out = []		# reply lines not yet sent
        self.pending = b""	# bytes a send could not take yet
        self.msgs = 0
        self.half_close = False	# shut down our side once the replies are out
        self.tls_start = False	# switch to TLS once the 220 to STARTTLS is out
        self.tls = None		# ssl.SSLObject once switched
        self.tls_up = None	# "VERSION CIPHER" once the handshake is done
        self.reset()

    def reset(self):
        self.sender = None	# b"<addr> params" once MAIL was accepted
        self.rcpts = []

    def log(self, line):
        self.sink.log.write(self.prefix + line + b"\n")

    # --- input, called by the generator ---
    def readline(self):
        """One line with its line end, b"" at EOF."""
        while True:
            i = self.inbuf.find(b"\n", self.pos)
            if i >= 0:
                line, self.pos = bytes(self.inbuf[self.pos:i + 1]), i + 1
                return line
            if self.eof:
                line, self.inbuf, self.pos = bytes(self.inbuf[self.pos:]), bytearray(), 0
                return line
            yield READ

    def readbody(self):
        """The dot-stuffed body up to (not with) the final ".\\r\\n", or None at EOF."""
        scanned = 0		# bytes after pos known to hold no end marker
        while True:
            if self.inbuf.startswith(b".\r\n", self.pos):
                self.pos += 3
                return b""
            i = self.inbuf.find(b"\r\n.\r\n", self.pos + scanned)
            if i >= 0:
                body, self.pos = bytes(self.inbuf[self.pos:i + 2]), i + 5
                return body
            if self.eof:
                return None
            scanned = max(0, len(self.inbuf) - self.pos - 4)
            yield READ

    # --- input and output, called by the loop ---
    def received(self, data):
        if self.tls is not None:
            data = self.tls_received(data)
            if data is None:
                return
        if data:
            if self.pos:
                del self.inbuf[:self.pos]
                self.pos = 0
            self.inbuf += data
        else:
            self.eof = True

    def tls_received(self, data):
        """Raw bytes into the TLS object: the cleartext they carry (b"" at the end of the
        session), or None when there is none yet."""
        if data:
            self.tls_in.write(data)
        else:
            self.tls_in.write_eof()
        out = bytearray()
        try:
            if self.tls_up is None:
                self.tls.do_handshake()
                self.tls_up = "%s %s" % (self.tls.version(), self.tls.cipher()[0])
                self.log(b"C: [TLS " + self.tls_up.encode() + b"]")
            while True:
                out += self.tls.read(65536)
        except ssl.SSLWantReadError:
            return bytes(out) if out else (None if data else b"")
        except ssl.SSLZeroReturnError:
            return bytes(out) if out else b""
        except (ssl.SSLError, OSError) as e:
            self.log(b"C: [TLS failed: " + str(e).encode() + b"]")
            return b""
        finally:
            self.tls_out_pending()

    def tls_out_pending(self):
        data = self.tls_out.read()
        if data:
            self.pending += data

    def tls_switch(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.a.tls_cert, self.a.tls_key)
        self.tls_in, self.tls_out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.tls_in, self.tls_out, server_side=True)
        self.tls_start = False
        if len(self.inbuf) > self.pos:	# sent before TLS: must not count after it
            self.log(b"C: [dropped %d bytes pipelined after STARTTLS]" % (len(self.inbuf) - self.pos))
        self.inbuf, self.pos = bytearray(), 0

    def send(self):
        """Send what can be sent without blocking; True when nothing is left."""
        if self.out and (self.tls is None or self.tls_up is not None):
            data = b"".join(self.out)
            self.out = []
            if self.tls is None:
                self.pending += data
            else:
                self.tls.write(data)
                self.tls_out_pending()
        if self.pending:
            try:
                n = self.sock.send(self.pending)
            except BlockingIOError:
                n = 0
            self.pending = self.pending[n:]
        if self.half_close and not self.pending:
            self.half_close = False
            self.sock.shutdown(socket.SHUT_WR)
        if self.tls_start and not self.pending:
            self.tls_switch()
        return not self.pending

    def reply(self, text):
        if isinstance(text, str):
            text = text.encode()
        for line in text.split(b"\n"):
            self.log(b"S: " + line)
            self.out.append(line + b"\r\n")

    # --- protocol ---
    def run(self):
        a = self.a
        if a.delay:
            yield a.delay
        greeting = (a.greeting or "220 %s ESMTP tern test sink" % EHLO_NAME.decode()).encode()
        self.reply(greeting)
        if a.drop_after_greeting:
            # Half-close, then read and discard until the client closes: it sees a clean
            # end of file rather than a reset from data arriving on a closed socket.
            self.half_close = True
            while not self.eof:
                self.pos = len(self.inbuf)
                yield READ
            self.log(b"C: [EOF]")
            return
        refusing = greeting[:1] in (b"4", b"5")
        while True:
            line = yield from self.readline()
            if not line:
                self.log(b"C: [EOF]")
                return
            cmdline = line.rstrip(b"\r\n")
            self.log(b"C: " + cmdline)
            if a.delay:
                yield a.delay
            verb = cmdline.split(b" ", 1)[0].upper()
            if refusing and verb != b"QUIT":
                self.reply("503 5.5.1 no service, only QUIT")
                continue
            handler = verb.isalpha() and getattr(self, "cmd_" + verb.decode(), None)
            if not handler:
                self.reply("500 5.5.2 command not recognized")
                continue
            r = handler(cmdline)
            if inspect.isgenerator(r):
                r = yield from r
            if r == "close":
                return

    def cmd_QUIT(self, line):
        self.reply("221 2.0.0 bye")
        return "close"

    def cmd_NOOP(self, line):
        self.reply("250 2.0.0 ok")

    def cmd_RSET(self, line):
        self.reset()
        self.reply("250 2.0.0 ok")

    def cmd_HELO(self, line):
        self.reset()
        self.reply(b"250 " + EHLO_NAME)

    def cmd_EHLO(self, line):
        a = self.a
        if a.no_ehlo:
            self.reply("500 5.5.1 EHLO not supported")
            return
        self.reset()
        lines = [EHLO_NAME + b" hello", b"ENHANCEDSTATUSCODES"]
        if not a.no_pipelining:
            lines.append(b"PIPELINING")
        if not a.no_8bitmime:
            lines.append(b"8BITMIME")
        if not a.no_smtputf8:
            lines.append(b"SMTPUTF8")
        if not a.no_dsn:
            lines.append(b"DSN")
        if a.size is not None:
            lines.append(b"SIZE %d" % a.size)
        if (a.starttls_advert or a.tls_cert or a.tls_garbage or a.tls_stall) and self.tls is None:
            lines.append(b"STARTTLS")
        self.reply(b"\n".join([b"250-" + x for x in lines[:-1]] + [b"250 " + lines[-1]]))

    def cmd_STARTTLS(self, line):
        a = self.a
        if a.starttls_advert:
            self.reply("454 4.7.0 TLS not available")
        elif self.tls is not None:
            self.reply("503 5.5.1 TLS already active")
        elif a.tls_garbage or a.tls_stall:
            self.reply("220 2.0.0 ready to start TLS")
            if a.tls_garbage:
                self.out.append(b"this is not TLS at all\r\n" * 20)
                self.half_close = True
            while not self.eof:
                self.pos = len(self.inbuf)
                yield READ
            self.log(b"C: [EOF]")
            return "close"
        elif a.tls_cert:
            self.reply("220 2.0.0 ready to start TLS")
            self.reset()
            self.tls_start = True
        else:
            self.reply("500 5.5.1 STARTTLS not offered")

    @staticmethod
    def path(line, keyword):
        """b"MAIL FROM:<a@b> X=1" -> (b"a@b", b"<a@b> X=1") or None."""
        m = re.match(rb"(?i)[A-Z]+ +" + keyword + rb": *(<[^>]*>|[^ <>]*)(.*)$", line)
        if not m:
            return None
        p = m.group(1)
        addr = p[1:-1] if p.startswith(b"<") else p
        return addr, b"<" + addr + b">" + m.group(2).rstrip()

    def cmd_MAIL(self, line):
        a = self.a
        if a.max_msgs_per_conn is not None and self.msgs >= a.max_msgs_per_conn:
            self.reply("421 4.7.0 too many messages on one connection, closing")
            return "close"
        p = self.path(line, b"FROM")
        if p is None:
            self.reply("501 5.5.4 syntax: MAIL FROM:<address>")
            return
        if a.mail:
            self.reply(a.mail)
            if a.mail.startswith("2"):
                self.reset()
                self.sender = p[1]
            return
        if a.size is not None:
            m = re.search(rb"(?i) SIZE=(\d+)", p[1])
            if m and int(m.group(1)) > a.size:
                self.reply("552 5.3.4 message size exceeds fixed limit")
                return
        self.reset()
        self.sender = p[1]
        self.reply("250 2.1.0 ok")

    def cmd_RCPT(self, line):
        if self.sender is None:
            self.reply("503 5.5.1 MAIL first")
            return
        p = self.path(line, b"TO")
        if p is None:
            self.reply("501 5.5.4 syntax: RCPT TO:<address>")
            return
        reply = b"250 2.1.5 ok"
        for rx, r in self.sink.rules:
            if rx.search(p[0]):
                reply = r
                break
        if reply.startswith(b"2"):
            self.rcpts.append(p[1])
        self.reply(reply)

    def cmd_DATA(self, line):
        a = self.a
        if self.sender is None:
            self.reply("503 5.5.1 MAIL first")
            return
        if not self.rcpts:
            self.reply("554 5.5.1 no valid recipients")
            return
        self.reply("354 go ahead, end with <CRLF>.<CRLF>")
        raw = yield from self.readbody()
        if raw is None:
            self.log(b"C: [EOF in DATA]")
            return "close"
        if a.log_data:
            for ln in raw.split(b"\r\n")[:-1]:
                self.log(b"C: " + ln)
        else:
            self.log(b"C: [body: %d bytes, %d lines]" % (len(raw), raw.count(b"\n")))
        self.log(b"C: .")
        body = raw[1:] if raw.startswith(b".") else raw
        body = body.replace(b"\r\n.", b"\r\n")		# un-dot-stuff every line
        if a.delay + a.delay_data > 0:
            yield a.delay + a.delay_data
        reply = a.data
        if reply is None or reply.startswith("2"):
            n = self.sink.store(self.n, self.sender, self.rcpts, body, self.tls_up)
            self.msgs += 1
            if reply is None:
                reply = "250 2.0.0 queued as %d" % n
        self.reply(reply)
        self.reset()


class Loop:
    """Runs the sessions: resumes each when its input arrives or its sleep ends."""

    def __init__(self, sink, lsock):
        self.sink, self.lsock = sink, lsock
        self.sel = selectors.DefaultSelector()
        self.sel.register(lsock, selectors.EVENT_READ, None)
        self.timers = []	# heap of (when, seq, session)
        self.seq = 0

    def step(self, s):
        """Resume s until it waits; then send its replies and wait for what it wants."""
        try:
            while True:
                want = s.gen.send(None)
                if want is READ:
                    s.waiting = READ
                    break
                s.waiting = "sleep"	# a number of seconds: input is still buffered
                self.seq += 1
                heapq.heappush(self.timers, (time.monotonic() + want, self.seq, s))
                break
        except StopIteration:
            self.finish(s)
            return
        except OSError as e:		# from writing a message file
            s.log(b"C: [%s]" % str(e).encode())
            self.close(s)
            return
        try:
            self.interest(s, s.send())
        except OSError as e:		# the client went away
            s.log(b"C: [%s]" % str(e).encode())
            self.close(s)

    def interest(self, s, sent):
        ev = selectors.EVENT_READ if not s.eof else 0
        if not sent:
            ev |= selectors.EVENT_WRITE
        if ev != s.events:
            if s.events:
                self.sel.unregister(s.sock)
            if ev:
                self.sel.register(s.sock, ev, s)
            s.events = ev

    def finish(self, s):
        """The dialogue is over: send the last replies (briefly blocking), close."""
        try:
            if not s.send():
                s.sock.settimeout(5)
                s.sock.sendall(s.pending)
        except OSError:
            pass
        self.close(s)

    def close(self, s):
        if s.events:
            self.sel.unregister(s.sock)
            s.events = 0
        s.closed = True
        s.sock.close()

    def accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:		# EMFILE and the like: try again later
                return
            c.setblocking(False)
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s = Session(self.sink, c, self.sink.new_conn())
            s.gen, s.events, s.waiting, s.closed = s.run(), 0, None, False
            self.step(s)

    def run(self):
        while True:
            timeout = None
            if self.timers:
                timeout = max(0, self.timers[0][0] - time.monotonic())
            if timeout != 0:
                self.sink.log.flush()	# about to wait: make the log current
            for key, mask in self.sel.select(timeout):
                s = key.data
                if s is None:
                    self.accept()
                    continue
                if s.closed:
                    continue
                if mask & selectors.EVENT_READ:
                    try:
                        s.received(s.sock.recv(65536))
                    except BlockingIOError:
                        pass
                    except OSError as e:
                        s.log(b"C: [%s]" % str(e).encode())
                        s.eof = True
                if s.waiting is READ:
                    self.step(s)
                else:
                    try:
                        self.interest(s, s.send())
                    except OSError as e:
                        s.log(b"C: [%s]" % str(e).encode())
                        self.close(s)
            now = time.monotonic()
            while self.timers and self.timers[0][0] <= now:
                _, _, s = heapq.heappop(self.timers)
                if not s.closed:
                    self.step(s)


def main():
    ap = argparse.ArgumentParser(description="scriptable SMTP sink for tests")
    ap.add_argument("--addr", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=25)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--pidfile")
    ap.add_argument("--greeting")
    ap.add_argument("--drop-after-greeting", action="store_true")
    ap.add_argument("--no-ehlo", action="store_true")
    ap.add_argument("--no-pipelining", action="store_true")
    ap.add_argument("--no-8bitmime", action="store_true")
    ap.add_argument("--no-smtputf8", action="store_true")
    ap.add_argument("--no-dsn", action="store_true")
    ap.add_argument("--size", type=int)
    ap.add_argument("--starttls-advert", action="store_true")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--tls-garbage", action="store_true")
    ap.add_argument("--tls-stall", action="store_true")
    ap.add_argument("--rcpt", action="append", default=[])
    ap.add_argument("--mail")
    ap.add_argument("--data")
    ap.add_argument("--delay", type=float, default=0)
    ap.add_argument("--delay-data", type=float, default=0)
    ap.add_argument("--max-msgs-per-conn", type=int)
    ap.add_argument("--log-data", action="store_true")
    a = ap.parse_args()
    if bool(a.tls_cert) != bool(a.tls_key):
        sys.exit("sink: --tls-cert and --tls-key go together")

    os.makedirs(a.dir, exist_ok=True)
    sink = Sink(a)
    fam = socket.AF_INET6 if ":" in a.addr else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        ls.bind((a.addr, a.port))
        ls.listen(128)
    except OSError as e:
        sys.exit("sink: cannot listen on %s port %d: %s" % (a.addr, a.port, e))
    ls.setblocking(False)

    def stop(*_):
        try:
            sink.log.flush()
        finally:
            os._exit(0)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if a.pidfile:
        with open(a.pidfile + ".tmp", "w") as f:
            f.write("%d\n" % os.getpid())
        os.rename(a.pidfile + ".tmp", a.pidfile)
    Loop(sink, ls).run()


if __name__ == "__main__":
    main()
