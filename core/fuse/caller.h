// Caller: the identity a FUSE request comes from (the caller's uid and gid from libfuse, its
// supplementary groups read only when a check needs them), checked by Linux's rules
// (common/access.h). gkfs-fuse mounts without default_permissions: the kernel then asks no
// GETATTR for its own permission checks, and gkfs-fuse checks each request itself, with the
// records the request fetches anyway. CallerScope makes a request's Caller the one the core
// Client checks with (CallerCredentials) while a worker thread serves that request.
#pragma once

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <sys/stat.h>

#include <cstdint>
#include <vector>

#include "gkfs/client.h"
#include "gkfs/metadata.h"

namespace gkfs::fuse {

class Caller {
 public:
  // REQUIRES: req not yet replied to while this Caller is used (the groups come from it).
  // checking false: every check passes (the kernel checked: default_permissions).
  Caller(fuse_req_t req, bool checking);
  bool Privileged() const { return !checking_ || uid_ == 0; }
  // access(2): may the caller `mask` (R_OK | W_OK | X_OK) the object?
  bool MayAccess(const Metadata& md, int mask) const;
  bool MayAccess(const struct stat& st, int mask) const;
  bool Owns(const Metadata& md) const;
  bool InGroup(uint32_t gid) const;
  uint32_t uid() const { return uid_; }

 private:
  fuse_req_t req_;
  bool checking_;
  uint32_t uid_, gid_;
  mutable bool groups_read_ = false;
  mutable std::vector<gid_t> groups_;
};

// While alive, the core Client's permission checks on this thread are `caller`'s.
class CallerScope {
 public:
  explicit CallerScope(const Caller& caller);
  ~CallerScope();
  CallerScope(const CallerScope&) = delete;
  CallerScope& operator=(const CallerScope&) = delete;

 private:
  const Caller* outer_;
};

// The Credentials the core Client checks directory changes with: the Caller of the request
// the current thread serves; outside any CallerScope (gkfs-fuse's own calls) nothing is checked.
const Credentials& CallerCredentials();

}  // namespace gkfs::fuse
