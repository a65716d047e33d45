// exec family and posix_spawn: programs stored in gkfs run (exec_program.h: through a memfd,
// scripts through their interpreter, PATH searched through gkfs directories too), and the new
// program gets LIBGKFS_CWD describing the current virtual working directory (or none),
// whatever environment the caller passes. Shells build their own environment for execve, and
// a vfork child may have chdir'd, so `environ` alone is not enough. Everything here lives on
// the stack: it may run in a vfork child.
#include "preload/hooks.h"
#include "preload/open_registry.h"

#include <alloca.h>
#include <linux/limits.h>
#include <spawn.h>

#include <cstdarg>
#include <cstring>

#include "preload/caller_memory.h"
#include "preload/exec_program.h"

using namespace gkfs;
using namespace gkfs::preload;

namespace {

bool IsCwdEntry(const char* entry) {
  size_t n = sizeof(cwd::kEnvName) - 1;
  return std::strncmp(entry, cwd::kEnvName, n) == 0 && entry[n] == '=';
}

// Calls exec(env), env being envp with the LIBGKFS_CWD entry replaced or dropped. An envp
// that cannot be read is EFAULT, as from the kernel (glibc passes it through unread).
template <typename Exec>
int WithCwdEnvironment(char* const envp[], Exec&& exec) {
  if (envp != nullptr && !caller::StringArrayReadable(envp, sizeof(cwd::kEnvName))) {
    return FailWith(EFAULT);
  }
  char buf[kMaxInternalPath + 64];
  const char* entry = ReentryGuard::active() ? nullptr : cwd::EnvEntryForExec(buf, sizeof(buf));
  size_t n = 0;
  bool has_entry = false;
  for (; envp != nullptr && envp[n] != nullptr; ++n) has_entry |= IsCwdEntry(envp[n]);
  if (entry == nullptr && !has_entry) return exec(envp);
  auto** env = static_cast<char**>(alloca((n + 2) * sizeof(char*)));
  size_t k = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!IsCwdEntry(envp[i])) env[k++] = envp[i];
  }
  if (entry != nullptr) env[k++] = const_cast<char*>(entry);
  env[k] = nullptr;
  return exec(env);
}

// Exec of a path (kernel or gkfs): returns only on failure, with errno set.
// The open files this process's exec drops (close-on-exec) end, and its queued releases go,
// before the image is replaced (open_registry.h). Not in a vfork child: what it sees is
// its parent's, which lives on.
void EndOpensAtExec() {
  if (InVforkChild() || ReentryGuard::active()) return;
  for (uint64_t ino : fds::DroppedAtExec()) opens::Closed(ino, "");
  opens::Flush();
}

int ExecPath(const char* path, char* const argv[], char* const envp[]) {
  static const auto real = NextSymbol<decltype(&::execve)>("execve");
  EndOpensAtExec();
  return WithCwdEnvironment(envp, [&](char* const* env) {
    return FailWith(exec::RunProgram(path, argv, [&](const char* kernel, int memfd,
                                                      char* const* args) {
      if (memfd >= 0) {
        syscall(SYS_execveat, memfd, "", args, env, AT_EMPTY_PATH);
      } else {
        real(kernel, args, env);
      }
      return errno;
    }));
  });
}

// glibc's fallback for a file exec refuses with ENOEXEC: /bin/sh runs it as a script.
int ExecShell(const char* file, char* const argv[], char* const envp[]) {
  size_t n = 0;
  while (argv != nullptr && argv[n] != nullptr) ++n;
  auto** args = static_cast<char**>(alloca((n + 3) * sizeof(char*)));
  args[0] = const_cast<char*>("/bin/sh");
  args[1] = const_cast<char*>(file);
  for (size_t i = 1; i < n; ++i) args[i + 1] = argv[i];
  args[n < 1 ? 2 : n + 1] = nullptr;
  return ExecPath("/bin/sh", args, envp);
}

// execvpe: PATH search through kernel and gkfs directories alike.
int ExecSearch(const char* file, char* const argv[], char* const envp[]) {
  static const auto real = NextSymbol<decltype(&::execvpe)>("execvpe");
  if (!exec::SearchMayReachGkfs(file)) {
    return WithCwdEnvironment(envp, [&](char* const* env) { return real(file, argv, env); });
  }
  auto try_one = [&](const char* candidate) {
    ExecPath(candidate, argv, envp);
    if (errno == ENOEXEC) ExecShell(candidate, argv, envp);
    return errno;
  };
  if (std::strchr(file, '/') != nullptr) return FailWith(try_one(file));
  return FailWith(exec::SearchPath(file, try_one));
}

