// exec family and posix_spawn: the new program gets LIBGKFS_CWD describing the current
// virtual working directory (or none), whatever environment the caller passes. Shells build
// their own environment for execve, and a vfork child may have chdir'd, so `environ` alone is
// not enough. Everything here lives on the stack: it may run in a vfork child.
#include "preload/hooks.h"

#include <alloca.h>
#include <linux/limits.h>
#include <spawn.h>

#include <cstdarg>
#include <cstring>

using namespace gkfs;
using namespace gkfs::preload;

namespace {

bool IsCwdEntry(const char* entry) {
  size_t n = sizeof(cwd::kEnvName) - 1;
  return std::strncmp(entry, cwd::kEnvName, n) == 0 && entry[n] == '=';
}

// Calls exec(env), env being envp with the LIBGKFS_CWD entry replaced or dropped.
template <typename Exec>
int WithCwdEnvironment(char* const envp[], Exec&& exec) {
  char buf[PATH_MAX + 64];
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

int Execve(const char* path, char* const argv[], char* const envp[]) {
  static const auto real = NextSymbol<decltype(&::execve)>("execve");
  return WithCwdEnvironment(envp, [&](char* const* env) { return real(path, argv, env); });
}

int Execvpe(const char* file, char* const argv[], char* const envp[]) {
  static const auto real = NextSymbol<decltype(&::execvpe)>("execvpe");
  return WithCwdEnvironment(envp, [&](char* const* env) { return real(file, argv, env); });
}

// execl-style arguments: how many there are (with the first, without the final NULL)...
size_t CountArgs(va_list ap) {
  va_list copy;
  va_copy(copy, ap);
  size_t count = 1;
  while (va_arg(copy, const char*) != nullptr) ++count;
  va_end(copy);
  return count;
}

// ...and the NULL-terminated argv; consumes them (and the NULL) from ap.
void TakeArgs(const char* first, va_list ap, size_t count, char** argv) {
  argv[0] = const_cast<char*>(first);
  for (size_t i = 1; i <= count; ++i) argv[i] = va_arg(ap, char*);
}

}  // namespace

extern "C" {

int execve(const char* path, char* const argv[], char* const envp[]) {
  return Execve(path, argv, envp);
}

int execv(const char* path, char* const argv[]) { return Execve(path, argv, environ); }

int execvpe(const char* file, char* const argv[], char* const envp[]) {
  return Execvpe(file, argv, envp);
}

int execvp(const char* file, char* const argv[]) { return Execvpe(file, argv, environ); }

int fexecve(int fd, char* const argv[], char* const envp[]) {
  static const auto real = NextSymbol<decltype(&::fexecve)>("fexecve");
  return WithCwdEnvironment(envp, [&](char* const* env) { return real(fd, argv, env); });
}

int execl(const char* path, const char* arg, ...) {
  va_list ap;
  va_start(ap, arg);
  size_t count = CountArgs(ap);
  auto** argv = static_cast<char**>(alloca((count + 1) * sizeof(char*)));
  TakeArgs(arg, ap, count, argv);
  va_end(ap);
  return Execve(path, argv, environ);
}

int execlp(const char* file, const char* arg, ...) {
  va_list ap;
  va_start(ap, arg);
  size_t count = CountArgs(ap);
  auto** argv = static_cast<char**>(alloca((count + 1) * sizeof(char*)));
  TakeArgs(arg, ap, count, argv);
  va_end(ap);
  return Execvpe(file, argv, environ);
}

int execle(const char* path, const char* arg, ...) {
  va_list ap;
  va_start(ap, arg);
  size_t count = CountArgs(ap);
  auto** argv = static_cast<char**>(alloca((count + 1) * sizeof(char*)));
  TakeArgs(arg, ap, count, argv);
  char* const* envp = va_arg(ap, char* const*);  // after the NULL that ends the arguments
  va_end(ap);
  return Execve(path, argv, envp);
}

int posix_spawn(pid_t* pid, const char* path, const posix_spawn_file_actions_t* actions,
                const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) {
  static const auto real = NextSymbol<decltype(&::posix_spawn)>("posix_spawn");
  return WithCwdEnvironment(
      envp, [&](char* const* env) { return real(pid, path, actions, attr, argv, env); });
}

int posix_spawnp(pid_t* pid, const char* file, const posix_spawn_file_actions_t* actions,
                 const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) {
  static const auto real = NextSymbol<decltype(&::posix_spawnp)>("posix_spawnp");
  return WithCwdEnvironment(
      envp, [&](char* const* env) { return real(pid, file, actions, attr, argv, env); });
}

}  // extern "C"
