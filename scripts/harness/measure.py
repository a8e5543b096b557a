#!/usr/bin/python3
"""measure.py --runs N --warmup W --json OUT [--stdin FILE] -- CMD1 [--- CMD2 ...]

Runs whole processes, the commands alternating run by run (so a load change on the machine hits all of
them alike), and reports for each the median wall time, the median CPU time (user + system of the process
and its children, from wait4), and the peak RSS. Each command is one shell-free argv, words separated by
spaces (no quoting: the bench's commands need none). stdout and stderr go to /dev/null (secret-tool
search writes every item there); with --stdin each run reads FILE. A command's exit statuses are reported.
"""
import argparse, json, os, statistics, sys, time


def run_once(argv, stdin_path):
    stdin = os.open(stdin_path, os.O_RDONLY) if stdin_path else os.open("/dev/null", os.O_RDONLY)
    devnull = os.open("/dev/null", os.O_WRONLY)
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.dup2(stdin, 0)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    wall = time.monotonic() - started
    os.close(stdin)
    os.close(devnull)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, os.waitstatus_to_exitcode(status)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--json", required=True)
    parser.add_argument("--stdin")
    parser.add_argument("commands", nargs="+")
    args = parser.parse_args()
    commands, current = [], []
    for word in args.commands:
        if word == "---":
            commands.append(current)
            current = []
        else:
            current.append(word)
    commands.append(current)
    for _ in range(args.warmup):
        for argv in commands:
            run_once(argv, args.stdin)
    samples = [[] for _ in commands]
    for _ in range(args.runs):
        for index, argv in enumerate(commands):
            samples[index].append(run_once(argv, args.stdin))
    results = []
    for argv, runs in zip(commands, samples):
        results.append({
            "command": " ".join(argv),
            "median_wall_ms": statistics.median(r[0] for r in runs) * 1000,
            "median_cpu_ms": statistics.median(r[1] for r in runs) * 1000,
            "peak_rss_kib": max(r[2] for r in runs),
            "exit_codes": sorted(set(r[3] for r in runs)),
            "runs": len(runs),
        })
    with open(args.json, "w") as f:
        json.dump({"results": results}, f, indent=1)
    for r in results:
        print("   %-60s wall %7.1f ms  cpu %7.1f ms  rss %6d KiB  exit %s" % (
            r["command"][:60], r["median_wall_ms"], r["median_cpu_ms"], r["peak_rss_kib"], r["exit_codes"]))


if __name__ == "__main__":
    sys.exit(main())
