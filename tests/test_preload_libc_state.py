"""The preload library's lazy start (the first call that reaches gkfs connects the client and
loads UCX) must leave nothing the application can see: issue 11's first observation was
io500, whose strtok walk over its data directory ended early because UCX's configuration
parser called strtok in the middle of it."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Iterator

import pytest

from conftest import FileSystem, compile_c, module_fs, start_fs, stop_fs

fs = module_fs(2)


@pytest.fixture(scope="module")
def fs_shm() -> Iterator[FileSystem]:
    """Daemons that offer shared memory: the client then makes a second (shared-memory) UCX
    worker, whose segments are descriptors too."""
    started = start_fs(2, ["--auto-sm"])
    yield started
    stop_fs(started)

STRTOK_WALK = r"""
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* io500's pattern: create every component of a path with strtok, stat-ing each prefix. The
   first stat under the mount directory is the process's first gkfs call. */
int main(int argc, char** argv) {
  char path[4096], prefix[4096] = "";
  snprintf(path, sizeof(path), "%s", argv[1]);
  int made = 0;
  for (char* part = strtok(path, "/"); part != NULL; part = strtok(NULL, "/")) {
    strcat(prefix, "/");
    strcat(prefix, part);
    struct stat st;
    if (stat(prefix, &st) != 0 && mkdir(prefix, 0755) == 0) ++made;
  }
  printf("%d\n", made);
  return 0;
}
"""


def test_strtok_walk_survives_the_first_gkfs_call(fs, tmp_path):
    program = compile_c(_source(tmp_path, "walk.c", STRTOK_WALK), tmp_path / "walk")
    result = fs.run([program, f"{fs.mountdir}/walk-{tmp_path.name}/d1/aa/bb/"])
    assert result.returncode == 0, result.stderr
    assert result.stdout == "4\n"  # walk-*, d1, aa, bb: the walk went on past the first gkfs call


@pytest.mark.parametrize("transport", ["tcp", "shm"])
def test_first_gkfs_call_leaves_the_process_as_it_was(fs, fs_shm, tmp_path, transport):
    """errno on success, locale, signal dispositions and mask, rand/random, environment,
    umask, cwd, descriptors below 100 and rlimits, before and after the first gkfs call.
    (Found: errno EOPNOTSUPP after a successful stat; UCX's handlers for SIGSEGV, SIGBUS,
    SIGILL, SIGFPE and SIGHUP; with shared memory, UCX's segments from shm_open at 3 and 4.)"""
    fs = fs_shm if transport == "shm" else fs
    program = compile_c(Path(__file__).parent / "libc_state_probe.c", tmp_path / "probe")
    result = fs.run([program, fs.mountdir])
    assert result.returncode == 0, result.stderr
    assert result.stdout == "done\n"


def test_shell_picks_descriptors_by_hand_while_shared_memory_is_in_use(fs_shm, tmp_path):
    """A shell connects (its first gkfs access), then `exec 3<`, `exec 4>` and here-documents
    dup2() onto the low numbers: none of them may be one of the client's descriptors, or
    what the shell (builtins, no fork: a fork closes the client) does next through gkfs finds
    a shared-memory segment replaced by its own file."""
    d = f"{fs_shm.mountdir}/shell-{tmp_path.name}"
    (tmp_path / "local").write_text("local line\n")
    script = f"""set -euo pipefail
        mkdir {d}
        echo first > {d}/a
        for n in 3 4 5 6 7 8 9; do if [[ -e /proc/$$/fd/$n ]]; then echo "fd $n is taken"; fi; done
        exec 3< {tmp_path}/local
        exec 4> {d}/b
        read -r line <&3
        echo "$line" >&4
        for i in 1 2 3 4 5 6 7 8; do echo "$i" > {d}/n$i; done
        while read -r here; do echo "$here" >> {d}/a; done <<END
here line
END
        read -r back < {d}/n8
        echo "n8 $back"
        cat {d}/a {d}/b - <<END
stdin line
END
        """
    result = fs_shm.run(["bash", "-c", script])
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["n8 8", "first", "here line", "local line",
                                          "stdin line"]


def _source(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path
