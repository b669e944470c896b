#!/usr/bin/env python3
"""Where two builds of one artefact differ, diffoscope-style but small.

usage: diffreport.py A B

Prints the regions whose bytes differ, named by the file's own structure:
ELF sections and headers, PE/COFF headers (TimeDateStamp, CheckSum) and
sections, and for a GPT disk image the MBR, GPT header and entries, and
inside each FAT partition the boot sector, FSInfo, FATs, root directory
and data clusters. For ELF and PE files it also prints the printable
strings found in only one of the two (build paths, dates). Exit status 0
when the files are equal, 1 when they differ. Standard library only.
"""
import struct
import sys

MAX_REGIONS = 24
MAX_STRINGS = 12


def elf_regions(d):
    """(start, end, name) for an ELF64 little-endian file."""
    if len(d) < 64 or d[4] != 2 or d[5] != 1:
        return [(0, len(d), "ELF (not 64-bit little-endian)")]
    phoff, shoff = struct.unpack_from("<QQ", d, 32)
    phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from("<HHHHH", d, 54)
    out = [(0, 64, "ELF header"),
           (phoff, phoff + phentsize * phnum, "program headers"),
           (shoff, shoff + shentsize * shnum, "section headers")]
    secs = []
    for i in range(shnum):
        o = shoff + i * shentsize
        if o + 64 > len(d):
            break
        name, typ, _, _, off, size = struct.unpack_from("<IIQQQQ", d, o)
        secs.append((name, typ, off, size))
    strtab = secs[shstrndx] if shstrndx < len(secs) else None
    for name, typ, off, size in secs:
        if typ == 8 or size == 0:          # SHT_NOBITS: nothing in the file
            continue
        label = "section #%d" % len(out)
        if strtab:
            s = strtab[2] + name
            label = d[s:d.index(b"\0", s)].decode(errors="replace") if s < len(d) else label
        out.append((off, off + size, "section " + label))
    return out


def pe_regions(d):
    """(start, end, name) for a PE/COFF image."""
    pe = struct.unpack_from("<I", d, 0x3c)[0]
    if d[pe:pe + 4] != b"PE\0\0":
        return [(0, len(d), "MZ file without a PE header")]
    nsec = struct.unpack_from("<H", d, pe + 6)[0]
    optsize = struct.unpack_from("<H", d, pe + 20)[0]
    opt = pe + 24
    out = [(0, pe, "DOS header and stub"),
           (pe + 8, pe + 12, "COFF TimeDateStamp"),
           (pe, pe + 24, "COFF header"),
           (opt + 64, opt + 68, "optional header CheckSum"),
           (opt, opt + optsize, "optional header (incl. data directories)"),
           (opt + optsize, opt + optsize + 40 * nsec, "section table")]
    for i in range(nsec):
        o = opt + optsize + 40 * i
        name = d[o:o + 8].rstrip(b"\0").decode(errors="replace")
        size, ptr = struct.unpack_from("<II", d, o + 16)
        out.append((ptr, ptr + size, "section " + name))
    return out


