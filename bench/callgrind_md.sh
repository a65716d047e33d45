#!/usr/bin/env bash
# Instructions per call of the daemon's metadata handlers (stat, CreateInDir, RemoveInDir),
# independent of the machine's load: one daemon (tcp) under callgrind, collecting only inside
# those handlers, driven by gkfs_md_driver through the preload (N files, 1 process, flat).
#
#   bench/callgrind_md.sh TREE OUT [N]     TREE: a gkfs checkout built by scripts/setup.sh
#
# Writes the callgrind profile to OUT and prints "handler calls instructions/call" lines.
set -euo pipefail
tree="$(cd "$1" && pwd)"; out="$2"; n="${3:-2000}"
# shellcheck disable=SC1091
source "$tree/.venv/bin/activate"
bin="$(dirname "$(find "$tree/build" -name gkfs_md_driver -type f | head -1)")"
base="$(mktemp -d /tmp/gkfs-callgrind-XXXXXX)"
trap 'rm -rf "$base"' EXIT
mkdir -p "$base/root" "$base/mnt"
export UCX_NET_DEVICES=lo UCX_TLS=tcp
valgrind --tool=callgrind --callgrind-out-file="$out" \
  --toggle-collect='*HandleStat*' --toggle-collect='*HandleCreateInDir*' \
  --toggle-collect='*HandleRemoveInDir*' \
  python -m gkfs.daemon -r "$base/root" -m "$base/mnt" -H "$base/hosts" -P ucx+tcp --no-auto-sm --listen 127.0.0.1 \
  > "$base/daemon.log" 2>&1 &
daemon=$!
for _ in $(seq 600); do [[ -s "$base/hosts" ]] && break; sleep 0.5; done
eval "$(gkfs-ctl env -H "$base/hosts")"
export LIBGKFS_MOUNTDIR="$base/mnt"
preload="$LD_PRELOAD"
unset LD_PRELOAD
env LD_PRELOAD="$preload" "$bin/gkfs_md_driver" "$base/mnt" "$n" 1 flat >&2
kill -INT "$daemon"
wait "$daemon" || true
# One annotation (the slow part) serves the three handlers.
callgrind_annotate --tree=caller --inclusive=yes "$out" > "$base/annotation" 2>/dev/null
for h in HandleStat HandleCreateInDir HandleRemoveInDir; do
  grep -A1 -E "< .*HandleRequest.*\([0-9,]+x\)" "$base/annotation" | grep -B1 -E "\*  .*gkfs::$h\(" | head -1 |
    python3 -c "
import re, sys
m = re.search(r'^\s*([\d,]+).*\(([\d,]+)x\)', sys.stdin.read())
ir, calls = (int(g.replace(',', '')) for g in m.groups())
print('$h', calls, ir // calls)"
done
