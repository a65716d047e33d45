// Forwarding mode end to end: real daemons whose PFS is a directory, a real client with a
// map file, UCX on loopback. Plus the FIFO scheduler's merging on its own.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/forwarding_map.h"
#include "gkfs/client.h"
#include "gkfs/daemon.h"

using namespace gkfs;

namespace {

std::string ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Records every batch it is asked for; dispatches like FIFO.
class RecordingScheduler : public IoScheduler {
 public:
  uint32_t max_aggregation() const override { return 16; }
  Status Schedule(double now, const IoQueues& queues, int limit, std::vector<std::vector<uint64_t>>* batch,
                  double* sleep) override {
    Status s = fifo_->Schedule(now, queues, limit, batch, sleep);
    std::lock_guard<std::mutex> l(mu);
    for (const auto& unit : *batch) units.push_back(unit.size());
    return s;
  }
  void OnComplete(const std::vector<IoUnitStats>& stats) override {
    std::lock_guard<std::mutex> l(mu);
    completed += stats.size();
  }
  std::mutex mu;
  std::vector<size_t> units;
  size_t completed = 0;

 private:
  std::shared_ptr<IoScheduler> fifo_ = NewFifoScheduler(16);
};

// Daemons running in threads; shut down and joined however the test case ends.
struct RunningDaemons {
  std::vector<std::unique_ptr<Daemon>> daemons;
  std::vector<std::thread> threads;
  std::string dir;
  ~RunningDaemons() {
    for (auto& d : daemons) d->Shutdown();
    for (auto& t : threads) t.join();
    daemons.clear();
    if (!dir.empty()) (void)system(("rm -rf " + dir).c_str());
  }
};

}  // namespace

TEST_CASE("FIFO scheduler merges contiguous requests of one file, in arrival order") {
  auto fifo = NewFifoScheduler(3);
  IoQueues queues;
  auto req = [](uint64_t id, uint64_t q, uint8_t kind, uint64_t off, uint64_t len) {
    IoRequestInfo r;
    r.id = id;
    r.queue_id = q;
    r.kind = kind;
    r.offset = off;
    r.length = len;
    return r;
  };
  queues[7] = {req(1, 7, 1, 0, 10), req(2, 7, 1, 10, 10), req(4, 7, 1, 20, 10), req(5, 7, 1, 30, 10),
               req(6, 7, 0, 40, 10)};
  queues[9] = {req(3, 9, 1, 10, 10)};
  std::vector<std::vector<uint64_t>> batch;
  double sleep = 0;
  REQUIRE(fifo->Schedule(0, queues, 10, &batch, &sleep).ok());
  REQUIRE(batch.size() == 4);
  CHECK(batch[0] == std::vector<uint64_t>{1, 2, 4});  // capped at 3
  CHECK(batch[1] == std::vector<uint64_t>{3});
  CHECK(batch[2] == std::vector<uint64_t>{5});
  CHECK(batch[3] == std::vector<uint64_t>{6});        // a read never joins writes
  CHECK(sleep < 0);

  // Requests that arrived out of offset order still merge around the oldest one.
  IoQueues shuffled;
  shuffled[1] = {req(1, 1, 1, 20, 10), req(2, 1, 1, 0, 10), req(3, 1, 1, 10, 10), req(4, 1, 1, 30, 10)};
  batch.clear();
  REQUIRE(NewFifoScheduler(16)->Schedule(0, shuffled, 10, &batch, &sleep).ok());
  REQUIRE(batch.size() == 1);
  CHECK(batch[0] == std::vector<uint64_t>{2, 3, 1, 4});
  batch.clear();
  REQUIRE(fifo->Schedule(0, queues, 1, &batch, &sleep).ok());
  CHECK(batch.size() == 1);  // the limit
}

TEST_CASE("a build without forwarding refuses daemon and client at once, saying so", "[forwarding]") {
  if (GKFS_HAVE_FORWARDING) return;
  DaemonOptions o;
  o.rootdir = "/tmp/gkfs-fwd-off-root";
  o.use_memory_backend = true;
  o.enable_forwarding = true;
  o.pfs_dir = "/tmp";
  std::unique_ptr<Daemon> d;
  Status s = Daemon::Create(o, &d);
  CHECK(s.code() == ENOTSUP);
  CHECK(s.message().find("ENABLE_FORWARDING=OFF") != std::string::npos);
  (void)system("rm -rf /tmp/gkfs-fwd-off-root");
  { std::ofstream("/tmp/gkfs-fwd-off-hosts") << "h ucx+tcp://127.0.0.1:9\n"; }
  ClientOptions co;
  co.hosts_file = "/tmp/gkfs-fwd-off-hosts";
  co.forwarding_map_file = "/tmp/gkfs-fwd-off-map";
  std::unique_ptr<Client> c;
  s = Client::Connect(co, &c);
  CHECK(s.code() == ENOTSUP);
  CHECK(s.message().find("lacks forwarding") != std::string::npos);
  unlink("/tmp/gkfs-fwd-off-hosts");
}

