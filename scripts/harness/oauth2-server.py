#!/usr/bin/python3
"""oauth2-server.py -- a scripted OAuth2 authorization server for mailcred's tests (loopback only).

  oauth2-server.py serve --port P --introspect-port Q --cert PEM --key KEY [--log FILE]
  oauth2-server.py browse URL --ca CA.pem      (the tests' "browser": follows the authorization redirect)
  oauth2-server.py admin URL [KEY=VALUE...] [--stdin]
                                               (the tests' controls: POST the pairs, or GET without any;
                                                --stdin adds KEY=VALUE lines from stdin, for tokens, which
                                                must not be in argv; prints the JSON answer)

serve listens on two ports of 127.0.0.1:
  https://127.0.0.1:P   (the harness certificate; what mailcred talks to)
    GET  /authorize      authorization request (RFC 6749 4.1.1 + PKCE S256, RFC 7636). Auto-approves as the
                         user named by login_hint and redirects (302) to the loopback redirect_uri with code and
                         state. client_id "deny" redirects with error=access_denied instead.
    POST /token          grant_type authorization_code (PKCE verified: S256(code_verifier) == code_challenge,
                         client_id and redirect_uri as in the request, one use per code), refresh_token (the old
                         refresh token is revoked at once when a new one is issued: rotation), and
                         urn:ietf:params:oauth:grant-type:device_code (authorization_pending until approved,
                         slow_down when polled faster than the interval). Unknown or revoked tokens and codes
                         get invalid_grant.
    POST /device         device authorization (RFC 8628 3.1): device_code, user_code, interval 1 s.
  http://127.0.0.1:Q    (plain: for Dovecot's oauth2 passdb and the tests' controls)
    POST /introspect     token=... -> {"active": true, "email": USER, ...} or {"active": false} (RFC 7662)
    GET  /admin/stats?user=U            counters: code_grants, refresh_grants, device_pending, slow_down,
                                        device_grants, invalid_grant, introspections, introspections_active,
                                        max_concurrent_refreshes (most refreshes in their refresh_delay at once)
    POST /admin/reset-stats user=U      the user's counters start again from nothing
    POST /admin/config  user=U [access_lifetime=S] [rotate=0|1] [refresh_delay=S] [email=E] [refresh_error=NAME]
                                        lifetime of the next access tokens (default 3600), refresh-token
                                        rotation (default on), a delay before answering refresh grants, and
                                        the identity the tokens carry (default U: "signed in as another
                                        account" when different); refresh_error makes every refresh grant of
                                        U answer one of the scripted provider errors (REFRESH_ERRORS: the
                                        AADSTS codes, google_invalid_grant, google_unauthorized_client,
                                        temporarily_unavailable) with that provider's body; "" ends it
    POST /admin/revoke  user=U          revokes every refresh and access token of U
    POST /admin/approve user_code=C user=U   approves a pending device authorization as U
    POST /admin/deny    user_code=C     declines it
Tokens, codes and device codes are random and carry the test suite's leak marker (scripts/test, Harness.swift),
so the leak check also catches a token in a process's argv or environment or in a file. Nothing secret is
logged (the log names grants, users and outcomes only).
Uses /usr/bin/python3 and the standard library only.
"""
import base64, hashlib, json, os, secrets, ssl, sys, threading, time, urllib.parse, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()       # the tables below
LOG_LOCK = threading.Lock()   # the log file (log() is called with and without LOCK held)
CODES = {}      # code -> dict(client_id, redirect_uri, challenge, scope, user, used)
REFRESH = {}    # refresh token -> dict(client_id, user, scope, active)
ACCESS = {}     # access token -> dict(client_id, user, scope, expires, active)
DEVICES = {}    # device_code -> dict(client_id, scope, user_code, user, denied, last_poll, interval, expires)
STATS = {}      # user -> counters
INFLIGHT = {}   # user -> refresh requests waiting out their refresh_delay now
CONFIG = {}     # user -> dict(access_lifetime, rotate, refresh_delay)
LOG = None
# The secret marker of scripts/test's leak check (Harness.canary): every token contains it.
MARKER = "MCANARY7q"


