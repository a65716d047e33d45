// Fixed-width lowercase hex of a 64-bit id, as the chunk store's directory names and the
// inode keys spell them (docs/formats.md). snprintf("%016" PRIx64) cost ~2 500 instructions
// per call on the read path; this is a loop of 16 table lookups.
#pragma once

#include <cstdint>
#include <string>

namespace gkfs {

// Appends the 16 hex digits of v (most significant first) to *out.
inline void AppendHex16(std::string* out, uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  char digits[16];
  for (int i = 15; i >= 0; --i, v >>= 4) digits[i] = kDigits[v & 0xf];
  out->append(digits, sizeof(digits));
}

}  // namespace gkfs
