// Metadata: the attributes of one path in the file system, as stored in the metadata
// provider (RocksDB value) and carried by stat replies. Plain value type.
// The byte encoding is in core/common/metadata_codec.h and docs/formats.md.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>

namespace gkfs {

struct Metadata {
  uint32_t mode = 0;        // S_IFREG/S_IFDIR/S_IFLNK | permission bits
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t size = 0;        // bytes; directories report 0
  uint64_t file_id = 0;     // stable id keying the file's chunks; 0 for directories
  int64_t atime_ns = 0;     // nanoseconds since the epoch
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  std::string link_target;  // symlinks only

  bool is_dir() const { return S_ISDIR(mode); }
  bool is_regular() const { return S_ISREG(mode); }
};

}  // namespace gkfs
