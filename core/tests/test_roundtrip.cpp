// A real daemon (RocksDB or in-memory backend) and a real client in one process, talking
// over UCX on loopback: the operations of gkfs::Client end to end.
#include <catch2/catch.hpp>

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "gkfs/client.h"
#include "gkfs/daemon.h"

using namespace gkfs;

namespace {

class TestFs {
 public:
  explicit TestFs(int daemons, uint64_t chunk_size = 4096, bool memory = true,
                  const std::string& secret_hex = "", bool auto_sm = false,
                  SyncMode sync_mode = SyncMode::kFull) {
    char tmpl[] = "/tmp/gkfs-unit-XXXXXX";
    dir_ = mkdtemp(tmpl);
    hosts_ = dir_ + "/hosts";
    if (!secret_hex.empty()) {
      FILE* f = fopen(secret_file().c_str(), "w");
      fputs(secret_hex.c_str(), f);
      fclose(f);
    }
    for (int i = 0; i < daemons; ++i) {
      DaemonOptions o;
      o.rootdir = dir_ + "/d" + std::to_string(i);
      o.hosts_file = hosts_;
      o.chunk_size = chunk_size;
      o.use_memory_backend = memory;
      o.auto_sm = auto_sm;
      o.sync_mode = sync_mode;
      if (!secret_hex.empty()) o.secret_file = secret_file();
      std::unique_ptr<Daemon> d;
      Status s = Daemon::Create(o, &d);
      REQUIRE(s.ok());
      daemons_.push_back(std::move(d));
    }
    for (auto& d : daemons_) {
      Daemon* raw = d.get();
      threads_.emplace_back([raw] { raw->Run(); });
    }
    for (int i = 0; i < 500; ++i) {  // wait for every hosts line
      std::vector<DaemonInfo> unused;
      FILE* f = fopen(hosts_.c_str(), "r");
      int lines = 0;
      if (f) {
        for (int c; (c = fgetc(f)) != EOF;) lines += c == '\n';
        fclose(f);
      }
      if (lines == daemons) break;
      usleep(10000);
    }
    ClientOptions co;
    co.hosts_file = hosts_;
    co.timeout_ms = 30000;
    co.secret_file = secret_hex.empty() ? "" : secret_file();
    Status s = Client::Connect(co, &client_);
    INFO(s.ToString());
    REQUIRE(s.ok());
  }
  std::string secret_file() const { return dir_ + "/instance.secret"; }
  const std::string& hosts() const { return hosts_; }
  ~TestFs() {
    client_.reset();
    for (auto& d : daemons_) d->Shutdown();
    for (auto& t : threads_) t.join();
    daemons_.clear();
    std::string cmd = "rm -rf " + dir_;
    (void)system(cmd.c_str());
  }
  Client& client() { return *client_; }

 private:
  std::string dir_, hosts_;
  std::vector<std::unique_ptr<Daemon>> daemons_;
  std::vector<std::thread> threads_;
  std::unique_ptr<Client> client_;
};

}  // namespace

