"""The preload library's lazy start (the first call that reaches gkfs connects the client and
loads UCX) must leave nothing the application can see: issue 11's first observation was
io500, whose strtok walk over its data directory ended early because UCX's configuration
parser called strtok in the middle of it."""

from __future__ import annotations

import textwrap
from pathlib import Path

from conftest import compile_c, module_fs

fs = module_fs(2)

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


def test_first_gkfs_call_leaves_the_process_as_it_was(fs, tmp_path):
    """errno on success, locale, signal dispositions and mask, rand/random, environment,
    umask, cwd, descriptors below 100 and rlimits, before and after the first gkfs call.
    (Found: errno EOPNOTSUPP after a successful stat; UCX's handlers for SIGSEGV, SIGBUS,
    SIGILL, SIGFPE and SIGHUP.)"""
    program = compile_c(Path(__file__).parent / "libc_state_probe.c", tmp_path / "probe")
    result = fs.run([program, fs.mountdir])
    assert result.returncode == 0, result.stderr
    assert result.stdout == "done\n"


def _source(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path
