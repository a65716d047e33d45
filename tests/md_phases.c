/* The per-file call sequences of IO500's metadata phases, as IOR's POSIX backend issues them
   (aiori-POSIX.c, mdtest.c, md-workbench.c), for tests/test_round_trips.py to count the
   requests each costs under the preload library. One process serves every phase, so its
   start-up and exit are paid once, outside the counts.

   stdin: one "PHASE DIR FIRST COUNT" line per phase; files are DIR/f<i> for i in
   [FIRST, FIRST + COUNT). stdout: one "done FAILURES" line per phase (FAILURES: calls that
   failed or moved fewer bytes than asked).

   PHASE   per file (what the IO500 phase does)
   connect stat DIR itself (the process's first gkfs call connects it)
   create  open(O_CREAT|O_RDWR, 0664), close                     mdtest-easy-write
   write   open(O_CREAT|O_RDWR, 0664), lseek 0, write 3901, close mdtest-hard-write,
                                                                 mdworkbench-create
   read    open(O_RDONLY), lseek 0, read 3901, close             mdtest-hard-read
   stat    stat                                                  mdtest-easy/hard-stat
   unlink  unlink                                                mdtest-*-delete,
                                                                 mdworkbench-delete
   bench   stat, open(O_RDONLY) + lseek + read 3901 + close, unlink, then a new file
           DIR/n<i>: open(O_CREAT|O_RDWR) + lseek + write 3901 + close  mdworkbench-bench */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { kFileBytes = 3901 };  /* mdtest-hard's and md-workbench's file size */
static char buf[kFileBytes];

static int write_file(const char* path) {
  int fd = open(path, O_CREAT | O_RDWR, 0664);
  if (fd < 0) return 1;
  int bad = lseek(fd, 0, SEEK_SET) != 0 || write(fd, buf, kFileBytes) != kFileBytes;
  return close(fd) != 0 || bad;
}

static int read_file(const char* path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return 1;
  int bad = lseek(fd, 0, SEEK_SET) != 0 || read(fd, buf, kFileBytes) != kFileBytes;
  return close(fd) != 0 || bad;
}

static int one(const char* phase, const char* dir, long i) {
  char path[4096], next[4096];
  struct stat st;
  snprintf(path, sizeof path, "%s/f%ld", dir, i);
  if (strcmp(phase, "connect") == 0) return stat(dir, &st) != 0;
  if (strcmp(phase, "create") == 0) {
    int fd = open(path, O_CREAT | O_RDWR, 0664);
    return fd < 0 || close(fd) != 0;
  }
  if (strcmp(phase, "write") == 0) return write_file(path);
  if (strcmp(phase, "read") == 0) return read_file(path);
  if (strcmp(phase, "stat") == 0) return stat(path, &st) != 0;
  if (strcmp(phase, "unlink") == 0) return unlink(path) != 0;
  if (strcmp(phase, "bench") == 0) {
    snprintf(next, sizeof next, "%s/n%ld", dir, i);
    return (stat(path, &st) != 0 || st.st_size < kFileBytes) + read_file(path) +
           (unlink(path) != 0) + write_file(next);
  }
  return 1;
}

int main(void) {
  char phase[32], dir[4000];
  long first, count;
  memset(buf, 'x', sizeof buf);
  while (scanf("%31s %3999s %ld %ld", phase, dir, &first, &count) == 4) {
    long failures = 0;
    for (long i = first; i < first + count; ++i) failures += one(phase, dir, i);
    printf("done %ld\n", failures);
    fflush(stdout);
  }
  return 0;
}
