#!/usr/bin/python3
"""git-http.py -- git's smart HTTP over HTTPS with Basic auth, for mailcred's git credential tests (loopback only).

  git-http.py --port P --cert PEM --key KEY --root DIR [--log FILE]

Serves every bare repository under DIR (https://127.0.0.1:P/NAME.git) by running `git http-backend` as a CGI
for each request, clone and push alike, once the request carries a Basic Authorization header whose user and
password are known. Without one, or with a wrong one, it answers 401 with `WWW-Authenticate: Basic`, as a
forge does, so that git asks its credential helpers, stores what worked and erases what was refused.

Users and passwords come from stdin, one `USER PASSWORD` line each (a later line for the same user changes
the password; `-USER` removes the user), and are kept in memory only: the test's secrets are in no file and no
argv. Each line is acknowledged with `ok` on stdout once in effect. The server stops when stdin ends (the test
that started it has gone). --port 0 takes a free port; `ready PORT` on stdout says which, once it listens. The log (stderr, or --log) names each request's method, path, user and status, never a password.
Uses /usr/bin/python3 and the standard library only.
"""
import argparse, base64, hmac, http.server, os, ssl, subprocess, sys, threading

USERS = {}
LOCK = threading.Lock()


def read_users(server):
    for line in sys.stdin:
        line = line.rstrip("\n")
        with LOCK:
            if line.startswith("-"):
                USERS.pop(line[1:], None)
            elif " " in line:
                user, password = line.split(" ", 1)
                USERS[user] = password.encode()
        log(f"users: {sorted(USERS)}")
        print("ok", flush=True)
    threading.Thread(target=server.shutdown, daemon=True).start()


LOGFILE = sys.stderr


def log(text):
    print(text, file=LOGFILE, flush=True)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    root = "."

    def log_message(self, format, *args):  # the default one prints the request line only: fine, but ours
        pass                                # says who asked, and nothing else

    def authorized_user(self):
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        with LOCK:
            known = USERS.get(user)
        if known is not None and hmac.compare_digest(known, password.encode()):
            return user
        return None

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def handle_any(self):
        body = self.body()
        user = self.authorized_user()
        path, _, query = self.path.partition("?")
        if user is None:
            who = "no credentials" if "Authorization" not in self.headers else "refused credentials"
            log(f"{self.command} {path} 401 ({who})")
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="mailcred test forge"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GIT_PROJECT_ROOT": self.root,
            "GIT_HTTP_EXPORT_ALL": "1", "GIT_CONFIG_NOSYSTEM": "1", "HOME": self.root,
            "REQUEST_METHOD": self.command, "PATH_INFO": path, "QUERY_STRING": query, "REMOTE_USER": user,
            "REMOTE_ADDR": self.client_address[0], "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)), "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1",
        }
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, timeout=60).stdout
        head, _, payload = out.partition(b"\r\n\r\n") if b"\r\n\r\n" in out else out.partition(b"\n\n")
        status, headers = 200, []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split(" ")[0])
            elif name:
                headers.append((name, value.strip()))
        log(f"{self.command} {path} {status} ({user})")
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = handle_any


def main():
    global LOGFILE
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--log")
    args = parser.parse_args()
    if args.log:
        LOGFILE = open(args.log, "a", buffering=1)
    Handler.root = os.path.abspath(args.root)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print(f"ready {server.server_address[1]}", flush=True)
    threading.Thread(target=read_users, args=(server,), daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
