#!/usr/bin/python3
"""Interop over wire: a scapy peer on the other end of a Unix datagram
wire talks to a real tern-linux: ARP, ping with an 8000-byte payload (both
ways fragmented), UDP echo, all checksums verified by scapy, then the
--pcap file is read back by tshark (every checksum good). No root needed.

usage: wire_interop.py TERN_LINUX"""
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

try:
    from scapy.all import ARP, ICMP, IP, UDP, Ether, Raw, fragment
except ImportError:
    print("SKIP: python3-scapy is not installed")
    sys.exit(77)

PEER_MAC = "02:00:00:00:00:99"
PEER_IP = "192.0.2.1"
TERN_IP = "192.0.2.10"


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def wait_marker(proc, pattern, secs):
    """Reads tern's stdout until a line starting with pattern appears."""
    deadline = time.monotonic() + secs
    buf = b""
    while time.monotonic() < deadline:
        r, _, _ = select.select([proc.stdout], [], [], 0.1)
        if r:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                fail("tern-linux exited before %r: %s" % (pattern, buf.decode(errors="replace")))
            buf += chunk
            for line in buf.decode(errors="replace").splitlines():
                if line.startswith(pattern):
                    return line
    fail("no %r within %ss: %s" % (pattern, secs, buf.decode(errors="replace")))


def checksums_ok(pkt):
    """True when the IP header checksum, and the ICMP/UDP checksum of an
    unfragmented packet, equal what scapy recomputes."""
    ip = pkt[IP]
    hdr = ip.copy()
    hdr.chksum = None
    if IP(bytes(hdr)).chksum != ip.chksum:
        return False
    if ip.frag != 0 or ip.flags.MF:
        return True
    for layer in (ICMP, UDP):
        if layer in ip:
            rebuilt = ip.copy()
            rebuilt[layer].chksum = None
            if IP(bytes(rebuilt))[layer].chksum != ip[layer].chksum:
                return False
    return True


