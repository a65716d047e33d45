// Caller and CallerCredentials (caller.h).
#include "fuse/caller.h"

#include <algorithm>

#include "common/access.h"

namespace gkfs::fuse {
namespace {

thread_local const Caller* current = nullptr;

class ScopedCredentials : public Credentials {
 public:
  bool MayAccess(const Metadata& md, int mask) const override {
    return current == nullptr || current->MayAccess(md, mask);
  }
  bool Owns(const Metadata& md) const override { return current == nullptr || current->Owns(md); }
  bool Privileged() const override { return current == nullptr || current->Privileged(); }
};

}  // namespace

Caller::Caller(fuse_req_t req, bool checking) : req_(req), checking_(checking) {
  const fuse_ctx* ctx = fuse_req_ctx(req);
  uid_ = ctx->uid;
  gid_ = ctx->gid;
}

bool Caller::InGroup(uint32_t gid) const {
  if (gid == gid_) return true;
  if (!groups_read_) {  // from /proc/<pid>/status: a read only checks against a group need
    groups_read_ = true;
    groups_.resize(64);
    int n = fuse_req_getgroups(req_, static_cast<int>(groups_.size()), groups_.data());
    if (n > static_cast<int>(groups_.size())) {
      groups_.resize(static_cast<size_t>(n));
      n = fuse_req_getgroups(req_, n, groups_.data());
    }
    groups_.resize(n > 0 ? std::min(static_cast<size_t>(n), groups_.size()) : 0);
  }
  return std::find(groups_.begin(), groups_.end(), gid) != groups_.end();
}

bool Caller::MayAccess(const Metadata& md, int mask) const {
  return !checking_ || PermitsAccess(md, mask, uid_, [this](uint32_t gid) { return InGroup(gid); });
}

bool Caller::MayAccess(const struct stat& st, int mask) const {
  Metadata md;
  md.mode = st.st_mode;
  md.uid = st.st_uid;
  md.gid = st.st_gid;
  return MayAccess(md, mask);
}

bool Caller::Owns(const Metadata& md) const { return !checking_ || OwnsOrPrivileged(md, uid_); }

CallerScope::CallerScope(const Caller& caller) : outer_(current) { current = &caller; }

CallerScope::~CallerScope() { current = outer_; }

const Credentials& CallerCredentials() {
  static const ScopedCredentials credentials;
  return credentials;
}

}  // namespace gkfs::fuse
