/* threads_driver: threads of ONE process doing small metadata and data calls. Plain libc
 * calls, so it measures whatever file system DIR is on (gkfs through LD_PRELOAD, or tmpfs as
 * the baseline): how a client's calls overlap when several threads of a process issue them
 * (OpenMP I/O, Python data loaders, MPI with threads).
 *
 *   threads_driver -d DIR [-t 1,2,4] [-s STATS] [-r READS] [-f FILES] [-b BLOCK]
 *
 * Set-up (untimed, main thread): FILES empty files DIR/s<i> to stat, and one data file
 * DIR/r<k> of BLOCK bytes per thread of the largest count. Then, for each thread count T of
 * -t in order, two phases, each started by a barrier and timed from the first thread's start
 * to the last thread's end:
 *   stat: each thread stats STATS names, thread k starting at file k*FILES/T and going
 *         round; every result must say regular file, size 0.
 *   read: each thread opens its own DIR/r<k>, reads 4 KiB with read() READS times in
 *         sequence (back to offset 0 at the end of the file), and closes it. Every page
 *         read must carry its stamp (file number and offset), so wrong data fails the run.
 * Files are removed at the end (untimed). Prints one JSON object per thread count; ops/s are
 * calls per second over all threads, GB/s 10^9 bytes per second. Exit status 1 if any call
 * or check fails (the error names the call and path). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { kPage = 4096, kMaxThreads = 64, kMaxCounts = 16 };

typedef struct {
  const char* dir;
  int counts[kMaxCounts]; /* thread counts, in the order given */
  int ncounts;
  int max_threads;
  long stats;  /* stat calls per thread */
  long reads;  /* 4 KiB reads per thread */
  long files;  /* empty files to stat */
  long block;  /* bytes of each data file, a multiple of 4 KiB */
} Options;

typedef struct {
  const Options* o;
  pthread_barrier_t* go;
  int index;
  int threads;
  int failed;
  double start, end; /* this thread's clock readings after the release and at its end */
} Worker;

static double Now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The first word of every page of data file k: which file, which page. */
static uint64_t Stamp(int k, long offset) {
  return ((uint64_t)(k + 1) << 48) ^ (uint64_t)offset ^ 0x5bd1e995ull;
}

static void* StatPhase(void* arg) {
  Worker* w = arg;
  char path[4200];
  struct stat st;
  pthread_barrier_wait(w->go);
  w->start = Now();
  long first = w->index * w->o->files / w->threads;
  for (long i = 0; i < w->o->stats; ++i) {
    snprintf(path, sizeof(path), "%s/s%ld", w->o->dir, (first + i) % w->o->files);
    errno = 0;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != 0) {
      fprintf(stderr, "threads_driver: stat %s: %s\n", path, errno ? strerror(errno) : "wrong type or size");
      w->failed = 1;
      break;
    }
  }
  w->end = Now();
  return NULL;
}

static void* ReadPhase(void* arg) {
  Worker* w = arg;
  char path[4200];
  uint64_t page[kPage / 8];
  snprintf(path, sizeof(path), "%s/r%d", w->o->dir, w->index);
  pthread_barrier_wait(w->go);
  w->start = Now();
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    fprintf(stderr, "threads_driver: open %s: %s\n", path, strerror(errno));
    w->failed = 1;
    return NULL;
  }
  long offset = 0;
  for (long i = 0; i < w->o->reads && !w->failed; ++i) {
    if (offset == w->o->block) {
      if (lseek(fd, 0, SEEK_SET) != 0) break;
      offset = 0;
    }
    ssize_t got = read(fd, page, kPage);
    if (got != kPage || page[0] != Stamp(w->index, offset)) {
      fprintf(stderr, "threads_driver: read %s at %ld: %s\n", path, offset,
              got < 0 ? strerror(errno) : got != kPage ? "short read" : "wrong data");
      w->failed = 1;
    }
    offset += kPage;
  }
  if (close(fd) != 0) w->failed = 1;
  w->end = Now();
  return NULL;
}

/* Runs fn in `threads` threads released together; returns the seconds from the first thread's
 * start to the last one's end (each thread reads the clock itself: on 2 cores the main thread
 * may run only after the others are done), or a negative number if a thread failed. */
static double RunPhase(const Options* o, int threads, void* (*fn)(void*)) {
  pthread_t ids[kMaxThreads];
  Worker workers[kMaxThreads];
  pthread_barrier_t go;
  pthread_barrier_init(&go, NULL, (unsigned)threads + 1);
  for (int k = 0; k < threads; ++k) {
    workers[k] = (Worker){o, &go, k, threads, 0};
    if (pthread_create(&ids[k], NULL, fn, &workers[k]) != 0) {
      fprintf(stderr, "threads_driver: pthread_create failed\n");
      exit(1);
    }
  }
  pthread_barrier_wait(&go);
  int failed = 0;
  double first = 0, last = 0;
  for (int k = 0; k < threads; ++k) {
    pthread_join(ids[k], NULL);
    failed |= workers[k].failed;
    if (k == 0 || workers[k].start < first) first = workers[k].start;
    if (k == 0 || workers[k].end > last) last = workers[k].end;
  }
  pthread_barrier_destroy(&go);
  return failed ? -1 : last - first;
}