def main():
    tern = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="tern-wire-")
    try:
        return run(tern, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(tern, tmp):
    ours, theirs = os.path.join(tmp, "peer.sock"), os.path.join(tmp, "tern.sock")
    pcap = os.path.join(tmp, "wire.pcap")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(ours)
    proc = subprocess.Popen([tern, "--net", "wire:%s,%s" % (theirs, ours), "--ip",
                             TERN_IP + "/24", "--udp-echo", "7", "--pcap", pcap],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        up = wait_marker(proc, "TERN_NET_UP", 10)
        if "ip=192.0.2.10/24" not in up or "via=static" not in up:
            fail("unexpected marker: " + up)
        tern_mac = None

        def send(pkt):
            sock.sendto(bytes(pkt), theirs)

        def recv(timeout=5.0):
            """Next frame from tern; answers its ARP requests on the way."""
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                r, _, _ = select.select([sock], [], [], 0.1)
                if not r:
                    continue
                f = Ether(sock.recv(65536))
                if ARP in f and f[ARP].op == 1 and f[ARP].pdst == PEER_IP:
                    send(Ether(dst=f.src, src=PEER_MAC) /
                         ARP(op=2, hwsrc=PEER_MAC, psrc=PEER_IP, hwdst=f.src, pdst=f[ARP].psrc))
                    continue
                return f
            fail("nothing from tern within %ss" % timeout)

        # 1. the gratuitous ARP announcing its address
        f = recv()
        if ARP not in f or f[ARP].psrc != TERN_IP or f[ARP].pdst != TERN_IP:
            fail("expected a gratuitous ARP, got " + f.summary())
        tern_mac = f.src
        # 2. ARP request -> reply
        send(Ether(dst="ff:ff:ff:ff:ff:ff", src=PEER_MAC) /
             ARP(op=1, hwsrc=PEER_MAC, psrc=PEER_IP, pdst=TERN_IP))
        f = recv()
        if ARP not in f or f[ARP].op != 2 or f[ARP].hwsrc != tern_mac or f[ARP].pdst != PEER_IP:
            fail("bad ARP reply: " + f.summary())
        print("ok: ARP reply from", tern_mac)
        # 3. ping with 8000 bytes, sent as fragments; the reply comes back fragmented
        payload = bytes((i * 7) & 0xff for i in range(8000))
        ping = IP(src=PEER_IP, dst=TERN_IP, id=4242) / ICMP(id=0x77, seq=1) / Raw(payload)
        for frag in fragment(ping, fragsize=1480):
            send(Ether(dst=tern_mac, src=PEER_MAC) / frag)
        frags = {}
        total = None
        while total is None or sum(len(v) for v in frags.values()) < total:
            f = recv()
            if IP not in f or f[IP].proto != 1:
                fail("expected ICMP fragments, got " + f.summary())
            ip = f[IP]
            if not checksums_ok(f):
                fail("bad IP header checksum on a reply fragment")
            if ip.len > 1500:
                fail("fragment larger than the MTU: %d" % ip.len)
            data = bytes(ip.payload)[: ip.len - ip.ihl * 4]
            frags[ip.frag * 8] = data
            if not ip.flags.MF:
                total = ip.frag * 8 + len(data)
        whole = b"".join(frags[k] for k in sorted(frags))
        reply = ICMP(whole)
        if reply.type != 0 or reply.id != 0x77 or bytes(reply.payload) != payload:
            fail("echo reply does not match the request")
        check = reply.copy()
        check.chksum = None
        if ICMP(bytes(check)).chksum != reply.chksum:
            fail("bad ICMP checksum on the reassembled reply")
        print("ok: 8000-byte ping answered in %d fragments" % len(frags))
        # 4. UDP echo
        send(Ether(dst=tern_mac, src=PEER_MAC) / IP(src=PEER_IP, dst=TERN_IP) /
             UDP(sport=40000, dport=7) / Raw(b"tern over the wire"))
        f = recv()
        if UDP not in f or f[UDP].dport != 40000 or bytes(f[UDP].payload) != b"tern over the wire":
            fail("bad UDP echo: " + f.summary())
        if not checksums_ok(f):
            fail("bad checksum on the UDP echo")
        print("ok: UDP echo")
        # 5. a closed port draws ICMP port unreachable
        send(Ether(dst=tern_mac, src=PEER_MAC) / IP(src=PEER_IP, dst=TERN_IP) /
             UDP(sport=40001, dport=9) / Raw(b"x"))
        f = recv()
        if ICMP not in f or f[ICMP].type != 3 or f[ICMP].code != 3:
            fail("expected port unreachable, got " + f.summary())
        print("ok: port unreachable")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            fail("tern-linux did not stop on SIGTERM")
    if proc.returncode != 0:
        fail("tern-linux exited with %d" % proc.returncode)
    # 6. the pcap file, read back by tshark
    base = ["tshark", "-r", pcap, "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"]
    try:
        every = subprocess.run(base, capture_output=True, text=True, timeout=60)
        bad = subprocess.run(base + ["-Y", "ip.checksum.status == 0 || udp.checksum.status == 0"
                                     " || icmp.checksum.status == 0"],
                             capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        print("note: tshark not installed; pcap not checked")
        return 0
    if every.returncode != 0 or bad.returncode != 0:
        fail("tshark cannot read the pcap: " + every.stderr + bad.stderr)
    frames = [l for l in every.stdout.splitlines() if l.strip()]
    bad_frames = [l for l in bad.stdout.splitlines() if l.strip()]
    if len(frames) < 14 or bad_frames:
        fail("pcap: %d frames, bad checksums in: %s" % (len(frames), bad_frames))
    print("ok: tshark read %d frames from --pcap, no bad checksum" % len(frames))
    return 0


if __name__ == "__main__":
    sys.exit(main())
