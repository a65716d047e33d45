#!/usr/bin/env bash
# Prepares a development environment for gkfs: Debian packages, a virtualenv in .venv and an
# incremental build + install of the package into it. Idempotent: a second run installs
# nothing new and rebuilds only what changed (persistent build dir build/<wheel_tag>).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

apt_packages=(librocksdb-dev libucx-dev ucx-utils libxxhash-dev catch2 pkg-config g++ cmake
              ninja-build iproute2 python3-dev python3-venv)
# The launchers' tests: sshd in network namespaces (ssh, mpirun), Open MPI's mpirun, and a
# private Slurm (slurmctld, slurmd, munged). The tests start their own instances of these
# daemons with private configurations and stop them; the system services Debian may start on
# installation are not used.
apt_packages+=(openssh-server openssh-client openmpi-bin slurm-wlm munge)
# The preload's program matrix (tests/test_programs.py) runs these in gkfs and locally.
apt_packages+=(sqlite3 fio git make gzip tar rsync)
# tests/test_io500.py builds IO500 (ior, mdtest, pfind) from the bench inputs with MPI.
apt_packages+=(libopenmpi-dev autoconf automake libtool)
# tests/test_durability.py attaches strace to the daemons to see them fsync.
apt_packages+=(strace)
# The FUSE client (gkfs-fuse): libfuse3 to build it, fusermount3 for unprivileged mounts.
apt_packages+=(libfuse3-dev fuse3)
# tests/test_metrics.py scrapes the daemons' /metrics and a real Pushgateway.
apt_packages+=(prometheus-pushgateway)
pip_packages=(pybind11 scikit-build-core ninja cmake pytest pytest-benchmark xxhash prometheus_client)
# The fsspec extra (gkfs:// for fsspec, pandas, pyarrow), tested in tests/test_fsspec.py.
pip_packages+=(fsspec pandas pyarrow "tomli; python_version < '3.11'")

missing=()
for pkg in "${apt_packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y "${missing[@]}"
fi

python="${GKFS_PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
  echo "setup: creating .venv"
  "$python" -m venv .venv
fi
# shellcheck disable=SC1091
source .venv/bin/activate

# Install the build/test tools only when one is missing, so re-runs stay offline and fast.
if ! python -c "import pybind11, scikit_build_core, ninja, cmake, pytest, pytest_benchmark, xxhash, fsspec, pandas, pyarrow, prometheus_client" \
     2>/dev/null; then
  echo "setup: installing Python build and test tools"
  python -m pip install --upgrade pip
  python -m pip install "${pip_packages[@]}"
fi

echo "setup: building and installing gkfs into .venv (build dir build/<wheel_tag>)"
log="$(mktemp /tmp/gkfs-setup.XXXXXX.log)"
# The test and benchmark binaries are built too (into build/<wheel_tag>/test-bin), but the
# wheel never ships them.
if ! python -m pip install --no-build-isolation --no-deps -C cmake.define.GKFS_BUILD_TESTS=ON \
     -v . >"$log" 2>&1; then
  tail -n 60 "$log" >&2
  echo "setup: build failed; full log: $log" >&2
  exit 1
fi
rm -f "$log"
echo "setup: done. Activate with: source $repo/.venv/bin/activate"
