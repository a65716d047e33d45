// DataProvider under concurrency: removal and writes of one file from different threads
// (the daemon's network thread and its I/O threads) never fail each other.
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
