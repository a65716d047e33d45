#!/usr/bin/env bash
# Reproduces the profiles of docs/performance.md ("Profile: what holds us back") on a
# 1-daemon file system over shared memory (or tcp): perf of the daemon and of the drivers,
# context switches, the syscalls of the preload path, and the RPC round trips.
#
#   bench/profile.sh [shm|tcp] [OUT_DIR]      (run after scripts/setup.sh; needs perf, strace)
#
# Writes OUT_DIR (default /tmp/gkfs-profile-<pid>) with perf reports as text; stops the file
# system it started (gkfs-ctl stop) even when a step fails.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
transport="${1:-shm}"
out="${2:-/tmp/gkfs-profile-$$}"
# shellcheck disable=SC1091
source "$repo/.venv/bin/activate"
for tool in perf strace; do
  command -v "$tool" >/dev/null || { echo "profile: $tool is missing (apt-get install linux-perf strace)" >&2; exit 1; }
done
# The drivers are in the build tree (tests/build_tree.py), not in the wheel.
bin="$(cd "$repo/tests" && python -c 'import os, build_tree; print(os.path.dirname(build_tree.built_binary("gkfs_md_driver")))')"
base="$(mktemp -d /tmp/gkfs-profile-fs-XXXXXX)"
root="/dev/shm/$(basename "$base")"
mkdir -p "$out"
export UCX_NET_DEVICES=lo
if [[ $transport == shm ]]; then args=(-P ucx+shm --auto-sm); unset UCX_TLS; else args=(-P ucx+tcp --no-auto-sm); export UCX_TLS=tcp; fi

gkfs-ctl start -n 1 -H "$base/hosts.txt" -r "$root" -m "$base/mnt" "${args[@]}"
trap 'gkfs-ctl stop -H "$base/hosts.txt" && rm -rf "$base" "$root"' EXIT
daemon_pid="$(python -c "import json; print(json.load(open('$base/hosts.txt.pids.json'))['daemons'][0]['pid'])")"
eval "$(gkfs-ctl env -H "$base/hosts.txt")"
preload="$LD_PRELOAD"
unset LD_PRELOAD  # only the drivers run under it

report() {  # perf.data -> top symbols, self and with children (head closes the pipes early)
  perf report -i "$1" --no-children --sort dso,sym --stdio -g none 2>/dev/null |
    grep -E '^ +[0-9]' | head -40 > "$2.self.txt" || true
  perf report -i "$1" --children --sort sym --stdio -g none 2>/dev/null |
    grep -E '^ +[0-9]' | head -80 > "$2.children.txt" || true
}

echo "profile: round trips"
"$bin/gkfs_rpc_driver" "$base/hosts.txt" -n 5000 ping:8:0 stat create remove ping:1M:0 ping:0:1M | tee "$out/rpc.jsonl"

echo "profile: metadata (2 processes), daemon context switches and perf"
perf stat -e task-clock,context-switches -p "$daemon_pid" -o "$out/md.daemon.perfstat.txt" -- \
  env LD_PRELOAD="$preload" "$bin/gkfs_md_driver" "$base/mnt" 4000 2 | tee "$out/md.json"
perf record -q -F 2000 -g -p "$daemon_pid" -o "$out/md.daemon.data" -- \
  env LD_PRELOAD="$preload" "$bin/gkfs_md_driver" "$base/mnt" 4000 2 >/dev/null
report "$out/md.daemon.data" "$out/md.daemon"
perf record -q -F 2000 -g -o "$out/md.client.data" -- \
  env LD_PRELOAD="$preload" "$bin/gkfs_md_driver" "$base/mnt" 4000 2 >/dev/null
report "$out/md.client.data" "$out/md.client"

echo "profile: syscalls of the preload path (1 process)"
strace -f -c -o "$out/md.strace.txt" env LD_PRELOAD="$preload" "$bin/gkfs_md_driver" "$base/mnt" 2000 1 >/dev/null

echo "profile: data (2 processes, 1 MiB transfers), daemon perf with DWARF call graphs"
env LD_PRELOAD="$preload" "$bin/gkfs_io_driver" -d "$base/mnt" -n 2 -t 1M -b 512M > "$out/io.json" &
io=$!
sleep 0.3
perf record -q -F 2000 --call-graph dwarf,16384 -p "$daemon_pid" -o "$out/io.daemon.data" -- sleep 1.5
wait "$io"
cat "$out/io.json"
report "$out/io.daemon.data" "$out/io.daemon"

echo "profile: done; reports in $out (*.self.txt, *.children.txt, *.perfstat.txt, md.strace.txt)"
