/* md_driver: an mdtest-like metadata driver. Plain libc calls, so it measures whatever
 * file system the directory is on (gkfs through LD_PRELOAD, or tmpfs as the baseline).
 *
 *   md_driver DIR N [PROCS]
 *
 * PROCS processes (fork) each create N empty files in DIR/p<k>/ (open O_CREAT|O_EXCL +
 * close), then stat each, then unlink each; phases are separated by a barrier (pipes).
 * Prints one JSON object: per-phase seconds and operations per second (all processes).
 * Exit status 1 if any call fails (the error names the call and path). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { kCreate, kStat, kRemove, kPhases };
static const char* const kNames[kPhases] = {"create", "stat", "remove"};

static double Now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int RunPhase(int phase, const char* dir, long n) {
  char path[4200];
  struct stat st;
  for (long i = 0; i < n; ++i) {
    snprintf(path, sizeof(path), "%s/f%ld", dir, i);
    if (phase == kCreate) {
      int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
      if (fd < 0 || close(fd) != 0) goto fail;
    } else if (phase == kStat) {
      if (stat(path, &st) != 0 || st.st_size != 0) goto fail;
    } else if (unlink(path) != 0) {
      goto fail;
    }
    continue;
  fail:
    fprintf(stderr, "md_driver: %s %s: %s\n", kNames[phase], path, strerror(errno));
    return 1;
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: md_driver DIR N [PROCS]\n");
    return 2;
  }
  const char* root = argv[1];
  long n = atol(argv[2]);
  int procs = argc > 3 ? atoi(argv[3]) : 1;
  if (n <= 0 || procs <= 0 || procs > 64) {
    fprintf(stderr, "md_driver: N must be > 0 and PROCS in 1..64\n");
    return 2;
  }
  int go[64][2], done[64][2];
  for (int p = 0; p < procs; ++p) {
    if (pipe(go[p]) != 0 || pipe(done[p]) != 0) return 1;
    if (fork() == 0) {
      char dir[4096];
      snprintf(dir, sizeof(dir), "%s/p%d", root, p);
      int rc = mkdir(dir, 0755) == 0 || errno == EEXIST ? 0 : 1;
      if (rc) fprintf(stderr, "md_driver: mkdir %s: %s\n", dir, strerror(errno));
      for (int phase = 0; phase < kPhases; ++phase) {
        char c;
        if (read(go[p][0], &c, 1) != 1) _exit(1);
        if (rc == 0) rc = RunPhase(phase, dir, n);
        c = (char)rc;
        if (write(done[p][1], &c, 1) != 1) _exit(1);
      }
      if (rc == 0) rmdir(dir);
      _exit(rc);
    }
  }
  double seconds[kPhases];
  int failed = 0;
  for (int phase = 0; phase < kPhases; ++phase) {
    double t0 = Now();
    for (int p = 0; p < procs; ++p) failed |= write(go[p][1], "g", 1) != 1;
    for (int p = 0; p < procs; ++p) {
      char c = 1;
      failed |= read(done[p][0], &c, 1) != 1 || c != 0;
    }
    seconds[phase] = Now() - t0;
  }
  for (int p = 0; p < procs; ++p) {
    int status;
    wait(&status);
    failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
  }
  printf("{\"files_per_proc\": %ld, \"procs\": %d", n, procs);
  for (int phase = 0; phase < kPhases; ++phase) {
    printf(", \"%s_s\": %.6f, \"%s_ops\": %.1f", kNames[phase], seconds[phase], kNames[phase],
           n * procs / seconds[phase]);
  }
  printf(", \"ok\": %s}\n", failed ? "false" : "true");
  return failed;
}
