#!/usr/bin/env bash
# Runs the gkfs benchmark suites (bench/, pytest-benchmark) and writes one run's results to
# bench/results/<timestamp>/ (<suite>-<timestamp>/ when one suite is chosen): benchmark.json
# (pytest-benchmark), summary.md (tables with gkfs/baseline ratios) and PNG plots;
# bench/results/latest.md is the newest summary.
#
#   scripts/bench.sh                 # md, io, rpc, startup, threads, fuse (+ io500 if --io500 or
#                                    # GKFS_IO500 is given: about 25 more minutes)
#   scripts/bench.sh --quick         # issue 6's target configurations only (about 2 minutes);
#                                    # with --suite io500/threads: one small configuration
#   scripts/bench.sh [--quick] [--rounds N] [--suite SUITE]... [--io500 DIR] [pytest args]
#       SUITE: md io rpc startup fwd threads io500 fuse
#   scripts/bench.sh --suite io -k fsync --disk-dir /scratch   # write+fsync, data on a disk
#   scripts/bench.sh --suite io500 --io500 DIR [--io500-ranks 2,4] [--io500-daemons 1,2]
#       [--io500-transports shm,tcp] [--io500-mode extended|standard] [--io500-stonewall 1]
#
# --io500 DIR (or $GKFS_IO500, else $GKFS_IO500_INPUTS): an IO500 build (a directory holding
# the io500 executable) or IO500's sources with their build script (a directory holding
# build-io500.sh and io500-src.tar.gz), built once into build/io500. Without either, an
# earlier build in build/io500 is used.
# Runs scripts/setup.sh first (incremental build + install into .venv), installs
# bench/requirements.txt (matplotlib, for plots) into .venv if missing and hyperfine from
# Debian if missing (optional).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

pytest_args=()
suites=()
names=()
io500_given="${GKFS_IO500:-${GKFS_IO500_INPUTS:-}}"
while (($#)); do
  case "$1" in
    --quick) pytest_args+=(--quick) ;;
    --rounds) pytest_args+=(--rounds "$2"); shift ;;
    --io500) io500_given="$2"; shift ;;
    --suite)
      names+=("$2")
      case "$2" in
        md) suites+=(bench/bench_metadata.py) ;;
        io) suites+=(bench/bench_data.py) ;;
        rpc) suites+=(bench/bench_rpc.py) ;;
        startup) suites+=(bench/bench_startup.py) ;;
        fwd) suites+=(bench/bench_forwarding.py) ;;
        fuse) suites+=(bench/bench_fuse.py) ;;
        threads) suites+=(bench/bench_threads.py) ;;
        io500) suites+=(bench/bench_io500.py) ;;
        *) echo "bench: unknown suite '$2' (md, io, rpc, startup, fwd, threads, io500, fuse)" >&2; exit 2 ;;
      esac
      shift ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) pytest_args+=("$1") ;;
  esac
  shift
done
if ((${#suites[@]} == 0)); then
  suites=(bench/bench_rpc.py bench/bench_startup.py bench/bench_metadata.py bench/bench_data.py
          bench/bench_threads.py bench/bench_fuse.py)
  if [[ -n "$io500_given" ]]; then
    suites+=(bench/bench_io500.py)
  else
    echo "bench: no IO500 given (--io500 DIR or GKFS_IO500): the io500 suite is left out"
  fi
fi

# The IO500 build the io500 suite runs: given as a build, or built from the given sources.
io500_build() {
  local given="$1" prefix="$repo/build/io500"
  if [[ -n "$given" && -x "$given/io500" ]]; then
    (cd "$given" && pwd)
  elif [[ -n "$given" && -f "$given/build-io500.sh" ]]; then
    if [[ ! -x "$prefix/io500" ]]; then
      echo "bench: building IO500 from $given into build/io500 (about a minute)" >&2
      bash "$given/build-io500.sh" "$prefix" >&2
    fi
    echo "$prefix"
  elif [[ -n "$given" ]]; then
    echo "bench: --io500 / GKFS_IO500 '$given' holds neither an io500 executable nor" \
         "build-io500.sh (IO500's sources)" >&2
    return 1
  elif [[ -x "$prefix/io500" ]]; then
    echo "$prefix"
  else
    echo "bench: the io500 suite needs IO500: --io500 DIR or GKFS_IO500 (a build, or the" \
         "sources with build-io500.sh)" >&2
    return 1
  fi
}
for suite in "${suites[@]}"; do
  if [[ "$suite" == bench/bench_io500.py ]]; then
    build="$(io500_build "$io500_given")" || exit 2
    pytest_args+=(--io500 "$build")
  fi
done

scripts/setup.sh
# shellcheck disable=SC1091
source .venv/bin/activate
if ! python -c "import matplotlib" 2>/dev/null; then
  echo "bench: installing bench/requirements.txt into .venv (plots)"
  python -m pip install --quiet -r bench/requirements.txt
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
if ((${#names[@]} == 1)); then
  out="bench/results/${names[0]}-$stamp"
fi
mkdir -p "$out"
echo "bench: results go to $out"
status=0
python -m pytest -c bench/pytest.ini "${suites[@]}" --benchmark-json="$out/benchmark.json" \
  --results-dir "$out" "${pytest_args[@]}" || status=$?
if [[ -s "$out/benchmark.json" ]]; then
  python bench/report.py "$out"
  echo "bench: summary in $out/summary.md (also bench/results/latest.md)"
else
  echo "bench: no benchmark.json written" >&2
  ((status)) || status=1
fi
exit "$status"
