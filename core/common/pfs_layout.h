// PfsLayout: which server (target) of the parallel file system holds a byte of a file; the
// TWINS scheduler gives each target its own time window. Lustre tells: its layout extended
// attribute "lustre.lov" (what `lfs getstripe` and llapi read) is a lov_user_md, v1 or v3:
//
//   header  := magic:u32 pattern:u32 object_id:16 bytes stripe_size:u32 stripe_count:u16
//              stripe_offset:u16 [pool_name:16 bytes, v3 only]       (little-endian, packed)
//   objects := stripe_count * ( object_id:16 bytes generation:u32 ost_index:u32 )
//
// with magic 0x0BD10BD0 (v1) or 0x0BD30BD0 (v3); stripe i holds bytes [i*S, (i+1)*S) modulo
// S*stripe_count and lives on objects[i % stripe_count].ost_index. Other file systems say
// nothing, so a documented mapping stands in (FallbackLayout).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gkfs {

struct PfsLayout {
  uint64_t stripe_size = 0;       // 0: the whole file is on target `first`
  std::vector<uint32_t> targets;  // the target of each stripe, cyclic; empty: first + stripe
  uint64_t first = 0;
  uint64_t TargetOf(uint64_t offset) const;
};

// True and *out filled if data is a striped lov_user_md (v1 or v3) of at least one object.
bool ParseLustreLayout(const void* data, size_t size, PfsLayout* out);
// Without a layout interface: a file system whose block size is at least kMinStripe (GPFS:
// its block size) stripes blocks round robin over its servers from a per-file start, which
// the path hash stands in for; a smaller block size (a local file system) means the whole
// file is on one target, the path hash.
constexpr uint64_t kMinStripe = 64 * 1024;
PfsLayout FallbackLayout(uint64_t block_size, uint64_t path_hash);
// Lustre's layout of the file at `real` if it has one, else FallbackLayout from stat(2).
PfsLayout ReadPfsLayout(const std::string& real, uint64_t path_hash);

}  // namespace gkfs
