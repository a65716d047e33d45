"""Call sequences of issue 3 that one call per run cannot show (descriptor sharing, directory
streams, stdio buffering, fork and exec), in a C program run once under the preload library in
gkfs and once in a local directory without it: the two outputs must be identical. Each line
is "what: result"; errno names stand for failures."""

from __future__ import annotations

import subprocess
import uuid

import pytest

from conftest import compile_c

PROGRAM = r"""
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static char buf[8192];
static const char* at(const char* name) {
  static char path[4096];
  snprintf(path, sizeof path, "%s/%s", getenv("W"), name);
  return path;
}
static void show(const char* what, long r) {
  if (r < 0) printf("%s: %s\n", what, strerrorname_np(errno));
  else printf("%s: %ld\n", what, r);
}
static void show_text(const char* what, const char* text, long n) {
  if (n < 0) printf("%s: %s\n", what, strerrorname_np(errno));
  else printf("%s: [%.*s]\n", what, (int)n, text);
}

static void descriptors(void) {
  int fd = open(at("d.txt"), O_CREAT | O_RDWR | O_TRUNC, 0644);
  show("write", write(fd, "0123456789", 10));
  int d3 = dup3(fd, 40, O_CLOEXEC);
  show("dup3 cloexec", d3 == 40 ? fcntl(40, F_GETFD) & FD_CLOEXEC : -1);
  int dc = fcntl(fd, F_DUPFD_CLOEXEC, 50);
  show("F_DUPFD_CLOEXEC", dc >= 50 ? fcntl(dc, F_GETFD) & FD_CLOEXEC : -1);
  lseek(fd, 3, SEEK_SET);
  show("shared offset", lseek(d3, 0, SEEK_CUR));
  show("dup3 same fd", dup3(fd, fd, 0));
  show("dup3 bad flags", dup3(fd, 41, 12345));
  show("F_SETFL append", fcntl(fd, F_SETFL, O_APPEND));
  show("append flag via dup", (fcntl(dc, F_GETFL) & O_APPEND) != 0);
  show("write appends", write(d3, "A", 1));
  show("offset after append", lseek(fd, 0, SEEK_CUR));
  show("F_SETFL clear", fcntl(fd, F_SETFL, 0));
  struct iovec v[2] = {{buf, 2}, {buf + 2, 3}};
  show("preadv2 at -1", preadv2(fd, v, 2, -1, 0));
  show_text("preadv2 data", buf, 5);
  show("offset after preadv2", lseek(fd, 0, SEEK_CUR));
  struct iovec w[2] = {{"xy", 2}, {"z", 1}};
  show("pwritev2 at 1", pwritev2(fd, w, 2, 1, 0));
  show("offset after pwritev2", lseek(fd, 0, SEEK_CUR));
  show_text("pread", buf, pread(fd, buf, 20, 0));
  show("sync_file_range", sync_file_range(fd, 0, 0, 0));
  show("posix_fadvise", posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL));
  show("fdatasync", fdatasync(fd));
  show("SEEK_DATA 2", lseek(fd, 2, SEEK_DATA));
  show("SEEK_HOLE 2", lseek(fd, 2, SEEK_HOLE));
  show("ftruncate 4", ftruncate(fd, 4));
  show("pread past end", pread(fd, buf, 10, 8));
  show("lseek past end", lseek(fd, 100, SEEK_SET));
  show("write past end", write(fd, "!", 1));
  struct stat st;
  fstat(fd, &st);
  show("size with hole", st.st_size);
  show_text("hole reads zeros", buf, pread(fd, buf, 3, 4) == 3 && !buf[0] && !buf[2] ? 2 : -1);
  /* close_range: the number is reused by a kernel file, which must stay the kernel's */
  int high = fcntl(fd, F_DUPFD, 70);
  show("close_range", close_range(high, high, 0));
  int dn = open("/dev/null", O_RDONLY);
  int again = dn == high ? 1 : 0;
  if (dn != high) { dup2(dn, high); close(dn); }
  show("number reused", again || 1);
  show("read reused number", read(high, buf, 10));
  fstat(high, &st);
  show("reused is char device", S_ISCHR(st.st_mode));
  close(high);
  int c1 = dup(fd);
  show("CLOSE_RANGE_CLOEXEC", close_range(c1, c1, CLOSE_RANGE_CLOEXEC));
  show("cloexec set", fcntl(c1, F_GETFD) & FD_CLOEXEC);
  close(c1);
  close(dc);
  close(d3);
  close(fd);
  show("closed fd", write(fd, "x", 1));
}

static void sendfile_to_pipe(void) {
  int fd = open(at("d.txt"), O_RDONLY);
  int p[2];
  pipe(p);
  off_t off = 1;
  show("sendfile to pipe", sendfile(p[1], fd, &off, 3));
  show("sendfile offset", off);
  close(p[1]);
  show_text("pipe got", buf, read(p[0], buf, sizeof buf));
  close(p[0]);
  close(fd);
}

static void directories(void) {
  mkdir(at("dir"), 0755);
  for (int i = 0; i < 5; ++i) {
    char name[32];
    snprintf(name, sizeof name, "dir/e%d", i);
    close(open(at(name), O_CREAT | O_WRONLY, 0644));
  }
  DIR* dir = opendir(at("dir"));
  int n = 0;
  struct dirent* e;
  long pos = -1;
  char third[256] = "";
  while ((e = readdir(dir)) != NULL) {
    if (++n == 2) pos = telldir(dir);
    if (n == 3) snprintf(third, sizeof third, "%s", e->d_name);
  }
  show("entries", n);
  seekdir(dir, pos);
  e = readdir(dir);
  show("seekdir returns to the same entry", e != NULL && strcmp(e->d_name, third) == 0);
  rewinddir(dir);
  close(open(at("dir/late"), O_CREAT | O_WRONLY, 0644));
  n = 0;
  while (readdir(dir) != NULL) ++n;
  show("after rewinddir, with a new entry", n);
  show("dirfd is a directory", fstat(dirfd(dir), &(struct stat){0}) == 0);
  struct dirent entry, *result;
  rewinddir(dir);
  n = 0;
  while (readdir_r(dir, &entry, &result) == 0 && result != NULL) ++n;
  show("readdir_r", n);
  closedir(dir);
  int dfd = open(at("dir"), O_RDONLY | O_DIRECTORY);
  DIR* fdir = fdopendir(dfd);
  n = 0;
  while (readdir(fdir) != NULL) ++n;
  show("fdopendir", n);
  closedir(fdir);
  show("fd closed by closedir", fcntl(dfd, F_GETFD));
  struct dirent** list;
  int count = scandir(at("dir"), &list, NULL, alphasort);
  printf("scandir:");
  for (int i = 0; i < count; ++i) printf(" %s", list[i]->d_name), free(list[i]);
  printf("\n");
  free(list);
}

static void streams(void) {
  FILE* f = fopen(at("s.txt"), "w+");
  char small[8];
  show("setvbuf", setvbuf(f, small, _IOFBF, sizeof small));
  fprintf(f, "%d %s %.2f\n", 42, "words", 2.5);
  fputs("second line\n", f);
  fwrite("third\n", 1, 6, f);
  show("ftello", ftello(f));
  show("fseeko", fseeko(f, 0, SEEK_SET));
  int i;
  char word[32];
  double x;
  show("fscanf", fscanf(f, "%d %31s %lf", &i, word, &x));
  printf("scanned: %d %s %.2f\n", i, word, x);
  char* line = NULL;
  size_t cap = 0;
  fgetc(f);
  show_text("getline", line, getline(&line, &cap, f) - 1);
  show_text("fgets", buf, fgets(buf, sizeof buf, f) ? (long)strlen(buf) - 1 : -1);
  show("feof before", feof(f));
  printf("fgetc at end: %d\n", fgetc(f));  /* EOF sets no errno */
  show("feof after", feof(f) != 0);
  free(line);
  show("fclose", fclose(f));
  f = fopen(at("s.txt"), "a+");
  fputs("appended\n", f);
  fseek(f, 0, SEEK_SET);
  show_text("a+ reads from the start", buf, fread(buf, 1, 2, f));
  fclose(f);
  f = fopen(at("s.txt"), "r");
  show("fread all", fread(buf, 1, sizeof buf, f));
  show("ferror", ferror(f));
  show("fopen r then fputs", fputs("x", f));
  fclose(f);
  f = fopen(at("s.txt"), "r");
  f = freopen(at("s2.txt"), "w", f);
  fputs("reopened\n", f);
  fclose(f);
  int fd = open(at("s2.txt"), O_RDONLY);
  FILE* g = fdopen(fd, "r");
  show("fileno matches", fileno(g) == fd);
  show_text("fdopen read", buf, fread(buf, 1, 8, g));
  fclose(g);
}

static void fork_and_exec(void) {
  int fd = open(at("shared.txt"), O_CREAT | O_RDWR | O_TRUNC, 0644);
  write(fd, "parent ", 7);
  pid_t pid = fork();
  if (pid == 0) {
    write(fd, "child ", 6);
    _exit(0);
  }
  waitpid(pid, NULL, 0);
  write(fd, "parent-again", 12);
  show_text("after fork", buf, pread(fd, buf, 100, 0));
  lseek(fd, 7, SEEK_SET);
  fflush(stdout);
  pid = fork();
  if (pid == 0) {  /* cat reads fd 0 from the inherited offset, and leaves it at the end */
    dup2(fd, 0);
    execl("/bin/cat", "cat", (char*)NULL);
    _exit(127);
  }
  int status;
  waitpid(pid, &status, 0);
  printf("\n");
  show("cat status", WEXITSTATUS(status));
  show("offset after exec'd cat", lseek(fd, 0, SEEK_CUR));
  int cloexec = open(at("shared.txt"), O_RDONLY | O_CLOEXEC);
  fflush(stdout);
  pid = fork();
  if (pid == 0) {
    char arg[32];
    snprintf(arg, sizeof arg, "/proc/self/fd/%d", cloexec);
    execl("/bin/sh", "sh", "-c", "test -e \"$1\" && echo inherited || echo closed on exec",
          "sh", arg, (char*)NULL);
    _exit(127);
  }
  waitpid(pid, NULL, 0);
  close(cloexec);
  close(fd);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  descriptors();
  sendfile_to_pipe();
  directories();
  streams();
  fork_and_exec();
  return 0;
}
"""


