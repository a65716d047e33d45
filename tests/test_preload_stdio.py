"""libgkfs_intercept.so under a C program: stdio streams (fopen, fdopen, freopen, fileno),
scandir, mkstemp and exec'd children in a gkfs working directory. The program is compiled
from the source below (with the system C compiler) and prints one "key value" per line."""

from __future__ import annotations


import pytest

from conftest import compile_c

from test_preload import d  # noqa: F401  (fixture)

PROGRAM = r"""
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char path[8192];
static const char* at(const char* dir, const char* name) {
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return path;
}

int main(int argc, char** argv) {
  const char* d = argv[1];
  char line[256];

  FILE* f = fopen(at(d, "s.txt"), "w");
  fprintf(f, "line %d\n", 1);
  fputs("line 2\n", f);
  printf("fileno_is_gkfs %d\n", fileno(f) > 2 && fcntl(fileno(f), F_GETFL) >= 0);
  fclose(f);
  f = fopen(at(d, "s.txt"), "a+");
  fputs("line 3\n", f);
  rewind(f);
  int lines = 0;
  while (fgets(line, sizeof line, f)) lines++;
  printf("lines %d\n", lines);
  fseek(f, 5, SEEK_SET);
  printf("after_seek %c\n", fgetc(f));
  printf("ftell %ld\n", ftell(f));
  fclose(f);

  int fd = open(at(d, "s.txt"), O_RDONLY);
  f = fdopen(fd, "r");
  printf("fdopen %s", fgets(line, sizeof line, f));
  fclose(f);
  printf("fd_closed_by_fclose %d\n", fcntl(fd, F_GETFD) == -1 && errno == EBADF);

  printf("fopen_missing %d\n", fopen(at(d, "missing"), "r") == NULL && errno == ENOENT);
  printf("fopen_excl %d\n", fopen(at(d, "s.txt"), "wx") == NULL && errno == EEXIST);

  fflush(stdout);
  int saved = dup(1);
  if (!freopen(at(d, "out.txt"), "w", stdout)) return 1;
  printf("to gkfs\n");
  fflush(stdout);
  dup2(saved, 1);  /* back to the pipe: stdout is glibc's stream again */
  close(saved);
  f = fopen(at(d, "out.txt"), "r");
  printf("freopen %s", fgets(line, sizeof line, f));
  fclose(f);

  for (int i = 0; i < 3; i++) {
    char name[16];
    snprintf(name, sizeof name, "e%d", 2 - i);
    close(creat(at(d, name), 0644));
  }
  struct dirent** list;
  int n = scandir(d, &list, NULL, alphasort);
  printf("scandir");
  for (int i = 0; i < n; i++) printf(" %s", list[i]->d_name);
  printf("\n");

  char tmpl[8192];
  snprintf(tmpl, sizeof tmpl, "%s/tmpXXXXXX", d);
  int t = mkstemp(tmpl);
  struct stat st;
  printf("mkstemp %d\n", t >= 0 && fstat(t, &st) == 0 && S_ISREG(st.st_mode) &&
                         strncmp(tmpl, d, strlen(d)) == 0 && access(tmpl, F_OK) == 0);
  close(t);
  unlink(tmpl);

  if (chdir(d) != 0) return 1;
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    execlp("cat", "cat", "s.txt", (char*)NULL);
    _exit(127);
  }
  int status;
  waitpid(pid, &status, 0);
  char cwd[8192];
  printf("getcwd_matches %d\n", getcwd(cwd, sizeof cwd) && strcmp(cwd, d) == 0);
  return 0;
}
"""


@pytest.fixture(scope="module")
def program(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("c") / "stdio_driver"
    src = out.with_suffix(".c")
    src.write_text(PROGRAM)
    return compile_c(src, out)


def test_stdio_scandir_mkstemp_exec(fs, d, program):
    result = fs.run([program, d])
    assert result.returncode == 0, result.stdout + result.stderr
    got = result.stdout.splitlines()
    assert got == [
        "fileno_is_gkfs 1",
        "lines 3",
        "after_seek 1",
        "ftell 6",
        "fdopen line 1",
        "fd_closed_by_fclose 1",
        "fopen_missing 1",
        "fopen_excl 1",
        "freopen to gkfs",
        "scandir . .. e0 e1 e2 out.txt s.txt",
        "mkstemp 1",
        "line 1", "line 2", "line 3",  # cat, exec'd in the gkfs working directory
        "getcwd_matches 1",
    ]