TEST_CASE("client and daemons: files, data, directories", "[roundtrip]") {
  auto memory = GENERATE(true, false);
  TestFs fs(3, 4096, memory);
  Client& c = fs.client();
  CHECK(c.config().chunk_size == 4096);

  Metadata md;
  REQUIRE(c.Stat("/", &md).ok());
  CHECK(md.is_dir());
  std::vector<DirEntry> root_entries;
  REQUIRE(c.ReadDir("/", &root_entries).ok());
  CHECK(root_entries.empty());
  REQUIRE(c.Mkdir("/dir", 0755).ok());
  CHECK(c.Mkdir("/dir", 0755).code() == EEXIST);
  CHECK(c.Mkdir("/missing/sub", 0755).code() == ENOENT);
  REQUIRE(c.Create("/dir/f", 0644, true, &md, nullptr).ok());
  CHECK(c.Create("/dir/f", 0644, true, &md, nullptr).code() == EEXIST);
  CHECK(c.Create("/dir/f/x", 0644, true, &md, nullptr).code() == ENOTDIR);
  CHECK(md.file_id != 0);

  // Many chunks over all daemons, then a read across them.
  std::string data(100000, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + 3);
  REQUIRE(c.Write("/dir/f", md.file_id, 1000, data.data(), data.size()).ok());
  Metadata after;
  REQUIRE(c.Stat("/dir/f", &after).ok());
  CHECK(after.size == 101000);
  std::string back(101000, 'x');
  size_t n = 0;
  REQUIRE(c.Read("/dir/f", md.file_id, 0, back.data(), back.size(), &n).ok());
  CHECK(n == 101000);
  CHECK(back.substr(0, 1000) == std::string(1000, '\0'));  // a hole reads as zeros
  CHECK(back.substr(1000) == data);
  REQUIRE(c.Read("/dir/f", md.file_id, 100000, back.data(), 5000, &n).ok());
  CHECK(n == 1000);  // short only at end of file

  uint64_t off = 0;
  REQUIRE(c.Append("/dir/f", md.file_id, "tail", 4, &off).ok());
  CHECK(off == 101000);
  REQUIRE(c.Truncate("/dir/f", 10).ok());
  REQUIRE(c.Stat("/dir/f", &after).ok());
  CHECK(after.size == 10);
  REQUIRE(c.Truncate("/dir/f", 9000).ok());
  REQUIRE(c.Read("/dir/f", md.file_id, 0, back.data(), 9000, &n).ok());
  CHECK(n == 9000);
  CHECK(back.substr(10, 8990) == std::string(8990, '\0'));  // truncated data is gone

  // Directory listing merged from every daemon, over several pages.
  for (int i = 0; i < 5000; ++i) {
    Metadata m;
    REQUIRE(c.Create("/dir/e" + std::to_string(i), 0644, false, &m, nullptr).ok());
  }
  REQUIRE(c.Mkdir("/dir/sub", 0755).ok());
  REQUIRE(c.Create("/dir/sub/deep", 0644, false, &md, nullptr).ok());
  std::vector<DirEntry> entries;
  REQUIRE(c.ReadDir("/dir", &entries).ok());
  CHECK(entries.size() == 5002);
  CHECK(std::is_sorted(entries.begin(), entries.end(),
                       [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; }));
  CHECK(std::none_of(entries.begin(), entries.end(), [](const DirEntry& e) { return e.name == "deep"; }));
  CHECK(c.ReadDir("/dir/f", &entries).code() == ENOTDIR);
  CHECK(c.ReadDir("/nope", &entries).code() == ENOENT);

  CHECK(c.Rmdir("/dir/sub").code() == ENOTEMPTY);
  CHECK(c.Rmdir("/dir/f").code() == ENOTDIR);
  CHECK(c.Remove("/dir/sub").code() == EISDIR);
  REQUIRE(c.Remove("/dir/sub/deep").ok());
  REQUIRE(c.Rmdir("/dir/sub").ok());
  CHECK(c.Stat("/dir/sub", &md).code() == ENOENT);

  // Rename replaces an existing target.
  Metadata a, b;
  REQUIRE(c.Create("/a", 0644, true, &a, nullptr).ok());
  REQUIRE(c.Write("/a", a.file_id, 0, "AAAA", 4).ok());
  REQUIRE(c.Create("/b", 0644, true, &b, nullptr).ok());
  REQUIRE(c.Write("/b", b.file_id, 0, "BBBBBBBB", 8).ok());
  REQUIRE(c.Rename("/a", "/b").ok());
  CHECK(c.Stat("/a", &md).code() == ENOENT);
  REQUIRE(c.Stat("/b", &md).ok());
  CHECK(md.size == 4);
  char buf[8];
  REQUIRE(c.Read("/b", md.file_id, 0, buf, 8, &n).ok());
  CHECK(std::string(buf, n) == "AAAA");

  REQUIRE(c.SetAttr("/b", 0600, -1, 12345, -1, -1).ok());
  REQUIRE(c.Stat("/b", &md).ok());
  CHECK((md.mode & 07777) == 0600);
  CHECK(md.mtime_ns == 12345);
  uint32_t gid = md.gid;
  REQUIRE(c.SetAttr("/b", -1, -1, -1, 4242, -1).ok());
  REQUIRE(c.Stat("/b", &md).ok());
  CHECK(md.uid == 4242);
  CHECK(md.gid == gid);
  CHECK((md.mode & 07777) == 0600);

  // created tells a new file from an existing one; only a new one changes the directory.
  Metadata dir_before, dir_after;
  bool created = true;
  REQUIRE(c.Stat("/dir", &dir_before).ok());
  REQUIRE(c.Create("/dir/e0", 0644, false, &md, &created).ok());
  CHECK_FALSE(created);
  REQUIRE(c.Stat("/dir", &dir_after).ok());
  CHECK(dir_after.mtime_ns == dir_before.mtime_ns);
  REQUIRE(c.Create("/dir/brand-new", 0644, false, &md, &created).ok());
  CHECK(created);
  REQUIRE(c.Stat("/dir", &dir_after).ok());
  CHECK(dir_after.mtime_ns > dir_before.mtime_ns);
  CHECK(dir_after.ctime_ns == dir_after.mtime_ns);

  FsStats st;
  REQUIRE(c.StatFs(&st).ok());
  CHECK(st.total_bytes > 0);
  std::vector<DaemonInfo> infos;
  REQUIRE(c.Daemons(&infos).ok());
  CHECK(infos.size() == 3);
  for (const auto& i : infos) CHECK(i.up);
}