TEST_CASE("forwarding: files land in the PFS directory as ordinary files; remap moves traffic",
          "[forwarding]") {
  if (!GKFS_HAVE_FORWARDING) return;
  char tmpl[] = "/tmp/gkfs-fwd-XXXXXX";
  RunningDaemons io_nodes;
  io_nodes.dir = mkdtemp(tmpl);
  const std::string& dir = io_nodes.dir;
  std::string pfs = dir + "/pfs", hosts = dir + "/hosts", map = dir + "/map";
  mkdir(pfs.c_str(), 0755);
  auto recorder = std::make_shared<RecordingScheduler>();
  for (int i = 0; i < 2; ++i) {
    DaemonOptions o;
    o.rootdir = dir + "/d" + std::to_string(i);
    o.hosts_file = hosts;
    o.use_memory_backend = true;
    o.enable_forwarding = true;
    o.pfs_dir = pfs;
    o.scheduler = recorder;
    o.io_threads = 1;
    std::unique_ptr<Daemon> d;
    Status s = Daemon::Create(o, &d);
    INFO(s.ToString());
    REQUIRE(s.ok());
    io_nodes.daemons.push_back(std::move(d));
  }
  for (auto& d : io_nodes.daemons) io_nodes.threads.emplace_back([raw = d.get()] { raw->Run(); });
  for (int i = 0; i < 500; ++i) {  // until both daemons listed themselves
    std::string text = ReadWhole(hosts);
    if (std::count(text.begin(), text.end(), '\n') == 2) break;
    usleep(10000);
  }
  { std::ofstream(map) << "# test map\nothernode 0\n" << "thishost 1\n"; }

  ClientOptions co;
  co.hosts_file = hosts;
  co.forwarding_map_file = map;
  co.hostname = "thishost";
  co.app_id = 42;
  co.timeout_ms = 30000;
  std::unique_ptr<Client> c;
  REQUIRE(Client::Connect(co, &c).ok());

  Metadata md;
  REQUIRE(c->Mkdir("/out", 0755).ok());
  CHECK(c->Mkdir("/out", 0755).code() == EEXIST);
  REQUIRE(c->Create("/out/data", 0640, true, &md, nullptr).ok());
  std::string expect;
  for (int i = 0; i < 64; ++i) {
    std::string piece(4096, static_cast<char>('a' + i % 26));
    REQUIRE(c->Write("/out/data", md.file_id, expect.size(), piece.data(), piece.size()).ok());
    expect += piece;
  }
  uint64_t off = 0;
  REQUIRE(c->Append("/out/data", md.file_id, "END", 3, &off).ok());
  CHECK(off == expect.size());
  expect += "END";
  CHECK(ReadWhole(pfs + "/out/data") == expect);  // an ordinary file on the PFS
  struct stat st;
  REQUIRE(stat((pfs + "/out/data").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);

  std::string back(expect.size() + 100, 'x');
  size_t n = 0;
  REQUIRE(c->Read("/out/data", md.file_id, 0, back.data(), back.size(), &n).ok());
  CHECK(n == expect.size());
  CHECK(back.substr(0, n) == expect);
  REQUIRE(c->Stat("/out/data", &md).ok());
  CHECK(md.size == expect.size());
  std::vector<DirEntry> entries;
  REQUIRE(c->ReadDir("/out", &entries).ok());
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].name == "data");
  CHECK(c->Rmdir("/out").code() == ENOTEMPTY);
  REQUIRE(c->Rename("/out/data", "/out/renamed").ok());
  REQUIRE(c->Truncate("/out/renamed", 10).ok());
  CHECK(ReadWhole(pfs + "/out/renamed") == expect.substr(0, 10));
  CHECK(c->Stat("/../etc/passwd", &md).code() == EINVAL);  // never outside the PFS directory
  // The same client operations as in normal mode, the PFS behind the same handlers: a hard
  // link is link(2) there; what the PFS cannot hold is refused, not faked.
  REQUIRE(c->Link("/out/renamed", "/out/hard").ok());
  struct stat a, b;
  REQUIRE(stat((pfs + "/out/renamed").c_str(), &a) == 0);
  REQUIRE(stat((pfs + "/out/hard").c_str(), &b) == 0);
  CHECK(a.st_ino == b.st_ino);
  CHECK(c->Link("/out", "/out/dirlink").code() == EPERM);
  CHECK(c->Mknod("/out/fifo", S_IFIFO | 0644, 0).code() == EOPNOTSUPP);
  CHECK(c->Remove("/out/hard").ok());
  CHECK(c->Rename("/out", "/out/inside").code() == EINVAL);

  IoNodeStats stats;
  REQUIRE(c->IoNodeStatistics(1, &stats).ok());
  REQUIRE(stats.apps.size() == 1);
  CHECK(stats.apps[0].app_id == 42);
  CHECK(stats.apps[0].writes == 64);
  CHECK(stats.apps[0].reads >= 1);
  REQUIRE(c->IoNodeStatistics(0, &stats).ok());
  CHECK(stats.apps.empty());  // nothing went to the other I/O node

  // Remap while the client runs: the next operations go to I/O node 0.
  { std::ofstream(map + ".tmp") << "thishost 0\n"; }
  REQUIRE(rename((map + ".tmp").c_str(), map.c_str()) == 0);
  usleep(300000);  // past the client's map poll interval
  REQUIRE(c->Create("/after", 0644, true, &md, nullptr).ok());
  REQUIRE(c->Write("/after", md.file_id, 0, "moved", 5).ok());
  REQUIRE(c->IoNodeStatistics(0, &stats).ok());
  REQUIRE(stats.apps.size() == 1);
  CHECK(stats.apps[0].writes == 1);
  CHECK(ReadWhole(pfs + "/after") == "moved");
  // The scheduler hears of completions on the dispatcher thread, after the replies.
  size_t completed = 0;
  for (int i = 0; i < 500 && completed < 66; ++i) {
    {
      std::lock_guard<std::mutex> l(recorder->mu);
      completed = recorder->completed;
    }
    if (completed < 66) usleep(10000);
  }
  CHECK(completed >= 66);

  // A broken map names the file and line; the client keeps its last good mapping.
  { std::ofstream(map + ".tmp") << "thishost zero\n"; }
  REQUIRE(rename((map + ".tmp").c_str(), map.c_str()) == 0);
  usleep(300000);
  CHECK(c->Stat("/after", &md).ok());
  std::unique_ptr<Client> fresh;
  Status s = Client::Connect(co, &fresh);
  CHECK(s.code() == EINVAL);
  CHECK(s.message().find("line 1") != std::string::npos);
}