@pytest.fixture(scope="module")
def program(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("c") / "sequences"
    src = out.with_suffix(".c")
    src.write_text(PROGRAM)
    return compile_c(src, out)


def test_sequences_match_a_local_directory(fs, program, tmp_path):
    work = f"{fs.mountdir}/seq-{uuid.uuid4().hex[:8]}"
    assert fs.run(["mkdir", work]).returncode == 0
    in_gkfs = fs.run([program], env=dict(fs.env, W=work))
    plain = {k: v for k, v in fs.env.items() if k != "LD_PRELOAD"}
    in_local = subprocess.run([program], env=dict(plain, W=str(tmp_path)), capture_output=True,
                              text=True, timeout=60)
    assert in_local.returncode == 0, in_local.stderr
    assert (in_gkfs.returncode, in_gkfs.stderr) == (0, "")
    gkfs_lines, local_lines = in_gkfs.stdout.splitlines(), in_local.stdout.splitlines()
    differing = [f"{g!r} vs {l!r}" for g, l in zip(gkfs_lines, local_lines) if g != l]
    assert not differing and len(gkfs_lines) == len(local_lines), \
        "gkfs vs local:\n" + "\n".join(differing)
    assert "hole reads zeros: [" in in_gkfs.stdout and "closed on exec" in in_gkfs.stdout
