/* gkfs_callprobe: the exec family. Each call runs the program in a child whose stdout is a
 * pipe: success is ret 0 with the program's exit status and output, failure -1 with the
 * errno exec or posix_spawn gave (a failing exec in a child reports it through a
 * close-on-exec pipe). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gkfs_callprobe.h"

extern char** environ;

enum how { kExecve, kVfork, kExecvp, kFexecve, kExecveBadEnv };

/* argv for the program: NAME followed by the remaining arguments (a is NULL-terminated). */
static char** program_argv(const char* name, char** rest) {
  size_t n = 0;
  while (rest[n] != NULL) ++n;
  char** argv = calloc(n + 2, sizeof(char*));
  argv[0] = (char*)name;
  memcpy(argv + 1, rest, n * sizeof(char*));
  return argv;
}

/* The child's output and exit status, once it is done. */
static long collect(pid_t pid, int out_fd) {
  char buf[4096];
  size_t got = 0;
  ssize_t n;
  while (got < sizeof(buf) && (n = read(out_fd, buf + got, sizeof(buf) - got)) > 0) got += n;
  close(out_fd);
  int status = 0;
  waitpid(pid, &status, 0);
  char text[32];
  snprintf(text, sizeof(text), "%d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  extra_raw("status", text);
  extra_string("output", buf, got);
  return 0;
}

static char** bad_env;  /* an unmapped page, for kExecveBadEnv */

static void exec_in_child(enum how how, char** a, int fd, int out_fd, int err_fd) {
  dup2(out_fd, 1);
  if (how == kExecvp) {
    setenv("PATH", a[1], 1);
    execvp(path_of(a[0]), program_argv(a[0], a + 2));
  } else if (how == kFexecve) {
    fexecve(fd, program_argv(a[0], a + 1), environ);
  } else {
    char* argv[64] = {a[0]};  /* no allocation in a vfork child */
    for (int i = 1; i < 63 && a[i] != NULL; ++i) argv[i] = a[i];
    execve(path_of(a[0]), argv, how == kExecveBadEnv ? bad_env : environ);
  }
  int e = errno;
  (void)!write(err_fd, &e, sizeof(e));
  _exit(127);
}

static long run_exec(enum how how, char** a) {
  int fd = how == kFexecve ? open(a[0], O_RDONLY) : -1;
  if (how == kExecveBadEnv) {
    bad_env = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(bad_env, 4096);
  }
  if (how == kFexecve && fd < 0) return -1;
  int out[2], err[2];
  if (pipe(out) != 0 || pipe2(err, O_CLOEXEC) != 0) return -1;
  pid_t pid = how == kVfork ? vfork() : fork();
  if (pid == 0) exec_in_child(how, a, fd, out[1], err[1]);
  close(out[1]);
  close(err[1]);
  int e = 0;
  ssize_t n = read(err[0], &e, sizeof(e));
  close(err[0]);
  if (n == (ssize_t)sizeof(e)) {
    close(out[0]);
    waitpid(pid, NULL, 0);
    errno = e;
    return -1;
  }
  return collect(pid, out[0]);
}

static long run_spawn(int search, char** a) {
  int out[2];
  if (pipe(out) != 0) return -1;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  if (search) setenv("PATH", a[1], 1);
  char** argv = program_argv(a[0], a + (search ? 2 : 1));
  pid_t pid;
  int e = search ? posix_spawnp(&pid, path_of(a[0]), &actions, NULL, argv, environ)
                 : posix_spawn(&pid, path_of(a[0]), &actions, NULL, argv, environ);
  close(out[1]);
  if (e != 0) {
    close(out[0]);
    errno = e;
    return -1;
  }
  return collect(pid, out[0]);
}

long c_execve(char** a) { return run_exec(kExecve, a); }
long c_vfork_execve(char** a) { return run_exec(kVfork, a); }
long c_execvp(char** a) { return run_exec(kExecvp, a); }
long c_fexecve(char** a) { return run_exec(kFexecve, a); }
long c_execve_bad_env(char** a) { return run_exec(kExecveBadEnv, a); }
long c_posix_spawn(char** a) { return run_spawn(0, a); }
long c_posix_spawnp(char** a) { return run_spawn(1, a); }
