// Executing programs stored in gkfs (the kernel's execve cannot see them).
//
// A gkfs program is read into a memfd and executed from there (execveat(AT_EMPTY_PATH), or
// /proc/self/fd/N for posix_spawn); a "#!" script is handed to its interpreter as the kernel
// does (interpreter, optional argument, the script's path as given, the arguments), and the
// interpreter reads the script through this library. Kernel paths go to libc unchanged.
//
// Exec often runs in a vfork child (shells, Python's subprocess, posix_spawn), where the
// Client must not be used. There the program is read by the helper gkfs_exec_fetch (installed
// beside this library): the child spawns it from the real file system, the helper connects
// on its own and copies the program into a memfd the child passes it, and reports the errno
// exec would give. The child then execs the memfd itself, so errors are exec's own.
//
// Everything here keeps its state on the stack and is safe in a vfork child.
#pragma once

#include <linux/limits.h>

#include <cerrno>
#include <cstddef>

#include "preload/caller_memory.h"

namespace gkfs::preload::exec {

// A fetch's outcome when a symbolic link in gkfs led to a kernel path (written back).
constexpr int kKernelTarget = -1;
// Interpreters of interpreters: deeper nesting is ELOOP, as Linux (5 binprm levels).
constexpr int kMaxInterpreterDepth = 4;

// Room for a path joined to the working directory: the caller's part is shorter than
// PATH_MAX, and so is the directory's (it may lie deep in gkfs).
constexpr size_t kJoinedPathSize = 2 * PATH_MAX + 64;

// Writes the absolute form of `path` (as this process resolves it) into abs; true if it
// names something in gkfs. False for kernel paths, NULL, and while the library calls itself.
// An absolute form of PATH_MAX bytes or more is written with "." and ".." applied
// lexically (exec then needs that to be shorter than PATH_MAX: ENAMETOOLONG otherwise).
// REQUIRES: size >= kJoinedPathSize.
bool InGkfs(const char* path, char* abs, size_t size);

// What exec of one path runs: a kernel path, a gkfs program in a memfd, or a script.
struct Program {
  enum class Kind { kKernel, kMemfd, kScript } kind = Kind::kKernel;
  const char* kernel_path = nullptr;  // kKernel: the path to give the kernel
  int memfd = -1;                     // kMemfd: the program (close-on-exec); caller closes
  const char* interpreter = nullptr;  // kScript: from the "#!" line, in `line`
  const char* argument = nullptr;     // kScript: the optional argument, or nullptr
  static constexpr size_t kLineSize = 256;  // what Linux reads of a "#!" line
  char line[kLineSize + 1];
  char resolved[PATH_MAX];            // a kernel path a gkfs link led to
};

// close() keeping errno.
void CloseQuietly(int fd);

// Prepares exec of `path`: 0, or the errno exec gives (ENOENT, ENOTDIR, EACCES for a
// directory or a file without execute permission, ELOOP, EIO when gkfs fails).
int Prepare(const char* path, Program* out);

// Reads the gkfs program at `abs` (absolute) into memfd after exec's checks: 0,
// kKernelTarget with the kernel path a link led to in resolved[size], or an errno.
// REQUIRES: not in a vfork child (exec_fetch.cpp; the helper calls it there).
int Fetch(const char* abs, int memfd, char* resolved, size_t size);

// Runs run(kernel_path, memfd, argv) -> errno for what exec of (path, argv) executes in the
// end: scripts are replaced by their interpreters (argv rewritten on the stack). memfd is -1
// for kernel paths. Returns run's result, or the errno of preparing.
template <typename Run>
int RunProgram(const char* path, char* const argv[], Run&& run, int depth = 0) {
  Program p;
  if (int error = Prepare(path, &p)) return error;
  if (p.kind == Program::Kind::kKernel) return run(p.kernel_path, -1, argv);
  if (p.kind == Program::Kind::kMemfd) {
    int result = run(nullptr, p.memfd, argv);
    CloseQuietly(p.memfd);
    return result;
  }
  if (depth >= kMaxInterpreterDepth) return ELOOP;
  if (argv != nullptr && !caller::StringArrayReadable(argv, 0)) return EFAULT;
  size_t n = 0;
  while (argv != nullptr && argv[n] != nullptr) ++n;
  auto** args = static_cast<char**>(__builtin_alloca((n + 3) * sizeof(char*)));
  size_t k = 0;
  args[k++] = const_cast<char*>(p.interpreter);
  if (p.argument != nullptr) args[k++] = const_cast<char*>(p.argument);
  args[k++] = const_cast<char*>(path);
  for (size_t i = 1; i < n; ++i) args[k++] = argv[i];
  args[k] = nullptr;
  return RunProgram(p.interpreter, args, run, depth + 1);
}

// True if exec of `file` by PATH search (or as a path, with a '/') could reach gkfs.
bool SearchMayReachGkfs(const char* file);

// The directories of the PATH search: PATH, or glibc's default.
const char* SearchPathVariable();

// The "/proc/self/fd/N" form of a memfd, for exec calls that take a path.
const char* FdPath(int fd, char* buf, size_t size);

// PATH search as glibc's execvpe (without its /bin/sh fallback): calls try_one(candidate) ->
// errno for each candidate until one returns 0 or an error that ends the search; returns
// that, EACCES if any candidate was EACCES, else the last errno. `file` has no '/'.
template <typename Try>
int SearchPath(const char* file, Try&& try_one) {
  const char* path = SearchPathVariable();
  size_t file_len = __builtin_strlen(file) + 1;
  if (file_len > NAME_MAX) return ENAMETOOLONG;
  bool got_eacces = false;
  int last = ENOENT;
  char buf[PATH_MAX];
  for (const char* p = path;; ++p) {
    const char* end = p;
    while (*end != '\0' && *end != ':') ++end;
    size_t dir_len = static_cast<size_t>(end - p);
    if (dir_len + 1 + file_len <= sizeof(buf)) {
      __builtin_memcpy(buf, p, dir_len);
      size_t at = dir_len;
      if (dir_len > 0) buf[at++] = '/';
      __builtin_memcpy(buf + at, file, file_len);
      last = try_one(static_cast<const char*>(buf));
      if (last == EACCES) got_eacces = true;
      if (last != EACCES && last != ENOENT && last != ESTALE && last != ENOTDIR &&
          last != ENODEV && last != ETIMEDOUT) {
        return last;
      }
    }
    if (*end == '\0') break;
    p = end;
  }
  return got_eacces ? EACCES : last;
}

}  // namespace gkfs::preload::exec
