// DataProvider under concurrency: removal and writes of one file from different threads
// (the daemon's network thread and its I/O threads) never fail each other. And what its
// syncs cover: the chunk files written before a sync began, in time slices, within a bound.
#include <catch2/catch.hpp>

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "daemon/data_provider.h"

namespace gkfs {

TEST_CASE("chunk removal and writes of one file from two threads", "[data]") {
  char tmpl[] = "/tmp/gkfs-data-test-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  const std::string root = tmpl;
  DataProvider data(root, 4096);
  REQUIRE(data.Init().ok());
  const uint64_t file_id = 0x1234;
  std::vector<rpc::Piece> pieces = {{0, 0, 4096}, {1, 0, 4096}};
  const std::string payload(8192, 'x');
  std::atomic<bool> stop{false};
  std::atomic<int> write_errors{0}, remove_errors{0};
  std::thread writer([&] {
    for (int i = 0; i < 3000; ++i) {
      if (!data.Write(file_id, pieces, payload).ok()) ++write_errors;
    }
    stop = true;
  });
  while (!stop) {
    if (!data.Remove(file_id).ok()) ++remove_errors;
  }
  writer.join();
  CHECK(write_errors == 0);
  CHECK(remove_errors == 0);
  REQUIRE(data.Remove(file_id).ok());
  CHECK(system(("rm -rf " + root).c_str()) == 0);
}

}  // namespace gkfs

