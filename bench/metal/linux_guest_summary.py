#!/usr/bin/env python3
"""Summaries for bench/metal/linux_guest.sh: the median and range of each
figure over the runs, and the median and range of the per-run ratios
(the same run index pairs Tern with the Linux guest).

usage: linux_guest_summary.py boot FILE   lines "MODE GUEST RUN serve ready net wall init seen cpu"
       linux_guest_summary.py tap FILE    lines "GUEST RUN PATH req_per_s p99_ms"
"""
import statistics
import sys


def fmt(values, unit=""):
    """'median (lo-hi)' of values."""
    if not values:
        return "-"
    med = statistics.median(values)
    return f"{med:.0f}{unit} ({min(values):.0f}-{max(values):.0f})"


def ratio(values):
    if not values:
        return "-"
    return f"{statistics.median(values):.1f}x ({min(values):.1f}-{max(values):.1f})"


def boot(rows):
    by = {}
    for mode, guest, run, serve, ready, net, wall, init, seen, cpu in rows:
        by.setdefault((mode, guest), {})[run] = dict(
            serve=int(serve), wall=int(wall), seen=int(seen), cpu=int(cpu),
            init=None if init == "-" else int(init))
    for mode in ("static", "dhcp"):
        for guest in ("tern", "linux"):
            runs = by.get((mode, guest), {})
            if not runs:
                continue
            v = list(runs.values())
            before = [r["seen"] - r["serve"] for r in v]
            init = [r["init"] for r in v if r["init"] is not None]
            print(f"{mode:6} {guest:5} guest serve {fmt([r['serve'] for r in v], ' ms')}"
                  + (f", kernel->/init {fmt(init, ' ms')}" if init else "")
                  + f", QEMU start -> first 200 {fmt([r['wall'] for r in v], ' ms')}"
                  + f", QEMU CPU time by then {fmt([r['cpu'] for r in v], ' ms')}"
                  + f", before the guest clock {fmt(before, ' ms')} ({len(v)} runs)")
        t, l = by.get((mode, "tern"), {}), by.get((mode, "linux"), {})
        both = sorted(set(t) & set(l))
        if both:
            print(f"{mode:6} ratio Linux/Tern (per run): wall to first 200 "
                  f"{ratio([l[i]['wall'] / t[i]['wall'] for i in both])}, QEMU CPU time "
                  f"{ratio([l[i]['cpu'] / max(t[i]['cpu'], 1) for i in both])}, guest serve "
                  f"{ratio([l[i]['serve'] / t[i]['serve'] for i in both])}")


def tap(rows):
    by = {}
    for guest, run, path, rps, p99 in rows:
        by.setdefault((path, guest), {})[run] = (float(rps), float(p99))
    for path in ("/healthz", "/"):
        for guest in ("tern", "linux"):
            runs = by.get((path, guest), {})
            if runs:
                v = list(runs.values())
                print(f"tap {guest:5} {path:8} {fmt([r[0] for r in v], ' req/s')}, "
                      f"p99 {statistics.median([r[1] for r in v]):.2f} ms "
                      f"({min(r[1] for r in v):.2f}-{max(r[1] for r in v):.2f})")
        t, l = by.get((path, "tern"), {}), by.get((path, "linux"), {})
        both = sorted(set(t) & set(l))
        if both:
            print(f"tap ratio Tern/Linux {path:8} {ratio([t[i][0] / l[i][0] for i in both])} req/s")


def main():
    kind, path = sys.argv[1], sys.argv[2]
    with open(path) as f:
        rows = [line.split() for line in f if line.strip()]
    boot(rows) if kind == "boot" else tap(rows)


if __name__ == "__main__":
    main()
