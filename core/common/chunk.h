// Chunk arithmetic: how a byte range of a file splits into pieces of fixed-size chunks.
// Pure functions; chunk_size is a power of two fixed per file system.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace gkfs {

struct ChunkPiece {
  uint64_t chunk_index;  // which chunk of the file
  uint32_t offset;       // byte offset inside that chunk
  uint32_t length;       // bytes of the piece
  size_t buffer_offset;  // where the piece starts in the caller's buffer
};

// REQUIRES: chunk_size is a power of two in [4096, 2^31].
inline std::vector<ChunkPiece> SplitIntoChunks(uint64_t offset, size_t length, uint64_t chunk_size) {
  std::vector<ChunkPiece> pieces;
  size_t done = 0;
  while (done < length) {
    uint64_t pos = offset + done;
    uint64_t in_chunk = pos & (chunk_size - 1);
    uint64_t n = chunk_size - in_chunk;
    if (n > length - done) n = length - done;
    pieces.push_back({pos / chunk_size, static_cast<uint32_t>(in_chunk), static_cast<uint32_t>(n), done});
    done += n;
  }
  return pieces;
}

inline bool IsValidChunkSize(uint64_t chunk_size) {
  return chunk_size >= 4096 && chunk_size <= (1ull << 31) && (chunk_size & (chunk_size - 1)) == 0;
}

}  // namespace gkfs
