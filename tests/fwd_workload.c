/* IOR-like and mdtest-like workloads over plain POSIX calls, for tests/test_fwd_cluster.py.
 * They run once through the preload library (forwarding mode) and once directly on a local
 * directory; the files they leave must be identical. Every byte written is a function of
 * its file offset and the writer's rank, so any lost or misplaced write shows.
 *
 *   fwd_workload ior DIR RANK NRANKS XFER BLOCK SEGMENTS [SYNC_DIR]
 *     IOR's POSIX pattern (lseek + write, then lseek + read to verify): a shared file
 *     DIR/ior.shared, segmented (segment s, rank r: block at (s*NRANKS + r)*BLOCK), and a
 *     file per process DIR/ior.fpp.RANK; XFER-byte transfers. With SYNC_DIR, after half the
 *     segments it creates SYNC_DIR/ready.RANK and waits for SYNC_DIR/go (the test remaps the
 *     I/O nodes meanwhile). Prints "writes W reads R".
 *   fwd_workload mdtest DIR RANK FILES
 *     mdtest's phases in DIR/md.RANK/d0..d3: create FILES files (with content), stat each,
 *     list the directories, read each back, remove every third file and one emptied
 *     directory, rename every third. Prints "creates C stats S removes R".
 *
 * Exit status 0 only if every call returned what a local file system returns. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int failures = 0;

#define CHECK(cond, ...)                                                   \
  do {                                                                     \
    if (!(cond)) {                                                         \
      fprintf(stderr, "fwd_workload: " __VA_ARGS__);                       \
      fprintf(stderr, " (errno %d: %s)\n", errno, strerror(errno));        \
      failures++;                                                          \
    }                                                                      \
  } while (0)

static unsigned char pattern(uint64_t offset, int rank) {
  return (unsigned char)((offset * 131u + (offset >> 12) * 7u + (unsigned)rank * 17u) & 0xff);
}

static void fill(unsigned char* buf, size_t len, uint64_t offset, int rank) {
  for (size_t i = 0; i < len; i++) buf[i] = pattern(offset + i, rank);
}

static void wait_for(const char* sync_dir, int rank) {
  char path[4096];
  snprintf(path, sizeof path, "%s/ready.%d", sync_dir, rank);
  int fd = open(path, O_CREAT | O_WRONLY, 0644);
  CHECK(fd >= 0, "create %s", path);
  if (fd >= 0) close(fd);
  snprintf(path, sizeof path, "%s/go", sync_dir);
  for (int i = 0; i < 60000 && access(path, F_OK) != 0; i++) usleep(10000);
  CHECK(access(path, F_OK) == 0, "no %s after 600 s", path);
}

/* One transfer: lseek + write (IOR's POSIX backend), or lseek + read and compare. */
static void transfer(int fd, int writing, uint64_t offset, unsigned char* buf, unsigned char* want,
                     size_t xfer, int rank, const char* name) {
  CHECK(lseek(fd, (off_t)offset, SEEK_SET) == (off_t)offset, "lseek %s %llu", name,
        (unsigned long long)offset);
  fill(want, xfer, offset, rank);
  if (writing) {
    CHECK(write(fd, want, xfer) == (ssize_t)xfer, "write %s at %llu", name,
          (unsigned long long)offset);
  } else {
    ssize_t n = read(fd, buf, xfer);
    CHECK(n == (ssize_t)xfer && memcmp(buf, want, xfer) == 0,
          "read %s at %llu: wrong data (%zd bytes)", name, (unsigned long long)offset, n);
  }
}

static int ior(char** argv, int argc) {
  const char* dir = argv[2];
  int rank = atoi(argv[3]), nranks = atoi(argv[4]);
  size_t xfer = strtoul(argv[5], NULL, 0), block = strtoul(argv[6], NULL, 0);
  int segments = atoi(argv[7]);
  const char* sync_dir = argc > 8 ? argv[8] : NULL;
  char shared[4096], fpp[4096];
  snprintf(shared, sizeof shared, "%s/ior.shared", dir);
  snprintf(fpp, sizeof fpp, "%s/ior.fpp.%d", dir, rank);
  unsigned char* buf = malloc(xfer);
  unsigned char* want = malloc(xfer);
  long writes = 0, reads = 0;
  for (int writing = 1; writing >= 0; writing--) {
    int flags = writing ? O_CREAT | O_WRONLY : O_RDONLY;
    int fds = open(shared, flags, 0644);
    int fdp = open(fpp, flags | (writing ? O_TRUNC : 0), 0644);
    CHECK(fds >= 0 && fdp >= 0, "open %s / %s", shared, fpp);
    if (fds < 0 || fdp < 0) return 1;
    for (int s = 0; s < segments; s++) {
      if (writing && sync_dir && s == segments / 2) wait_for(sync_dir, rank);
      for (size_t t = 0; t < block / xfer; t++) {
        uint64_t in_segment = t * xfer;
        transfer(fds, writing, ((uint64_t)s * nranks + rank) * block + in_segment, buf, want, xfer,
                 rank, shared);
        transfer(fdp, writing, (uint64_t)s * block + in_segment, buf, want, xfer, rank, fpp);
        if (writing) writes += 2; else reads += 2;
      }
    }
    CHECK(close(fds) == 0 && close(fdp) == 0, "close");
  }
  printf("writes %ld reads %ld\n", writes, reads);
  free(buf);
  free(want);
  return failures != 0;
}

