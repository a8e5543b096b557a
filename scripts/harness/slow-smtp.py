#!/usr/bin/python3
"""slow-smtp.py --port P [--delay SECONDS] [--count-file FILE]

A loopback SMTP server that waits DELAY seconds before every greeting, then accepts any AUTH PLAIN/LOGIN
(no TLS: use it as a `plain` loopback endpoint with --allow-plaintext). It stands in for a slow provider in
the audit concurrency benchmark: N credentials checked one after another cost N x DELAY; checked
concurrently, about DELAY. With --count-file it writes the number of accepted connections after each one
(a test can prove that `audit --offline` connects to nothing).
"""
import argparse, asyncio, signal

accepted = 0


async def session(reader, writer, delay, count_file):
    global accepted
    accepted += 1
    if count_file:
        with open(count_file, "w") as f:
            f.write(f"{accepted}\n")
    try:
        await asyncio.sleep(delay)
        writer.write(b"220 slow.test ESMTP\r\n")
        await writer.drain()
        while True:
            line = await reader.readline()
            if not line:
                break
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                writer.write(b"250-slow.test\r\n250 AUTH PLAIN LOGIN\r\n")
            elif verb == b"AUTH":
                if line.strip().upper() == b"AUTH LOGIN":
                    for prompt in (b"334 VXNlcm5hbWU6\r\n", b"334 UGFzc3dvcmQ6\r\n"):
                        writer.write(prompt)
                        await writer.drain()
                        await reader.readline()
                writer.write(b"235 2.7.0 Authentication successful\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 2.0.0 Bye\r\n")
                await writer.drain()
                break
            else:
                writer.write(b"250 2.0.0 OK\r\n")
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=1.0)
    parser.add_argument("--count-file")
    args = parser.parse_args()
    server = await asyncio.start_server(
        lambda r, w: session(r, w, args.delay, args.count_file), "127.0.0.1", args.port, backlog=512)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


asyncio.run(main())
