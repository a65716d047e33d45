// Permission checks: the mode bits against the caller's current identity.
#include "preload/permissions.h"

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
  mode &= R_OK | W_OK | X_OK;
  if (mode == 0) return true;
  uid_t uid = effective ? geteuid() : getuid();
  if (uid == 0) return !(mode & X_OK) || md.is_dir() || (md.mode & 0111);
  unsigned shift = uid == md.uid ? 6 : InGroupOf(md.gid, effective) ? 3 : 0;
  unsigned granted = (md.mode >> shift) & 7;
  return (granted & static_cast<unsigned>(mode)) == static_cast<unsigned>(mode);
}

bool OwnsOrRoot(const Metadata& md) {
  uid_t uid = geteuid();
  return uid == 0 || uid == md.uid;
}

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
