#include "common/placement.h"

#include <xxhash.h>

namespace gkfs {

uint64_t HashPath(std::string_view path) { return XXH3_64bits(path.data(), path.size()); }

uint64_t HashChunk(uint64_t file_id, uint64_t chunk_index) {
  unsigned char bytes[16];
  for (int i = 0; i < 8; ++i) {
    bytes[i] = static_cast<unsigned char>(file_id >> (8 * i));
    bytes[8 + i] = static_cast<unsigned char>(chunk_index >> (8 * i));
  }
  return XXH3_64bits(bytes, sizeof(bytes));
}

}  // namespace gkfs
