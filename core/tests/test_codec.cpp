// Metadata record codec, merge operands, the merge operator and the bounds-checked decoder.
#include <sys/sysmacros.h>
#include <catch2/catch.hpp>

#include <random>

#include "common/metadata_codec.h"
#include "daemon/kv_store.h"
#include "daemon/merge_operator.h"
#include "gkfs/client.h"
#include "rpc/schema.h"

using namespace gkfs;

namespace {
Metadata Sample() {
  Metadata md;
  md.mode = S_IFREG | 0644;
  md.uid = 1000;
  md.gid = 100;
  md.size = 12345;
  md.file_id = 0xdeadbeefcafef00dull;
  md.atime_ns = 1;
  md.mtime_ns = 2;
  md.ctime_ns = 3;
  return md;
}
}  // namespace

TEST_CASE("metadata record round-trips") {
  Metadata md = Sample();
  md.link_target = "/target";
  Metadata back;
  REQUIRE(DecodeMetadata(EncodeMetadata(md), &back).ok());
  CHECK(back.mode == md.mode);
  CHECK(back.size == md.size);
  CHECK(back.file_id == md.file_id);
  CHECK(back.link_target == "/target");
}

TEST_CASE("inode records keep link count and device number; entries round-trip") {
  Metadata md = Sample();
  md.mode = S_IFCHR | 0600;
  md.nlink = 3;
  md.rdev = makedev(4, 64);
  Metadata back;
  REQUIRE(DecodeMetadata(EncodeMetadata(md), &back).ok());
  CHECK(back.nlink == 3);
  CHECK(back.rdev == makedev(4, 64));

  Entry e{(7ull << 48) | 42, S_IFDIR}, out;
  std::string bytes = EncodeEntry(e);
  REQUIRE(DecodeEntry(bytes, &out).ok());
  CHECK(out.ino == e.ino);
  CHECK(out.mode == S_IFDIR);
  for (size_t n = 0; n < bytes.size(); ++n) CHECK(DecodeEntry(bytes.substr(0, n), &out).code() == EBADMSG);
  CHECK(DecodeEntry(EncodeMetadata(md), &out).code() == EBADMSG);  // a record is no entry
}

TEST_CASE("'L' operands move the link count, never below zero, and set ctime") {
  Metadata md = Sample();
  md.nlink = 1;
  md.ctime_ns = 100;
  REQUIRE(ApplyOperand(EncodeLinksOperand(+1, 500), &md).ok());
  CHECK(md.nlink == 2);
  CHECK(md.ctime_ns == 500);
  REQUIRE(ApplyOperand(EncodeLinksOperand(-1, 400), &md).ok());
  CHECK(md.nlink == 1);
  CHECK(md.ctime_ns == 500);  // ctime only moves forward
  REQUIRE(ApplyOperand(EncodeLinksOperand(-5, 600), &md).ok());
  CHECK(md.nlink == 0);
}

TEST_CASE("metadata record decoding rejects truncation, garbage and versions") {
  std::string bytes = EncodeMetadata(Sample());
  Metadata out;
  for (size_t n = 0; n < bytes.size(); ++n) {
    CHECK_FALSE(DecodeMetadata(std::string_view(bytes).substr(0, n), &out).ok());
  }
  CHECK(DecodeMetadata(bytes + "x", &out).code() == EBADMSG);
  for (char version : {1, 3}) {  // 1: a record written before inodes
    std::string other = bytes;
    other[0] = version;
    CHECK(DecodeMetadata(other, &out).code() == EBADMSG);
  }
  CHECK(DecodeMetadata(std::string(1, '\0'), &out).code() == ENOENT);
}

TEST_CASE("merge operator: max for growth, set for truncate, attrs") {
  std::string base = EncodeMetadata(Sample());
  std::string_view b = base;
  std::string grow_small = EncodeGrowOperand(100, 10);
  std::string grow_big = EncodeGrowOperand(99999, 20);
  std::string merged = MergeRecord(&b, {grow_big, grow_small});
  Metadata md;
  REQUIRE(DecodeMetadata(merged, &md).ok());
  CHECK(md.size == 99999);
  CHECK(md.mtime_ns == 20);

  std::string set = EncodeSetSizeOperand(5, 30);
  REQUIRE(DecodeMetadata(MergeRecord(&b, {grow_big, set, grow_small}), &md).ok());
  CHECK(md.size == 100);  // set to 5, then grown to 100

  AttrUpdate update;
  update.mode = 0600;
  update.mtime_ns = 777;
  update.ctime_ns = 888;
  update.gid = 99;
  std::string attr = EncodeSetAttrOperand(update);
  REQUIRE(DecodeMetadata(MergeRecord(&b, {attr}), &md).ok());
  CHECK(md.mode == (S_IFREG | 0600));
  CHECK(md.mtime_ns == 777);
  CHECK(md.atime_ns == 1);
  CHECK(md.uid == Sample().uid);
  CHECK(md.gid == 99);
}

