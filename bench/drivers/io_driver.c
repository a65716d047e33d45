/* io_driver: an IOR-like data driver (IOR's POSIX backend: lseek + read/write). Plain libc
 * calls, so it measures whatever file system DIR is on (gkfs through LD_PRELOAD, or tmpfs
 * as the baseline).
 *
 *   io_driver -d DIR [-n PROCS] [-l fpp|shared] [-t XFER] [-b BLOCK] [-r] [-e] [-k]
 *
 * PROCS processes (fork) each write BLOCK bytes in transfers of XFER bytes (K/M/G suffixes),
 * then each reads them back. -l fpp: process k uses its own file DIR/io.<k>; -l shared: all
 * use DIR/io.shared, process k the range [k*BLOCK, (k+1)*BLOCK) (IOR's segmented layout).
 * -r: the transfers go in a random order (each one exactly once; reads in another order
 * than the writes), as IOR -z. Phases (write, read, verify) are separated by a barrier and
 * timed by the parent from the first "go" to the last "done"; write and read include open
 * and close, as in IOR. -e: each process fsyncs its file before that close of the write
 * phase (IOR -e), so the write phase ends when the data is durable. -k keeps the files
 * (otherwise they are removed after a last barrier, untimed).
 *
 * Data check: every 4 KiB page of a file starts with a stamp word (its file offset mixed
 * with the file's salt) followed by a fixed pattern. The timed read checks every page's
 * stamp (cheap: one word per page); the untimed verify phase reads everything again and
 * checks every byte. Any mismatch fails the run (exit 1) naming the file and offset.
 * Prints one JSON object; GB/s are 10^9 bytes per second over all processes. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { kWrite, kRead, kVerify, kCleanup, kPhases };
static const char* const kNames[kPhases] = {"write", "read", "verify", "cleanup"};
enum { kPage = 4096, kWordsPerPage = kPage / 8 };

typedef struct {
  const char* dir;
  int procs;
  int shared;
  int random;
  int fsync_writes;
  int keep;
  uint64_t xfer;
  uint64_t block;
} Options;

static double Now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t Mix(uint64_t x) {  /* splitmix64 finaliser */
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static uint64_t Stamp(uint64_t salt, uint64_t offset) { return Mix(salt ^ offset); }
/* Word w (1..511) of every page: fixed for a file. */
static uint64_t Fill(uint64_t salt, int w) { return Mix(salt + (uint64_t)w * 0x100000001b3ull); }

static uint64_t ParseSize(const char* text) {
  char* end = NULL;
  uint64_t v = strtoull(text, &end, 10);
  switch (*end) {
    case 'k': case 'K': v <<= 10; break;
    case 'm': case 'M': v <<= 20; break;
    case 'g': case 'G': v <<= 30; break;
    case '\0': break;
    default: return 0;
  }
  return v;
}

static void FilePath(const Options* o, int p, char* out, size_t size) {
  if (o->shared) snprintf(out, size, "%s/io.shared", o->dir);
  else snprintf(out, size, "%s/io.%d", o->dir, p);
}

/* Order of the transfers: identity, or a permutation drawn from seed (Fisher-Yates). */
static void Order(uint64_t* order, uint64_t count, int random, uint64_t seed) {
  for (uint64_t i = 0; i < count; ++i) order[i] = i;
  if (!random) return;
  for (uint64_t i = count; i > 1; --i) {
    seed = Mix(seed);
    uint64_t j = seed % i;
    uint64_t t = order[i - 1];
    order[i - 1] = order[j];
    order[j] = t;
  }
}

/* Full check of len bytes read at file offset off; returns the offset of the first bad
 * page, or UINT64_MAX when all is well. stamps_only: check only each page's stamp. */
static uint64_t Check(const uint64_t* buf, uint64_t salt, uint64_t off, uint64_t len,
                      int stamps_only) {
  for (uint64_t page = 0; page < len / kPage; ++page) {
    const uint64_t* w = buf + page * kWordsPerPage;
    uint64_t at = off + page * kPage;
    if (w[0] != Stamp(salt, at)) return at;
    if (stamps_only) continue;
    for (int i = 1; i < kWordsPerPage; ++i) {
      if (w[i] != Fill(salt, i)) return at;
    }
  }
  return UINT64_MAX;
}

static int Fail(const char* what, const char* path, uint64_t off) {
  fprintf(stderr, "io_driver: %s %s at offset %llu: %s\n", what, path, (unsigned long long)off,
          errno ? strerror(errno) : "short transfer");
  return 1;
}