namespace gkfs {
namespace {

// A chunk store in a fresh directory under /tmp, removed afterwards.
class TempRoot {
 public:
  TempRoot() {
    char tmpl[] = "/tmp/gkfs-sync-test-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path_ = tmpl;
  }
  ~TempRoot() { CHECK(system(("rm -rf " + path_).c_str()) == 0); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Status WriteChunks(DataProvider& data, uint64_t file_id, std::initializer_list<uint64_t> chunks) {
  std::vector<rpc::Piece> pieces;
  for (uint64_t c : chunks) pieces.push_back({c, 0, 100});
  return data.Write(file_id, pieces, std::string(100 * pieces.size(), 's'));
}

constexpr auto kNoDeadline = DataProvider::Clock::time_point::max();

}  // namespace

TEST_CASE("a sync covers the chunk files written before it began, once", "[data][sync]") {
  TempRoot root;
  DataProvider data(root.path(), 4096);
  REQUIRE(data.Init().ok());
  REQUIRE(WriteChunks(data, 7, {0, 1, 2}).ok());
  CHECK(data.TEST_tracked_chunks() == 3);
  uint64_t epoch = data.NewSyncEpoch();
  REQUIRE(WriteChunks(data, 7, {5}).ok());  // after the sync began
  bool done = false;
  REQUIRE(data.SyncFile(7, false, epoch, kNoDeadline, &done).ok());
  CHECK(done);
  CHECK(data.TEST_tracked_chunks() == 1);
  REQUIRE(data.SyncFile(7, true, data.NewSyncEpoch(), kNoDeadline, &done).ok());
  CHECK(data.TEST_tracked_chunks() == 0);
  REQUIRE(data.SyncFile(7, false, data.NewSyncEpoch(), kNoDeadline, &done).ok());  // nothing left
  CHECK(done);
}

TEST_CASE("a sync out of time stops after the chunk file in hand and resumes", "[data][sync]") {
  TempRoot root;
  DataProvider data(root.path(), 4096);
  REQUIRE(data.Init().ok());
  REQUIRE(WriteChunks(data, 7, {0, 1, 2, 3}).ok());
  uint64_t epoch = data.NewSyncEpoch();
  const auto past = DataProvider::Clock::now() - std::chrono::seconds(1);
  int rounds = 0;
  for (bool done = false; !done; ++rounds) {
    REQUIRE(rounds < 10);
    REQUIRE(data.SyncFile(7, false, epoch, past, &done).ok());
  }
  CHECK(rounds == 4);  // one chunk file each
  CHECK(data.TEST_tracked_chunks() == 0);
}

TEST_CASE("truncated chunk files are synced; a removed file is forgotten", "[data][sync]") {
  TempRoot root;
  DataProvider data(root.path(), 4096);
  REQUIRE(data.Init().ok());
  REQUIRE(WriteChunks(data, 7, {0, 1, 2}).ok());
  bool done = false;
  REQUIRE(data.SyncFile(7, false, data.NewSyncEpoch(), kNoDeadline, &done).ok());
  REQUIRE(data.Truncate(7, 4096 + 10).ok());  // chunk 1 shrinks, chunk 2 goes
  CHECK(data.TEST_tracked_chunks() == 1);
  REQUIRE(data.SyncFile(7, false, data.NewSyncEpoch(), kNoDeadline, &done).ok());
  CHECK(data.TEST_tracked_chunks() == 0);
  REQUIRE(WriteChunks(data, 7, {3}).ok());
  REQUIRE(data.Remove(7).ok());
  CHECK(data.TEST_tracked_chunks() == 0);
  REQUIRE(data.SyncFile(7, false, data.NewSyncEpoch(), kNoDeadline, &done).ok());
  CHECK(done);
}

TEST_CASE("past its bound, and after a restart, the next sync syncs the whole file system", "[data][sync]") {
  TempRoot root;
  {
    DataProvider data(root.path(), 4096, true, /*max_tracked_chunks=*/4);
    REQUIRE(data.Init().ok());
    REQUIRE(WriteChunks(data, 7, {0, 1, 2, 3, 4}).ok());
    CHECK(data.TEST_tracked_chunks() == 0);  // forgotten: too many
    bool done = false;
    REQUIRE(data.SyncFile(7, false, data.NewSyncEpoch(), kNoDeadline, &done).ok());
    CHECK(done);
    REQUIRE(WriteChunks(data, 7, {0}).ok());
    CHECK(data.TEST_tracked_chunks() == 1);  // tracked again after the syncfs
  }
  DataProvider restarted(root.path(), 4096);
  REQUIRE(restarted.Init().ok());
  REQUIRE(WriteChunks(restarted, 8, {0}).ok());
  CHECK(restarted.TEST_tracked_chunks() == 0);  // unknown until the first sync
  bool done = false;
  REQUIRE(restarted.SyncFile(8, false, restarted.NewSyncEpoch(), kNoDeadline, &done).ok());
  REQUIRE(WriteChunks(restarted, 8, {1}).ok());
  CHECK(restarted.TEST_tracked_chunks() == 1);
}

TEST_CASE("without sync tracking (--sync-mode none) writes note nothing", "[data][sync]") {
  TempRoot root;
  DataProvider data(root.path(), 4096, /*track_syncs=*/false);
  REQUIRE(data.Init().ok());
  REQUIRE(WriteChunks(data, 7, {0, 1}).ok());
  CHECK(data.TEST_tracked_chunks() == 0);
  bool done = false;
  REQUIRE(data.SyncFile(7, false, data.NewSyncEpoch(), kNoDeadline, &done).ok());
  CHECK(done);
}

}  // namespace gkfs

namespace gkfs {

TEST_CASE("reads keep chunk files open; truncation and removal close them first", "[data]") {
  TempRoot root;
  DataProvider data(root.path(), 4096);
  REQUIRE(data.Init().ok());
  const uint64_t file_id = 0x77;
  auto write = [&](char c) { return data.Write(file_id, {{0, 0, 4096}}, std::string(4096, c)).ok(); };
  auto read = [&]() {
    std::vector<uint32_t> lengths;
    Buffer out;
    size_t n = 0;
    REQUIRE(data.Read(file_id, {{0, 0, 4096}}, &lengths, &out, &n).ok());
    return std::string(out.data(), n);
  };
  REQUIRE(write('a'));
  CHECK(read() == std::string(4096, 'a'));
  CHECK(data.TEST_kept_read_fds() == 1);
  REQUIRE(write('b'));  // through its own descriptor: the kept one sees it
  CHECK(read() == std::string(4096, 'b'));
  // Truncation to 0 unlinks the chunk file and a write makes a new one at the same path.
  REQUIRE(data.Truncate(file_id, 0).ok());
  CHECK(data.TEST_kept_read_fds() == 0);
  CHECK(read().empty());
  REQUIRE(write('c'));
  CHECK(read() == std::string(4096, 'c'));
  REQUIRE(data.Remove(file_id).ok());
  CHECK(data.TEST_kept_read_fds() == 0);
  REQUIRE(write('d'));
  CHECK(read() == std::string(4096, 'd'));
  REQUIRE(data.Remove(file_id).ok());
}

TEST_CASE("at most kKeptReadFds chunk files stay open for reads", "[data]") {
  TempRoot root;
  DataProvider data(root.path(), 4096);
  REQUIRE(data.Init().ok());
  const size_t files = DataProvider::kKeptReadFds + 10;
  for (uint64_t f = 1; f <= files; ++f) {
    REQUIRE(data.Write(f, {{0, 0, 10}}, std::string(10, 'x')).ok());
    std::vector<uint32_t> lengths;
    Buffer out;
    size_t n = 0;
    REQUIRE(data.Read(f, {{0, 0, 10}}, &lengths, &out, &n).ok());
    CHECK(n == 10);
  }
  CHECK(data.TEST_kept_read_fds() == DataProvider::kKeptReadFds);
  for (uint64_t f = 1; f <= files; ++f) REQUIRE(data.Remove(f).ok());
  CHECK(data.TEST_kept_read_fds() == 0);
}

}  // namespace gkfs
