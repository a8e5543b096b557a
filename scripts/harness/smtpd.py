#!/usr/bin/python3
"""SMTP servers of the test environment, built on aiosmtpd (Debian's python3-aiosmtpd, so /usr/bin/python3).

  smtpd.py sink --port P --maildir DIR/sink
      Dovecot's submission_relay_host target: accepts any message on loopback and delivers it into a
      Maildir (one file per message in new/), where tests read what was sent.

  smtpd.py submission --port P --users DIR/dovecot/users --cert PEM --key KEY --verb-log FILE [--maildir M]
      A second, independent submission server: STARTTLS, then AUTH PLAIN/LOGIN only after TLS
      (auth_require_tls), passwords checked against the same {SSHA512} passwd-file as Dovecot. A wrong
      password gets "535 5.7.8" (aiosmtpd's AuthResult(success=False) defaults to handled=True and then sends
      nothing at all, leaving the client hanging: handled=False is required). Every command verb received is
      appended to --verb-log, one per line ("EHLO", "STARTTLS", "AUTH", ...), never an argument, so the AUTH
      payload never reaches the log; tests use it to prove e.g. that no AUTH was sent before STARTTLS.

  smtpd.py bad-tls --listen PORT:CERT:KEY... --users DIR/dovecot/users --maildir M
      STARTTLS submission servers presenting the test environment's bad certificates (host-name mismatch,
      expired, self-signed), one port each, so a client's certificate checks meet a real handshake. AUTH as
      above; a client that completes AUTH here did not verify the certificate.

The host name in the greeting is given explicitly: socket.getfqdn() (aiosmtpd's default) can stall without DNS.
aiosmtpd's own logger is kept at WARNING: at INFO it logs every received line, AUTH payloads included.
"""
import argparse, asyncio, base64, hashlib, hmac, logging, signal, ssl, sys

from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

HOSTNAME = "localhost"


def check_ssha512(stored: str, password: bytes) -> bool:
    if not stored.startswith("{SSHA512}"):
        return False
    try:
        raw = base64.b64decode(stored[len("{SSHA512}"):], validate=True)
    except ValueError:
        return False
    digest, salt = raw[:64], raw[64:]
    return len(digest) == 64 and hmac.compare_digest(hashlib.sha512(password + salt).digest(), digest)


class UsersFileAuthenticator:
    def __init__(self, path: str):
        self.path = path

    def __call__(self, server, session, envelope, mechanism, auth_data):
        fail = AuthResult(success=False, handled=False)  # -> "535 5.7.8 Authentication credentials invalid"
        if mechanism not in ("PLAIN", "LOGIN") or not isinstance(auth_data, LoginPassword):
            return fail
        try:
            user = auth_data.login.decode("utf-8")
        except UnicodeDecodeError:
            return fail
        # Read the file on every attempt: set-password changes take effect at once, as with Dovecot.
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                fields = line.rstrip("\n").split(":")
                if len(fields) >= 2 and fields[0] == user:
                    if check_ssha512(fields[1], auth_data.password):
                        return AuthResult(success=True)
                    return fail
        return fail


class _VerbLoggingMethods(dict):
    """aiosmtpd dispatches each received command with self._smtp_methods.get(VERB): log the verb there."""

    def __init__(self, methods, log):
        super().__init__(methods)
        self.log = log
        self.quiet = False

    def get(self, key, default=None):
        if not self.quiet:  # HELP looks up its argument through the same dict; that is not a command
            self.log.write(key + "\n")
            self.log.flush()
        return super().get(key, default)


class VerbLoggingSMTP(SMTP):
    verb_log = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._smtp_methods = _VerbLoggingMethods(self._smtp_methods, self.verb_log)

    async def smtp_HELP(self, arg):
        self._smtp_methods.quiet = True
        try:
            return await super().smtp_HELP(arg)
        finally:
            self._smtp_methods.quiet = False


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["sink", "submission", "bad-tls"])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int)
    ap.add_argument("--listen", action="append", default=[], help="bad-tls: PORT:CERT:KEY")
    ap.add_argument("--maildir", required=True)
    ap.add_argument("--users")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--verb-log")
    a = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    handler = Mailbox(a.maildir)  # mailbox.Maildir: one file per message in new/
    def tls_context(cert, key):
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        return ctx

    listeners = []  # (port, protocol factory)
    if a.mode == "sink":
        listeners.append((a.port, lambda: SMTP(handler, hostname=HOSTNAME, loop=loop)))
    elif a.mode == "bad-tls":
        if not (a.users and a.listen):
            ap.error("bad-tls needs --users and --listen")
        auth = UsersFileAuthenticator(a.users)
        for spec in a.listen:
            port, cert, key = spec.split(":", 2)
            ctx = tls_context(cert, key)
            listeners.append((int(port), lambda ctx=ctx: SMTP(
                handler, hostname=HOSTNAME, loop=loop, tls_context=ctx, auth_required=True,
                auth_require_tls=True, authenticator=auth)))
    else:
        if not (a.users and a.cert and a.key and a.verb_log):
            ap.error("submission needs --users, --cert, --key and --verb-log")
        tls = tls_context(a.cert, a.key)
        VerbLoggingSMTP.verb_log = open(a.verb_log, "a", encoding="ascii", errors="replace")
        auth = UsersFileAuthenticator(a.users)
        listeners.append((a.port, lambda: VerbLoggingSMTP(
            handler, hostname=HOSTNAME, loop=loop, tls_context=tls, require_starttls=False,
            auth_required=True, auth_require_tls=True, authenticator=auth)))
    servers = [loop.run_until_complete(loop.create_server(f, host=a.host, port=p)) for p, f in listeners]
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, loop.stop)
    ports = ", ".join(str(p) for p, _ in listeners)
    print(f"smtpd {a.mode} listening on {a.host}: {ports}", file=sys.stderr, flush=True)
    try:
        loop.run_forever()
    finally:
        for server in servers:
            server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
