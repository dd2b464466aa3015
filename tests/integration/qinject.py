#!/usr/bin/env python3
"""Run tern-queue with a message from stdin and an envelope built from the arguments:
   qinject.py SENDER RCPT...   (TERN_TEST_BIN/tern-queue; exit code = tern-queue's)
   qinject.py --raw-envelope HEX   sends the envelope bytes given in hex instead."""
import os, subprocess, sys

def main():
    binq = os.path.join(os.environ.get("TERN_TEST_BIN", "bin"), "tern-queue")
    args = sys.argv[1:]
    if args and args[0] == "--raw-envelope":
        env = bytes.fromhex(args[1])
    else:
        env = b"F" + args[0].encode() + b"\0" + b"".join(b"T" + r.encode() + b"\0" for r in args[1:]) + b"\0"
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