TEST_CASE("one daemon: a create and its parent's times in one request (CreateInDir)", "[roundtrip]") {
  auto memory = GENERATE(true, false);
  TestFs fs(1, 4096, memory);
  Client& c = fs.client();
  Metadata root0, dir0, dir1, md;
  REQUIRE(c.Stat("/", &root0).ok());
  REQUIRE(c.Mkdir("/d", 0755).ok());
  REQUIRE(c.Stat("/", &md).ok());
  CHECK(md.mtime_ns > root0.mtime_ns);
  REQUIRE(c.Stat("/d", &dir0).ok());
  bool created = false;
  REQUIRE(c.Create("/d/f", 0644, true, &md, &created).ok());
  CHECK(created);
  CHECK(md.is_regular());
  REQUIRE(c.Stat("/d", &dir1).ok());
  CHECK(dir1.mtime_ns > dir0.mtime_ns);
  CHECK(dir1.ctime_ns == dir1.mtime_ns);
  // Nothing made, nothing touched: an existing entry, exclusive or not.
  CHECK(c.Create("/d/f", 0644, true, &md, &created).code() == EEXIST);
  REQUIRE(c.Create("/d/f", 0644, false, &md, &created).ok());
  CHECK_FALSE(created);
  REQUIRE(c.Stat("/d", &dir0).ok());
  CHECK(dir0.mtime_ns == dir1.mtime_ns);
  // No parent, or a parent that is a file: an error, and no record left behind.
  CHECK(c.Create("/missing/x", 0644, true, &md, nullptr).code() == ENOENT);
  CHECK(c.Stat("/missing/x", &md).code() == ENOENT);
  CHECK(c.Create("/d/f/x", 0644, true, &md, nullptr).code() == ENOTDIR);
  CHECK(c.Stat("/d/f/x", &md).code() == ENOENT);
  CHECK(c.Symlink("/d/l", "f").ok());
  REQUIRE(c.Stat("/d/l", &md).ok());
  CHECK(md.link_target == "f");
  // RemoveInDir: the entry goes and the parent's times move; errors change nothing.
  REQUIRE(c.Stat("/d", &dir0).ok());
  REQUIRE(c.Remove("/d/l").ok());
  CHECK(c.Stat("/d/l", &md).code() == ENOENT);
  REQUIRE(c.Stat("/d", &dir1).ok());
  CHECK(dir1.mtime_ns > dir0.mtime_ns);
  CHECK(c.Remove("/d/l").code() == ENOENT);
  CHECK(c.Remove("/d").code() == EISDIR);
  CHECK(c.Rmdir("/d/f").code() == ENOTDIR);
  CHECK(c.Remove("/missing/x").code() == ENOENT);
  REQUIRE(c.Stat("/d", &dir0).ok());
  CHECK(dir0.mtime_ns == dir1.mtime_ns);
  CHECK(c.Rmdir("/d").code() == ENOTEMPTY);
  REQUIRE(c.Remove("/d/f").ok());
  REQUIRE(c.Rmdir("/d").ok());
  CHECK(c.Stat("/d", &md).code() == ENOENT);
}

