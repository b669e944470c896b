#!/usr/bin/python3
"""Minimal TCP throughput meter for bench/net.

  tcp_meter.py recv PORT            accept one connection, read to EOF,
                                    print "BYTES SECONDS MBIT/S" (first byte..EOF)
  tcp_meter.py send HOST PORT BYTES connect, send BYTES, half-close, wait
                                    for the peer's close, print the same
"""
import socket
import sys
import time


def report(n, secs):
    print("%d %.3f %.1f" % (n, secs, n * 8 / secs / 1e6 if secs > 0 else 0.0), flush=True)


def recv(port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(1)
    print("listening", flush=True)
    c, _ = ls.accept()
    buf = bytearray(1 << 20)
    n = c.recv_into(buf)
    t0 = time.monotonic()
    total = n
    while n:
        n = c.recv_into(buf)
        total += n
    report(total, time.monotonic() - t0)


def send(host, port, nbytes):
    s = socket.create_connection((host, port), timeout=60)
    chunk = bytes(1 << 20)
    t0 = time.monotonic()
    left = nbytes
    while left > 0:
        k = min(left, len(chunk))
        s.sendall(chunk[:k])
        left -= k
    s.shutdown(socket.SHUT_WR)
    while s.recv(65536):
        pass
    report(nbytes, time.monotonic() - t0)


if __name__ == "__main__":
    if sys.argv[1] == "recv":
        recv(int(sys.argv[2]))
    else:
        send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