TEST_CASE("a bad --pfs-dir is an error naming the flag", "[forwarding]") {
  if (!GKFS_HAVE_FORWARDING) return;
  DaemonOptions o;
  o.rootdir = "/tmp/gkfs-fwd-bad-root";
  o.use_memory_backend = true;
  o.enable_forwarding = true;
  o.pfs_dir = "/nonexistent/pfs";
  std::unique_ptr<Daemon> d;
  Status s = Daemon::Create(o, &d);
  CHECK(s.code() == ENOTDIR);
  CHECK(s.message().find("--pfs-dir") != std::string::npos);
  (void)system("rm -rf /tmp/gkfs-fwd-bad-root");
}

TEST_CASE("the map parser takes GekkoFWD's lines with comments anywhere, as the Python tools do",
          "[forwarding]") {
  char tmpl[] = "/tmp/gkfs-fwd-map-XXXXXX";
  int fd = mkstemp(tmpl);
  REQUIRE(fd >= 0);
  close(fd);
  std::string path = tmpl;
  { std::ofstream(path) << "# 4 compute hosts on 2 I/O nodes\nnode-1 0\nnode-2 0\n\n"
                        << "node-3 1   # trailing comment\n\tnode-4\t1\n"; }
  std::map<std::string, uint32_t> map;
  REQUIRE(ParseForwardingMap(path, &map).ok());
  std::map<std::string, uint32_t> want{{"node-1", 0}, {"node-2", 0}, {"node-3", 1}, {"node-4", 1}};
  CHECK(map == want);
  { std::ofstream(path) << "node-1 0\nnode-2 x\n"; }
  Status s = ParseForwardingMap(path, &map);
  CHECK(s.code() == EINVAL);
  CHECK(s.message().find("line 2") != std::string::npos);
  { std::ofstream(path) << "node-1 0\nnode-1 1 # again\n"; }
  s = ParseForwardingMap(path, &map);
  CHECK(s.message().find("line 2: host 'node-1' is listed twice") != std::string::npos);
  { std::ofstream(path) << "node-1 direct\nnode-2\t1 # an I/O node\n"; }
  REQUIRE(ParseForwardingMap(path, &map).ok());
  CHECK(map == std::map<std::string, uint32_t>{{"node-1", kDirectIoNode}, {"node-2", 1}});
  for (const char* bad : {"node-1 Direct\n", "node-1 direct 0\n", "node-1 -1\n", "node-1 4294967295\n",
                          "node-1 +1\n"}) {
    { std::ofstream(path) << "node-0 0\n" << bad; }
    s = ParseForwardingMap(path, &map);
    CHECK(s.code() == EINVAL);
    CHECK(s.message().find("line 2: expected 'hostname io_node_index' or 'hostname direct'") != std::string::npos);
  }
  unlink(path.c_str());
}
