// The PFS layout that gives TWINS its targets: Lustre's lov_user_md, and the stand-in mapping.
#include <catch2/catch.hpp>

#include <cstring>
#include <vector>

#include "common/pfs_layout.h"

using namespace gkfs;

namespace {

void Put32(std::vector<unsigned char>* b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) (*b)[at + i] = static_cast<unsigned char>(v >> (8 * i));
}

// A lov_user_md as Lustre stores it: header (v1: 32 bytes, v3: 48), then 24 bytes per object.
std::vector<unsigned char> Lov(uint32_t magic, uint32_t stripe_size, const std::vector<uint32_t>& osts) {
  size_t header = magic == 0x0BD30BD0 ? 48 : 32;
  std::vector<unsigned char> b(header + 24 * osts.size(), 0xEE);
  Put32(&b, 0, magic);
  Put32(&b, 4, 1);  // RAID0
  Put32(&b, 24, stripe_size);
  b[28] = static_cast<unsigned char>(osts.size());
  b[29] = 0;
  for (size_t i = 0; i < osts.size(); ++i) Put32(&b, header + 24 * i + 20, osts[i]);
  return b;
}

}  // namespace

TEST_CASE("a Lustre layout maps each stripe to its OST, v1 and v3", "[forwarding]") {
  for (uint32_t magic : {0x0BD10BD0u, 0x0BD30BD0u}) {
    auto lov = Lov(magic, 1 << 20, {7, 2, 5});
    PfsLayout layout;
    REQUIRE(ParseLustreLayout(lov.data(), lov.size(), &layout));
    CHECK(layout.TargetOf(0) == 7);
    CHECK(layout.TargetOf((1 << 20) - 1) == 7);
    CHECK(layout.TargetOf(1 << 20) == 2);
    CHECK(layout.TargetOf(2u << 20) == 5);
    CHECK(layout.TargetOf(3u << 20) == 7);  // cyclic
  }
}

TEST_CASE("what is not a striped Lustre layout is refused", "[forwarding]") {
  PfsLayout layout;
  auto lov = Lov(0x0BD10BD0, 1 << 20, {3, 4});
  CHECK_FALSE(ParseLustreLayout(lov.data(), lov.size() - 1, &layout));  // objects cut short
  CHECK_FALSE(ParseLustreLayout(lov.data(), 31, &layout));              // header cut short
  auto composite = Lov(0x0BD60BD0, 1 << 20, {3});                         // PFL: not parsed
  CHECK_FALSE(ParseLustreLayout(composite.data(), composite.size(), &layout));
  auto empty = Lov(0x0BD10BD0, 1 << 20, {});
  CHECK_FALSE(ParseLustreLayout(empty.data(), empty.size(), &layout));
}

TEST_CASE("without a layout: blocks of 64 KiB or more round robin from the path hash", "[forwarding]") {
  PfsLayout striped = FallbackLayout(4 << 20, 1000);  // e.g. GPFS with 4 MiB blocks
  CHECK(striped.TargetOf(0) == 1000);
  CHECK(striped.TargetOf((4 << 20) - 1) == 1000);
  CHECK(striped.TargetOf(4 << 20) == 1001);
  PfsLayout local = FallbackLayout(4096, 1000);  // a local file system: one target per file
  CHECK(local.TargetOf(0) == 1000);
  CHECK(local.TargetOf(1ull << 40) == 1000);
}
