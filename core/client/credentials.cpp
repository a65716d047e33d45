// Credentials of a fixed identity (gkfs.Client given uid, gid and groups), by the rules of
// common/access.h.
#include <algorithm>
#include <utility>

#include "common/access.h"
#include "gkfs/client.h"

namespace gkfs {
namespace {

class IdentityCredentials : public Credentials {
 public:
  IdentityCredentials(uint32_t uid, uint32_t gid, std::vector<uint32_t> groups)
      : uid_(uid), gid_(gid), groups_(std::move(groups)) {}

  bool MayAccess(const Metadata& md, int mask) const override {
    return PermitsAccess(md, mask, uid_, [this](uint32_t gid) { return InGroup(gid); });
  }
  bool Owns(const Metadata& md) const override { return OwnsOrPrivileged(md, uid_); }
  bool Privileged() const override { return uid_ == 0; }

  bool InGroup(uint32_t gid) const {
    return gid == gid_ || std::find(groups_.begin(), groups_.end(), gid) != groups_.end();
  }

 private:
  const uint32_t uid_, gid_;
  const std::vector<uint32_t> groups_;
};

}  // namespace

std::unique_ptr<Credentials> NewIdentityCredentials(uint32_t uid, uint32_t gid, std::vector<uint32_t> groups) {
  return std::make_unique<IdentityCredentials>(uid, gid, std::move(groups));
}

}  // namespace gkfs
