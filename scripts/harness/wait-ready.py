#!/usr/bin/python3
"""wait-ready.py SECONDS CA NAME=HOST:PORT:MODE:PREFIX... [--pid NAME=PID]...

Wait (in parallel, bounded by SECONDS in total) until each server sends its real greeting, not merely
until its port accepts: Dovecot's login processes may still be starting when the listener is open.
MODE is "plain" or "tls" (implicit TLS, certificate verified against CA for the name "localhost"); "http" and
"https" send a GET first (servers that do not greet), with PREFIX e.g. "HTTP/1.".
PREFIX is what the greeting must start with ("220 ", "* OK").
A --pid whose process has exited (or is a zombie) makes the wait fail at once instead of at the deadline.
Prints one line per server with the time it took; exit 1 naming what was not ready.
"""
import socket, ssl, sys, threading, time


def alive(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("State:"):
                    return "Z" not in line.split()[1]
    except FileNotFoundError:
        return False
    return False


def probe(host, port, mode, prefix, ctx, budget):
    with socket.create_connection((host, port), timeout=budget) as s:
        s.settimeout(budget)
        if mode in ("tls", "https"):
            s = ctx.wrap_socket(s, server_hostname="localhost")
        if mode in ("http", "https"):
            s.sendall(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        data = b""
        while b"\n" not in data:
            chunk = s.recv(512)
            if not chunk:
                raise ConnectionError("closed before greeting")
            data += chunk
        line = data.split(b"\n", 1)[0].decode("ascii", "replace").rstrip("\r")
        if not line.startswith(prefix):
            raise ConnectionError(f"unexpected greeting {line!r}")
        return line


def main():
    args = sys.argv[1:]
    seconds, ca = float(args[0]), args[1]
    targets, pids = [], {}
    rest = args[2:]
    i = 0
    while i < len(rest):
        if rest[i] == "--pid":
            n, p = rest[i + 1].split("=", 1)
            pids[n] = int(p)
            i += 2
            continue
        name, spec = rest[i].split("=", 1)
        host, port, mode, prefix = spec.split(":", 3)
        targets.append((name, host, int(port), mode, prefix))
        i += 1
    ctx = ssl.create_default_context(cafile=ca)
    start = time.monotonic()
    deadline = start + seconds
    results, lock = {}, threading.Lock()

    def run(t):
        name, host, port, mode, prefix = t
        last = "not tried"
        while time.monotonic() < deadline:
            dead = [n for n, p in pids.items() if not alive(p)]
            if dead:
                last = f"process {', '.join(dead)} exited"
                break
            try:
                line = probe(host, port, mode, prefix, ctx, max(0.1, min(2.0, deadline - time.monotonic())))
                with lock:
                    results[name] = (True, f"{time.monotonic() - start:.3f} s  {line}")
                return
            except (OSError, ssl.SSLError) as e:
                last = f"{type(e).__name__}: {e}"
            time.sleep(0.02)
        with lock:
            results[name] = (False, last)

    threads = [threading.Thread(target=run, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = True
    for name, host, port, mode, _ in targets:
        good, msg = results[name]
        ok &= good
        print(f"  {'ready' if good else 'NOT READY'}  {name:<22} {host}:{port} ({mode})  {msg}",
              file=sys.stdout if good else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
