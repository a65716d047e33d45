// MetadataProvider over a real RocksDB store: what a create, stat and remove of a file with
// one link cost in RocksDB lookups (the performance guard of issue 10: the parent's entry
// and inode, and a file's entry once written, come from the provider's caches), and that the
// caches follow every change (rename, rmdir and a new directory at the same path, chmod).
#include <catch2/catch.hpp>

#include <stdlib.h>
#include <sys/stat.h>

#include <memory>
#include <string>

#include "common/metadata_codec.h"
#include "daemon/metadata_provider.h"

namespace gkfs {
namespace {

struct Fixture {
  Fixture() {
    char tmpl[] = "/tmp/gkfs-md-test-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    std::unique_ptr<KvStore> store;
    REQUIRE(OpenRocksDbStore(dir, &store).ok());
    md = std::make_unique<MetadataProvider>(std::move(store));
    REQUIRE(md->Open(dir, 0, 0).ok());
  }
  ~Fixture() {
    md.reset();
    std::string rm = "rm -rf " + dir;
    CHECK(system(rm.c_str()) == 0);
  }
  Metadata Create(const std::string& path, uint32_t mode) {
    rpc::CreateRequest req;
    req.path = path;
    req.mode = mode;
    req.exclusive = 1;
    rpc::InDirReply r;
    md->CreateInDir(req, &r);
    REQUIRE(r.dir_status == 0);
    REQUIRE(r.status == 0);
    REQUIRE(r.done == 1);
    return Decoded(r.record);
  }
  int Remove(const std::string& path, uint8_t kind) {
    rpc::RemoveRequest req{path, kind};
    rpc::InDirReply r;
    md->RemoveInDir(req, &r);
    return r.dir_status != 0 ? r.dir_status : r.status;
  }
  Status Stat(const std::string& path, Metadata* out) {
    rpc::RecordReply r;
    Status s = md->Stat(rpc::Target{path, 0}, 0, &r);
    if (s.ok()) *out = Decoded(r.record);
    return s;
  }
  static Metadata Decoded(const std::string& record) {
    Metadata m;
    REQUIRE(DecodeMetadata(record, &m).ok());
    return m;
  }
  std::string dir;
  std::unique_ptr<MetadataProvider> md;
};

}  // namespace

TEST_CASE("a file with one link: create, stat and remove read RocksDB once each", "[metadata]") {
  Fixture f;
  f.Create("/d", S_IFDIR | 0755);
  f.Create("/d/warm", S_IFREG | 0644);  // the parent's entry and inode are cached from here
  constexpr int kFiles = 100;
  uint64_t before = f.md->CountStoreReads();
  for (int i = 0; i < kFiles; ++i) f.Create("/d/f" + std::to_string(i), S_IFREG | 0644);
  // At most one lookup each (before inodes: two). Here: is the name free, which a Bloom
  // filter answers and no cache can.
  CHECK(f.md->CountStoreReads() - before == kFiles);
  before = f.md->CountStoreReads();
  Metadata m;
  for (int i = 0; i < kFiles; ++i) REQUIRE(f.Stat("/d/f" + std::to_string(i), &m).ok());
  CHECK(f.md->CountStoreReads() - before <= kFiles);  // here none: entry and inode cached
  before = f.md->CountStoreReads();
  for (int i = 0; i < kFiles; ++i) REQUIRE(f.Remove("/d/f" + std::to_string(i), 1) == 0);
  CHECK(f.md->CountStoreReads() - before <= kFiles);
  CHECK(f.Stat("/d/f0", &m).code() == ENOENT);
  // Not cached (a daemon restarted): the entry, then the inode.
  std::unique_ptr<KvStore> store;
  f.md.reset();
  REQUIRE(OpenRocksDbStore(f.dir, &store).ok());
  f.md = std::make_unique<MetadataProvider>(std::move(store));
  REQUIRE(f.md->Open(f.dir, 0, 0).ok());
  before = f.md->CountStoreReads();
  REQUIRE(f.Stat("/d/warm", &m).ok());
  CHECK(f.md->CountStoreReads() - before == 2);
}

TEST_CASE("the caches follow renames, a directory made again and a chmod", "[metadata]") {
  Fixture f;
  const Metadata d1 = f.Create("/d", S_IFDIR | 0755);
  const Metadata a = f.Create("/d/a", S_IFREG | 0644);
  Metadata m;
  // A rename as the client makes it: the new entry, then the old one removed (entry only).
  rpc::PutEntryRequest put{"/d/b", a.file_id, S_IFREG};
  rpc::PutEntryReply put_reply;
  REQUIRE(f.md->PutEntry(put, &put_reply).ok());
  REQUIRE(f.Remove("/d/a", 1 | rpc::kEntryOnly) == 0);
  CHECK(f.Stat("/d/a", &m).code() == ENOENT);
  REQUIRE(f.Stat("/d/b", &m).ok());
  CHECK(m.file_id == a.file_id);
  CHECK(m.nlink == 1);
  // rmdir and mkdir of the same path: creates in it see the new directory, not the old one.
  REQUIRE(f.Remove("/d/b", 1) == 0);
  REQUIRE(f.Remove("/d", 2) == 0);
  const Metadata d2 = f.Create("/d", S_IFDIR | 0700);
  CHECK(d2.file_id != d1.file_id);
  rpc::CreateRequest req;
  req.path = "/d/c";
  req.mode = S_IFREG | 0644;
  rpc::InDirReply r;
  f.md->CreateInDir(req, &r);
  REQUIRE(r.done == 1);
  CHECK(Fixture::Decoded(r.dir_record).file_id == d2.file_id);
  // A chmod of the directory (a merge) shows in the next create's view of the parent.
  rpc::SetAttrRequest chmod;
  chmod.target = rpc::Target{"/d", 0};
  chmod.mode = 0711;
  rpc::TargetReply chmod_reply;
  REQUIRE(f.md->SetAttr(chmod, &chmod_reply).ok());
  req.path = "/d/e";
  rpc::InDirReply r2;
  f.md->CreateInDir(req, &r2);
  REQUIRE(r2.done == 1);
  CHECK((Fixture::Decoded(r2.dir_record).mode & 07777) == 0711);
  CHECK(Fixture::Decoded(r2.dir_record).nlink == 2);
  REQUIRE(f.Stat("/d", &m).ok());
  CHECK(m.mtime_ns >= Fixture::Decoded(r2.dir_record).mtime_ns);
  // A write's size growth (a merge, no lock) shows in the next stat of the file.
  const Metadata e = Fixture::Decoded(r2.record);
  REQUIRE(f.Stat("/d/e", &m).ok());
  REQUIRE(f.md->GrowSize(e.file_id, 4096, e.mtime_ns + 1).ok());
  REQUIRE(f.Stat("/d/e", &m).ok());
  CHECK(m.size == 4096);
}

}  // namespace gkfs