static int Prepare(const Options* o) {
  char path[4200];
  uint64_t page[kPage / 8];
  for (long i = 0; i < o->files; ++i) {
    snprintf(path, sizeof(path), "%s/s%ld", o->dir, i);
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
    if (fd < 0 || close(fd) != 0) goto fail;
  }
  for (int k = 0; k < o->max_threads; ++k) {
    snprintf(path, sizeof(path), "%s/r%d", o->dir, k);
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
    if (fd < 0) goto fail;
    for (long offset = 0; offset < o->block; offset += kPage) {
      for (int w = 0; w < kPage / 8; ++w) page[w] = Stamp(k, offset) + (uint64_t)w;
      if (write(fd, page, kPage) != kPage) goto fail;
    }
    if (close(fd) != 0) goto fail;
  }
  return 0;
fail:
  fprintf(stderr, "threads_driver: creating %s: %s\n", path, strerror(errno));
  return 1;
}

static int Cleanup(const Options* o) {
  char path[4200];
  int failed = 0;
  for (long i = 0; i < o->files; ++i) {
    snprintf(path, sizeof(path), "%s/s%ld", o->dir, i);
    failed |= unlink(path) != 0;
  }
  for (int k = 0; k < o->max_threads; ++k) {
    snprintf(path, sizeof(path), "%s/r%d", o->dir, k);
    failed |= unlink(path) != 0;
  }
  if (failed) fprintf(stderr, "threads_driver: removing the files of %s failed\n", o->dir);
  return failed;
}

static int ParseCounts(char* text, Options* o) {
  for (char* save = NULL, *tok = strtok_r(text, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    int t = atoi(tok);
    if (t < 1 || t > kMaxThreads || o->ncounts == kMaxCounts) return 0;
    o->counts[o->ncounts++] = t;
    if (t > o->max_threads) o->max_threads = t;
  }
  return o->ncounts > 0;
}

static int ParseOptions(int argc, char** argv, Options* o) {
  memset(o, 0, sizeof(*o));
  o->stats = 20000;
  o->reads = 8192;
  o->files = 256;
  o->block = 4 << 20;
  char defaults[] = "1,2,4";
  int counted = 0;
  int c;
  while ((c = getopt(argc, argv, "d:t:s:r:f:b:")) != -1) {
    switch (c) {
      case 'd': o->dir = optarg; break;
      case 't': if (!ParseCounts(optarg, o)) return 0; counted = 1; break;
      case 's': o->stats = atol(optarg); break;
      case 'r': o->reads = atol(optarg); break;
      case 'f': o->files = atol(optarg); break;
      case 'b': o->block = atol(optarg); break;
      default: return 0;
    }
  }
  if (!counted) ParseCounts(defaults, o);
  return o->dir != NULL && o->stats > 0 && o->reads > 0 && o->files > 0 && o->block >= kPage &&
         o->block % kPage == 0;
}

int main(int argc, char** argv) {
  Options o;
  if (!ParseOptions(argc, argv, &o)) {
    fprintf(stderr,
            "usage: threads_driver -d DIR [-t 1,2,4 (each 1..64)] [-s STATS] [-r READS] [-f FILES]\n"
            "                      [-b BLOCK (bytes, a multiple of 4096)]\n");
    return 2;
  }
  if (Prepare(&o) != 0) return 1;
  int failed = 0;
  for (int i = 0; i < o.ncounts && !failed; ++i) {
    int t = o.counts[i];
    double stat_s = RunPhase(&o, t, StatPhase);
    double read_s = stat_s < 0 ? -1 : RunPhase(&o, t, ReadPhase);
    failed = stat_s < 0 || read_s < 0;
    if (failed) break;
    double stats = (double)o.stats * t, reads = (double)o.reads * t;
    printf("{\"threads\": %d, \"stats_per_thread\": %ld, \"reads_per_thread\": %ld, "
           "\"stat_s\": %.6f, \"stat_ops\": %.1f, \"read_s\": %.6f, \"read_ops\": %.1f, "
           "\"read_gbs\": %.4f, \"ok\": true}\n",
           t, o.stats, o.reads, stat_s, stats / stat_s, read_s, reads / read_s,
           reads * kPage / read_s / 1e9);
  }
  failed |= Cleanup(&o);
  if (failed) printf("{\"ok\": false}\n");
  return failed;
}
