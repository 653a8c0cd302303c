#!/usr/bin/env python3
"""A real SMTP server on loopback for fundwatch's integration tests.

Usage: smtp_server.py PORT MAILDIR [--tempfail-once] [--reject ADDRESS]...

Saves every accepted message as MAILDIR/<n>.eml (n counts from 1), prints
"READY" once listening, and runs until its stdin closes or it is killed.
--tempfail-once answers the first RCPT with 451 (greylisting), then accepts;
--reject answers 550 to RCPT for that address (a mailbox that does not exist).
"""

import argparse
import os
import sys
import threading

from aiosmtpd.controller import Controller


class Handler:
    def __init__(self, maildir, tempfail_once, reject):
        self.maildir = maildir
        self.tempfail_left = 1 if tempfail_once else 0
        self.reject = {a.lower() for a in reject}
        self.count = 0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.reject:
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        with self.lock:
            if self.tempfail_left > 0:
                self.tempfail_left -= 1
                return "451 4.7.1 greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            n = self.count
        tmp = os.path.join(self.maildir, ".%d.tmp" % n)
        with open(tmp, "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(tmp, os.path.join(self.maildir, "%d.eml" % n))
        return "250 2.0.0 queued as %d" % n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("maildir")
    ap.add_argument("--tempfail-once", action="store_true")
    ap.add_argument("--reject", action="append", default=[])
    args = ap.parse_args()
    os.makedirs(args.maildir, exist_ok=True)
    handler = Handler(args.maildir, args.tempfail_once, args.reject)
    # aiosmtpd's default of 5 s to come up is short on a loaded 2-core
    # machine running the whole test suite.
    controller = Controller(
        handler, hostname="127.0.0.1", port=args.port, ready_timeout=30
    )
    controller.start()
    print("READY", flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
