#!/usr/bin/env bash
# Runs the gkfs benchmark suites (bench/, pytest-benchmark) and writes one run's results to
# bench/results/<timestamp>/: benchmark.json (pytest-benchmark), summary.md (tables with
# gkfs/baseline ratios) and PNG plots; bench/results/latest.md is the newest summary.
#
#   scripts/bench.sh                 # everything (about 15 minutes on 2 cores)
#   scripts/bench.sh --quick         # issue 6's target configurations only (about 2 minutes)
#   scripts/bench.sh [--quick] [--rounds N] [--suite md|io|rpc|startup|fwd|fuse]... [pytest args]
#   scripts/bench.sh --suite io -k fsync --disk-dir /scratch   # write+fsync, data on a disk
#
# Runs scripts/setup.sh first (incremental build + install into .venv) and installs
# matplotlib into .venv if missing (plots), hyperfine from Debian if missing (optional).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

pytest_args=()
suites=()
while (($#)); do
  case "$1" in
    --quick) pytest_args+=(--quick) ;;
    --rounds) pytest_args+=(--rounds "$2"); shift ;;
    --suite)
      case "$2" in
        md) suites+=(bench/bench_metadata.py) ;;
        io) suites+=(bench/bench_data.py) ;;
        rpc) suites+=(bench/bench_rpc.py) ;;
        startup) suites+=(bench/bench_startup.py) ;;
        fwd) suites+=(bench/bench_forwarding.py) ;;
        fuse) suites+=(bench/bench_fuse.py) ;;
        *) echo "bench: unknown suite '$2' (md, io, rpc, startup, fwd, fuse)" >&2; exit 2 ;;
      esac
      shift ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) pytest_args+=("$1") ;;
  esac
  shift
done
if ((${#suites[@]} == 0)); then
  suites=(bench/bench_rpc.py bench/bench_startup.py bench/bench_metadata.py bench/bench_data.py
          bench/bench_fuse.py)
fi

scripts/setup.sh
# shellcheck disable=SC1091
source .venv/bin/activate
if ! python -c "import matplotlib" 2>/dev/null; then
  echo "bench: installing matplotlib into .venv (plots)"
  python -m pip install --quiet matplotlib
fi
if ! command -v hyperfine >/dev/null; then
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo -n); fi
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q hyperfine >/dev/null 2>&1 ||
    echo "bench: hyperfine not installed; start-up times come from subprocess timings only"
fi

# Loopback only: UCX would otherwise also try eth0.
export UCX_NET_DEVICES=lo
unset UCX_TLS

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
out="bench/results/$stamp"
mkdir -p "$out"
echo "bench: results go to $out"
status=0
python -m pytest -c bench/pytest.ini "${suites[@]}" --benchmark-json="$out/benchmark.json" \
  "${pytest_args[@]}" || status=$?
if [[ -s "$out/benchmark.json" ]]; then
  python bench/report.py "$out"
  echo "bench: summary in $out/summary.md (also bench/results/latest.md)"
else
  echo "bench: no benchmark.json written" >&2
  ((status)) || status=1
fi
exit "$status"