class FatVolume:
    """Enough of a FAT12/16/32 volume to say which file owns a cluster."""

    def __init__(self, d, base, bps, spc, res, nfats, fatsz, root_ents, fat32):
        self.d, self.base, self.cl = d, base, bps * spc
        self.fat = base + res * bps
        self.root = self.fat + nfats * fatsz * bps
        self.data = self.root + (root_ents * 32 + bps - 1) // bps * bps
        total = struct.unpack_from("<H", d, base + 19)[0] or struct.unpack_from("<I", d, base + 32)[0]
        count = (base + total * bps - self.data) // self.cl
        self.kind = 32 if fat32 else 12 if count < 4085 else 16
        self.root_cluster = struct.unpack_from("<I", d, base + 44)[0] if fat32 else 0
        self.owner = {}                   # cluster -> (path, index in its chain)

    def next(self, c):
        if self.kind == 32:
            return struct.unpack_from("<I", self.d, self.fat + 4 * c)[0] & 0x0fffffff
        if self.kind == 16:
            return struct.unpack_from("<H", self.d, self.fat + 2 * c)[0]
        v = struct.unpack_from("<H", self.d, self.fat + c * 3 // 2)[0]
        return v >> 4 if c & 1 else v & 0xfff

    def chain(self, c, path):
        out = []
        end = {32: 0x0ffffff8, 16: 0xfff8, 12: 0xff8}[self.kind]
        while 2 <= c < end and c not in self.owner and len(out) < 1 << 20:
            self.owner[c] = (path, len(out))
            out.append(c)
            c = self.next(c)
        return out

    def walk(self, raw, path, depth=0):
        """Records the owners of every cluster below directory bytes raw."""
        lfn = {}
        for o in range(0, len(raw) - 31, 32):
            e = raw[o:o + 32]
            if e[0] == 0:
                break
            if e[0] == 0xe5:
                continue
            if e[11] == 0x0f:
                lfn[e[0] & 0x1f] = (e[1:11] + e[14:26] + e[28:32]).decode("utf-16-le", "replace")
                continue
            if e[11] & 0x08:
                lfn = {}
                continue
            base, ext = e[:8].decode("latin-1").rstrip(), e[8:11].decode("latin-1").rstrip()
            base = base.lower() if e[12] & 0x08 else base      # Windows NT case bits
            ext = ext.lower() if e[12] & 0x10 else ext
            short = base + ("." + ext if ext else "")
            name = "".join(lfn[k] for k in sorted(lfn)).split("\0")[0] or short
            lfn = {}
            if short in (".", ".."):
                continue
            first = struct.unpack_from("<H", e, 26)[0] | struct.unpack_from("<H", e, 20)[0] << 16
            chain = self.chain(first, path + "/" + name)
            if e[11] & 0x10 and depth < 64:
                self.walk(b"".join(self.cluster(c) for c in chain), path + "/" + name, depth + 1)

    def cluster(self, c):
        o = self.data + (c - 2) * self.cl
        return self.d[o:o + self.cl]

    def scan(self):
        if self.kind == 32:
            chain = self.chain(self.root_cluster, "(root directory)")
            self.walk(b"".join(self.cluster(c) for c in chain), "")
        else:
            self.walk(self.d[self.root:self.data], "")
        return self


def fat_regions(d, base, end, label):
    """Regions of a FAT volume at byte offsets [base, end) of an image; the
    data area is one region with the cluster size as its unit."""
    bps, spc, res, nfats, root_ents, _, _, fatsz16 = struct.unpack_from("<HBHBHHBH", d, base + 11)
    if bps not in (512, 1024, 2048, 4096) or spc == 0 or nfats == 0:
        return [(base, end, label + " (no FAT boot sector)")]
    fatsz = fatsz16 or struct.unpack_from("<I", d, base + 36)[0]
    fat32 = fatsz16 == 0
    out = [(base + (0x43 if fat32 else 0x27), base + (0x47 if fat32 else 0x2b),
            label + " volume serial"),
           (base, base + bps, label + " boot sector")]
    if fat32:
        fsinfo, backup = struct.unpack_from("<HH", d, base + 48)
        out.append((base + fsinfo * bps, base + (fsinfo + 1) * bps, label + " FSInfo"))
        out.append((base + backup * bps, base + (backup + 1) * bps, label + " backup boot sector"))
    out.append((base + bps, base + res * bps, label + " reserved sectors"))
    fat0 = base + res * bps
    for i in range(nfats):
        out.append((fat0 + i * fatsz * bps, fat0 + (i + 1) * fatsz * bps, "%s FAT %d" % (label, i + 1)))
    root = fat0 + nfats * fatsz * bps
    root_len = (root_ents * 32 + bps - 1) // bps * bps
    if root_len:
        out.append((root, root + root_len, label + " root directory"))
    vol = FatVolume(d, base, bps, spc, res, nfats, fatsz, root_ents, fat32)
    try:
        vol.scan()
    except (struct.error, IndexError):
        pass                              # a broken tree: clusters stay unnamed
    out.append((root + root_len, end, label, vol))
    return out


def gpt_regions(d):
    """(start, end, name) for a GPT disk image (512-byte sectors)."""
    out = [(0, 512, "protective MBR"),
           (512 + 56, 512 + 72, "GPT disk GUID"),
           (512, 1024, "GPT header")]
    entries_lba, count, esize = struct.unpack_from("<QII", d, 512 + 72)
    out.append((entries_lba * 512, entries_lba * 512 + count * esize, "GPT partition entries"))
    for i in range(count):
        o = entries_lba * 512 + i * esize
        if d[o:o + 16] == b"\0" * 16:
            continue
        first, last = struct.unpack_from("<QQ", d, o + 32)
        name = d[o + 56:o + esize].decode("utf-16-le", errors="replace").rstrip("\0")
        label = "partition %d (%s)" % (i + 1, name)
        out.append((o + 16, o + 32, label + " unique GUID in its entry"))
        out += fat_regions(d, first * 512, (last + 1) * 512, label)
    backup = struct.unpack_from("<Q", d, 512 + 32)[0]
    out.append((backup * 512, backup * 512 + 512, "backup GPT header"))
    out.append((backup * 512 - count * esize, backup * 512, "backup GPT entries"))
    return out


def regions(d):
    if d[:4] == b"\x7fELF":
        return "ELF", elf_regions(d)
    if d[:2] == b"MZ":
        return "PE/COFF", pe_regions(d)
    if d[512:520] == b"EFI PART":
        return "GPT disk image", gpt_regions(d)
    return "data", []


def diff_runs(a, b):
    """Runs [start, end) of differing bytes (gaps under 16 bytes merged)."""
    runs, n, step = [], min(len(a), len(b)), 4096
    for c in range(0, n, step):
        if a[c:c + step] == b[c:c + step]:
            continue
        for i in range(c, min(n, c + step)):
            if a[i] != b[i]:
                if runs and i - runs[-1][1] < 16:
                    runs[-1][1] = i + 1
                else:
                    runs.append([i, i + 1])
    return runs


def name_of(regs, off):
    """The smallest named region holding off, as (start, end, name, offset
    of off in it). A FAT data area names the file (or directory) owning
    the cluster, and the offset is the one in that file."""
    best = None
    for r in regs:
        s, e, name = r[:3]
        if not s <= off < e:
            continue
        rel = off - s
        if len(r) > 3:
            vol = r[3]
            n = (off - s) // vol.cl + 2
            s, e = s + (n - 2) * vol.cl, min(e, s + (n - 1) * vol.cl)
            path, index = vol.owner.get(n, (None, 0))
            name = "%s %s" % (name, path) if path else "%s cluster %d (free)" % (name, n)
            rel = index * vol.cl + off - s
        if best is None or e - s < best[1] - best[0]:
            best = (s, e, name, rel)
    return best


def strings(d, least=6):
    out, cur = set(), bytearray()
    for ch in d:
        if 32 <= ch < 127:
            cur.append(ch)
            continue
        if len(cur) >= least:
            out.add(cur.decode())
        cur = bytearray()
    if len(cur) >= least:
        out.add(cur.decode())
    return out


def main():
    if len(sys.argv) != 3:
        sys.stderr.write("usage: diffreport.py A B\n")
        return 2
    a = open(sys.argv[1], "rb").read()
    b = open(sys.argv[2], "rb").read()
    if a == b:
        return 0
    kind, regs = regions(a)
    print("--- %s\n+++ %s\n%s, %d vs %d bytes" % (sys.argv[1], sys.argv[2], kind, len(a), len(b)))
    runs = diff_runs(a, b)
    if len(a) != len(b):
        print("  sizes differ: everything from 0x%x on is shifted or missing" % min(len(a), len(b)))
    grouped = []                        # [name, start, count of bytes, first run]
    for s, e in runs:
        r = name_of(regs, s)
        label = r[2] if r else "(outside any known region)"
        rel = " (+0x%x)" % r[3] if r else ""
        if grouped and grouped[-1][0] == label:
            grouped[-1][2] += e - s
            continue
        grouped.append([label, s, e - s, (s, min(e, s + 16), rel)])
    for label, s, count, (fs, fe, rel) in grouped[:MAX_REGIONS]:
        print("  %s: %d byte(s) differ, first at 0x%x%s\n    - %s\n    + %s"
              % (label, count, s, rel, a[fs:fe].hex(" "), b[fs:fe].hex(" ")))
    if len(grouped) > MAX_REGIONS:
        print("  ... and %d more regions" % (len(grouped) - MAX_REGIONS))
    if kind in ("ELF", "PE/COFF"):
        sa, sb = strings(a), strings(b)
        for sign, only in (("-", sorted(sa - sb)), ("+", sorted(sb - sa))):
            for s in only[:MAX_STRINGS]:
                print("  strings %s %s" % (sign, s[:160]))
            if len(only) > MAX_STRINGS:
                print("  strings %s ... %d more" % (sign, len(only) - MAX_STRINGS))
    return 1


if __name__ == "__main__":
    sys.exit(main())
