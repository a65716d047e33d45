#!/usr/bin/env bash
# Runs every gkfs test: setup (incremental build + install into .venv), the C++ unit tests
# (Catch2), the refusal tests of a build without forwarding, then pytest. Extra arguments go
# to pytest (e.g. scripts/test.sh -k client).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

scripts/setup.sh
# shellcheck disable=SC1091
source .venv/bin/activate

# The loopback defaults the tests expect (kept if the caller set them).
export UCX_TLS="${UCX_TLS:-tcp}"
export UCX_NET_DEVICES="${UCX_NET_DEVICES:-lo}"

# The unit-test binary stays in the build tree (the wheel ships no test binaries).
if ! unit_tests="$(cd tests && python -c 'from build_tree import built_binary; print(built_binary("gkfs_unit_tests"))')"; then
  echo "test: gkfs_unit_tests not found under build/*/test-bin" >&2
  exit 1
fi
echo "test: C++ unit tests ($unit_tests)"
"$unit_tests"

# A build without forwarding (ENABLE_FORWARDING=OFF) must refuse forwarding daemons and
# clients given a map, saying so. Only the unit-test binary is built, in its own persistent
# build directory, so after the first run this costs seconds.
nofwd=build/nofwd
if [[ ! -f "$nofwd/CMakeCache.txt" ]]; then
  cmake -S . -B "$nofwd" -G Ninja -DENABLE_FORWARDING=OFF -DGKFS_BUILD_PYTHON=OFF \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
echo "test: C++ [forwarding] tests of an ENABLE_FORWARDING=OFF build ($nofwd)"
if ! cmake --build "$nofwd" --target gkfs_unit_tests >"$nofwd/build.log" 2>&1; then
  tail -n 40 "$nofwd/build.log" >&2
  echo "test: the ENABLE_FORWARDING=OFF build failed; full log: $nofwd/build.log" >&2
  exit 1
fi
"$nofwd/test-bin/gkfs_unit_tests" "[forwarding]"

echo "test: pytest"
status=0
python -m pytest -q tests "$@" || status=$?
if ((status == 5)); then
  echo "test: pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit "$status"
