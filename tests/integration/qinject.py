#!/usr/bin/env python3
"""Run tern-queue with a message from stdin and an envelope built from the arguments:
   qinject.py SENDER RCPT...   (TERN_TEST_BIN/tern-queue; exit code = tern-queue's)
   qinject.py --raw-envelope HEX   sends the envelope bytes given in hex instead.
   DSN extension records (doc/queue.md), values written as given (so tests can also
   send malformed ones):
   qinject.py [--envid XTEXT] [--ret FULL|HDRS] SENDER RCPT [NOTIFY=LIST] [ORCPT=TYPE;XTEXT]...
   NOTIFY= and ORCPT= arguments apply to the recipient before them."""
import os, subprocess, sys

def main():
    binq = os.path.join(os.environ.get("TERN_TEST_BIN", "bin"), "tern-queue")
    args = sys.argv[1:]
    if args and args[0] == "--raw-envelope":
        env = bytes.fromhex(args[1])
    else:
        head = []
        while args and args[0] in ("--envid", "--ret"):
            head.append((b"E" if args[0] == "--envid" else b"R") + args[1].encode() + b"\0")
            args = args[2:]
        env = b"F" + args[0].encode() + b"\0" + b"".join(head)
        for a in args[1:]:
            if a.startswith("NOTIFY="):
                env += b"N" + a[7:].encode() + b"\0"
            elif a.startswith("ORCPT="):
                env += b"O" + a[6:].encode() + b"\0"
            else:
                env += b"T" + a.encode() + b"\0"
        env += b"\0"
    mr, mw = os.pipe()
    er, ew = os.pipe()
    p = subprocess.Popen([binq], stdin=mr, stdout=er, pass_fds=())
    os.close(mr); os.close(er)
    try:
        with os.fdopen(mw, "wb") as m:
            while True:
                b = sys.stdin.buffer.read(65536)
                if not b:
                    break
                m.write(b)
    except BrokenPipeError:
        pass
    try:
        os.write(ew, env)
    except BrokenPipeError:
        pass
    os.close(ew)
    sys.exit(p.wait())

main()
