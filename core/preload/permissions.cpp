// Permission checks: the mode bits against the caller's current identity.
#include "preload/permissions.h"

#include "common/access.h"

#include <unistd.h>

#include <vector>

namespace gkfs::preload {

namespace {

bool InGroupOf(gid_t gid, bool effective) {
  if ((effective ? getegid() : getgid()) == gid) return true;
  int n = getgroups(0, nullptr);
  if (n <= 0) return false;
  std::vector<gid_t> groups(static_cast<size_t>(n));
  n = getgroups(n, groups.data());
  for (int i = 0; i < n; ++i) {
    if (groups[static_cast<size_t>(i)] == gid) return true;
  }
  return false;
}

}  // namespace

bool MayAccess(const Metadata& md, int mode, bool effective) {
  uid_t uid = effective ? geteuid() : getuid();
  return PermitsAccess(md, mode, uid, [effective](uint32_t gid) { return InGroupOf(gid, effective); });
}

bool OwnsOrRoot(const Metadata& md) { return OwnsOrPrivileged(md, geteuid()); }

bool InGroup(gid_t gid) { return InGroupOf(gid, true); }

namespace {
class Caller : public Credentials {
 public:
  bool MayAccess(const Metadata& md, int mask) const override { return preload::MayAccess(md, mask); }
  bool Owns(const Metadata& md) const override { return OwnsOrRoot(md); }
  bool Privileged() const override { return geteuid() == 0; }
};
}  // namespace

const Credentials& CallerCredentials() {
  static const Caller* caller = new Caller;  // never destroyed: used until the very end
  return *caller;
}

}  // namespace gkfs::preload