static int RunPhase(int phase, const Options* o, int p, uint64_t salt, uint64_t* buf,
                    uint64_t* order) {
  char path[4200];
  FilePath(o, p, path, sizeof(path));
  if (phase == kCleanup) {  /* a shared file goes once every process has verified it */
    if (o->keep || (o->shared && p != 0) || unlink(path) == 0) return 0;
    fprintf(stderr, "io_driver: unlink %s: %s\n", path, strerror(errno));
    return 1;
  }
  uint64_t base = o->shared ? (uint64_t)p * o->block : 0;
  uint64_t count = o->block / o->xfer;
  Order(order, count, o->random, Mix(salt + (uint64_t)phase * 7919 + p));
  int fd = open(path, phase == kWrite ? O_CREAT | O_WRONLY : O_RDONLY, 0644);
  if (fd < 0) return Fail("open", path, 0);
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t off = base + order[i] * o->xfer;
    errno = 0;
    if (lseek(fd, (off_t)off, SEEK_SET) != (off_t)off) return Fail("lseek", path, off);
    if (phase == kWrite) {
      for (uint64_t page = 0; page < o->xfer / kPage; ++page) {
        buf[page * kWordsPerPage] = Stamp(salt, off + page * kPage);
      }
      if (write(fd, buf, o->xfer) != (ssize_t)o->xfer) return Fail("write", path, off);
    } else {
      if (read(fd, buf, o->xfer) != (ssize_t)o->xfer) return Fail("read", path, off);
      uint64_t bad = Check(buf, salt, off, o->xfer, phase == kRead);
      if (bad != UINT64_MAX) {
        fprintf(stderr, "io_driver: %s %s: wrong data in the page at offset %llu\n",
                kNames[phase], path, (unsigned long long)bad);
        return 1;
      }
    }
  }
  errno = 0;
  if (phase == kWrite && o->fsync_writes && fsync(fd) != 0) return Fail("fsync", path, 0);
  if (close(fd) != 0) return Fail("close", path, 0);
  return 0;
}

static int Child(const Options* o, int p, int go, int done) {
  char path[4200];
  FilePath(o, p, path, sizeof(path));
  uint64_t salt = Mix(o->shared ? 0x5eed : 0x5eed + (uint64_t)p + 1);
  uint64_t* buf = aligned_alloc(kPage, o->xfer);
  uint64_t* order = malloc(sizeof(uint64_t) * (o->block / o->xfer));
  int rc = buf == NULL || order == NULL;
  if (!rc) {
    for (uint64_t page = 0; page < o->xfer / kPage; ++page) {
      for (int i = 1; i < kWordsPerPage; ++i) buf[page * kWordsPerPage + i] = Fill(salt, i);
    }
  }
  for (int phase = 0; phase < kPhases; ++phase) {
    char c;
    if (read(go, &c, 1) != 1) _exit(1);
    if (rc == 0) rc = RunPhase(phase, o, p, salt, buf, order);
    c = (char)rc;
    if (write(done, &c, 1) != 1) _exit(1);
  }
  return rc;
}

static int ParseOptions(int argc, char** argv, Options* o) {
  memset(o, 0, sizeof(*o));
  o->procs = 1;
  o->xfer = 1 << 20;
  o->block = 16 << 20;
  int c;
  while ((c = getopt(argc, argv, "d:n:l:t:b:rek")) != -1) {
    switch (c) {
      case 'd': o->dir = optarg; break;
      case 'n': o->procs = atoi(optarg); break;
      case 'l':
        if (strcmp(optarg, "shared") == 0) o->shared = 1;
        else if (strcmp(optarg, "fpp") != 0) return 0;
        break;
      case 't': o->xfer = ParseSize(optarg); break;
      case 'b': o->block = ParseSize(optarg); break;
      case 'r': o->random = 1; break;
      case 'e': o->fsync_writes = 1; break;
      case 'k': o->keep = 1; break;
      default: return 0;
    }
  }
  return o->dir != NULL && o->procs >= 1 && o->procs <= 64 && o->xfer >= kPage &&
         o->xfer % kPage == 0 && o->block >= o->xfer && o->block % o->xfer == 0;
}

int main(int argc, char** argv) {
  Options o;
  if (!ParseOptions(argc, argv, &o)) {
    fprintf(stderr,
            "usage: io_driver -d DIR [-n PROCS(1..64)] [-l fpp|shared] [-t XFER] [-b BLOCK] [-r] [-e] [-k]\n"
            "       XFER a multiple of 4K, BLOCK a multiple of XFER (K/M/G suffixes)\n");
    return 2;
  }
  int go[64][2], done[64][2];
  for (int p = 0; p < o.procs; ++p) {
    if (pipe(go[p]) != 0 || pipe(done[p]) != 0) return 1;
    if (fork() == 0) _exit(Child(&o, p, go[p][0], done[p][1]));
  }
  double seconds[kPhases];
  int failed = 0;
  for (int phase = 0; phase < kPhases; ++phase) {
    double t0 = Now();
    for (int p = 0; p < o.procs; ++p) failed |= write(go[p][1], "g", 1) != 1;
    for (int p = 0; p < o.procs; ++p) {
      char c = 1;
      failed |= read(done[p][0], &c, 1) != 1 || c != 0;
    }
    seconds[phase] = Now() - t0;
  }
  for (int p = 0; p < o.procs; ++p) {
    int status;
    wait(&status);
    failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
  }
  double bytes = (double)o.block * o.procs;
  double ops = (double)(o.block / o.xfer) * o.procs;
  printf("{\"layout\": \"%s\", \"xfer\": %llu, \"block\": %llu, \"procs\": %d, \"random\": %s, "
         "\"fsync\": %s",
         o.shared ? "shared" : "fpp", (unsigned long long)o.xfer, (unsigned long long)o.block,
         o.procs, o.random ? "true" : "false", o.fsync_writes ? "true" : "false");
  for (int phase = 0; phase < kVerify; ++phase) {
    printf(", \"%s_s\": %.6f, \"%s_gbs\": %.4f, \"%s_ops\": %.1f", kNames[phase], seconds[phase],
           kNames[phase], bytes / seconds[phase] / 1e9, kNames[phase], ops / seconds[phase]);
  }
  printf(", \"verify_s\": %.6f, \"ok\": %s}\n", seconds[kVerify], failed ? "false" : "true");
  return failed;
}
