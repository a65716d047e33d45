// Symbolic link resolution, once for every client: the preload library, gkfs.Client (through
// Client) and FUSE's lookups walk paths with it.
//
// The daemons store a link as an inode (S_IFLNK, its target as given) and resolve nothing:
// a path through a link names no entry. Clients therefore resolve lazily: an operation that
// misses (ENOENT, ENOTDIR) or meets a link walks the path component by component, one stat
// per component inside the file system, replacing links by their targets (relative ones
// against the link's directory, absolute ones as the process sees them, possibly outside
// the file system), and runs again on the result. As Linux, more than kMaxLinkHops links in
// one resolution is ELOOP.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "gkfs/metadata.h"
#include "gkfs/status.h"

namespace gkfs {

constexpr int kMaxLinkHops = 40;

// Looks up the record of an internal path ("/", "/a/b") without following it.
using StatFn = std::function<Status(const std::string& internal, Metadata* md)>;

struct LinkWalk {
  // Where the file system is mounted in the caller's view ("/tmp/gkfs_mountdir"): the
  // components below it are looked up; the others are the kernel's and stay lexical.
  std::string mountdir;
  // Longest internal path (ENAMETOOLONG past it, or past NAME_MAX for a component).
  size_t max_internal = 4096;
  StatFn stat;
  int hops = 0;  // links followed so far (carried across the walks of one resolution)

  // The outcome of Walk.
  int error = 0;           // ENOENT, ENOTDIR, ELOOP, ENAMETOOLONG, EIO, ...; 0: resolved
  std::string resolved;    // absolute, as the caller sees it; "/" kept at the end when the
                           // path demands a directory ("dir/", "." or ".." last)
  Metadata md;             // the last component's record, when looked up and present
  bool have_md = false;

  // Resolves absolute `path`: links among the ancestors are followed, the last component
  // when follow_last or when the path demands a directory. ".." applies to the resolved
  // path. A missing last component is no error (it may be about to be created); a missing
  // or non-directory ancestor is (ENOENT, ENOTDIR).
  void Walk(const std::string& path, bool follow_last);
  // The internal path of `external` when it lies in the file system ("" otherwise).
  std::string Internal(const std::string& external) const;
};

}  // namespace gkfs
