#include "common/metadata_codec.h"

#include <sys/stat.h>

#include <algorithm>
#include <climits>

#include "rpc/wire.h"

namespace gkfs {

std::string EncodeMetadata(const Metadata& md) {
  // Version, mode, uid, gid, size, id, nlink, rdev, three times, the target's length prefix.
  constexpr size_t kFixedBytes = 1 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + 8 + 8 + 8 + 4;
  Encoder e(kFixedBytes + md.link_target.size());
  e.U8(kRecordVersion);
  e.U32(md.mode);
  e.U32(md.uid);
  e.U32(md.gid);
  e.U64(md.size);
  e.U64(md.file_id);
  e.U32(md.nlink);
  e.U64(md.rdev);
  e.I64(md.atime_ns);
  e.I64(md.mtime_ns);
  e.I64(md.ctime_ns);
  e.Str(md.link_target);
  return e.Take();
}

Status DecodeMetadata(std::string_view bytes, Metadata* md) {
  Decoder d(bytes);
  uint8_t version = d.U8();
  if (!d.bad() && version == kTombstoneVersion && d.remaining() == 0) {
    return Status::Error(ENOENT, "no such file or directory");
  }
  if (version != kRecordVersion) return Status::Error(EBADMSG, "unknown metadata record version");
  Metadata m;
  m.mode = d.U32();
  m.uid = d.U32();
  m.gid = d.U32();
  m.size = d.U64();
  m.file_id = d.U64();
  m.nlink = d.U32();
  m.rdev = d.U64();
  m.atime_ns = d.I64();
  m.mtime_ns = d.I64();
  m.ctime_ns = d.I64();
  m.link_target = d.Str(PATH_MAX);
  Status s = d.Finish("metadata record");
  if (s.ok()) *md = std::move(m);
  return s;
}

std::string EncodeEntry(const Entry& entry) {
  Encoder e;
  e.U8('E');
  e.U64(entry.ino);
  e.U32(entry.mode);
  return e.Take();
}

Status DecodeEntry(std::string_view bytes, Entry* entry) {
  Decoder d(bytes);
  if (d.U8() != 'E') return Status::Error(EBADMSG, "not a directory entry");
  Entry out;
  out.ino = d.U64();
  out.mode = d.U32();
  Status s = d.Finish("directory entry");
  if (s.ok()) *entry = out;
  return s;
}

namespace {
std::string SizeOperand(char tag, uint64_t size, int64_t mtime_ns) {
  Encoder e;
  e.U8(static_cast<uint8_t>(tag));
  e.U64(size);
  e.I64(mtime_ns);
  return e.Take();
}
}  // namespace

std::string EncodeGrowOperand(uint64_t size, int64_t mtime_ns) { return SizeOperand('M', size, mtime_ns); }
std::string EncodeSetSizeOperand(uint64_t size, int64_t mtime_ns) { return SizeOperand('S', size, mtime_ns); }

std::string EncodeSetAttrOperand(const AttrUpdate& u) {
  Encoder e;
  e.U8('B');
  e.I64(u.mode);
  e.I64(u.atime_ns);
  e.I64(u.mtime_ns);
  e.I64(u.ctime_ns);
  e.I64(u.uid);
  e.I64(u.gid);
  return e.Take();
}

std::string EncodeLinksOperand(int32_t delta, int64_t ctime_ns) {
  Encoder e;
  e.U8('L');
  e.I32(delta);
  e.I64(ctime_ns);
  return e.Take();
}

namespace {
void ApplyAttr(const AttrUpdate& u, Metadata* md) {
  if (u.mode >= 0) md->mode = (md->mode & S_IFMT) | (static_cast<uint32_t>(u.mode) & 07777);
  if (u.atime_ns >= 0) md->atime_ns = u.atime_ns;
  if (u.mtime_ns >= 0) md->mtime_ns = u.mtime_ns;
  if (u.ctime_ns >= 0) md->ctime_ns = u.ctime_ns;
  if (u.uid >= 0) md->uid = static_cast<uint32_t>(u.uid);
  if (u.gid >= 0) md->gid = static_cast<uint32_t>(u.gid);
}
}  // namespace

Status ApplyOperand(std::string_view operand, Metadata* md) {
  Decoder d(operand);
  uint8_t tag = d.U8();
  if (tag == 'M' || tag == 'S') {
    uint64_t size = d.U64();
    int64_t mtime = d.I64();
    Status s = d.Finish("size operand");
    if (!s.ok()) return s;
    if (tag == 'M') {
      md->size = std::max(md->size, size);
      md->mtime_ns = std::max(md->mtime_ns, mtime);
    } else {
      md->size = size;
      md->mtime_ns = mtime;
    }
    md->ctime_ns = std::max(md->ctime_ns, mtime);
    return Status::OK();
  }
  if (tag == 'A' || tag == 'B') {
    AttrUpdate u;
    u.mode = d.I64();
    u.atime_ns = d.I64();
    u.mtime_ns = d.I64();
    u.ctime_ns = d.I64();
    if (tag == 'B') {
      u.uid = d.I64();
      u.gid = d.I64();
    }
    Status s = d.Finish("attribute operand");
    if (!s.ok()) return s;
    if (u.uid > UINT32_MAX || u.gid > UINT32_MAX) return Status::Error(EBADMSG, "owner out of range");
    ApplyAttr(u, md);
    return Status::OK();
  }
  if (tag == 'L') {
    int32_t delta = d.I32();
    int64_t ctime = d.I64();
    Status s = d.Finish("links operand");
    if (!s.ok()) return s;
    int64_t nlink = static_cast<int64_t>(md->nlink) + delta;
    md->nlink = static_cast<uint32_t>(std::clamp<int64_t>(nlink, 0, UINT32_MAX));
    md->ctime_ns = std::max(md->ctime_ns, ctime);
    return Status::OK();
  }
  return Status::Error(EBADMSG, "unknown merge operand");
}

}  // namespace gkfs