TEST_CASE("fsync reaches every daemon once and is counted there", "[roundtrip][sync]") {
  auto memory = GENERATE(true, false);
  auto mode = GENERATE(SyncMode::kFull, SyncMode::kNone);
  TestFs fs(3, 4096, memory, "", false, mode);
  Client& c = fs.client();
  auto syncs = [&c] {
    std::vector<DaemonInfo> infos;
    REQUIRE(c.Daemons(&infos).ok());
    std::vector<uint64_t> counts;
    for (const auto& info : infos) counts.push_back(info.syncs);
    return counts;
  };
  using Counts = std::vector<uint64_t>;
  CHECK(syncs() == Counts{0, 0, 0});
  Metadata md;
  REQUIRE(c.Create("/f", 0644, true, &md, nullptr).ok());
  std::string data(50000, 'd');
  REQUIRE(c.Write("/f", md.file_id, 0, data.data(), data.size()).ok());
  REQUIRE(c.Sync("/f", md.file_id, SyncLevel::kFile).ok());
  CHECK(syncs() == Counts{1, 1, 1});
  REQUIRE(c.Sync("/f", md.file_id, SyncLevel::kData).ok());
  REQUIRE(c.Sync("/f", md.file_id, SyncLevel::kDataOnly).ok());
  REQUIRE(c.Sync("/", 0, SyncLevel::kFile).ok());  // a directory: every daemon's log
  CHECK(syncs() == Counts{4, 4, 4});
  REQUIRE(c.Sync("/", 0, SyncLevel::kDataOnly).ok());  // a directory has no data: no request
  CHECK(syncs() == Counts{4, 4, 4});
  REQUIRE(c.SyncFs().ok());
  CHECK(syncs() == Counts{5, 5, 5});
  std::string back(data.size(), 'x');
  size_t n = 0;
  REQUIRE(c.Read("/f", md.file_id, 0, back.data(), back.size(), &n).ok());
  CHECK(back == data);
}

TEST_CASE("symlinks and directory renames", "[roundtrip]") {
  TestFs fs(3);
  Client& c = fs.client();
  Metadata md;
  REQUIRE(c.Symlink("/link", "/some/target").ok());
  CHECK(c.Symlink("/link", "/x").code() == EEXIST);
  REQUIRE(c.Stat("/link", &md).ok());
  CHECK(S_ISLNK(md.mode));
  CHECK(md.link_target == "/some/target");
  CHECK(c.Remove("/link").ok());

  // A tree: /a/{f, b/{g, c/}} with data in the files.
  REQUIRE(c.Mkdir("/a", 0755).ok());
  REQUIRE(c.Mkdir("/a/b", 0755).ok());
  REQUIRE(c.Mkdir("/a/b/c", 0755).ok());
  Metadata f, g;
  REQUIRE(c.Create("/a/f", 0644, true, &f, nullptr).ok());
  REQUIRE(c.Write("/a/f", f.file_id, 0, "file-f", 6).ok());
  REQUIRE(c.Create("/a/b/g", 0644, true, &g, nullptr).ok());
  REQUIRE(c.Write("/a/b/g", g.file_id, 0, "file-g", 6).ok());
  CHECK(c.Rename("/a", "/a/b/inside").code() == EINVAL);
  REQUIRE(c.Mkdir("/full", 0755).ok());
  REQUIRE(c.Create("/full/x", 0644, true, &md, nullptr).ok());
  CHECK(c.Rename("/a", "/full").code() == ENOTEMPTY);
  CHECK(c.Rename("/a", "/full/x").code() == ENOTDIR);
  REQUIRE(c.Mkdir("/empty", 0755).ok());

  REQUIRE(c.Rename("/a", "/empty").ok());  // replaces an empty directory
  CHECK(c.Stat("/a", &md).code() == ENOENT);
  CHECK(c.Stat("/a/b/g", &md).code() == ENOENT);
  std::vector<DirEntry> entries;
  REQUIRE(c.ReadDir("/empty", &entries).ok());
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].name == "b");
  CHECK(entries[1].name == "f");
  REQUIRE(c.Stat("/empty/b/g", &md).ok());
  char buf[8];
  size_t n = 0;
  REQUIRE(c.Read("/empty/b/g", md.file_id, 0, buf, sizeof(buf), &n).ok());
  CHECK(std::string(buf, n) == "file-g");  // the data followed without moving
  REQUIRE(c.Stat("/empty/b/c", &md).ok());
  CHECK(md.is_dir());
  REQUIRE(c.ReadDir("/", &entries).ok());
  CHECK(entries.size() == 2);  // empty, full
}

