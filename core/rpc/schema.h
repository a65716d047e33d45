// The RPC schema: every verb of the gkfs protocol, with its request and reply structs and
// their byte grammar. One place defines each verb once; numeric ids are the position in
// GKFS_RPC_VERBS and travel only between binaries of the same build (checked through
// kProtocolVersion in fs_config).
//
// Message framing (UCP active messages, docs/formats.md):
//   request AM (id kRequestAmId): header := RequestHeader ‖ request body   (kBodyInHeader)
//                                 data   := bulk payload
//                              or header := RequestHeader                 (body too large
//                                 data   := request body ‖ bulk payload   for the AM header)
//   reply AM   (id kReplyAmId):   header := ReplyHeader ‖ reply body
//                                 data   := bulk payload (read data, directory entries)
#pragma once

#include <climits>
#include <cstdint>
#include <string>
#include <vector>

#include "rpc/wire.h"

namespace gkfs::rpc {

constexpr uint32_t kProtocolVersion = 10;
constexpr uint32_t kMagic = 0x67666B31;  // "gkf1"
constexpr unsigned kRequestAmId = 17;
constexpr unsigned kReplyAmId = 18;
// Pieces per chunk RPC; keeps a read reply's body (4 bytes a piece) inside the AM header.
constexpr uint32_t kMaxPiecesPerRpc = 1024;
constexpr uint32_t kMaxReadDirPage = 4096;

#define GKFS_RPC_VERBS(X) \
  X(FsConfig)             \
  X(Health)               \
  X(Ping)                 \
  X(Create)               \
  X(CreateInDir)          \
  X(RemoveInDir)          \
  X(Stat)                 \
  X(StatForRead)          \
  X(TouchDir)             \
  X(UntouchDir)           \
  X(Remove)               \
  X(Links)                \
  X(GrowSize)             \
  X(ReserveAppend)        \
  X(SetSize)              \
  X(SetAttr)              \
  X(PutEntry)             \
  X(ReadDir)              \
  X(WriteChunks)          \
  X(ReadChunks)           \
  X(TruncateChunks)       \
  X(RemoveChunks)         \
  X(FwdWrite)             \
  X(FwdRead)              \
  X(FwdRename)            \
  X(FwdStats)             \
  X(Release)             \
  X(Renew)               \
  X(Sync)                 \
  X(Metrics)

enum class Verb : uint16_t {
#define GKFS_VERB_ENUM(name) k##name,
  GKFS_RPC_VERBS(GKFS_VERB_ENUM)
#undef GKFS_VERB_ENUM
  kCount
};
// The verbs whose handlers change no metadata, so their replies do not wait on its log
// (transport::Server's reply barrier). Stat counts an open only in memory; StatForRead is
// not one of them (it stores the access time).
constexpr bool ChangesNoMetadata(Verb v) {
  switch (v) {
    case Verb::kFsConfig: case Verb::kHealth: case Verb::kPing: case Verb::kStat: case Verb::kReadDir:
    case Verb::kReadChunks: case Verb::kFwdRead: case Verb::kFwdStats: case Verb::kMetrics:
      return true;
    default:
      return false;
  }
}
const char* VerbName(Verb verb);

// Fixed part of a request; in the AM header. All fields little-endian on the wire.
struct RequestHeader {
  uint32_t magic = kMagic;
  uint16_t verb = 0;
  uint16_t flags = 0;         // kBodyInHeader
  uint64_t request_id = 0;
  uint32_t body_length = 0;   // request body bytes (see kBodyInHeader for where)
  uint32_t app_id = 0;        // the client's application id (scheduling, metrics)
  uint8_t secret[16] = {};    // the instance secret (common/secret.h); zeros when none
};
struct ReplyHeader {
  uint32_t magic = kMagic;
  int32_t status = 0;         // 0 or an errno value
  uint64_t request_id = 0;
  uint32_t body_length = 0;   // reply body bytes following this header in the AM header
  uint32_t reserved = 0;
};
static_assert(sizeof(RequestHeader) == 40 && sizeof(ReplyHeader) == 24, "wire headers");
// RequestHeader::flags: the body follows the header in the AM header, so that the AM data is
// the bulk payload alone and travels contiguously (rendezvous straight between the two
// sides' buffers). Unset: the body is the start of the AM data.
constexpr uint16_t kBodyInHeader = 1;

// A piece of a chunk. piece := chunk_index:u64 offset:u32 length:u32
struct Piece {
  uint64_t chunk_index = 0;
  uint32_t offset = 0;
  uint32_t length = 0;
};

// ---- requests and replies. Each Encode/Decode pair follows the grammar above it. ----

// (empty) -> chunk_size:u64 mountdir:str rootdir:str protocol_version:u32
//             auto_sm:u8 host_id:str worker_address:str uid:u32 session_lease_ms:u32 pfs_dir:str
struct FsConfigReply {
  uint64_t chunk_size = 0;
  std::string mountdir, rootdir;
  uint32_t protocol_version = 0;
  uint8_t auto_sm = 0;          // the daemon accepts shared-memory clients on its host
  std::string host_id;          // transport::HostIdentity() of the daemon
  std::string worker_address;   // packed UCX worker address (auto_sm only)
  // The daemon's effective uid: shared memory needs the same one on both ends (each maps
  // the other's segments through /proc/<pid>/fd, which ptrace rules guard).
  uint32_t uid = 0;
  // How long the daemon keeps a client session's counted opens without hearing from it
  // (Renew); clients renew at a third of it.
  uint32_t session_lease_ms = 0;
  std::string pfs_dir;          // an I/O node's --pfs-dir (what a host mapped `direct` uses); else ""
  void Encode(Encoder& e) const;
  void Decode(Decoder& d);
};

// (empty) -> version:str files:u64 chunk_bytes:u64 total_bytes:u64 free_bytes:u64 orphans:u64
//            syncs:u64
struct HealthReply {
  std::string version;
  uint64_t files = 0, chunk_bytes = 0, total_bytes = 0, free_bytes = 0;
  uint64_t orphans = 0;  // files unlinked while open, kept until released
  uint64_t syncs = 0;    // Sync requests served since the daemon started
  void Encode(Encoder& e) const;
  void Decode(Decoder& d);
};

// reply_bytes:u32 ; payload := any bytes (discarded) -> (empty) ; payload := reply_bytes bytes
// The transport's own cost, for benchmarks and liveness checks.
struct PingRequest {
  uint32_t reply_bytes = 0;
  void Encode(Encoder& e) const;
  void Decode(Decoder& d);
};
constexpr uint32_t kMaxPingReply = 64u << 20;

// What an operation on an inode addresses. ino != 0: that inode, sent to its home daemon
// (the top 16 bits of ino); else the inode the entry at path names, sent to the path's
// owner. target := path:str ino:u64
struct Target {
  std::string path;
  uint64_t ino = 0;
  void Encode(Encoder& e) const;
  void Decode(Decoder& d);
};
// Replies of verbs addressed by a Target start with remote_ino:u64. Non-zero: the entry
// was found but names an inode this daemon does not hold; nothing was done, and the client
// asks again by ino at the inode's home (the second hop of renamed entries and hard links).

// opener:u64 count:u32 ino:u64{count} -> count:u32 (ino:u64 size:u64){count} status:i32
// Release: the session closed its last descriptor of each inode (at that inode's home). The
// reply lists the orphans this released for good: the caller removes their chunks. status:
// the errno of a release that failed midway (0: none); the orphans erased before it are
// listed all the same, so that their chunks do not leak.
struct ReleaseRequest {
  uint64_t opener = 0;
  std::vector<uint64_t> inos;
  void Encode(Encoder& e) const;
  void Decode(Decoder& d);
};
// Renew: the same body as Release -> (empty). The session is alive and holds these opens
// (an inode once per counted open) at this daemon: its lease starts again. A daemon that
// does not know the session (it restarted since the opens) counts them anew.
struct ReleaseReply {
  std::vector<std::pair<uint64_t, uint64_t>> reclaimed;  // (ino, size)
  int32_t status = 0;
  void Encode(Encoder& e) const;
  void Decode(Decoder& d);
};
constexpr uint32_t kMaxRelease = 4096;

// path:str mode:u32 uid:u32 gid:u32 exclusive:u8 link_target:str rdev:u64 home:u32 ino:u64
// opener:u64 -> remote_ino:u64 record:str created:u8
// Makes an entry at path. ino = 0: with a new inode, whose id the daemon mints with `home`
// (its own index in the clients' daemon order) in the top 16 bits; the entry and the inode
// go in one write. ino != 0: the entry names that existing inode (a hard link), whose link
// count the caller raised before; a daemon that knows files by path (forwarding mode) makes
// it a hard link to the path in link_target instead. An existing entry: EEXIST when
// exclusive, else its inode's record (or remote_ino) is returned with created = 0.
struct CreateRequest {
  std::string path;
  uint32_t mode = 0, uid = 0, gid = 0;
  uint8_t exclusive = 0;
  std::string link_target;
  uint64_t rdev = 0;
  uint32_t home = 0;
  uint64_t ino = 0;
  uint64_t opener = 0;  // != 0: an open(2) by that client session (Release)
  void Encode(Encoder& e) const;
  void Decode(Decoder& d);
};

// CreateInDir: the Create request, RemoveInDir: the Remove request
//   -> dir_status:i32 dir_record:str dir_remote:u64 touched_ns:i64 status:i32 record:str
//      remote_ino:u64 done:u8 reclaim:u8 released:(the Release reply)
// Create or Remove beside the TouchDir of the parent, when one daemon owns both paths: one
// round trip and one write. dir_status is the parent's (errno; ENOTDIR with dir_record when
// it is no directory), and then nothing was done; dir_remote != 0: the parent's inode lives
// on another daemon, nothing was done (the client falls back to Create/Remove + TouchDir).
// Else status, record, remote_ino and reclaim are those of Create (the inode made or found)
// or Remove (the inode after the unlink), done says whether the entry was made or removed,
// and touched_ns is TouchDir's (0 unless done). A mkdir or rmdir also moves the parent's
// link count (+1, -1). released: what the releases a RemoveInDir carried reclaimed (as
// Remove's); applied even when nothing else was done.
struct InDirReply {
  int32_t dir_status = 0;
  std::string dir_record;
  uint64_t dir_remote = 0;
  int64_t touched_ns = 0;
  int32_t status = 0;
  std::string record;
  uint64_t remote_ino = 0;
  uint8_t done = 0;
  uint8_t reclaim = 0;
  ReleaseReply released;
  void Encode(Encoder& e) const;
  void Decode(Decoder& d);
};

struct CreateReply {
  uint64_t remote_ino = 0;
  std::string record;  // metadata_codec record
  uint8_t created = 0;
  void Encode(Encoder& e) const;
  void Decode(Decoder& d);
};

// target opener:u64 -> remote_ino:u64 record:str   (Stat; StatForRead: the home also sets
// atime to now when relatime asks: atime <= mtime or ctime, or older than 24 h)
// opener != 0 (Stat, Create): the call is an open(2) by that client session; the home of a
// regular file counts it until the session's Release, and a file whose last link goes while
// it is counted becomes an orphan (nlink 0, data kept) instead of being removed.
struct TargetRequest {
  Target target;
  uint64_t opener = 0;
  void Encode(Encoder& e) const;
  void Decode(Decoder& d);
};
struct RecordReply {
  uint64_t remote_ino = 0;
  std::string record;  // metadata_codec record
  void Encode(Encoder& e) const;
  void Decode(Decoder& d);
};
// remote_ino:u64: the reply of SetSize and SetAttr.
struct TargetReply {
  uint64_t remote_ino = 0;
  void Encode(Encoder& e) const;
  void Decode(Decoder& d);
};

// path:str kind:u8 release:(a Release request) -> remote_ino:u64 record:str reclaim:u8
// kind: 0 any, 1 not a directory (EISDIR), 2 a directory (ENOTDIR), | kEntryOnly: the
// inode's link count is left alone (rename). Removes the entry; when its inode is held
// here, drops one link (a directory: the inode), and record is the inode after that; when
// not, remote_ino names it and the client drops the link at its home (Links). reclaim: the
// last link is gone and no descriptor holds the inode: kReclaim, the caller removes its
// chunks; kReclaimedHere, this daemon (the inode's home) removed those it held before
// replying, the caller removes the other chunk owners' (with one daemon: none left).
// release (RemoveInDir only; Remove, whose errors carry no reply body, ignores it): opens of
// a session that ended and whose inodes live here, applied as by Release before the removal,
// whatever its outcome (so a file the session closed and now removes goes at once, without
// a Release of its own); InDirReply::released is that Release's reply.
struct RemoveRequest {
  std::string path;
  uint8_t kind = 0;
  ReleaseRequest release;
  void Encode(Encoder& e) const;
  void Decode(Decoder& d);
};
constexpr uint8_t kEntryOnly = 4;
constexpr uint8_t kReclaim = 1;
constexpr uint8_t kReclaimedHere = 2;
struct RemoveReply {
  uint64_t remote_ino = 0;
  std::string record;
  uint8_t reclaim = 0;
  void Encode(Encoder& e) const;
  void Decode(Decoder& d);
};

// ino:u64 delta:i32 -> remote_ino:u64(=0) record:str reclaim:u8     (Links: at the home,
// the inode's link count += delta; at 0 the inode is deleted, and its chunks here, as by Remove)
struct LinksRequest {
  uint64_t ino = 0;
  int32_t delta = 0;
  void Encode(Encoder& e) const;
  void Decode(Decoder& d);
};

// target size:u64 mtime_ns:i64 -> (GrowSize: empty; SetSize: remote_ino:u64)
// GrowSize (by ino only): size = max; SetSize: size = value (truncate).
struct SizeRequest {
  Target target;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  void Encode(Encoder& e) const;
  void Decode(Decoder& d);
};

// ino:u64 length:u64 mtime_ns:i64 -> offset:u64
// Reserves [offset, offset+length) at the end of the file for an O_APPEND write: offset is
// past the size and past every reservation before it. The size itself grows only when the
// bytes were written (GrowSize, or the WriteChunks that carries it).
struct ReserveAppendRequest {
  uint64_t ino = 0;
  uint64_t length = 0;
  int64_t mtime_ns = 0;
  void Encode(Encoder& e) const;
  void Decode(Decoder& d);
};
struct OffsetReply {
  uint64_t offset = 0;
  void Encode(Encoder& e) const;
  void Decode(Decoder& d);
};

// target mode:i64 atime_ns:i64 mtime_ns:i64 uid:i64 gid:i64 -> remote_ino:u64
// (< 0: unchanged; ctime becomes now)
struct SetAttrRequest {
  Target target;
  int64_t mode = -1, atime_ns = -1, mtime_ns = -1, uid = -1, gid = -1;
  void Encode(Encoder& e) const;
  void Decode(Decoder& d);
};

// TouchDir: target nlink_delta:i32 -> remote_ino:u64 record:str touched_ns:i64
// A directory entry was added or removed: the record as it was before, and, when it is a
// directory, its mtime and ctime become touched_ns (now, and later than both, so touches of
// one directory are strictly ordered) and its link count moves by nlink_delta (a
// subdirectory made or removed); touched_ns = 0 when nothing was touched.
struct TouchDirRequest {
  Target target;
  int32_t nlink_delta = 0;
  void Encode(Encoder& e) const;
  void Decode(Decoder& d);
};
struct TouchDirReply {
  uint64_t remote_ino = 0;
  std::string record;
  int64_t touched_ns = 0;
  void Encode(Encoder& e) const;
  void Decode(Decoder& d);
};
// UntouchDir: target touched_ns:i64 mtime_ns:i64 ctime_ns:i64 nlink_delta:i32 -> (empty)
// Undoes a TouchDir whose operation did not happen: the link count moves back by
// nlink_delta, and mtime and ctime go back to the values given if both still equal
// touched_ns (nothing touched or changed the directory since). By ino only.
struct UntouchDirRequest {
  Target target;
  int64_t touched_ns = 0, mtime_ns = 0, ctime_ns = 0;
  int32_t nlink_delta = 0;
  void Encode(Encoder& e) const;
  void Decode(Decoder& d);
};

// path:str ino:u64 mode:u32 -> replaced:u8 old_ino:u64 old_mode:u32
// Rename's new name: the entry at path names ino (of type mode) from now on; replaced and
// old_* tell what it named before (EISDIR, ENOTDIR when the types disagree, as rename(2)).
struct PutEntryRequest {
  std::string path;
  uint64_t ino = 0;
  uint32_t mode = 0;
  void Encode(Encoder& e) const;
  void Decode(Decoder& d);
};
struct PutEntryReply {
  uint8_t replaced = 0;
  uint64_t old_ino = 0;
  uint32_t old_mode = 0;
  void Encode(Encoder& e) const;
  void Decode(Decoder& d);
};

// path:str start_after:str max_entries:u32 -> end:u8 ;
//   payload := count:u32 (name:str type:u8 ino:u64)*
struct ReadDirRequest {
  std::string path;
  std::string start_after;
  uint32_t max_entries = 0;
  void Encode(Encoder& e) const;
  void Decode(Decoder& d);
};
struct ReadDirReply {
  uint8_t end = 0;
  void Encode(Encoder& e) const;
  void Decode(Decoder& d);
};
struct DirEntryWire {
  std::string name;
  uint8_t type = 0;
  uint64_t ino = 0;
};
std::string EncodeDirEntries(const std::vector<DirEntryWire>& entries);
// EBADMSG for a malformed list.
bool DecodeDirEntries(std::string_view payload, std::vector<DirEntryWire>* entries);

// file_id:u64 count:u32 piece* grow_size:u64 mtime_ns:i64 with_record:u8 ;
//   payload := the pieces' bytes in order -> (empty)
// ReadChunks: same request (grow_size 0), no payload -> count:u32 (bytes:u32)* record:str ;
//   payload := bytes read
// grow_size != 0 (WriteChunks to the inode's home holding every piece): once the pieces are
// written, the inode's size grows to grow_size (GrowSize in the same round trip).
// with_record (ReadChunks to the inode's home): the reply's record is the file's, looked up
// as StatForRead does (atime by relatime) before the pieces are read, so a read needs no
// StatForRead of its own; an error of that lookup fails the call. Otherwise record is empty.
struct ChunksRequest {
  uint64_t file_id = 0;
  std::vector<Piece> pieces;
  uint64_t grow_size = 0;
  int64_t mtime_ns = 0;
  uint8_t with_record = 0;
  uint64_t TotalBytes() const;
  void Encode(Encoder& e) const;
  void Decode(Decoder& d);
};
struct ReadChunksReply {
  std::vector<uint32_t> lengths;  // bytes read per piece (short: end of chunk file)
  std::string record;             // with_record: the file's record (metadata_codec)
  void Encode(Encoder& e) const;
  void Decode(Decoder& d);
};

// file_id:u64 size:u64 -> (empty)           (TruncateChunks; RemoveChunks ignores size)
struct FileSizeRequest {
  uint64_t file_id = 0;
  uint64_t size = 0;
  void Encode(Encoder& e) const;
  void Decode(Decoder& d);
};

// ---- forwarding mode (I/O node over a PFS directory) ----

// path:str offset:u64 append:u8 ; payload := the bytes -> offset:u64 (where they went)
struct FwdWriteRequest {
  std::string path;
  uint64_t offset = 0;
  uint8_t append = 0;
  void Encode(Encoder& e) const;
  void Decode(Decoder& d);
};

// path:str offset:u64 length:u64 -> (empty) ; payload := the bytes (short only at EOF)
struct FwdReadRequest {
  std::string path;
  uint64_t offset = 0;
  uint64_t length = 0;
  void Encode(Encoder& e) const;
  void Decode(Decoder& d);
};
constexpr uint64_t kMaxFwdRead = 1ull << 30;

// old_path:str new_path:str -> (empty)
struct RenameRequest {
  std::string old_path, new_path;
  void Encode(Encoder& e) const;
  void Decode(Decoder& d);
};

// (empty) -> pending:u64 in_service:u64 scheduler_errors:u64 ;
// payload := count:u32 app_stats*
// app_stats := app_id:u32 requests:u64 bytes:u64 reads:u64 writes:u64 units:u64
//              queue_wait_ns:u64 service_ns:u64
struct AppStats {
  uint32_t app_id = 0;
  uint64_t requests = 0, bytes = 0, reads = 0, writes = 0, units = 0;
  uint64_t queue_wait_ns = 0, service_ns = 0;
};
struct FwdStatsReply {
  uint64_t pending = 0, in_service = 0, scheduler_errors = 0;
  void Encode(Encoder& e) const;
  void Decode(Decoder& d);
};
std::string EncodeAppStats(const std::vector<AppStats>& apps);
bool DecodeAppStats(std::string_view payload, std::vector<AppStats>* apps);

// Metrics: (empty) -> (empty) ; payload := the daemon's metrics in the Prometheus text
// exposition format 0.0.4 (what its /metrics serves; see docs/operations.md).
// ---- durability (fsync) ----

// file_id:u64 path:str flags:u8 budget_ms:u32 epoch:u64 -> epoch:u64 done:u8
// What fsync(2) and its relatives ask of one daemon, by flags (kSync*). Chunk work stops
// once it took budget_ms (after the chunk file in hand), leaving the rest for a repeat of
// the request with the epoch of the first reply: a repeat syncs only what was written
// before the first request began (so concurrent writers cannot keep it going), and
// done = 0 says one is needed. The client keeps budget_ms below its idle timeout, so a
// daemon busy syncing gigabytes is never mistaken for a dead one. path: the file, for a
// daemon in forwarding mode (normal daemons address chunks by file_id alone).
struct SyncRequest {
  uint64_t file_id = 0;
  std::string path;
  uint8_t flags = 0;
  uint32_t budget_ms = 0;   // 0: no limit
  uint64_t epoch = 0;       // 0: a new sync; else the first reply's epoch
  void Encode(Encoder& e) const;
  void Decode(Decoder& d);
};
struct SyncReply {
  uint64_t epoch = 0;
  uint8_t done = 0;
  void Encode(Encoder& e) const;
  void Decode(Decoder& d);
};
// SyncRequest::flags
constexpr uint8_t kSyncChunks = 1;      // file_id's chunk files written since their last sync
constexpr uint8_t kSyncDataOnly = 2;    // those by fdatasync instead of fsync
constexpr uint8_t kSyncMetadata = 4;    // the metadata log (RocksDB's WAL): every record here
constexpr uint8_t kSyncEverything = 8;  // every chunk file of every file (syncfs(2))
constexpr uint8_t kSyncFlags = kSyncChunks | kSyncDataOnly | kSyncMetadata | kSyncEverything;

// Decodes a whole body into T; EBADMSG if malformed or with trailing bytes.
template <class T>
Status DecodeBody(std::string_view body, T* out, const char* what) {
  Decoder d(body);
  out->Decode(d);
  return d.Finish(what);
}
template <class T>
std::string EncodeBody(const T& value) {
  Encoder e;
  value.Encode(e);
  return e.Take();
}

}  // namespace gkfs::rpc