static int mdtest(char** argv) {
  const char* dir = argv[2];
  int rank = atoi(argv[3]), files = atoi(argv[4]);
  char top[2048], path[4096], other[4096], data[1024], back[1024];
  long creates = 0, stats = 0, removes = 0;
  snprintf(top, sizeof top, "%s/md.%d", dir, rank);
  CHECK(mkdir(top, 0755) == 0, "mkdir %s", top);
  for (int d = 0; d < 4; d++) {
    snprintf(path, sizeof path, "%s/d%d", top, d);
    CHECK(mkdir(path, 0755) == 0, "mkdir %s", path);
  }
  for (int i = 0; i < files; i++) {  /* create, with content as mdtest -w */
    snprintf(path, sizeof path, "%s/d%d/file.%d", top, i % 4, i);
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
    CHECK(fd >= 0, "create %s", path);
    if (fd < 0) continue;
    size_t len = (size_t)snprintf(data, sizeof data, "rank %d file %d %0*d\n", rank, i, i % 200, 0);
    CHECK(write(fd, data, len) == (ssize_t)len, "write %s", path);
    CHECK(close(fd) == 0, "close %s", path);
    creates++;
  }
  for (int i = 0; i < files; i++) {  /* stat */
    struct stat st;
    snprintf(path, sizeof path, "%s/d%d/file.%d", top, i % 4, i);
    size_t len = (size_t)snprintf(data, sizeof data, "rank %d file %d %0*d\n", rank, i, i % 200, 0);
    CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == len, "stat %s",
          path);
    stats++;
  }
  for (int d = 0; d < 4; d++) {  /* list */
    snprintf(path, sizeof path, "%s/d%d", top, d);
    DIR* dp = opendir(path);
    CHECK(dp != NULL, "opendir %s", path);
    if (dp == NULL) continue;
    int n = 0;
    for (struct dirent* e; (e = readdir(dp)) != NULL;) n += e->d_name[0] != '.';
    closedir(dp);
    CHECK(n == files / 4 + (d < files % 4), "%s lists %d entries", path, n);
  }
  for (int i = 0; i < files; i++) {  /* read back */
    snprintf(path, sizeof path, "%s/d%d/file.%d", top, i % 4, i);
    size_t len = (size_t)snprintf(data, sizeof data, "rank %d file %d %0*d\n", rank, i, i % 200, 0);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0 && read(fd, back, sizeof back) == (ssize_t)len && memcmp(back, data, len) == 0,
          "read %s", path);
    if (fd >= 0) close(fd);
  }
  for (int i = 0; i < files; i++) {  /* remove every third, rename every third */
    snprintf(path, sizeof path, "%s/d%d/file.%d", top, i % 4, i);
    if (i % 3 == 0) {
      CHECK(unlink(path) == 0, "unlink %s", path);
      removes++;
    } else if (i % 3 == 1) {
      snprintf(other, sizeof other, "%s/d%d/renamed.%d", top, i % 4, i);
      CHECK(rename(path, other) == 0, "rename %s", path);
    }
  }
  snprintf(path, sizeof path, "%s/empty", top);
  CHECK(mkdir(path, 0755) == 0 && rmdir(path) == 0, "mkdir + rmdir %s", path);
  snprintf(path, sizeof path, "%s/d%d/file.%d", top, 0, 0);
  CHECK(unlink(path) != 0 && errno == ENOENT, "unlink of a removed file must be ENOENT");
  printf("creates %ld stats %ld removes %ld\n", creates, stats, removes);
  return failures != 0;
}

int main(int argc, char** argv) {
  if (argc >= 8 && strcmp(argv[1], "ior") == 0) return ior(argv, argc);
  if (argc == 5 && strcmp(argv[1], "mdtest") == 0) return mdtest(argv);
  fprintf(stderr,
          "usage: fwd_workload ior DIR RANK NRANKS XFER BLOCK SEGMENTS [SYNC_DIR]\n"
          "       fwd_workload mdtest DIR RANK FILES\n");
  return 2;
}
