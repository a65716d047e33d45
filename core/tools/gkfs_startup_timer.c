/* gkfs_startup_timer: wall time of starting a program with and without an LD_PRELOAD library.
 *
 *   gkfs_startup_timer ROUNDS LIBRARY [LIBRARY...] -- PROGRAM [ARG...]
 *
 * Each round runs PROGRAM once without LD_PRELOAD and once under each LIBRARY, in that order,
 * so slow drifts of a busy machine hit every variant alike. Prints one JSON object per variant
 * ("none" and each library path): wall time (median, 10th and 90th percentile) and the CPU
 * time the child used (user + system, median), in microseconds. On a busy machine the CPU
 * time and the 10th percentile are the steadier figures.
 * Used for the start-up numbers in core/preload/README.md. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* environ without LD_PRELOAD, plus LD_PRELOAD=library when library is not NULL. */
static char** environment(const char* library) {
  size_t n = 0;
  while (environ[n] != NULL) ++n;
  char** env = calloc(n + 2, sizeof(char*));
  size_t k = 0;
  for (size_t i = 0; i < n; ++i) {
    if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0) env[k++] = environ[i];
  }
  if (library != NULL) {
    char* entry = malloc(strlen(library) + 12);
    sprintf(entry, "LD_PRELOAD=%s", library);
    env[k++] = entry;
  }
  return env;
}

static double tv_us(struct timeval tv) { return tv.tv_sec * 1e6 + tv.tv_usec; }

/* Runs argv once, its output discarded; returns its wall time and stores its CPU time in
 * *cpu_us. */
static double run_once(char** argv, char** env, double* cpu_us) {
  static posix_spawn_file_actions_t* actions;
  if (actions == NULL) {
    actions = malloc(sizeof(*actions));
    posix_spawn_file_actions_init(actions);
    posix_spawn_file_actions_addopen(actions, 1, "/dev/null", O_WRONLY, 0);
  }
  pid_t pid;
  double t0 = now_us();
  if (posix_spawn(&pid, argv[0], actions, NULL, argv, env) != 0) {
    perror("posix_spawn");
    exit(2);
  }
  int status;
  struct rusage usage;
  if (wait4(pid, &status, 0, &usage) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "gkfs_startup_timer: %s failed\n", argv[0]);
    exit(2);
  }
  *cpu_us = tv_us(usage.ru_utime) + tv_us(usage.ru_stime);
  return now_us() - t0;
}

static int by_value(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

int main(int argc, char** argv) {
  int sep = 0;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--") == 0) sep = i;
  }
  if (argc < 4 || sep < 2 || sep + 1 >= argc || atoi(argv[1]) <= 0) {
    fprintf(stderr, "usage: %s ROUNDS [LIBRARY...] -- PROGRAM [ARG...]\n", argv[0]);
    return 2;
  }
  int rounds = atoi(argv[1]);
  int variants = sep - 1;  /* "none" plus each library */
  char*** envs = calloc(variants, sizeof(char**));
  double** wall = calloc(variants, sizeof(double*));
  double** cpu = calloc(variants, sizeof(double*));
  for (int v = 0; v < variants; ++v) {
    envs[v] = environment(v == 0 ? NULL : argv[1 + v]);
    wall[v] = calloc(rounds, sizeof(double));
    cpu[v] = calloc(rounds, sizeof(double));
  }
  double ignored;
  char** program = argv + sep + 1;
  for (int w = 0; w < 20; ++w) {  /* warm the page cache */
    for (int v = 0; v < variants; ++v) run_once(program, envs[v], &ignored);
  }
  for (int r = 0; r < rounds; ++r) {
    for (int v = 0; v < variants; ++v) wall[v][r] = run_once(program, envs[v], &cpu[v][r]);
  }
  printf("{");
  for (int v = 0; v < variants; ++v) {
    qsort(wall[v], rounds, sizeof(double), by_value);
    qsort(cpu[v], rounds, sizeof(double), by_value);
    printf("%s\"%s\": {\"median_us\": %.1f, \"p10_us\": %.1f, \"p90_us\": %.1f, "
           "\"cpu_median_us\": %.1f}",
           v ? ", " : "", v == 0 ? "none" : argv[1 + v], wall[v][rounds / 2],
           wall[v][rounds / 10], wall[v][rounds * 9 / 10], cpu[v][rounds / 2]);
  }
  printf("}\n");
  return 0;
}
