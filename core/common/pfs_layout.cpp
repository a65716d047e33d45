#include "common/pfs_layout.h"

#include <sys/stat.h>
#include <sys/xattr.h>

#include <cstring>

namespace gkfs {
namespace {

constexpr uint32_t kLovMagicV1 = 0x0BD10BD0;
constexpr uint32_t kLovMagicV3 = 0x0BD30BD0;
constexpr size_t kHeaderV1 = 32, kHeaderV3 = 48, kObject = 24, kOstIndexAt = 20;

uint32_t Le32(const unsigned char* p) { return p[0] | p[1] << 8 | p[2] << 16 | static_cast<uint32_t>(p[3]) << 24; }
uint16_t Le16(const unsigned char* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }

}  // namespace

uint64_t PfsLayout::TargetOf(uint64_t offset) const {
  if (stripe_size == 0) return first;
  uint64_t stripe = offset / stripe_size;
  return targets.empty() ? first + stripe : targets[stripe % targets.size()];
}

bool ParseLustreLayout(const void* data, size_t size, PfsLayout* out) {
  const auto* p = static_cast<const unsigned char*>(data);
  if (size < kHeaderV1) return false;
  uint32_t magic = Le32(p);
  size_t header = magic == kLovMagicV1 ? kHeaderV1 : magic == kLovMagicV3 ? kHeaderV3 : 0;
  if (header == 0 || size < header) return false;
  uint32_t stripe_size = Le32(p + 24);
  uint16_t count = Le16(p + 28);
  if (stripe_size == 0 || count == 0 || size < header + size_t{count} * kObject) return false;
  PfsLayout layout;
  layout.stripe_size = stripe_size;
  for (uint16_t i = 0; i < count; ++i) layout.targets.push_back(Le32(p + header + i * kObject + kOstIndexAt));
  *out = std::move(layout);
  return true;
}

PfsLayout FallbackLayout(uint64_t block_size, uint64_t path_hash) {
  PfsLayout layout;
  layout.first = path_hash;
  if (block_size >= kMinStripe) layout.stripe_size = block_size;
  return layout;
}

PfsLayout ReadPfsLayout(const std::string& real, uint64_t path_hash) {
  unsigned char lov[4096];
  ssize_t n = getxattr(real.c_str(), "lustre.lov", lov, sizeof(lov));
  PfsLayout layout;
  if (n > 0 && ParseLustreLayout(lov, static_cast<size_t>(n), &layout)) return layout;
  struct stat st;
  return FallbackLayout(stat(real.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_blksize) : 0, path_hash);
}

}  // namespace gkfs
