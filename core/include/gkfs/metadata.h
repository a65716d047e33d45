// Metadata: the attributes of one inode (a file, directory, symlink or special file), as
// stored by its home daemon (RocksDB value) and carried by stat replies. Plain value type.
// A directory entry names an inode; several entries may name one (hard links).
// The byte encoding is in core/common/metadata_codec.h and docs/formats.md.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>

namespace gkfs {

struct Metadata {
  uint32_t mode = 0;        // S_IFREG/S_IFDIR/S_IFLNK/S_IFIFO/... | permission bits
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t size = 0;        // bytes; directories report 0
  uint64_t file_id = 0;     // the inode id: st_ino, keys the chunks, home daemon in the top
                            // 16 bits (docs/formats.md); never 0 for a stored inode
  uint32_t nlink = 1;       // directory entries naming it (directories: 2 + subdirectories)
  uint64_t rdev = 0;        // device number of character and block device nodes
  int64_t atime_ns = 0;     // nanoseconds since the epoch
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  std::string link_target;  // symlinks only

  bool is_dir() const { return S_ISDIR(mode); }
  bool is_regular() const { return S_ISREG(mode); }
  bool is_symlink() const { return S_ISLNK(mode); }
};

}  // namespace gkfs