# Scripted refresh failures, shaped like the providers' real answers (Microsoft identity platform: HTTP 400
# with the AADSTS code leading error_description and repeated in error_codes; Google: short descriptions).
def _aad(error, code, text, suberror=None):
    body = {"error": error, "error_description": f"AADSTS{code}: {text} Trace ID: 0000 Correlation ID: 0000 Timestamp: 2026-01-01 00:00:00Z",
            "error_codes": [code], "timestamp": "2026-01-01 00:00:00Z", "trace_id": "0000", "correlation_id": "0000",
            "error_uri": f"https://login.microsoftonline.com/error?code={code}"}
    if suberror:
        body["suberror"] = suberror
    return 400, body


REFRESH_ERRORS = {
    "AADSTS700082": _aad("invalid_grant", 700082, "The refresh token has expired due to inactivity. The token was issued on "
                         "2025-09-01T00:00:00Z and was inactive for 90.00:00:00."),
    "AADSTS50173": _aad("invalid_grant", 50173, "The provided grant has expired due to it being revoked, a fresh auth token is "
                        "needed. The user might have changed or reset their password."),
    "AADSTS70043": _aad("invalid_grant", 70043, "The refresh token has expired or is invalid due to sign-in frequency checks by "
                        "conditional access."),
    "AADSTS65001": _aad("invalid_grant", 65001, "The user or administrator has not consented to use the application with ID "
                        "'mail-client'. Send an interactive authorization request for this user and resource.", "consent_required"),
    "AADSTS50076": _aad("invalid_grant", 50076, "Due to a configuration change made by your administrator, or because you moved "
                        "to a new location, you must use multi-factor authentication to access 'outlook.office.com'.", "basic_action"),
    "AADSTS50079": _aad("invalid_grant", 50079, "Due to a configuration change made by your administrator, or because you moved "
                        "to a new location, you must enroll in multi-factor authentication to access 'outlook.office.com'.", "basic_action"),
    "AADSTS7000218": _aad("invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' "
                          "or 'client_secret'."),
    "AADSTS700016": _aad("unauthorized_client", 700016, "Application with identifier 'mail-client' was not found in the directory "
                         "'example.test'. You may have sent your authentication request to the wrong tenant."),
    "google_invalid_grant": (400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}),
    "google_unauthorized_client": (401, {"error": "unauthorized_client", "error_description": "Unauthorized"}),
    "temporarily_unavailable": (503, {"error": "temporarily_unavailable", "error_description": "the service is busy, try later"}),
}


def log(message):
    if LOG:
        with LOG_LOCK:
            LOG.write(f"{time.strftime('%H:%M:%S')} {message}\n")
            LOG.flush()


def count(user, key, n=1):
    stats = STATS.setdefault(user or "-", {})
    stats[key] = stats.get(key, 0) + n


def config(user):
    return CONFIG.setdefault(user, {"access_lifetime": 3600, "rotate": True, "refresh_delay": 0.0, "email": user,
                                    "refresh_error": ""})


def issue(user, client_id, scope, with_refresh=True):
    """Tokens for user (caller holds LOCK)."""
    lifetime = config(user)["access_lifetime"]
    access = f"at-{MARKER}-" + secrets.token_urlsafe(24)
    ACCESS[access] = {"client_id": client_id, "user": user, "scope": scope, "expires": time.time() + lifetime, "active": True,
                      "email": config(user)["email"]}
    answer = {"access_token": access, "token_type": "Bearer", "expires_in": lifetime, "scope": scope}
    if with_refresh:
        refresh = f"rt-{MARKER}-" + secrets.token_urlsafe(24)
        REFRESH[refresh] = {"client_id": client_id, "user": user, "scope": scope, "active": True}
        answer["refresh_token"] = refresh
    return answer


