// struct stat from an inode's Metadata: one definition for the preload library (stat, fstat,
// statx) and the FUSE client (getattr, lookup, readdirplus), so both report the same fields.
// Header-only: the preload library links no client code until it first reaches gkfs.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <cstring>

#include "gkfs/metadata.h"

namespace gkfs {

// Fills *st from md. device: st_dev (FsConfig::device_id); block_size: st_blksize (the chunk
// size); fallback_ino: st_ino for a record without an inode id (never a stored inode).
// st_size of a symlink is its target's length; st_blocks counts 512-byte units of size.
inline void FillStat(const Metadata& md, uint64_t device, uint64_t block_size, uint64_t fallback_ino,
                     struct stat* st) {
  std::memset(st, 0, sizeof(*st));
  st->st_dev = static_cast<dev_t>(device);
  st->st_ino = md.file_id != 0 ? md.file_id : fallback_ino;
  st->st_mode = md.mode;
  st->st_nlink = md.nlink;
  st->st_rdev = static_cast<dev_t>(md.rdev);
  st->st_uid = md.uid;
  st->st_gid = md.gid;
  uint64_t size = S_ISLNK(md.mode) ? md.link_target.size() : md.size;
  st->st_size = static_cast<off_t>(size);
  st->st_blksize = static_cast<blksize_t>(block_size);
  st->st_blocks = static_cast<blkcnt_t>((md.size + 511) / 512);
  auto to_ts = [](int64_t ns) {
    struct timespec ts;
    ts.tv_sec = ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    return ts;
  };
  st->st_atim = to_ts(md.atime_ns);
  st->st_mtim = to_ts(md.mtime_ns);
  st->st_ctim = to_ts(md.ctime_ns);
}

}  // namespace gkfs
