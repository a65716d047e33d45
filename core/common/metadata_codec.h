// Byte format of a metadata record (the RocksDB value) and of its merge operands.
//
//   record  := version:u8(=1) mode:u32 uid:u32 gid:u32 size:u64 file_id:u64
//              atime_ns:i64 mtime_ns:i64 ctime_ns:i64 link_target:str
//   operand := 'M' size:u64 mtime_ns:i64     size = max(size, operand), mtime = max
//            | 'S' size:u64 mtime_ns:i64     size = operand (truncate), mtime = operand
//            | 'B' mode:i64 atime:i64 mtime:i64 ctime:i64 uid:i64 gid:i64
//                                            set attributes (< 0: keep); what is written
//            | 'A' mode:i64 atime:i64 mtime:i64 ctime:i64   'B' without owner: still read
//                                            (operands written before 'B' existed)
//
// A record whose key was deleted and then receives operands (a write racing an unlink)
// merges into the tombstone `version:u8(=0)`, which readers treat as "does not exist".
#pragma once

#include <string>
#include <string_view>

#include "gkfs/metadata.h"
#include "gkfs/status.h"

namespace gkfs {

constexpr uint8_t kRecordVersion = 1;
constexpr uint8_t kTombstoneVersion = 0;

std::string EncodeMetadata(const Metadata& md);
// EBADMSG for a malformed record; ENOENT for a tombstone.
Status DecodeMetadata(std::string_view bytes, Metadata* md);

std::string EncodeGrowOperand(uint64_t size, int64_t mtime_ns);
std::string EncodeSetSizeOperand(uint64_t size, int64_t mtime_ns);
// What an attribute operand sets; a negative field is kept as it is.
struct AttrUpdate {
  int64_t mode = -1;  // permission bits (07777) only; the file type never changes
  int64_t atime_ns = -1, mtime_ns = -1, ctime_ns = -1;
  int64_t uid = -1, gid = -1;
};
std::string EncodeSetAttrOperand(const AttrUpdate& update);
// Applies one operand to md. EBADMSG for a malformed operand (md unchanged).
Status ApplyOperand(std::string_view operand, Metadata* md);

}  // namespace gkfs
