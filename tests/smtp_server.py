#!/usr/bin/env python3
"""A real SMTP server for aios's tests (aiosmtpd), recording what it receives.

Started by tests/cli/support/smtp.rs with the venv that .ci/setup installs
($AIOS_TEST_SERVERS/venv/bin/python). It listens on 127.0.0.1, prints
`READY <port>` once it accepts connections, and records into --dir:

  attempts.jsonl   one line per message the client tried to send (DATA done):
                   {"n", "message_id", "mail_from", "rcpt_tos", "reply", "tls", "user"}
  auth.jsonl       one line per login: {"user", "ok"}
  msg-N.eml        the bytes of each message it accepted (N from 1), exactly as
                   received (after dot-unstuffing), written whole (renamed into place)
  msg-N.json       its envelope: {"message_id", "mail_from", "rcpt_tos", "tls", "user"}

Options shape its answers:
  --tls starttls|implicit|none   STARTTLS required before MAIL, TLS from the first
                                 byte, or plain (--cert and --key for the first two)
  --user U --password P          AUTH PLAIN/LOGIN required (after TLS)
  --reply "451 4.3.0 Try later"  answer the next message with this (repeatable, in
                                 order; then "250 2.0.0 Ok: queued as N")
  --hold                         after recording a message, wait for the file
                                 `release` in --dir (or 60 s) before answering
"""

import argparse
import asyncio
import email
import json
import os
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def append(path, obj):
    with open(path, "a") as f:
        f.write(json.dumps(obj) + "\n")


def write_whole(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


class Recorder:
    def __init__(self, args):
        self.dir = args.dir
        self.replies = list(args.reply or [])
        self.hold = args.hold
        self.implicit = args.tls == "implicit"
        self.tries = 0
        self.accepted = 0

    async def handle_DATA(self, server, session, envelope):
        self.tries += 1
        user = None
        if session.auth_data is not None and isinstance(session.auth_data, LoginPassword):
            user = session.auth_data.login.decode()
        tls = session.ssl is not None or self.implicit
        if self.replies:
            reply = self.replies.pop(0)
        else:
            reply = None
        message_id = email.message_from_bytes(envelope.original_content).get("Message-ID")
        meta = {
            "message_id": message_id,
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": tls,
            "user": user,
        }
        if reply is None:
            self.accepted += 1
            n = self.accepted
            reply = f"250 2.0.0 Ok: queued as {n}"
            write_whole(os.path.join(self.dir, f"msg-{n}.json"), json.dumps(meta).encode())
            write_whole(os.path.join(self.dir, f"msg-{n}.eml"), envelope.original_content)
        append(os.path.join(self.dir, "attempts.jsonl"), dict(meta, n=self.tries, reply=reply))
        if self.hold:
            release = os.path.join(self.dir, "release")
            deadline = time.monotonic() + 60
            while not os.path.exists(release) and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
        return reply


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--tls", choices=["starttls", "implicit", "none"], default="none")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--reply", action="append")
    p.add_argument("--hold", action="store_true")
    args = p.parse_args()

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == args.user
            and auth_data.password.decode() == args.password
        )
        user = auth_data.login.decode() if isinstance(auth_data, LoginPassword) else None
        append(os.path.join(args.dir, "auth.jsonl"), {"user": user, "ok": ok})
        # handled=False: aiosmtpd answers a refusal with 535 itself.
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    kwargs = dict(hostname="127.0.0.1", port=args.port)
    if args.tls != "none":
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.cert, args.key)
        if args.tls == "starttls":
            kwargs.update(tls_context=ctx, require_starttls=True)
        else:
            kwargs.update(ssl_context=ctx)
    if args.user:
        kwargs.update(
            authenticator=authenticator,
            auth_required=True,
            # Implicit TLS is TLS from the first byte, which aiosmtpd does not see.
            auth_require_tls=args.tls == "starttls",
        )
    controller = Controller(Recorder(args), **kwargs)
    controller.start()
    print(f"READY {args.port}", flush=True)
    try:
        # Until the test kills us (or closes our stdin).
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
