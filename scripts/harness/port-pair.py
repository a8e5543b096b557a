#!/usr/bin/env python3
"""port-pair.py [--blocked HOST:PORT]... [--forward HOST:PORT=THOST:TPORT]...

For `mailcred doctor --check` tests: standard mail ports on spare loopback addresses, so that the 587/465 and
993/143 pairs can be probed with the real Dovecot behind them.
  --blocked   a listener with listen(0) that never accepts, its queue filled first, so every later SYN is
              dropped and a connect times out, as on a filtered port (HARNESS.md "Hostile and slow servers").
  --forward   accepts and relays bytes both ways to THOST:TPORT (the harness Dovecot): the real server answers.
Prints "ready" once every socket is set up; runs until its standard input closes."""
import socket
import sys
import select
import threading


def addr(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def blocked(where):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(where)
    listener.listen(0)
    fillers = []
    for _ in range(8):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex(where)
        fillers.append(s)

        _, writable, _ = select.select([], [s], [], 0.2)
        if not writable:
            return listener, fillers
    raise SystemExit(f"port-pair: the queue of {where} never filled")


def pump(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def forward(where, target):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(where)
    listener.listen(16)

    def serve():
        while True:
            client, _ = listener.accept()
            try:
                upstream = socket.create_connection(target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=pump, args=(upstream, client), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return listener


def main():
    keep = []
    args = sys.argv[1:]
    while args:
        flag, value = args[0], args[1]
        args = args[2:]
        if flag == "--blocked":
            keep.append(blocked(addr(value)))
        elif flag == "--forward":
            here, there = value.split("=", 1)
            keep.append(forward(addr(here), addr(there)))
        else:
            raise SystemExit(f"port-pair: unknown option {flag}")
    print("ready", flush=True)
    sys.stdin.read()


main()
