// Preparing exec of a path: which file system it is in, the program into a memfd (in this
// process, or through gkfs_exec_fetch in a vfork child), "#!" lines. Stack only: see the
// header. The reading itself is exec_fetch.cpp.
#include "preload/exec_program.h"

#include <alloca.h>
#include <dlfcn.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "preload/caller_memory.h"
#include "preload/libc.h"
#include "preload/path_resolver.h"
#include "preload/preload.h"

namespace gkfs::preload::exec {

namespace {

constexpr char kHelper[] = "gkfs_exec_fetch";
constexpr unsigned kMfdExec = 0x0010U;  // MFD_EXEC (Linux 6.3): executable whatever the sysctl

// This library's path, found once at load time (a vfork child must not call dladdr).
char g_library[PATH_MAX];

__attribute__((constructor)) void FindLibrary() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&FindLibrary), &info) != 0 && info.dli_fname != nullptr &&
      std::strlen(info.dli_fname) < sizeof(g_library)) {
    std::strcpy(g_library, info.dli_fname);
  }
}

bool UnderMount(const char* path, const std::string& mount) {
  return std::strncmp(path, mount.data(), mount.size()) == 0 &&
         (path[mount.size()] == '/' || path[mount.size()] == '\0');
}

// Lexical normalisation of an absolute path in place ("//", "." and ".." resolved).
void Normalize(char* p) {
  size_t len = 0;
  for (const char* in = p; *in != '\0';) {
    while (*in == '/') ++in;
    if (*in == '\0') break;
    const char* end = std::strchr(in, '/');
    if (end == nullptr) end = in + std::strlen(in);
    size_t n = static_cast<size_t>(end - in);
    if (n == 2 && in[0] == '.' && in[1] == '.') {
      while (len > 0 && p[len - 1] != '/') --len;
      if (len > 0) --len;
    } else if (!(n == 1 && in[0] == '.')) {
      p[len++] = '/';
      std::memmove(p + len, in, n);
      len += n;
    }
    in = end;
  }
  if (len == 0) p[len++] = '/';
  p[len] = '\0';
}

// True if the path may name something else than what it says without normalisation.
bool NeedsNormalising(const char* path) {
  for (const char* p = path; *p; ++p) {
    if (p[0] == '/' && (p[1] == '/' || p[1] == '.')) return true;
  }
  return false;
}

// The directory relative paths start from, absolute, into buf.
bool BaseDirectory(char* buf, size_t size) {
  char entry[PATH_MAX + 64];
  const char* e = cwd::EnvEntryForExec(entry, sizeof(entry));  // "NAME=dev:ino:/internal"
  if (e == nullptr) return sys::Getcwd(buf, size) > 0;
  const char* internal = std::strchr(e, '=');
  for (int colons = 0; internal != nullptr && colons < 2; ++colons) {
    internal = std::strchr(internal + 1, ':');
  }
  if (internal == nullptr) return false;
  const std::string& mount = config().mountdir;
  int n = std::snprintf(buf, size, "%s%s", mount.c_str(), internal + 1);
  return n > 0 && static_cast<size_t>(n) < size;
}

// A memfd named after the program: /proc/self/exe reads "/memfd:gkfs:<path> (deleted)".
int MemfdFor(const char* abs) {
  char path[PATH_MAX], name[250];
  std::strcpy(path, abs);
  Normalize(path);
  std::snprintf(name, sizeof(name), "gkfs:%.240s", path);
  int fd = sys::MemfdCreate(name, MFD_CLOEXEC | kMfdExec);
  if (fd < 0 && errno == EINVAL) fd = sys::MemfdCreate(name, MFD_CLOEXEC);
  return fd < 0 ? fd : RelocateInternalFd(fd);
}

// "NAME=value" into buf.
char* EnvEntry(char* buf, size_t size, const char* name, const char* value) {
  std::snprintf(buf, size, "%s=%s", name, value);
  return buf;
}

bool IsEntry(const char* entry, const char* name) {
  size_t n = std::strlen(name);
  return std::strncmp(entry, name, n) == 0 && entry[n] == '=';
}

