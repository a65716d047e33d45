"""A program that changes its identity while it runs (issue 10 #11): started as root under the
preload library, it switches to nobody with setresuid, before its first gkfs call or after
it, and works in a world-writable gkfs directory; every call is checked against its identity
at that moment. The same program runs in a local directory without the library: the two
outputs must be identical."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid

import pytest

from conftest import compile_c, module_fs

PROGRAM = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char* at(const char* name) {  /* two calls may share one statement */
  static char paths[2][4096];
  static int next;
  char* path = paths[next++ % 2];
  snprintf(path, 4096, "%s/%s", getenv("W"), name);
  return path;
}
static void show(const char* what, long r) {
  if (r < 0) printf("%s: %s\n", what, strerrorname_np(errno));
  else printf("%s: %ld\n", what, r);
}
static long open_close(const char* path, int flags) {
  int fd = open(path, flags, 0644);
  if (fd >= 0) close(fd);
  return fd < 0 ? -1 : 0;
}

int main(int argc, char** argv) {
  struct stat st;
  if (strcmp(argv[1], "warm") == 0) show("stat as root", stat(at("priv"), &st));
  /* effective nobody, saved root: checks follow the effective identity */
  show("setgroups", setgroups(0, NULL));
  show("drop euid", setresuid((uid_t)-1, 65534, 0));
  show("open private as nobody", open_close(at("priv"), O_RDONLY));
  show("create in root's dir", open_close(at("ro/new"), O_CREAT | O_WRONLY));
  show("access private", access(at("priv"), R_OK));
  show("euidaccess private", euidaccess(at("priv"), R_OK));
  show("regain root", setresuid((uid_t)-1, 0, -1));
  show("open private as root", open_close(at("priv"), O_RDONLY));
  /* for good: nobody in every id */
  show("setresgid", setresgid(65534, 65534, 65534));
  show("setresuid", setresuid(65534, 65534, 65534));
  int fd = open(at("w/mine"), O_CREAT | O_EXCL | O_RDWR, 0640);
  show("create in world-writable dir", fd < 0 ? -1 : 0);
  show("write", write(fd, "hello", 5));
  char buf[16] = {0};
  show("pread", pread(fd, buf, sizeof buf - 1, 0));
  printf("read back: %s\n", buf);
  show("close", close(fd));
  show("stat own file", stat(at("w/mine"), &st));
  printf("owner: %u:%u mode %o\n", (unsigned)st.st_uid, (unsigned)st.st_gid,
         (unsigned)(st.st_mode & 07777));
  show("mkdir in world-writable dir", mkdir(at("w/sub"), 0755));
  show("rename own file", rename(at("w/mine"), at("w/sub/moved")));
  show("open private", open_close(at("priv"), O_RDONLY));
  show("write root's file", open_close(at("w/rootf"), O_WRONLY));
  show("unlink root's file in sticky dir", unlink(at("sticky/rootf")));
  show("chmod root's file", chmod(at("w/rootf"), 0666));
  show("regain root", setresuid(0, 0, 0));
  show("stat moved file", stat(at("w/sub/moved"), &st));
  show("unlink own file", unlink(at("w/sub/moved")));
  show("rmdir own dir", rmdir(at("w/sub")));
  return 0;
}
"""

TREE = """
set -e
mkdir -p "$W/w" "$W/ro" "$W/sticky"
echo secret > "$W/priv" && chmod 600 "$W/priv"
echo root > "$W/w/rootf" && echo root > "$W/sticky/rootf"
chmod 777 "$W/w" && chmod 1777 "$W/sticky" && chmod 755 "$W/ro"
"""


fs = module_fs(2)


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    out = tmp_path_factory.mktemp("identity")
    src = out / "identity.c"
    src.write_text(PROGRAM)
    return compile_c(src, out / "identity")


def run(fs, program, mode, workdir, preload):
    env = dict(fs.env if preload else {k: v for k, v in fs.env.items() if k != "LD_PRELOAD"})
    env["W"] = workdir
    made = subprocess.run(["sh", "-c", TREE], env=env, capture_output=True, text=True,
                          timeout=120)
    assert made.returncode == 0, made.stderr
    result = subprocess.run([program, mode], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("mode", ["warm", "cold"])
def test_switching_to_nobody_matches_a_local_directory(fs, program, mode):
    if os.geteuid() != 0:
        pytest.skip("needs root")
    local = tempfile.mkdtemp(prefix="gkfs-identity-", dir="/tmp")
    os.chmod(local, 0o755)
    # nobody reads the hosts file when it connects after the switch (the secret stays root's)
    os.chmod(os.path.dirname(fs.hosts_file), 0o755)
    try:
        expected = run(fs, program, mode, local, preload=False)
        got = run(fs, program, mode, f"{fs.mountdir}/identity-{uuid.uuid4().hex[:8]}",
                  preload=True)
    finally:
        shutil.rmtree(local, ignore_errors=True)
    assert "open private as nobody: EACCES" in expected
    assert got == expected


def test_program_started_as_nobody_cannot_connect(fs, program):
    """The secret is kept only by a program that could read it when it started."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    os.chmod(os.path.dirname(fs.hosts_file), 0o755)
    env = dict(fs.env, LIBGKFS_LOG="errors")
    result = subprocess.run(["stat", fs.mountdir], env=env, capture_output=True, text=True,
                            timeout=120, user=65534, group=65534, extra_groups=[])
    assert result.returncode != 0
    assert "cannot read secret file" in result.stderr
