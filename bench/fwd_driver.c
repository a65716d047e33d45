/* Small-write driver of bench_forwarding.py: one writer process of an IOR-like run with
 * XFER-byte transfers, through the preload library in forwarding mode.
 *
 *   fwd_driver PREFIX RANK NRANKS XFER COUNT shared|fpp SYNC_DIR
 *
 * shared: every rank writes PREFIX.shared, transfer i of rank r at (i*NRANKS + r)*XFER, so the
 *         ranks' requests that are in flight together are contiguous (what TO-agg merges);
 * fpp:    rank r writes PREFIX.r, transfer i at i*XFER (one request in flight per file).
 * Block k of a file (k = offset / XFER) holds the byte k % 251, which the benchmark checks.
 *
 * The rank opens its file (connecting to its I/O node), creates SYNC_DIR/ready.RANK and waits
 * for SYNC_DIR/go, so process start-up stays out of the timed part; then it times its COUNT
 * pwrite calls on CLOCK_MONOTONIC (one clock for all processes of the host) and prints
 * {"start": s, "end": s, "requests": n, "bytes": n}. Exit status 1 on any failed call. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char** argv) {
  if (argc != 8) {
    fprintf(stderr, "usage: fwd_driver PREFIX RANK NRANKS XFER COUNT shared|fpp SYNC_DIR\n");
    return 2;
  }
  const char* prefix = argv[1];
  long rank = atol(argv[2]), nranks = atol(argv[3]), xfer = atol(argv[4]), count = atol(argv[5]);
  int shared = strcmp(argv[6], "shared") == 0;
  const char* sync_dir = argv[7];
  char path[4096];
  if (shared) {
    snprintf(path, sizeof path, "%s.shared", prefix);
  } else {
    snprintf(path, sizeof path, "%s.%ld", prefix, rank);
  }
  int fd = open(path, O_CREAT | O_WRONLY, 0644);
  if (fd < 0) {
    perror(path);
    return 1;
  }
  char marker[4096];
  snprintf(marker, sizeof marker, "%s/ready.%ld", sync_dir, rank);
  close(open(marker, O_CREAT | O_WRONLY, 0644));
  snprintf(marker, sizeof marker, "%s/go", sync_dir);
  while (access(marker, F_OK) != 0) usleep(2000);

  char* buf = malloc((size_t)xfer);
  double start = now();
  for (long i = 0; i < count; i++) {
    long block = shared ? i * nranks + rank : i;
    memset(buf, (int)(block % 251), (size_t)xfer);
    if (pwrite(fd, buf, (size_t)xfer, (off_t)block * xfer) != xfer) {
      perror("pwrite");
      return 1;
    }
  }
  double end = now();
  if (close(fd) != 0) {
    perror("close");
    return 1;
  }
  printf("{\"start\": %.9f, \"end\": %.9f, \"requests\": %ld, \"bytes\": %ld}\n", start, end,
         count, count * xfer);
  free(buf);
  return 0;
}
