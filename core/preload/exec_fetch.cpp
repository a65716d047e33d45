// Reading a gkfs program for exec, with exec's checks (exec_program.h). Uses the Client: never
// in a vfork child, where gkfs_exec_fetch runs it instead through gkfs_exec_fetch_run.
#include <cstring>
#include <vector>

#include "preload/exec_program.h"
#include "preload/hooks.h"
#include "preload/permissions.h"

using namespace gkfs;
using namespace gkfs::preload;

namespace {

constexpr size_t kCopyBlock = size_t{1} << 20;

int KernelTarget(const char* path, char* resolved, size_t size) {
  size_t n = std::strlen(path);
  if (n >= size) return ENAMETOOLONG;
  std::memcpy(resolved, path, n + 1);
  return exec::kKernelTarget;
}

// The file's bytes into memfd.
int Copy(const std::string& internal, const Metadata& md, int memfd) {
  std::vector<char> buf(std::min<uint64_t>(std::max<uint64_t>(md.size, 1), kCopyBlock));
  for (uint64_t offset = 0; offset < md.size;) {
    size_t nread = 0;
    Status s = WithClient([&](Client& c) {
      return c.Read(internal, md.file_id, offset, buf.data(), buf.size(), &nread);
    });
    if (!s.ok()) return FailWith(s), errno;
    if (nread == 0) break;
    if (sys::Pwrite(memfd, buf.data(), nread, static_cast<int64_t>(offset)) !=
        static_cast<ssize_t>(nread)) {
      return errno;
    }
    offset += nread;
  }
  return 0;
}

}  // namespace

namespace gkfs::preload::exec {

int Fetch(const char* abs, int memfd, char* resolved, size_t size) {
  PathTarget t;
  ResolveArg(abs, &t);
  if (t.kernel()) return KernelTarget(t.kernel_path, resolved, size);
  if (!t.gkfs()) return t.error;
  Metadata md;
  switch (Lookup(&t, true, &md)) {
    case Found::kGkfs:
      break;
    case Found::kKernel:
      return KernelTarget(t.kernel_path, resolved, size);
    case Found::kError:
      return errno;
  }
  if (t.names_directory && !md.is_dir()) return ENOTDIR;
  if (!md.is_regular() || !MayAccess(md, X_OK)) return EACCES;  // directories too, as Linux
  return Copy(t.internal, md, memfd);
}

}  // namespace gkfs::preload::exec

// gkfs_exec_fetch's entry (exports.map): Fetch, its result written to result_fd as an int,
// followed by the kernel path for kKernelTarget. Returns the exit status for the helper.
extern "C" int gkfs_exec_fetch_run(const char* abs, int memfd, int result_fd) {
  char resolved[PATH_MAX];
  int result = exec::Fetch(abs, memfd, resolved, sizeof(resolved));
  char out[sizeof(int) + PATH_MAX];
  std::memcpy(out, &result, sizeof(int));
  size_t len = sizeof(int);
  if (result == exec::kKernelTarget) {
    size_t n = std::strlen(resolved);
    std::memcpy(out + len, resolved, n);
    len += n;
  }
  return sys::Write(result_fd, out, len) == static_cast<ssize_t>(len) ? 0 : 1;
}
