// MetadataProvider's client sessions: counted opens live as long as their session's lease;
// expired sessions are listed for release, renewed ones are not; orphans a previous run left
// are held for one lease, and a live session's renewal claims them (docs/formats.md).
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "common/metadata_codec.h"
#include "daemon/handlers.h"
#include "daemon/kv_store.h"
#include "daemon/metadata_provider.h"

namespace gkfs {
namespace {

// Creates path as an open by session opener; its inode id.
uint64_t CreateOpen(MetadataProvider& mp, const std::string& path, uint64_t opener) {
  rpc::CreateRequest req;
  req.path = path;
  req.mode = S_IFREG | 0644;
  req.opener = opener;
  rpc::CreateReply r;
  REQUIRE(mp.Create(req, &r).ok());
  Metadata md;
  REQUIRE(DecodeMetadata(r.record, &md).ok());
  return md.file_id;
}

void Unlink(MetadataProvider& mp, const std::string& path) {
  rpc::RemoveRequest req;
  req.path = path;
  rpc::RemoveReply r;
  REQUIRE(mp.Remove(req, &r).ok());
}

// The expired sessions' requests, by session (polling: the lease runs out in the background).
std::vector<rpc::ReleaseRequest> ExpiredWithin(MetadataProvider& mp, uint64_t session) {
  for (int i = 0; i < 500; ++i) {
    auto expired = mp.ExpiredSessions();
    for (const auto& e : expired) {
      if (e.opener == session) return expired;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return {};
}

// A memory store whose writes fail once `writes_left` more have succeeded (-1: never).
class FailingStore : public KvStore {
 public:
  explicit FailingStore(int* writes_left) : base_(NewMemoryStore()), writes_left_(writes_left) {}
  Status Get(std::string_view key, std::string* value) override { return base_->Get(key, value); }
  Status Put(std::string_view key, std::string_view value) override { return base_->Put(key, value); }
  Status Write(const std::vector<Update>& updates) override {
    if (*writes_left_ == 0) return Status::Error(EIO, "injected write failure");
    if (*writes_left_ > 0) --*writes_left_;
    return base_->Write(updates);
  }
  Status Delete(std::string_view key) override { return base_->Delete(key); }
  Status Merge(std::string_view key, std::string_view operand) override { return base_->Merge(key, operand); }
  std::unique_ptr<KvIterator> NewIterator() override { return base_->NewIterator(); }
  Status Flush() override { return base_->Flush(); }
  Status Sync() override { return base_->Sync(); }
  uint64_t ApproximateBytes() override { return base_->ApproximateBytes(); }

 private:
  std::unique_ptr<KvStore> base_;
  int* writes_left_;
};

}  // namespace

TEST_CASE("a release failing midway replies the orphans it erased before, with the error", "[sessions]") {
  int writes_left = -1;
  MetadataProvider mp(std::make_unique<FailingStore>(&writes_left), 100000);
  REQUIRE(mp.Open("memory", 0, 0).ok());
  const uint64_t f = CreateOpen(mp, "/f", 11);
  const uint64_t g = CreateOpen(mp, "/g", 11);
  Unlink(mp, "/f");
  Unlink(mp, "/g");
  writes_left = 1;  // f's erase goes through, g's fails

  Providers p{};
  p.metadata = &mp;
  const std::string body = rpc::EncodeBody(rpc::ReleaseRequest{11, {f, g}});
  transport::Request req;
  req.verb = rpc::Verb::kRelease;
  req.body = body;
  transport::Response out;
  HandleRelease(p, req, &out);
  rpc::ReleaseReply r;
  REQUIRE(out.status == 0);  // the error travels in the body, beside what was reclaimed
  REQUIRE(rpc::DecodeBody(out.body, &r, "release reply").ok());
  CHECK(r.status == EIO);
  REQUIRE(r.reclaimed.size() == 1);
  CHECK(r.reclaimed[0].first == f);
}

TEST_CASE("an expired session's opens are listed until released; a renewed one's are not", "[sessions]") {
  MetadataProvider mp(NewMemoryStore(), 100);
  REQUIRE(mp.Open("memory", 0, 0).ok());
  const uint64_t f = CreateOpen(mp, "/f", 11);
  const uint64_t g = CreateOpen(mp, "/g", 22);
  Unlink(mp, "/f");
  CHECK(mp.CountOrphans() == 1);

  auto expired = ExpiredWithin(mp, 11);
  REQUIRE_FALSE(expired.empty());
  REQUIRE(mp.Renew(rpc::ReleaseRequest{22, {g}}).ok());
  expired = mp.ExpiredSessions();
  REQUIRE(expired.size() == 1);  // 22 renewed just now
  CHECK(expired[0].opener == 11);
  CHECK(expired[0].inos == std::vector<uint64_t>{f});

  rpc::ReleaseReply released;
  REQUIRE(mp.Release(expired[0], &released).ok());
  REQUIRE(released.reclaimed.size() == 1);
  CHECK(released.reclaimed[0].first == f);
  CHECK(mp.CountOrphans() == 0);
  REQUIRE(mp.Renew(rpc::ReleaseRequest{22, {g}}).ok());
  CHECK(mp.ExpiredSessions().empty());
}

TEST_CASE("orphans a previous run left wait one lease for a live holder to claim them", "[sessions]") {
  char dir[] = "/tmp/gkfs-sessions-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  uint64_t kept = 0, left = 0;
  {
    std::unique_ptr<KvStore> store;
    REQUIRE(OpenRocksDbStore(dir, &store).ok());
    MetadataProvider mp(std::move(store), 100);
    REQUIRE(mp.Open(dir, 0, 0).ok());
    kept = CreateOpen(mp, "/kept", 5);  // its holder lives on
    left = CreateOpen(mp, "/left", 6);  // its holder died with the daemon
    Unlink(mp, "/kept");
    Unlink(mp, "/left");
    CHECK(mp.CountOrphans() == 2);
  }
  std::unique_ptr<KvStore> store;
  REQUIRE(OpenRocksDbStore(dir, &store).ok());
  MetadataProvider mp(std::move(store), 100);
  REQUIRE(mp.Open(dir, 0, 0).ok());
  CHECK(mp.CountOrphans() == 2);
  REQUIRE(mp.Renew(rpc::ReleaseRequest{5, {kept}}).ok());  // unknown here: counted anew

  auto expired = ExpiredWithin(mp, MetadataProvider::kPreviousRun);
  rpc::ReleaseRequest previous;
  for (const auto& e : expired) {
    if (e.opener == MetadataProvider::kPreviousRun) previous = e;
  }
  std::sort(previous.inos.begin(), previous.inos.end());
  CHECK(previous.inos == std::vector<uint64_t>{std::min(kept, left), std::max(kept, left)});
  rpc::ReleaseReply released;
  REQUIRE(mp.Release(previous, &released).ok());
  REQUIRE(released.reclaimed.size() == 1);
  CHECK(released.reclaimed[0].first == left);
  CHECK(mp.CountOrphans() == 1);
  rpc::ReleaseReply last;
  REQUIRE(mp.Release(rpc::ReleaseRequest{5, {kept}}, &last).ok());
  REQUIRE(last.reclaimed.size() == 1);
  CHECK(last.reclaimed[0].first == kept);
  CHECK(mp.CountOrphans() == 0);
  std::string rm = std::string("rm -rf ") + dir;
  CHECK(std::system(rm.c_str()) == 0);
}

}  // namespace gkfs
