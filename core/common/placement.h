// Placement: which daemon owns a path's metadata and which owns a chunk. Pure functions
// over XXH3-64 (seed 0) of the bytes specified in docs/formats.md; never std::hash, so every
// client, daemon and the Python tests agree. Thread-safe (no state besides the count).
#pragma once

#include <cstdint>
#include <string_view>

namespace gkfs {

// XXH3-64 of the normalised path's bytes (no terminating NUL).
uint64_t HashPath(std::string_view path);
// XXH3-64 of 16 bytes: file_id then chunk_index, each little-endian u64.
uint64_t HashChunk(uint64_t file_id, uint64_t chunk_index);

// The root directory's inode id; every daemon holds the root's entry and inode.
constexpr uint64_t kRootIno = 1;
constexpr uint32_t kMaxDaemons = 1u << 16;
// The home daemon of an inode: its index in the clients' daemon order, the id's top 16 bits.
inline uint32_t InodeHome(uint64_t ino) { return static_cast<uint32_t>(ino >> 48); }

class Placement {
 public:
  // REQUIRES: num_daemons > 0.
  explicit Placement(uint32_t num_daemons) : n_(num_daemons) {}
  uint32_t num_daemons() const { return n_; }
  uint32_t MetadataOwner(std::string_view path) const { return HashPath(path) % n_; }
  uint32_t ChunkOwner(uint64_t file_id, uint64_t chunk_index) const {
    return HashChunk(file_id, chunk_index) % n_;
  }

 private:
  uint32_t n_;
};

}  // namespace gkfs