TEST_CASE("an 'A' operand written before owners existed still applies") {
  std::string base = EncodeMetadata(Sample());
  std::string_view b = base;
  Encoder e;  // 'A' mode:i64 atime:i64 mtime:i64 ctime:i64
  e.U8('A');
  e.I64(0640);
  e.I64(-1);
  e.I64(555);
  e.I64(666);
  Metadata md;
  REQUIRE(DecodeMetadata(MergeRecord(&b, {e.Take()}), &md).ok());
  CHECK(md.mode == (S_IFREG | 0640));
  CHECK(md.mtime_ns == 555);
  CHECK(md.ctime_ns == 666);
  CHECK(md.uid == Sample().uid);
  Metadata untouched = Sample();
  std::string truncated = EncodeSetAttrOperand(AttrUpdate{});
  truncated.pop_back();
  CHECK(ApplyOperand(truncated, &untouched).code() == EBADMSG);
}

TEST_CASE("merge onto a deleted key yields a tombstone, never a record") {
  std::string grow = EncodeGrowOperand(4096, 1);
  std::string merged = MergeRecord(nullptr, {grow});
  Metadata md;
  CHECK(DecodeMetadata(merged, &md).code() == ENOENT);
}

TEST_CASE("NormalizePath") {
  std::string out;
  REQUIRE(NormalizePath("//a/./b/../c/", &out).ok());
  CHECK(out == "/a/c");
  REQUIRE(NormalizePath("/..", &out).ok());
  CHECK(out == "/");
  CHECK(NormalizePath("rel", &out).code() == EINVAL);
  CHECK(NormalizePath("/" + std::string(256, 'x'), &out).code() == ENAMETOOLONG);
  CHECK(NormalizePath("/" + std::string(5000, 'x'), &out).code() == ENAMETOOLONG);
  // Already normal paths come back unchanged; each kind of abnormality is caught.
  const std::pair<const char*, const char*> kCases[] = {
      {"/", "/"},          {"/a", "/a"},       {"/a/b.c/..d", "/a/b.c/..d"}, {"/a/", "/a"},
      {"/a//b", "/a/b"},   {"/a/./b", "/a/b"}, {"/a/../b", "/b"},            {"/.", "/"},
      {"/a/.", "/a"},      {"/a/..", "/"},     {"/.a/.../b", "/.a/.../b"},   {"//", "/"},
  };
  for (const auto& [in, want] : kCases) {
    REQUIRE(NormalizePath(in, &out).ok());
    CHECK(out == want);
  }
  CHECK(NormalizePath("/a/" + std::string(256, 'x') + "/b", &out).code() == ENAMETOOLONG);
}

TEST_CASE("RPC bodies round-trip") {
  rpc::ChunksRequest req;
  req.file_id = 7;
  req.pieces = {{0, 10, 20}, {3, 0, 4096}};
  rpc::ChunksRequest back;
  REQUIRE(rpc::DecodeBody(rpc::EncodeBody(req), &back, "chunks").ok());
  CHECK(back.pieces.size() == 2);
  CHECK(back.pieces[1].chunk_index == 3);
  CHECK(back.TotalBytes() == 4116);

  std::vector<rpc::DirEntryWire> entries = {{"a", 4, 7}, {"bb", 8, 1ull << 48 | 9}};
  std::vector<rpc::DirEntryWire> decoded;
  REQUIRE(rpc::DecodeDirEntries(rpc::EncodeDirEntries(entries), &decoded));
  CHECK(decoded[1].name == "bb");
  CHECK(decoded[1].ino == (1ull << 48 | 9));
}

TEST_CASE("a removal carries its session's releases, and its reply what they reclaimed") {
  rpc::RemoveRequest req;
  req.path = "/d/f";
  req.kind = 1;
  req.release = rpc::ReleaseRequest{0xfeedull, {1ull << 48 | 5, 1ull << 48 | 6}};
  std::string bytes = rpc::EncodeBody(req);
  rpc::RemoveRequest back;
  REQUIRE(rpc::DecodeBody(bytes, &back, "remove").ok());
  CHECK(back.path == "/d/f");
  CHECK(back.release.opener == 0xfeedull);
  CHECK(back.release.inos == req.release.inos);
  for (size_t n = 0; n < bytes.size(); ++n) {
    CHECK(rpc::DecodeBody(std::string_view(bytes).substr(0, n), &back, "remove").code() == EBADMSG);
  }

  rpc::InDirReply reply;
  reply.done = 1;
  reply.reclaim = rpc::kReclaimedHere;
  reply.released.reclaimed = {{1ull << 48 | 5, 3901}};
  rpc::InDirReply reply_back;
  REQUIRE(rpc::DecodeBody(rpc::EncodeBody(reply), &reply_back, "in-dir reply").ok());
  CHECK(reply_back.reclaim == rpc::kReclaimedHere);
  CHECK(reply_back.released.reclaimed == reply.released.reclaimed);
}

