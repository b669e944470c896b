#!/usr/bin/env python3
"""Cross-links two files of a Tern image's data partition (GPT entry 2):
the second regular file in the root directory gets the first one's start
cluster. Nothing else changes, so only a whole-volume check can see it.
usage: crosslink.py IMAGE"""
import struct
import sys

with open(sys.argv[1], "r+b") as f:
    f.seek(512)
    hdr = f.read(92)
    assert hdr[:8] == b"EFI PART", "no GPT"
    entries_lba, _, entry_size = struct.unpack_from("<QII", hdr, 72)
    f.seek(entries_lba * 512 + entry_size)  # entry 2: the data partition
    first_lba = struct.unpack_from("<Q", f.read(48), 32)[0]
    base = first_lba * 512
    f.seek(base)
    bpb = f.read(512)
    bps, spc, reserved, nfats, root_entries, _, _, fat16 = struct.unpack_from("<HBHBHHBH", bpb, 11)
    fatsz = fat16 or struct.unpack_from("<I", bpb, 36)[0]
    root_secs = (root_entries * 32 + bps - 1) // bps
    data = reserved + nfats * fatsz + root_secs
    if root_entries:  # FAT12/16: fixed root directory
        root = base + (reserved + nfats * fatsz) * bps
        span = root_entries * 32
    else:  # FAT32: first cluster of the root directory
        rc = struct.unpack_from("<I", bpb, 44)[0]
        root = base + (data + (rc - 2) * spc) * bps
        span = spc * bps
    f.seek(root)
    d = f.read(span)
    files = []
    for off in range(0, span, 32):
        e = d[off:off + 32]
        if e[0] == 0:
            break
        if e[0] == 0xE5 or e[11] & 0x0F == 0x0F or e[11] & 0x18:
            continue
        cl = struct.unpack_from("<H", e, 20)[0] << 16 | struct.unpack_from("<H", e, 26)[0]
        if cl >= 2:
            files.append((off, cl))
    assert len(files) >= 2, "need two files with clusters"
    (_, a), (boff, _) = files[0], files[1]
    f.seek(root + boff + 20)
    f.write(struct.pack("<H", a >> 16))
    f.seek(root + boff + 26)
    f.write(struct.pack("<H", a & 0xFFFF))
print("crosslink: second file now starts at cluster", a)
