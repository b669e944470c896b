#!/usr/bin/env python3
"""Boots a guest and times its first HTTP 200 (bench/metal/lib.sh).

usage: boot_probe.py RESULT OUT READY URL TIMEOUT_S CMD...

Starts CMD (stdin /dev/null, stdout and stderr to OUT) and takes the time
just before; waits until OUT has a line matching each of READY's
';'-separated regular expressions, then sends GET URL (a new connection
per try, 2 s timeout, every 10 ms) until the answer is 200. Writes
"SEEN_MS WALL_MS CPU_MS" (QEMU start -> ready lines, -> first 200, and
the CPU time CMD and its descendants, QEMU, had used by then) to RESULT, or
"fail" when CMD exits, OUT shows a halt or panic, or TIMEOUT_S passes.
Then keeps CMD running until this process gets SIGTERM (the caller may
measure more), and ends CMD with it.

One long-lived poller started before the guest: a curl per try costs its
process start (tens of libraries) inside the measured time, up to a
second on a loaded 2-CPU host.
"""
import http.client
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse

FAIL = re.compile(rb"halting with code|^TERN_PANIC|^LINUX_MARK fail|Kernel panic", re.M)


def get_200(url):
    """True when GET url answers 200."""
    u = urllib.parse.urlsplit(url)
    try:
        c = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=2)
        c.request("GET", u.path or "/")
        ok = c.getresponse().status == 200
        c.close()
        return ok
    except (OSError, http.client.HTTPException):
        return False


def tree_cpu_ms(root):
    """User + system CPU time of process root and its descendants, in ms."""
    parent, cpu = {}, {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(pid)] = int(fields[1])
        cpu[int(pid)] = int(fields[11]) + int(fields[12])   # utime, stime
    total = 0
    for pid in cpu:
        p = pid
        while p > 1 and p != root:
            p = parent.get(p, 0)
        if p == root:
            total += cpu[pid]
    return total * 1000 // os.sysconf("SC_CLK_TCK")


def probe(child, out, ready, url, timeout, t0):
    """'SEEN WALL' in ms, or 'fail'."""
    seen = None
    pending = [re.compile(r.encode(), re.M) for r in ready.split(";") if r]
    while time.monotonic() - t0 < timeout:
        if child.poll() is not None:
            return "fail"
        with open(out, "rb") as f:
            log = f.read()
        if FAIL.search(log):
            return "fail"
        if seen is None and all(p.search(log) for p in pending):
            seen = int((time.monotonic() - t0) * 1000)
        if seen is not None and get_200(url):
            wall = int((time.monotonic() - t0) * 1000)
            return f"{seen} {wall} {tree_cpu_ms(child.pid)}"
        time.sleep(0.01)
    return "fail"


def main():
    result, out, ready, url, timeout = sys.argv[1:6]
    cmd = sys.argv[6:]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    t0 = time.monotonic()
    with open(out, "wb") as log:
        child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        r = probe(child, out, ready, url, float(timeout), t0)
        with open(result, "w") as f:
            f.write(r + "\n")
        child.wait()
    finally:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


if __name__ == "__main__":
    main()