TEST_CASE("Sync request and reply round-trip; unknown flags are rejected") {
  rpc::SyncRequest req;
  req.file_id = 0x0123456789abcdefull;
  req.path = "/dir/file";
  req.flags = rpc::kSyncChunks | rpc::kSyncDataOnly | rpc::kSyncMetadata;
  req.budget_ms = 2500;
  req.epoch = 42;
  std::string bytes = rpc::EncodeBody(req);
  rpc::SyncRequest back;
  REQUIRE(rpc::DecodeBody(bytes, &back, "sync").ok());
  CHECK(back.file_id == req.file_id);
  CHECK(back.path == req.path);
  CHECK(back.flags == req.flags);
  CHECK(back.budget_ms == 2500);
  CHECK(back.epoch == 42);
  for (size_t n = 0; n < bytes.size(); ++n) {
    CHECK(rpc::DecodeBody(std::string_view(bytes).substr(0, n), &back, "sync").code() == EBADMSG);
  }
  req.flags = 0x10;
  CHECK(rpc::DecodeBody(rpc::EncodeBody(req), &back, "sync").code() == EBADMSG);

  rpc::SyncReply reply;
  reply.epoch = 7;
  reply.done = 1;
  rpc::SyncReply reply_back;
  REQUIRE(rpc::DecodeBody(rpc::EncodeBody(reply), &reply_back, "sync reply").ok());
  CHECK(reply_back.epoch == 7);
  CHECK(reply_back.done == 1);
}

TEST_CASE("RPC decoders reject truncated, oversized and garbage bodies") {
  rpc::CreateRequest create;
  create.path = "/some/file";
  create.mode = 0100644;
  std::string bytes = rpc::EncodeBody(create);
  rpc::CreateRequest out;
  for (size_t n = 0; n < bytes.size(); ++n) {
    CHECK(rpc::DecodeBody(std::string_view(bytes).substr(0, n), &out, "create").code() == EBADMSG);
  }
  CHECK(rpc::DecodeBody(bytes + "zz", &out, "create").code() == EBADMSG);

  // A length prefix far beyond the message.
  Encoder e;
  e.U32(0x7fffffff);
  rpc::TargetRequest path;
  CHECK(rpc::DecodeBody(e.Take(), &path, "path").code() == EBADMSG);

  // A piece count that cannot fit, and one above the per-RPC limit.
  Encoder c;
  c.U64(1);
  c.U32(rpc::kMaxPiecesPerRpc + 1);
  rpc::ChunksRequest chunks;
  CHECK(rpc::DecodeBody(c.Take(), &chunks, "chunks").code() == EBADMSG);

  // Random garbage never crashes and is (almost always) rejected.
  std::mt19937 rng(1234);
  for (int i = 0; i < 2000; ++i) {
    std::string junk(rng() % 64, '\0');
    for (auto& ch : junk) ch = static_cast<char>(rng());
    rpc::ChunksRequest a;
    rpc::ReadDirRequest b;
    rpc::FsConfigReply c2;
    std::vector<rpc::DirEntryWire> d;
    (void)rpc::DecodeBody(junk, &a, "a");
    (void)rpc::DecodeBody(junk, &b, "b");
    (void)rpc::DecodeBody(junk, &c2, "c");
    (void)rpc::DecodeDirEntries(junk, &d);
  }
}

TEST_CASE("a RocksDB lookup after many size merges replays a short operand chain") {
  char dir[] = "/tmp/gkfs-merges-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  {
    std::unique_ptr<KvStore> store;
    REQUIRE(OpenRocksDbStore(dir, &store).ok());
    Metadata md = Sample();
    md.size = 0;
    REQUIRE(store->Put("#i0000000000000002", EncodeMetadata(md)).ok());
    for (uint64_t i = 1; i <= 20000; ++i) {  // ior-hard: one size operand per write
      REQUIRE(store->Merge("#i0000000000000002", EncodeGrowOperand(i * 47008, 1)).ok());
    }
    std::string value;
    REQUIRE(store->Get("#i0000000000000002", &value).ok());
    REQUIRE(DecodeMetadata(value, &md).ok());
    CHECK(md.size == 20000ull * 47008);
    CHECK(TEST_last_merge_operands.load() <= kMaxSuccessiveMerges);
  }
  std::string rm = std::string("rm -rf ") + dir;
  CHECK(system(rm.c_str()) == 0);
}
