// Byte formats of the metadata store: inode records (and their merge operands) and
// directory entries.
//
//   record  := version:u8(=2) mode:u32 uid:u32 gid:u32 size:u64 ino:u64 nlink:u32 rdev:u64
//              atime_ns:i64 mtime_ns:i64 ctime_ns:i64 link_target:str
//   entry   := 'E' ino:u64 mode:u32          the inode an entry names, and its type
//   operand := 'M' size:u64 mtime_ns:i64     size = max(size, operand), mtime = max
//            | 'S' size:u64 mtime_ns:i64     size = operand (truncate), mtime = operand
//            | 'B' mode:i64 atime:i64 mtime:i64 ctime:i64 uid:i64 gid:i64
//                                            set attributes (< 0: keep); what is written
//            | 'A' mode:i64 atime:i64 mtime:i64 ctime:i64   'B' without owner: still read
//                                            (operands written before 'B' existed)
//            | 'L' delta:i32 ctime_ns:i64     nlink += delta (never below 0); ctime = max
//
// A record whose key was deleted and then receives operands (a write racing an unlink)
// merges into the tombstone `version:u8(=0)`, which readers treat as "does not exist".
#pragma once

#include <string>
#include <string_view>

#include "gkfs/metadata.h"
#include "gkfs/status.h"

namespace gkfs {

constexpr uint8_t kRecordVersion = 2;
constexpr uint8_t kTombstoneVersion = 0;

std::string EncodeMetadata(const Metadata& md);
// EBADMSG for a malformed record (or one of version 1, written before inodes existed);
// ENOENT for a tombstone.
Status DecodeMetadata(std::string_view bytes, Metadata* md);

// A directory entry: the inode it names and that inode's type (S_IFMT bits of mode).
struct Entry {
  uint64_t ino = 0;
  uint32_t mode = 0;
};
std::string EncodeEntry(const Entry& entry);
// EBADMSG for a malformed entry.
Status DecodeEntry(std::string_view bytes, Entry* entry);

std::string EncodeGrowOperand(uint64_t size, int64_t mtime_ns);
std::string EncodeSetSizeOperand(uint64_t size, int64_t mtime_ns);
// What an attribute operand sets; a negative field is kept as it is.
struct AttrUpdate {
  int64_t mode = -1;  // permission bits (07777) only; the file type never changes
  int64_t atime_ns = -1, mtime_ns = -1, ctime_ns = -1;
  int64_t uid = -1, gid = -1;
};
std::string EncodeSetAttrOperand(const AttrUpdate& update);
std::string EncodeLinksOperand(int32_t delta, int64_t ctime_ns);
// Applies one operand to md. EBADMSG for a malformed operand (md unchanged).
Status ApplyOperand(std::string_view operand, Metadata* md);

}  // namespace gkfs
