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

}  // namespace

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