TEST_CASE("a large write goes through rendezvous into the caller's buffer", "[roundtrip]") {
  TestFs fs(2, 524288);
  Client& c = fs.client();
  Metadata md;
  REQUIRE(c.Create("/big", 0644, true, &md, nullptr).ok());
  std::string data(8 << 20, '\0');
  for (size_t i = 0; i < data.size(); i += 4096) data[i] = static_cast<char>(i >> 12);
  REQUIRE(c.Write("/big", md.file_id, 0, data.data(), data.size()).ok());
  std::string back(data.size(), 'x');
  size_t n = 0;
  REQUIRE(c.Read("/big", md.file_id, 0, back.data(), back.size(), &n).ok());
  CHECK(n == data.size());
  CHECK(back == data);
}

TEST_CASE("--auto-sm: same-host clients use shared memory and see the same file system", "[roundtrip]") {
  TestFs fs(2, 524288, true, "", true);
  Client& c = fs.client();
  CHECK(c.config().auto_sm);
  Metadata md;
  REQUIRE(c.Create("/shm", 0644, true, &md, nullptr).ok());
  std::string data(3 << 20, 's');
  REQUIRE(c.Write("/shm", md.file_id, 0, data.data(), data.size()).ok());
  std::string back(data.size(), 'x');
  size_t n = 0;
  REQUIRE(c.Read("/shm", md.file_id, 0, back.data(), back.size(), &n).ok());
  CHECK(n == data.size());
  CHECK(back == data);
  std::vector<DirEntry> entries;
  REQUIRE(c.ReadDir("/", &entries).ok());
  CHECK(entries.size() == 1);
}

TEST_CASE("ping carries payload both ways", "[roundtrip]") {
  TestFs fs(1);
  std::string out(1 << 20, 'p'), back(2 << 20, 'x');
  REQUIRE(fs.client().Ping(0, out.data(), out.size(), back.data(), back.size()).ok());
  REQUIRE(fs.client().Ping(0, nullptr, 0, nullptr, 0).ok());
  CHECK(fs.client().Ping(7, nullptr, 0, nullptr, 0).code() == EINVAL);
}

TEST_CASE("daemons with a secret refuse clients without it", "[roundtrip]") {
  TestFs fs(2, 4096, true, "00112233445566778899aabbccddeeff");
  Metadata md;
  REQUIRE(fs.client().Stat("/", &md).ok());  // the fixture's client presents it
  ClientOptions co;
  co.hosts_file = fs.hosts();
  co.timeout_ms = 3000;
  std::unique_ptr<Client> stranger;
  Status s = Client::Connect(co, &stranger);
  CHECK(s.code() == EACCES);
  CHECK(s.message().find("secret") != std::string::npos);
  FILE* f = fopen((fs.hosts() + ".bad").c_str(), "w");
  fputs("not-hex", f);
  fclose(f);
  co.secret_file = fs.hosts() + ".bad";
  CHECK(Client::Connect(co, &stranger).code() == EINVAL);
}

TEST_CASE("an unreachable daemon gives EHOSTDOWN, not a hang", "[roundtrip]") {
  char tmpl[] = "/tmp/gkfs-unit-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string hosts = dir + "/hosts";
  FILE* f = fopen(hosts.c_str(), "w");
  fputs("nohost ucx+tcp://127.0.0.1:9\n", f);
  fclose(f);
  ClientOptions co;
  co.hosts_file = hosts;
  co.timeout_ms = 2000;
  std::unique_ptr<Client> client;
  Status s = Client::Connect(co, &client);
  CHECK(s.code() == EHOSTDOWN);
  co.hosts_file = dir + "/missing";
  CHECK(Client::Connect(co, &client).code() == ENOENT);
  f = fopen(hosts.c_str(), "w");
  fclose(f);
  co.hosts_file = hosts;
  CHECK(Client::Connect(co, &client).code() == EINVAL);
  std::string cmd = "rm -rf " + dir;
  (void)system(cmd.c_str());
}
