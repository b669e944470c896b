#!/usr/bin/env python3
"""Boot-state records written from the layout in docs/updates.md, by a
second encoder (not Tern's): the seeds of fuzz_bootstate and the records
test_update decodes (valid-* must decode and re-encode to the same bytes,
invalid-* must be refused).

    gen_seeds.py OUT_DIR
"""
import struct
import sys
import zlib

NONE = 0xFF


def record(seq, active=NONE, pending=NONE, tries=0, confirmed=False, counter=0,
           rollbacks=0, last_slot=NONE, last_why=0, text=b"", ids=(b"", b""),
           bad=(False, False)):
    b = bytearray(512)
    struct.pack_into("<4sHHIBBBBQIBBH", b, 0, b"TBSR", 1, 512, seq, active, pending,
                     tries, 1 if confirmed else 0, counter, rollbacks, last_slot,
                     last_why, 0)
    b[32:32 + len(text)] = text
    for i in range(2):
        off = 96 + 200 * i
        b[off] = 1 if bad[i] else 0
        b[off + 1] = len(ids[i])
        b[off + 2:off + 2 + len(ids[i])] = ids[i]
    struct.pack_into("<I", b, 508, zlib.crc32(bytes(b[:508])))
    return bytes(b)


def main():
    out = sys.argv[1]
    seeds = {
        "valid-fresh.bin": record(1, active=0),
        "valid-full.bin": record(0x01020304, active=0, pending=1, tries=2, confirmed=True,
                                 counter=0x1122334455667788, rollbacks=9, last_slot=1,
                                 last_why=5, text=b"no 200 in 10 s",
                                 ids=(b"hello 1.0.0 key=0123abcd", b"hello 2.0.0 key=0123abcd")),
        "valid-pending.bin": record(7, pending=0, tries=3, ids=(b"first", b"")),
        "valid-rollback.bin": record(0xFFFFFFFF, active=1, confirmed=True, counter=3,
                                     rollbacks=1, last_slot=0, last_why=1,
                                     text=b"trial boots ran out before a confirm",
                                     ids=(b"v4", b"v3"), bad=(True, False)),
    }
    torn = bytearray(seeds["valid-full.bin"])
    torn[256:] = seeds["valid-fresh.bin"][256:]
    seeds["invalid-torn.bin"] = bytes(torn)
    badcrc = bytearray(seeds["valid-pending.bin"])
    badcrc[508] ^= 1
    seeds["invalid-badcrc.bin"] = bytes(badcrc)
    # Two copies in one input, as the harness reads them (copy 0, copy 1).
    seeds["pair-newer-second.bin"] = seeds["valid-full.bin"] + record(
        0x01020305, active=1, confirmed=True, counter=5, ids=(b"a", b"b"))
    seeds["pair-wrap.bin"] = seeds["valid-rollback.bin"] + record(0, active=1, pending=0,
                                                                  tries=1, confirmed=True)
    seeds["pair-torn-second.bin"] = seeds["valid-pending.bin"] + bytes(torn)
    for name, data in seeds.items():
        with open(f"{out}/{name}", "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
