// Path resolution: decides whether a path the application passes names something inside the
// mount directory and, if so, maps it to the file-system-internal path ("/a/b"). Works from
// the configuration alone, never from the Client, so UCX's own start-up calls pass through.
//
// Prefix matching is by whole component and lexical ("." and ".." are resolved without the
// kernel): "/tmp/gkfs_mountdir2" is not inside "/tmp/gkfs_mountdir", and
// "<mountdir>/../x" is outside it.
//
// Also keeps the virtual working directory: after chdir() into gkfs, relative paths resolve
// against it, while the kernel's working directory stays where it was.
#pragma once

#include <fcntl.h>

#include <string>

namespace gkfs::preload {

struct PathTarget {
  enum class Kind { kKernel, kGkfs, kError };
  Kind kind = Kind::kKernel;
  int error = 0;                       // kError: the errno to report
  const char* kernel_path = nullptr;   // kKernel: the path to hand to libc
  std::string internal;                // kGkfs: "/", "/a/b"
  bool names_directory = false;        // kGkfs: ended in "/", "." or "..": must be a directory
  std::string storage;                 // backs kernel_path when it had to be rewritten

  bool gkfs() const { return kind == Kind::kGkfs; }
  bool kernel() const { return kind == Kind::kKernel; }
};

// Resolves `path` relative to `dirfd` (AT_FDCWD or a directory descriptor) as *at() calls do.
// NULL or unmapped-looking paths give kError/EFAULT; an empty path gives kError/ENOENT when it
// would resolve inside gkfs (callers handle AT_EMPTY_PATH before).
void Resolve(int dirfd, const char* path, PathTarget* out);
inline void Resolve(const char* path, PathTarget* out) { Resolve(AT_FDCWD, path, out); }

// The absolute path the application sees for an internal path.
std::string ExternalPath(const std::string& internal);

namespace cwd {

bool IsVirtual();
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

// The virtual cwd travels across exec in an inherited memfd ("gkfs-cwd") that records the
// kernel cwd it was set over; a child whose kernel cwd differs ignores it.
bool IsRecordFd(int fd);
// Called before the application makes `fd` name something else (dup2 onto it).
void MoveRecordAwayFrom(int fd);
// Start-up: adopts an inherited record (from the /proc/self/fd scan).
void AdoptRecord(int fd);
// Start-up, after the scan: reads the kernel cwd; a process started inside the mount dir
// (it exists on disk) gets it as virtual cwd.
void InitFromKernelCwd();

}  // namespace cwd
}  // namespace gkfs::preload
