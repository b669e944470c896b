#!/usr/bin/env bash
# python3 -m json.tool as the referee for what is JSON (docs/manifest.md):
#  - DIR/*.json: valid manifests; json.tool and tern both accept them;
#  - DIR/syntax/*.json: not JSON; json.tool refuses each, and tern refuses
#    each at the document level ("$"), before any schema check;
#  - DIR/refused/*.json: JSON that json.tool accepts (duplicate keys,
#    unknown keys, deep nesting, \u0000 ..., and NaN/Infinity, which
#    Python takes beyond RFC 8259) and tern refuses by policy.
# usage: json_referee.sh MANIFEST_CHECK DIR
set -u
check=$1 dir=$2
command -v python3 >/dev/null || { echo "SKIP: python3 not installed"; exit 77; }
fails=0 n=0
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }

for f in "$dir"/*.json; do
    n=$((n + 1))
    python3 -m json.tool "$f" >/dev/null 2>&1 || bad "json.tool refuses valid fixture $f"
    out=$("$check" "$f") || bad "tern refuses valid fixture: $out"
done
for f in "$dir"/syntax/*.json; do
    n=$((n + 1))
    python3 -m json.tool "$f" >/dev/null 2>&1 && bad "json.tool accepts $f (not a syntax case)"
    out=$("$check" "$f") && bad "tern accepts $f"
    case $out in
        *": refused \$: "*) ;;
        *) bad "tern's refusal is not at the document level: $out" ;;
    esac
done
for f in "$dir"/refused/*.json; do
    n=$((n + 1))
    python3 -m json.tool "$f" >/dev/null 2>&1 || bad "json.tool refuses $f (belongs in syntax/)"
    out=$("$check" "$f") && bad "tern accepts $f"
    echo "$out"
done
[ "$n" -gt 40 ] || bad "only $n fixtures found in $dir"
echo "json_referee: $n fixtures, $fails failures"
[ "$fails" -eq 0 ]
