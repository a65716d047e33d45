#!/usr/bin/env bash
# The gkfs demo: starts a 2-daemon file system under /tmp, pushes a real workload through the
# preload library with unmodified coreutils (cp -r in, ls -lR, sha256sum of every file, cp -r
# out, diff -r), prints gkfs-ctl status and stops the file system. Exits non-zero on any
# mismatch; the file system and its directories are removed on every exit.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
scripts/setup.sh
# shellcheck disable=SC1091
source .venv/bin/activate

export UCX_TLS="${UCX_TLS:-tcp}"
export UCX_NET_DEVICES="${UCX_NET_DEVICES:-lo}"

work="$(mktemp -d /tmp/gkfs-demo.XXXXXX)"
hosts="$work/hosts.txt"
mnt="$work/mnt"
src="$repo/core"
cleanup() {
  gkfs-ctl stop --hosts-file "$hosts" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
on_gkfs() { gkfs-ctl run --hosts-file "$hosts" -- "$@"; }

step "start 2 daemons (hosts file $hosts, mountdir $mnt)"
gkfs-ctl start --daemons 2 --hosts-file "$hosts" --mountdir "$mnt" --rootdir "$work/root" \
  --chunk-size 64K

step "cp -r $src $mnt/core (through the preload library)"
on_gkfs cp -r "$src" "$mnt/core"

step "ls -lR $mnt/core"
on_gkfs ls -lR "$mnt/core"

step "sha256sum of every file: inside gkfs vs the original"
(cd "$src" && find . -type f | LC_ALL=C sort) > "$work/files"
sed "s|^\./|$src/|" "$work/files" | xargs -d '\n' sha256sum | sed "s|  $src/|  |" > "$work/expected"
sed "s|^\./|$mnt/core/|" "$work/files" > "$work/files.gkfs"
on_gkfs xargs -d '\n' -a "$work/files.gkfs" sha256sum | sed "s|  $mnt/core/|  |" > "$work/actual"
if ! diff -u "$work/expected" "$work/actual"; then
  echo "demo: FAILED: checksums differ" >&2
  exit 1
fi
echo "$(wc -l < "$work/expected") files, all checksums match"

step "cp -r $mnt/core back out and diff -r against the original"
on_gkfs cp -r "$mnt/core" "$work/copied-out"
diff -r "$src" "$work/copied-out"
echo "identical"

step "gkfs-ctl status"
gkfs-ctl status --hosts-file "$hosts"

step "stop"
gkfs-ctl stop --hosts-file "$hosts"
echo
echo "demo: OK"
