#!/usr/bin/env python3
"""An independent reader of .tpk packages, written from docs/packages.md
alone (no code shared with core/pkg): it checks the layout, the paths,
the records and every hash with Python's hashlib, and prints the fields
in the shape `tern-pkg inspect` prints them, so a test can compare the two
readers line by line.

usage: tpk_referee.py PKG [--export-signed FILE] [--export-signature FILE]
exit 0 when the package is valid by the document, 1 (reason on stderr) if not.
"""
import hashlib
import re
import struct
import sys

MAGIC = b"\x89TPK\r\n\x1a\n"
NAME_RE = re.compile(r"^[A-Za-z0-9._+~-]+(/[A-Za-z0-9._+~-]+)*$")


class Refused(Exception):
    pass


def need(cond, why):
    if not cond:
        raise Refused(why)


def records(area, where):
    pos, out = 0, []
    while pos < len(area):
        need(len(area) - pos >= 4, f"{where}: cut record header")
        typ, length = struct.unpack_from("<HH", area, pos)
        need(length <= len(area) - pos - 4, f"{where}: record past the area")
        out.append((typ, area[pos + 4:pos + 4 + length]))
        pos += 4 + length
    return out


def read(data):
    need(data[:8] == MAGIC, "bad magic")
    need(len(data) >= 64, "truncated header")
    (hsize, fver, count, payload, prot, flags, vmaj, vmin, vpat, res, vbuild, palmaj,
     palmin) = struct.unpack_from("<HHIQIIHHHHIHH", data, 8)
    need(fver == 1, "format version")
    need(64 <= hsize <= 1024 and hsize % 8 == 0, "header size")
    need(1 <= count <= 256 and payload <= 64 << 20 and prot <= 16 << 10, "caps")
    need(flags == 0 and res == 0 and data[48:64] == bytes(16), "reserved")
    table_end = hsize + 144 * count
    payload_end = table_end + payload
    signed_end = payload_end + prot
    need(len(data) >= signed_end + 8, "truncated")
    files, at, prev = [], 0, None
    for i in range(count):
        off, size = struct.unpack_from("<QQ", data, hsize + 144 * i)
        field = data[hsize + 144 * i + 16:hsize + 144 * (i + 1)]
        name = field.split(b"\0", 1)[0]
        need(0 < len(name) <= 127 and field[len(name):] == bytes(128 - len(name)), "name field")
        name = name.decode("ascii")
        need(NAME_RE.match(name) and all(c not in (".", "..") for c in name.split("/")), "path")
        need(prev is None or prev < name.encode(), "order")
        need(off == at, "packing")
        files.append((name, data[table_end + off:table_end + off + size]))
        at += size
        prev = name.encode()
    need(at == payload, "payload not filled")
    names = {n for n, _ in files}
    need("manifest.json" in names, "no manifest")
    for n in names:
        parts = n.split("/")
        need(all("/".join(parts[:k]) not in names for k in range(1, len(parts))), "file is a dir")
    prot_recs = records(data[payload_end:signed_end], "protected")
    need(len(prot_recs) == count + 1, "protected record count")
    for i, (typ, val) in enumerate(prot_recs[:count]):
        need(typ == 1 and len(val) == 36 and struct.unpack_from("<I", val)[0] == i, "FILE_SHA256")
        need(hashlib.sha256(files[i][1]).digest() == val[4:], f"file hash {i}")
    need(prot_recs[count][0] == 2 and len(prot_recs[count][1]) == 8, "SECURITY_COUNTER")
    counter = struct.unpack("<Q", prot_recs[count][1])[0]
    need(data[signed_end:signed_end + 4] == b"TPKU", "unprotected magic")
    usize = struct.unpack_from("<I", data, signed_end + 4)[0]
    need(usize <= 256 and len(data) == signed_end + 8 + usize, "unprotected size")
    un = records(data[signed_end + 8:], "unprotected")
    need([t for t, _ in un] in ([0x101], [0x101, 0x102, 0x103]), "unprotected records")
    need(len(un[0][1]) == 32 and hashlib.sha256(data[:signed_end]).digest() == un[0][1],
         "image hash")
    key_id = sig = None
    if len(un) == 3:
        need(len(un[1][1]) == 32 and 8 <= len(un[2][1]) <= 72, "key id / signature length")
        key_id, sig = un[1][1], un[2][1]
    lines = [
        "format_version: 1",
        f"header_size: {hsize}",
        f"version: {vmaj}.{vmin}.{vpat}+{vbuild}",
        f"pal_abi: {palmaj}.{palmin}",
        f"security_counter: {counter}",
        f"files: {count} (payload {payload} bytes)",
    ]
    for n, body in files:
        lines.append(f"  {hashlib.sha256(body).hexdigest()} {len(body):10d} {n}")
    lines += [f"signed_bytes: {signed_end}", f"image_sha256: {un[0][1].hex()}",
              f"signer: {key_id.hex() if key_id else 'none'}"]
    return lines, data[:signed_end], sig


def main(argv):
    path, exports = argv[1], dict(zip(argv[2::2], argv[3::2]))
    data = open(path, "rb").read()
    try:
        lines, signed, sig = read(data)
    except (Refused, struct.error, UnicodeDecodeError) as e:
        print(f"tpk_referee: {path}: refused: {e}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    if "--export-signed" in exports:
        open(exports["--export-signed"], "wb").write(signed)
    if "--export-signature" in exports and sig is not None:
        open(exports["--export-signature"], "wb").write(sig)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