// The fetch's outcome from its pipe: an int, then a kernel path for kKernelTarget.
int ReadResult(int fd, char* resolved, size_t size) {
  int result = EIO;
  char buf[sizeof(int) + PATH_MAX];
  size_t got = 0;
  for (;;) {
    ssize_t n = syscall(SYS_read, fd, buf + got, sizeof(buf) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  if (got < sizeof(int)) return result;
  std::memcpy(&result, buf, sizeof(int));
  if (result != kKernelTarget) return result;
  size_t len = got - sizeof(int);
  if (len == 0 || len >= size) return ENAMETOOLONG;
  std::memcpy(resolved, buf + sizeof(int), len);
  resolved[len] = '\0';
  return result;
}

// Runs gkfs_exec_fetch MEMFD RESULT_FD PATH from beside this library with the environment
// of this process and this library preloaded, and waits for it.
int SpawnHelper(char** argv) {
  static const auto spawn = NextSymbol<decltype(&::posix_spawn)>("posix_spawn");
  const Config& cfg = config();
  char preload[PATH_MAX + 16], mount[PATH_MAX + 32], hosts[PATH_MAX + 32];
  size_t n = 0;
  while (environ != nullptr && environ[n] != nullptr) ++n;
  auto** env = static_cast<char**>(alloca((n + 4) * sizeof(char*)));
  size_t k = 0;
  env[k++] = EnvEntry(preload, sizeof(preload), "LD_PRELOAD", g_library);
  env[k++] = EnvEntry(mount, sizeof(mount), "LIBGKFS_MOUNTDIR",
                      cfg.mountdir.empty() ? "/" : cfg.mountdir.c_str());
  env[k++] = EnvEntry(hosts, sizeof(hosts), "LIBGKFS_HOSTS_FILE", cfg.hosts_file.c_str());
  for (size_t i = 0; i < n; ++i) {
    if (!IsEntry(environ[i], "LD_PRELOAD") && !IsEntry(environ[i], "LIBGKFS_MOUNTDIR") &&
        !IsEntry(environ[i], "LIBGKFS_HOSTS_FILE")) {
      env[k++] = environ[i];
    }
  }
  env[k] = nullptr;
  pid_t pid = -1;
  int error = spawn(&pid, argv[0], nullptr, nullptr, argv, env);
  if (error != 0) Log(LogLevel::kErrors, "cannot run %s: %s", argv[0], std::strerror(error));
  return error == 0 ? pid : -1;
}

// In a vfork child: the program read into memfd by the helper (see the header).
int FetchInHelper(const char* abs, int memfd, char* resolved, size_t size) {
  const char* slash = std::strrchr(g_library, '/');
  if (slash == nullptr) return EIO;
  char helper[PATH_MAX], memfd_arg[16], result_arg[16];
  std::snprintf(helper, sizeof(helper), "%.*s/%s", static_cast<int>(slash - g_library),
                g_library, kHelper);
  int pipe_fds[2];
  if (syscall(SYS_pipe2, pipe_fds, O_CLOEXEC) != 0) return errno;
  std::snprintf(memfd_arg, sizeof(memfd_arg), "%d", memfd);
  std::snprintf(result_arg, sizeof(result_arg), "%d", pipe_fds[1]);
  char* argv[] = {helper, memfd_arg, result_arg, const_cast<char*>(abs), nullptr};
  sys::Fcntl(pipe_fds[1], F_SETFD, 0);
  sys::Fcntl(memfd, F_SETFD, 0);
  pid_t pid = SpawnHelper(argv);
  sys::Close(pipe_fds[1]);
  sys::Fcntl(memfd, F_SETFD, FD_CLOEXEC);
  int result = pid < 0 ? EIO : ReadResult(pipe_fds[0], resolved, size);
  sys::Close(pipe_fds[0]);
  while (pid > 0 && syscall(SYS_wait4, pid, nullptr, 0, nullptr) < 0 && errno == EINTR) {
  }
  return result;
}

bool IsSpaceTab(char c) { return c == ' ' || c == '\t'; }

// Linux's helpers for "#!" lines: both bounds inclusive.
char* NextNonSpaceTab(char* first, char* last) {
  for (; first <= last; ++first) {
    if (!IsSpaceTab(*first)) return first;
  }
  return nullptr;
}
char* NextTerminator(char* first, char* last) {
  for (; first <= last; ++first) {
    if (IsSpaceTab(*first) || *first == '\0') return first;
  }
  return nullptr;
}

// The "#!" line in out->line (the file's first bytes, zero-filled to kLineSize) exactly as
// Linux's binfmt_script parses it.
int ParseScript(Program* out) {
  char* buf = out->line;
  char* end = static_cast<char*>(std::memchr(buf, '\n', Program::kLineSize));
  if (end == nullptr) {  // no newline: exec only if the interpreter's name ends in the buffer
    end = NextNonSpaceTab(buf + 2, buf + Program::kLineSize);
    if (end == nullptr || NextTerminator(end, buf + Program::kLineSize) == nullptr) {
      return ENOEXEC;
    }
    end = buf + Program::kLineSize - 1;
  }
  while (end > buf + 2 && IsSpaceTab(end[-1])) --end;
  char* name = NextNonSpaceTab(buf + 2, end);
  if (name == nullptr || name == end) return ENOEXEC;
  char* sep = NextTerminator(name, end);
  char* arg = sep != nullptr && *sep != '\0' ? NextNonSpaceTab(sep, end) : nullptr;
  *end = '\0';
  if (sep != nullptr) *sep = '\0';
  out->kind = Program::Kind::kScript;
  out->interpreter = name;
  out->argument = arg;
  return 0;
}

}  // namespace

void CloseQuietly(int fd) {
  int saved = errno;
  sys::Close(fd);
  errno = saved;
}

bool InGkfs(const char* path, char* abs, size_t size) {
  path = Launder(path);
  size_t length = 0;  // a path that cannot be read is the kernel's: it answers EFAULT
  if (ReentryGuard::active() || caller::CheckPath(path, &length) != 0) return false;
  const std::string& mount = config().mountdir;
  if (path[0] == '/' && !UnderMount(path, mount) && !NeedsNormalising(path)) return false;
  size_t used = 0;
  if (path[0] != '/') {
    if (!BaseDirectory(abs, size)) return false;
    used = std::strlen(abs);
    if (used + 1 < size) abs[used++] = '/';
  }
  if (used + length >= size) return false;
  std::memcpy(abs + used, path, length + 1);
  char norm[kJoinedPathSize];
  if (used + length >= sizeof(norm)) return false;
  std::memcpy(norm, abs, used + length + 1);
  Normalize(norm);
  if (!UnderMount(norm, mount)) return false;
  if (used + length >= PATH_MAX) std::strcpy(abs, norm);  // no physical ".." walk then
  return true;
}

int Prepare(const char* path, Program* out) {
  char abs[kJoinedPathSize];
  out->kind = Program::Kind::kKernel;
  out->kernel_path = path;
  if (!InGkfs(path, abs, sizeof(abs))) return 0;
  if (std::strlen(abs) >= PATH_MAX) return ENAMETOOLONG;
  int memfd = MemfdFor(abs);
  if (memfd < 0) return errno;
  int result = InVforkChild() ? FetchInHelper(abs, memfd, out->resolved, sizeof(out->resolved))
                              : Fetch(abs, memfd, out->resolved, sizeof(out->resolved));
  if (result != 0) {
    CloseQuietly(memfd);
    if (result != kKernelTarget) return result;
    out->kernel_path = out->resolved;
    return 0;
  }
  std::memset(out->line, 0, sizeof(out->line));
  ssize_t n = sys::Pread(memfd, out->line, Program::kLineSize, 0);
  if (n >= 2 && out->line[0] == '#' && out->line[1] == '!') {
    CloseQuietly(memfd);
    return ParseScript(out);
  }
  out->kind = Program::Kind::kMemfd;
  out->memfd = memfd;
  return 0;
}

const char* SearchPathVariable() {
  const char* path = std::getenv("PATH");
  return path != nullptr ? path : "/bin:/usr/bin";
}

bool SearchMayReachGkfs(const char* file) {
  char abs[kJoinedPathSize];
  size_t length = 0;
  if (ReentryGuard::active() || caller::CheckPath(Launder(file), &length) != 0) return false;
  if (std::strchr(file, '/') != nullptr) return InGkfs(file, abs, sizeof(abs));
  bool reach = false;
  SearchPath(file, [&](const char* candidate) {
    reach = InGkfs(candidate, abs, sizeof(abs));
    return reach ? 0 : ENOENT;
  });
  return reach;
}

const char* FdPath(int fd, char* buf, size_t size) {
  std::snprintf(buf, size, "/proc/self/fd/%d", fd);
  return buf;
}

}  // namespace gkfs::preload::exec
