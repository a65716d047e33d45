// Path resolution: decides whether a path the application passes names something inside the
// mount directory and, if so, maps it to the file-system-internal path ("/a/b"). Works from
// the configuration alone, never from the Client, so UCX's own start-up calls pass through.
//
// Prefix matching is by whole component and lexical ("." and ".." are resolved without the
// kernel): "/tmp/gkfs_mountdir2" is not inside "/tmp/gkfs_mountdir", and
// "<mountdir>/../x" is outside it. Symbolic links inside gkfs are resolved later, by the
// operations that meet them (links.h).
//
// Also keeps the virtual working directory: after chdir() into gkfs, relative paths resolve
// against it, while the kernel's working directory stays where it was.
#pragma once

#include <fcntl.h>
#include <linux/limits.h>

#include <cstddef>
#include <string>

namespace gkfs::preload {

// The longest internal path ("/" and the path below the mount dir): what the daemons take
// (a path on the wire is at most PATH_MAX bytes). Linux limits only the string a caller
// passes (< PATH_MAX); a relative one from a deep working directory or directory descriptor
// may name a longer absolute path, and in gkfs that is ENAMETOOLONG past this length.
constexpr size_t kMaxInternalPath = PATH_MAX;

struct PathTarget {
  enum class Kind { kKernel, kGkfs, kError };
  Kind kind = Kind::kKernel;
  int error = 0;                       // kError: the errno to report
  // kError: the path's directory was found, the call refuses the last component ("." or
  // ".."): the kernel reports that after errors of the other path of a rename or link.
  bool refused = false;
  const char* kernel_path = nullptr;   // kKernel: the path to hand to libc
  std::string internal;                // kGkfs: "/", "/a/b"
  bool names_directory = false;        // kGkfs: ended in "/", "." or "..": must be a directory
  // kGkfs: ".." was applied lexically to a path inside gkfs, which is wrong where a component
  // before it is a symbolic link; `external` keeps the absolute path as given for a physical
  // walk (links.h).
  bool needs_walk = false;
  std::string external;
  std::string storage;                 // backs kernel_path when it had to be rewritten
  // The last component as the caller wrote it (trailing slashes aside), when the path is
  // gkfs's or was rewritten for the kernel: "." and ".." name no entry a call could create,
  // remove or rename, which lexical normalisation would hide ("a/b/.." is "a"). `dots_dir`
  // is then the absolute path of the directory that "." or ".." is in, as written.
  enum class Last { kName, kDot, kDotDot };
  Last last = Last::kName;
  std::string dots_dir;

  PathTarget() = default;
  // Copies keep kernel_path pointing at their own storage when it pointed at the original's.
  PathTarget(const PathTarget& other) { *this = other; }
  PathTarget& operator=(const PathTarget& other) {
    if (this == &other) return *this;
    kind = other.kind;
    error = other.error;
    refused = other.refused;
    internal = other.internal;
    names_directory = other.names_directory;
    needs_walk = other.needs_walk;
    external = other.external;
    storage = other.storage;
    kernel_path = other.kernel_path == other.storage.c_str() ? storage.c_str() : other.kernel_path;
    last = other.last;
    dots_dir = other.dots_dir;
    return *this;
  }

  void SetKernel(std::string absolute) {
    kind = Kind::kKernel;
    storage = std::move(absolute);
    kernel_path = storage.c_str();
  }
  void SetError(int code) {
    kind = Kind::kError;
    error = code;
    refused = false;
  }
  void Refuse(int code) {
    SetError(code);
    refused = true;
  }

  bool gkfs() const { return kind == Kind::kGkfs; }
  bool kernel() const { return kind == Kind::kKernel; }
};

// Resolves `path` relative to `dirfd` (AT_FDCWD or a directory descriptor) as *at() calls do.
// The path is checked before it is read (caller_memory.h): a pointer the process cannot read
// gives kError/EFAULT, a string of PATH_MAX bytes or more kError/ENAMETOOLONG, for kernel
// paths too (the kernel would answer the same). An empty path gives kError/ENOENT when it
// would resolve inside gkfs (callers handle AT_EMPTY_PATH before).
void Resolve(int dirfd, const char* path, PathTarget* out);
inline void Resolve(const char* path, PathTarget* out) { Resolve(AT_FDCWD, path, out); }

// The absolute path the application sees for an internal path.
std::string ExternalPath(const std::string& internal);

// Classifies an absolute path (kernel, gkfs or error) as Resolve does; kernel paths are kept
// absolute. names_directory comes from the path's last component.
void ClassifyAbsolute(const std::string& absolute, PathTarget* out);

namespace cwd {

// The virtual working directory (internal path); false if the cwd is a kernel directory.
bool Get(std::string* internal);
// REQUIRES: `internal` names an existing gkfs directory.
void Set(const std::string& internal);
// After a successful chdir/fchdir to a kernel directory: leaves the virtual cwd and
// remembers the kernel's (relative paths like "gkfs_mountdir/f" from /tmp still reach gkfs).
void ChangedToKernel();
// The kernel cwd as last seen, and whether a relative path could lead from it into the mount
// dir (the mount dir lies below it, or the path climbs with "..").
bool KernelCwd(std::string* absolute);
bool KernelCwdMayReach(const char* relative_path);

// The virtual cwd travels to exec'd programs in the environment variable LIBGKFS_CWD,
// "<dev>:<ino>:<internal path>", where dev/ino identify the kernel cwd it was set over (a
// program whose kernel cwd differs ignores it). Set() keeps `environ` up to date (for
// system() and posix_spawn(), which exec inside glibc); the exec hooks rewrite the
// environment they pass on.
constexpr char kEnvName[] = "LIBGKFS_CWD";

// The "LIBGKFS_CWD=..." entry a program exec'd now should get, written into buf; nullptr if
// the cwd is a kernel directory (the entry must then be dropped). Safe in a vfork child.
const char* EnvEntryForExec(char* buf, size_t size);
// chdir in a vfork child, which shares our memory: changes what EnvEntryForExec gives in
// this child only, never the parent's cwd.
void SetForExec(const std::string& internal);
void LeaveForExec();
// Start-up: LIBGKFS_CWD from the environment, else the kernel cwd if it is inside the mount
// dir (which exists on disk).
void Init();

}  // namespace cwd
}  // namespace gkfs::preload
