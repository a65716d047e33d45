// Path resolution against the mount directory, the virtual cwd and gkfs directory fds.
#include "preload/path_resolver.h"

#include <linux/limits.h>

#include <cstdio>
#include <cstring>

#include "common/path_util.h"
#include "gkfs/client.h"
#include "preload/caller_memory.h"
#include "preload/fd_table.h"
#include "preload/libc.h"
#include "preload/preload.h"

namespace gkfs::preload {

namespace {

// True if `path` is the mount dir or below it (whole components).
bool UnderMount(const char* path, const std::string& mount) {
  return std::strncmp(path, mount.data(), mount.size()) == 0 &&
         (path[mount.size()] == '/' || path[mount.size()] == '\0');
}

// True if lexical normalisation could change which directory the path starts in.
bool NeedsNormalising(const char* path) {
  for (const char* p = path; *p; ++p) {
    if (p[0] == '/' && (p[1] == '/' || p[1] == '.')) return true;
  }
  return false;
}

bool HasDotDot(const char* path) {
  for (const char* p = std::strstr(path, ".."); p != nullptr; p = std::strstr(p + 1, "..")) {
    if ((p == path || p[-1] == '/') && (p[2] == '/' || p[2] == '\0')) return true;
  }
  return false;
}

bool NamesDirectory(const char* path) {
  size_t n = std::strlen(path);
  if (n == 0) return false;
  if (path[n - 1] == '/') return true;
  const char* last = std::strrchr(path, '/');
  last = last ? last + 1 : path;
  return std::strcmp(last, ".") == 0 || std::strcmp(last, "..") == 0;
}

// Records a final "." or ".." of the absolute path `abs` and the directory it is in.
void NoteLastComponent(const char* abs, PathTarget* out) {
  size_t end = std::strlen(abs);
  while (end > 1 && abs[end - 1] == '/') --end;
  size_t start = end;
  while (start > 0 && abs[start - 1] != '/') --start;
  size_t n = end - start;
  if (n == 0 || n > 2 || abs[start] != '.' || (n == 2 && abs[start + 1] != '.')) return;
  out->last = n == 1 ? PathTarget::Last::kDot : PathTarget::Last::kDotDot;
  size_t dir_end = start;
  while (dir_end > 1 && abs[dir_end - 1] == '/') --dir_end;
  out->dots_dir.assign(abs, dir_end);
}

void SetError(PathTarget* out, int error) {
  out->kind = PathTarget::Kind::kError;
  out->error = error;
}

void SetKernel(PathTarget* out, const char* path) {
  out->kind = PathTarget::Kind::kKernel;
  out->kernel_path = path;
}

// Classifies an absolute path. `original` is what the application passed; `composed` is set
// when `abs` was built from a gkfs base (then the kernel must get the absolute form). Only
// `original` has a length limit (checked by Resolve): `abs` may be longer when it joins a
// relative path to a deep directory, and what it names in gkfs must fit kMaxInternalPath.
void Classify(const char* abs, const char* original, bool composed, PathTarget* out) {
  const std::string& mount = config().mountdir;
  bool under = UnderMount(abs, mount);
  std::string norm;
  Status s = NormalizePathWithin(abs, mount.size() + kMaxInternalPath, &norm);
  if (!s.ok()) {
    if (under) return SetError(out, s.code());
    out->storage = abs;
    return SetKernel(out, composed ? out->storage.c_str() : original);
  }
  if (!UnderMount(norm.c_str(), mount)) {
    // Lexically outside; hand the kernel the normalised form if we changed the meaning.
    if (composed || under) {
      NoteLastComponent(abs, out);
      out->storage = std::move(norm);
      return SetKernel(out, out->storage.c_str());
    }
    return SetKernel(out, original);
  }
  NoteLastComponent(abs, out);
  out->kind = PathTarget::Kind::kGkfs;
  out->internal = norm.size() == mount.size() ? "/" : norm.substr(mount.size());
  out->names_directory = NamesDirectory(original);
  if (HasDotDot(abs)) {
    out->needs_walk = true;
    out->external = abs;
  }
}

// A relative path against the kernel's cwd: usually nowhere near the mount dir.
void ResolveFromKernelCwd(const char* path, PathTarget* out) {
  std::string abs;
  if (!cwd::KernelCwdMayReach(path) || !cwd::KernelCwd(&abs) || path[0] == '\0') {
    return SetKernel(out, path);
  }
  abs += '/';
  abs += path;
  Classify(abs.c_str(), path, false, out);
}

}  // namespace

std::string ExternalPath(const std::string& internal) {
  const std::string& mount = config().mountdir;
  if (internal == "/") return mount.empty() ? "/" : mount;
  return mount + internal;
}

// A path relative to a kernel directory descriptor (not ours): it reaches the mount only
// through the mount directory's own name or "..", as when a program walks a path from "/"
// one component at a time with openat(dirfd, name, O_PATH) (rsync does): only then is the
// descriptor's path looked up (one readlink of /proc/self/fd).
static void ResolveFromKernelDir(int dirfd, const char* path, PathTarget* out) {
  const std::string mount_name(BaseName(config().mountdir));
  if (std::strstr(path, "..") == nullptr &&
      (mount_name.empty() || std::strstr(path, mount_name.c_str()) == nullptr)) {
    return SetKernel(out, path);
  }
  char link[40];
  char dir[PATH_MAX];
  std::snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
  ssize_t n = sys::Readlink(link, dir, sizeof(dir) - 1);
  if (n <= 0 || dir[0] != '/') return SetKernel(out, path);
  dir[n] = '\0';
  std::string abs = dir;
  abs += '/';
  abs += path;
  Classify(abs.c_str(), path, false, out);
}

void ClassifyAbsolute(const std::string& absolute, PathTarget* out) {
  *out = PathTarget();
  Classify(absolute.c_str(), absolute.c_str(), true, out);  // copies what it keeps
}

void Resolve(int dirfd, const char* path, PathTarget* out) {
  path = Launder(path);
  size_t length = 0;  // < PATH_MAX once checked
  if (int error = caller::CheckPath(path, &length)) return SetError(out, error);
  if (path[0] == '/') {
    if (!UnderMount(path, config().mountdir) && !NeedsNormalising(path)) {
      return SetKernel(out, path);
    }
    return Classify(path, path, false, out);
  }
  std::string base;
  if (dirfd == AT_FDCWD) {
    if (!cwd::Get(&base)) return ResolveFromKernelCwd(path, out);
  } else {
    if (!fds::MaybeOurs(dirfd)) return ResolveFromKernelDir(dirfd, path, out);
    OpenFileRef dir = fds::Lookup(dirfd);
    if (!dir) return ResolveFromKernelDir(dirfd, path, out);
    if (!dir->is_dir()) return SetError(out, ENOTDIR);
    base = dir->path;
  }
  if (length == 0) return SetError(out, ENOENT);
  std::string abs = ExternalPath(base);
  abs += '/';
  abs += path;
  Classify(abs.c_str(), path, true, out);
}

}  // namespace gkfs::preload
