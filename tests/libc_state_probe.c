/* What an application can see of its process, before and after its first gkfs call (the
   preload library connects the client and loads UCX there): prints "changed: WHAT" for each
   difference, then "done". argv[1]: a path under the mount directory that exists. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

extern char** environ;

struct snapshot {
  char locale[512];
  struct sigaction actions[65];
  sigset_t mask;
  int rand_next, random_next;
  char env[65536];
  mode_t umask;
  char cwd[4096];
  char fds[4096];
  struct rlimit limits[16];
  int stdout_buffered;
};

static void take(struct snapshot* s, int reseed) {
  memset(s, 0, sizeof(*s));
  snprintf(s->locale, sizeof(s->locale), "%s", setlocale(LC_ALL, NULL));
  for (int sig = 1; sig < 65; ++sig) sigaction(sig, NULL, &s->actions[sig]);
  sigprocmask(SIG_BLOCK, NULL, &s->mask);
  if (reseed) { srand(7); srandom(7); }
  for (char** e = environ; *e; ++e) { strncat(s->env, *e, sizeof(s->env) - strlen(s->env) - 2); strcat(s->env, "\n"); }
  s->umask = umask(022); umask(s->umask);
  if (!getcwd(s->cwd, sizeof(s->cwd))) strcpy(s->cwd, "?");
  DIR* d = opendir("/proc/self/fd");
  struct dirent* e;
  while ((e = readdir(d)) != NULL) {
    int fd = atoi(e->d_name);
    if (e->d_name[0] != '.' && fd != dirfd(d) && fd < 100) {
      char one[16]; snprintf(one, sizeof(one), "%d ", fd); strcat(s->fds, one);
    }
  }
  closedir(d);
  for (int r = 0; r < 16; ++r) getrlimit(r, &s->limits[r]);
}

int main(int argc, char** argv) {
  setlocale(LC_ALL, "C.UTF-8");
  struct sigaction mine = {0};
  mine.sa_handler = SIG_IGN;
  sigaction(SIGUSR1, &mine, NULL);
  sigset_t block; sigemptyset(&block); sigaddset(&block, SIGUSR2); sigprocmask(SIG_BLOCK, &block, NULL);
  struct snapshot before, after;
  take(&before, 1);
  int r1 = rand(), q1 = (int)random();
  srand(7); srandom(7);
  errno = 4242;
  struct stat st;
  int rc = stat(argv[1], &st);           /* the first gkfs call: the client starts here */
  int errno_after = errno;
  int r2 = rand(), q2 = (int)random();
  take(&after, 0);
  if (rc != 0) printf("stat failed\n");
  if (errno_after != 4242) printf("changed: errno (%d)\n", errno_after);
  if (strcmp(before.locale, after.locale)) printf("changed: locale\n");
  for (int sig = 1; sig < 65; ++sig) {
    if (before.actions[sig].sa_handler != after.actions[sig].sa_handler ||
        before.actions[sig].sa_flags != after.actions[sig].sa_flags)
      printf("changed: disposition of signal %d\n", sig);
  }
  if (memcmp(&before.mask, &after.mask, sizeof(sigset_t))) printf("changed: signal mask\n");
  if (r1 != r2) printf("changed: rand\n");
  if (q1 != q2) printf("changed: random\n");
  if (strcmp(before.env, after.env)) printf("changed: environment\n");
  if (before.umask != after.umask) printf("changed: umask\n");
  if (strcmp(before.cwd, after.cwd)) printf("changed: cwd\n");
  if (strcmp(before.fds, after.fds)) printf("changed: descriptors below 100 (%s -> %s)\n", before.fds, after.fds);
  if (memcmp(before.limits, after.limits, sizeof(before.limits))) printf("changed: rlimits\n");
  printf("done\n");
  return 0;
}
