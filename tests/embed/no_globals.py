#!/usr/bin/env python3
"""No writable global or static data in libtern-core (docs/embedding.md):
every object in the static library is read with `objdump -t`, and a data
object (flag O) in a writable section (.data*, .bss*, .tdata*, .tbss*,
but not .data.rel.ro*, which is read-only after relocation) fails the
test, unless ALLOWED lists it with its reason. Instance state lives in
struct tern_os and what hangs off it, never in the library's memory.

usage: no_globals.py LIBTERN_CORE_A
"""
import re
import subprocess
import sys

# (object file suffix, symbol): why it may stay. Empty: nothing may.
ALLOWED = {}

WRITABLE = re.compile(r'^\.(data|bss|tdata|tbss)(\.|$)')


def main():
    lib = sys.argv[1]
    out = subprocess.run(['objdump', '-t', lib], check=True, capture_output=True,
                         text=True).stdout
    member, bad, seen = None, [], 0
    for line in out.splitlines():
        m = re.match(r'^(\S+\.o):\s+file format', line)
        if m:
            member = m.group(1)
            continue
        # "0000000000000000 l     O .bss\t0000000000000004 counter"
        m = re.match(r'^[0-9a-f]+ (.{7}) (\S+)\s+[0-9a-f]+\s+(\S+)$', line)
        if not m or 'O' not in m.group(1):
            continue
        seen += 1
        section, name = m.group(2), m.group(3)
        if not WRITABLE.match(section) or section.startswith('.data.rel.ro'):
            continue
        key = next((k for k in ALLOWED if member.endswith(k[0]) and name == k[1]), None)
        if key is None:
            bad.append(f'{member}: {name} in {section}')
    for b in bad:
        print('writable global/static data:', b)
    print(f'no_globals: {seen} data objects, {len(bad)} writable ones not allowed')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