// posix_spawn of a path (kernel or gkfs); a gkfs program is spawned as /proc/self/fd/N.
int Spawn(pid_t* pid, const char* path, const posix_spawn_file_actions_t* actions,
          const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) {
  static const auto real = NextSymbol<decltype(&::posix_spawn)>("posix_spawn");
  return WithCwdEnvironment(envp, [&](char* const* env) {
    return exec::RunProgram(path, argv, [&](const char* kernel, int memfd, char* const* args) {
      char buf[32];
      return real(pid, memfd >= 0 ? exec::FdPath(memfd, buf, sizeof(buf)) : kernel, actions,
                  attr, args, env);
    });
  });
}

// posix_spawnp: the search of ExecSearch, without its shell fallback (as glibc).
int SpawnSearch(pid_t* pid, const char* file, const posix_spawn_file_actions_t* actions,
                const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) {
  static const auto real = NextSymbol<decltype(&::posix_spawnp)>("posix_spawnp");
  if (!exec::SearchMayReachGkfs(file)) {
    return WithCwdEnvironment(
        envp, [&](char* const* env) { return real(pid, file, actions, attr, argv, env); });
  }
  if (std::strchr(file, '/') != nullptr) return Spawn(pid, file, actions, attr, argv, envp);
  if (*file == '\0') return ENOENT;
  return exec::SearchPath(file, [&](const char* candidate) {
    char abs[exec::kJoinedPathSize];
    if (!exec::InGkfs(candidate, abs, sizeof(abs)) &&
        syscall(SYS_faccessat, AT_FDCWD, candidate, F_OK) != 0) {
      return errno;  // spare a failing spawn
    }
    return Spawn(pid, candidate, actions, attr, argv, envp);
  });
}

// The execl family: its arguments as argv (and, for execle, the environment after the final
// NULL) on this frame, handed to exec (ExecPath or ExecSearch) with `target`.
int ExecListed(const char* target, const char* first, va_list ap, bool has_env,
               int (*exec)(const char*, char* const*, char* const*)) {
  va_list copy;
  va_copy(copy, ap);
  size_t count = 1;
  while (va_arg(copy, const char*) != nullptr) ++count;
  va_end(copy);
  auto** argv = static_cast<char**>(alloca((count + 1) * sizeof(char*)));
  argv[0] = const_cast<char*>(first);
  for (size_t i = 1; i <= count; ++i) argv[i] = va_arg(ap, char*);
  char* const* envp = has_env ? va_arg(ap, char* const*) : environ;
  return exec(target, argv, envp);
}

}  // namespace

extern "C" {

int execve(const char* path, char* const argv[], char* const envp[]) {
  return ExecPath(path, argv, envp);
}

int execv(const char* path, char* const argv[]) { return ExecPath(path, argv, environ); }

int execvpe(const char* file, char* const argv[], char* const envp[]) {
  return ExecSearch(file, argv, envp);
}

int execvp(const char* file, char* const argv[]) { return ExecSearch(file, argv, environ); }

// A gkfs descriptor is executed by its path (a script's interpreter can then read it).
int fexecve(int fd, char* const argv[], char* const envp[]) {
  static const auto real = NextSymbol<decltype(&::fexecve)>("fexecve");
  OpenFileRef file = OurFile(fd);
  if (!file) {
    return WithCwdEnvironment(envp, [&](char* const* env) { return real(fd, argv, env); });
  }
  const std::string& mount = config().mountdir;
  char path[PATH_MAX];
  if (mount.size() + file->path.size() >= sizeof(path)) return FailWith(ENAMETOOLONG);
  std::memcpy(path, mount.data(), mount.size());
  std::memcpy(path + mount.size(), file->path.c_str(), file->path.size() + 1);
  return ExecPath(path, argv, envp);
}

int execl(const char* path, const char* arg, ...) {
  va_list ap;
  va_start(ap, arg);
  int r = ExecListed(path, arg, ap, false, ExecPath);
  va_end(ap);
  return r;
}

int execlp(const char* file, const char* arg, ...) {
  va_list ap;
  va_start(ap, arg);
  int r = ExecListed(file, arg, ap, false, ExecSearch);
  va_end(ap);
  return r;
}

int execle(const char* path, const char* arg, ...) {
  va_list ap;
  va_start(ap, arg);
  int r = ExecListed(path, arg, ap, true, ExecPath);
  va_end(ap);
  return r;
}

int posix_spawn(pid_t* pid, const char* path, const posix_spawn_file_actions_t* actions,
                const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) {
  return Spawn(pid, path, actions, attr, argv, envp);
}

int posix_spawnp(pid_t* pid, const char* file, const posix_spawn_file_actions_t* actions,
                 const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) {
  return SpawnSearch(pid, file, actions, attr, argv, envp);
}

}  // extern "C"
