// DataProvider: the chunk store. Chunk i of the file with id F is the file
// <rootdir>/chunks/<F as 16 hex digits>/<i in decimal> (docs/formats.md). Writes complete
// (pwrite returned) before the reply, so an acknowledged write survives a daemon crash.
// Thread-safe: reads and writes of a file run concurrently; its truncation and removal
// exclude them (a lock stripe per file id), so a removal's rmdir never races a write's
// mkdir+open of the same file's directory.
#pragma once

#include <array>
#include <cstdint>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/buffer.h"
#include "gkfs/status.h"
#include "rpc/schema.h"

namespace gkfs {

class DataProvider {
 public:
  // REQUIRES: chunk_size is a power of two.
  DataProvider(std::string rootdir, uint64_t chunk_size);
  // Creates <rootdir>/chunks.
  Status Init();

  // payload holds the pieces' bytes in order. EINVAL if sizes disagree or a piece leaves its chunk.
  Status Write(uint64_t file_id, const std::vector<rpc::Piece>& pieces, std::string_view payload);
  // Reads each piece; lengths[i] < pieces[i].length where the chunk file ends earlier (or is
  // absent). out receives the bytes read, concatenated.
  Status Read(uint64_t file_id, const std::vector<rpc::Piece>& pieces, std::vector<uint32_t>* lengths,
              Buffer* out, size_t* out_size);
  // Drops chunk data at and past size.
  Status Truncate(uint64_t file_id, uint64_t size);
  Status Remove(uint64_t file_id);
  uint64_t BytesUsed() const;
  const std::string& chunk_dir() const { return chunk_dir_; }

 private:
  std::string FileDir(uint64_t file_id) const;
  // REQUIRES: LockFor(file_id) held exclusively.
  Status TruncateLocked(uint64_t file_id, uint64_t size);
  Status CheckPieces(const std::vector<rpc::Piece>& pieces) const;

  std::shared_mutex& LockFor(uint64_t file_id) { return stripes_[file_id % stripes_.size()]; }

  std::string chunk_dir_;
  uint64_t chunk_size_;
  std::array<std::shared_mutex, 64> stripes_;
};

}  // namespace gkfs