def s256(verifier):
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mailcred-test-oauth2"
    timeout = 10  # a client that stalls costs its own thread only

    def log_message(self, *args):  # the default would print request lines (with codes) to stderr
        pass

    def form(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        if self.headers.get("Content-Type", "").split(";")[0].strip() not in ("application/x-www-form-urlencoded", ""):
            return None
        return {k: v[-1] for k, v in urllib.parse.parse_qs(body, keep_blank_values=True).items()}

    def reply(self, status, payload, headers=()):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def error(self, code, description, status=400):
        self.reply(status, {"error": code, "error_description": description})


class TLSHandler(Handler):
    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/authorize":
            return self.reply(404, {"error": "not_found"})
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        redirect = q.get("redirect_uri", "")
        target = urllib.parse.urlsplit(redirect)
        # RFC 8252 7.3: loopback IP redirect, any port.
        if target.scheme != "http" or target.hostname != "127.0.0.1" or not target.port:
            return self.reply(400, {"error": "invalid_request", "error_description": "redirect_uri must be http://127.0.0.1:PORT/"})
        def back(params):
            params["state"] = q.get("state", "")
            self.send_response(302)
            self.send_header("Location", redirect + ("&" if "?" in redirect else "?") + urllib.parse.urlencode(params))
            self.send_header("Content-Length", "0")
            self.end_headers()
        if q.get("response_type") != "code" or not q.get("client_id"):
            return back({"error": "invalid_request"})
        if q.get("code_challenge_method") != "S256" or len(q.get("code_challenge", "")) != 43:
            return back({"error": "invalid_request", "error_description": "PKCE S256 required"})
        if q["client_id"] == "deny":
            log(f"authorize denied client={q['client_id']}")
            return back({"error": "access_denied", "error_description": "the user declined"})
        user = q.get("login_hint")
        if not user:
            return back({"error": "login_required", "error_description": "this test server needs login_hint"})
        code = f"code-{MARKER}-" + secrets.token_urlsafe(16)
        with LOCK:
            CODES[code] = {"client_id": q["client_id"], "redirect_uri": redirect, "challenge": q["code_challenge"],
                           "scope": q.get("scope", ""), "user": user, "used": False}
        log(f"authorize user={user} client={q['client_id']} scope={q.get('scope', '')!r}")
        back({"code": code})

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        form = self.form()
        if form is None:
            return self.error("invalid_request", "form-encoded body expected")
        if url.path == "/device":
            return self.device(form)
        if url.path != "/token":
            return self.reply(404, {"error": "not_found"})
        grant = form.get("grant_type")
        if grant == "authorization_code":
            return self.code_grant(form)
        if grant == "refresh_token":
            return self.refresh_grant(form)
        if grant == "urn:ietf:params:oauth:grant-type:device_code":
            return self.device_grant(form)
        return self.error("unsupported_grant_type", f"grant_type {grant!r}")

    def code_grant(self, form):
        with LOCK:
            entry = CODES.get(form.get("code", ""))
            if not entry or entry["used"]:
                count(entry and entry["user"], "invalid_grant")
                log("code grant: unknown or used code -> invalid_grant")
                return self.error("invalid_grant", "unknown or used authorization code")
            entry["used"] = True
            if form.get("client_id") != entry["client_id"] or form.get("redirect_uri") != entry["redirect_uri"]:
                count(entry["user"], "invalid_grant")
                log(f"code grant user={entry['user']}: client_id/redirect_uri mismatch -> invalid_grant")
                return self.error("invalid_grant", "client_id or redirect_uri differs from the authorization request")
            if s256(form.get("code_verifier", "")) != entry["challenge"]:
                count(entry["user"], "invalid_grant")
                log(f"code grant user={entry['user']}: PKCE verification failed -> invalid_grant")
                return self.error("invalid_grant", "PKCE verification failed")
            count(entry["user"], "code_grants")
            answer = issue(entry["user"], entry["client_id"], entry["scope"])
        log(f"code grant user={entry['user']}: ok")
        self.reply(200, answer)

    def refresh_grant(self, form):
        token = form.get("refresh_token", "")
        with LOCK:
            entry = REFRESH.get(token)
            user = entry and entry["user"]
            delay = config(user)["refresh_delay"] if user else 0
        if delay:
            # How many refreshes of one user wait here at once: tests tell concurrent refreshes from
            # sequential ones by this, whatever the machine's load.
            with LOCK:
                INFLIGHT[user] = INFLIGHT.get(user, 0) + 1
                stats = STATS.setdefault(user, {})
                stats["max_concurrent_refreshes"] = max(stats.get("max_concurrent_refreshes", 0), INFLIGHT[user])
            time.sleep(delay)
            with LOCK:
                INFLIGHT[user] -= 1
        with LOCK:
            if not entry or not entry["active"] or form.get("client_id") != entry["client_id"]:
                count(user, "invalid_grant")
                log(f"refresh grant user={user}: revoked, rotated or unknown refresh token -> invalid_grant")
                return self.error("invalid_grant", "the refresh token was revoked or has expired")
            scripted = config(user)["refresh_error"]
            if scripted:
                count(user, "scripted_errors")
                log(f"refresh grant user={user}: scripted {scripted}")
                status, body = REFRESH_ERRORS[scripted]
                return self.reply(status, body)
            count(user, "refresh_grants")
            rotate = config(user)["rotate"]
            answer = issue(user, entry["client_id"], entry["scope"], with_refresh=rotate)
            if rotate:
                entry["active"] = False
        log(f"refresh grant user={user}: ok (rotated={rotate})")
        self.reply(200, answer)

    def device(self, form):
        if not form.get("client_id"):
            return self.error("invalid_client", "client_id missing", 401)
        device_code = f"dc-{MARKER}-" + secrets.token_urlsafe(24)
        letters = "BCDFGHJKLMNPQRSTVWXZ"
        user_code = "".join(secrets.choice(letters) for _ in range(4)) + "-" + "".join(secrets.choice(letters) for _ in range(4))
        port = self.server.server_address[1]
        with LOCK:
            DEVICES[device_code] = {"client_id": form["client_id"], "scope": form.get("scope", ""), "user_code": user_code,
                                    "user": None, "denied": False, "last_poll": 0.0, "interval": 1, "expires": time.time() + 300,
                                    "pending": 0}
        log(f"device authorization client={form['client_id']} user_code={user_code}")
        self.reply(200, {"device_code": device_code, "user_code": user_code,
                         "verification_uri": f"https://127.0.0.1:{port}/device",
                         "verification_uri_complete": f"https://127.0.0.1:{port}/device?user_code={user_code}",
                         "expires_in": 300, "interval": 1})

    def device_grant(self, form):
        with LOCK:
            entry = DEVICES.get(form.get("device_code", ""))
            if not entry or form.get("client_id") != entry["client_id"]:
                return self.error("invalid_grant", "unknown device code")
            now = time.time()
            if now > entry["expires"]:
                return self.error("expired_token", "the device code expired")
            too_soon = now - entry["last_poll"] < entry["interval"] - 0.2
            entry["last_poll"] = now
            if too_soon:
                entry["interval"] += 5
                count(entry["user_code"], "slow_down")
                log(f"device poll {entry['user_code']}: slow_down")
                return self.error("slow_down", "polling too fast")
            if entry["denied"]:
                return self.error("access_denied", "the user declined")
            if entry["user"] is None:
                entry["pending"] += 1
                count(entry["user_code"], "device_pending")
                log(f"device poll {entry['user_code']}: authorization_pending")
                return self.error("authorization_pending", "waiting for the user")
            user = entry["user"]
            del DEVICES[form["device_code"]]
            count(user, "device_grants")
            answer = issue(user, entry["client_id"], entry["scope"])
        log(f"device grant user={user}: ok")
        self.reply(200, answer)


class PlainHandler(Handler):
    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        if url.path == "/admin/stats":
            key = q.get("user") or q.get("user_code") or "-"
            with LOCK:
                return self.reply(200, dict(STATS.get(key, {})))
        if url.path == "/admin/device":
            with LOCK:
                found = [{"user_code": d["user_code"], "pending": d["pending"], "approved": d["user"] is not None}
                         for d in DEVICES.values() if d["user_code"] == q.get("user_code")]
            return self.reply(200, found[0] if found else {})
        self.reply(404, {"error": "not_found"})

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        form = self.form() or {}
        if url.path == "/introspect":
            with LOCK:
                entry = ACCESS.get(form.get("token", ""))
                active = bool(entry and entry["active"] and entry["expires"] > time.time())
                user = entry["user"] if entry else None
                count(user, "introspections")
                if active:
                    count(user, "introspections_active")
            log(f"introspect user={user}: active={active}")
            if not active:
                return self.reply(200, {"active": False})
            return self.reply(200, {"active": True, "email": entry["email"], "client_id": entry["client_id"], "scope": entry["scope"],
                                    "exp": int(entry["expires"])})
        if url.path == "/admin/config":
            with LOCK:
                c = config(form["user"])
                if "access_lifetime" in form:
                    c["access_lifetime"] = int(form["access_lifetime"])
                if "rotate" in form:
                    c["rotate"] = form["rotate"] == "1"
                if "refresh_delay" in form:
                    c["refresh_delay"] = float(form["refresh_delay"])
                if "email" in form:
                    c["email"] = form["email"]
                if "refresh_error" in form:
                    if form["refresh_error"] and form["refresh_error"] not in REFRESH_ERRORS:
                        return self.reply(400, {"ok": False, "error": f"unknown refresh_error {form['refresh_error']!r}"})
                    c["refresh_error"] = form["refresh_error"]
            return self.reply(200, {"ok": True})
        if url.path == "/admin/reset-stats":
            with LOCK:
                STATS.pop(form["user"], None)
            return self.reply(200, {"ok": True})
        if url.path == "/admin/revoke":
            user = form["user"]
            with LOCK:
                revoked = 0
                for table in (REFRESH, ACCESS):
                    for entry in table.values():
                        if entry["user"] == user and entry["active"]:
                            entry["active"] = False
                            revoked += 1
            log(f"revoked {revoked} token(s) of {user}")
            return self.reply(200, {"revoked": revoked})
        if url.path in ("/admin/approve", "/admin/deny"):
            with LOCK:
                found = [d for d in DEVICES.values() if d["user_code"] == form.get("user_code")]
                for d in found:
                    if url.path == "/admin/approve":
                        d["user"] = form["user"]
                    else:
                        d["denied"] = True
            return self.reply(200 if found else 404, {"ok": bool(found)})
        self.reply(404, {"error": "not_found"})


class TLSServer(ThreadingHTTPServer):
    """The TLS handshake happens in the request's thread, not in accept(): a client that connects and says
    nothing must not stall every other client."""
    daemon_threads = True

    def __init__(self, address, handler, context):
        super().__init__(address, handler)
        self.context = context

    def finish_request(self, request, client_address):
        request.settimeout(10)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        self.RequestHandlerClass(tls, client_address, self)


def serve(args):
    global LOG
    opts = dict(zip(args[::2], args[1::2]))
    if opts.get("--log"):
        LOG = open(opts["--log"], "a")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(opts["--cert"], opts["--key"])
    tls = TLSServer(("127.0.0.1", int(opts["--port"])), TLSHandler, context)
    plain = ThreadingHTTPServer(("127.0.0.1", int(opts["--introspect-port"])), PlainHandler)
    for server in (tls, plain):
        server.daemon_threads = True
    threading.Thread(target=plain.serve_forever, daemon=True).start()
    log(f"listening: https://127.0.0.1:{opts['--port']} and http://127.0.0.1:{opts['--introspect-port']}")
    tls.serve_forever()


def browse(args):
    """GET the authorization URL and follow its redirect (to mailcred's loopback listener), as a browser."""
    url = args[0]
    ca = args[args.index("--ca") + 1]
    context = ssl.create_default_context(cafile=ca)
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))
    try:
        with opener.open(url, timeout=20) as response:
            print(response.status, response.geturl().split("?")[0])
            print(response.read().decode(errors="replace"))
            return 0
    except urllib.error.HTTPError as e:
        print(e.code, e.geturl().split("?")[0])
        print(e.read().decode(errors="replace"))
        return 1


def admin(args):
    url, pairs = args[0], [a for a in args[1:] if a != "--stdin"]
    if "--stdin" in args[1:]:
        pairs += [line.rstrip("\n") for line in sys.stdin if "=" in line]
    data = urllib.parse.urlencode([tuple(p.split("=", 1)) for p in pairs]).encode() if pairs else None
    try:
        with urllib.request.urlopen(url, data=data, timeout=10) as response:
            print(response.read().decode())
            return 0
    except urllib.error.HTTPError as e:
        print(e.read().decode())
        return 1


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "serve":
        serve(sys.argv[2:])
    elif len(sys.argv) >= 3 and sys.argv[1] == "browse":
        sys.exit(browse(sys.argv[2:]))
    elif len(sys.argv) >= 3 and sys.argv[1] == "admin":
        sys.exit(admin(sys.argv[2:]))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(64)
