// The client transport's failure rules (client_transport.h): the liveness bookkeeping on its
// own, then ClientTransport against real in-process daemons, a daemon restarted on its
// port, and a silent peer (a socket that accepts connections and never speaks, as a frozen
// daemon's kernel does).
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "gkfs/daemon.h"
#include "rpc/repeatable.h"
#include "rpc/schema.h"
#include "transport/client_transport.h"
#include "transport/liveness.h"

using namespace gkfs;
using transport::Call;
using transport::ClientTransport;
using transport::Liveness;

namespace {

using ms = std::chrono::milliseconds;

// One daemon (in-memory metadata) serving from a thread, on 127.0.0.1:port (0: any).
class LoopbackDaemon {
 public:
  LoopbackDaemon(const std::string& rootdir, uint16_t port) {
    DaemonOptions o;
    o.rootdir = rootdir;
    o.port = port;
    o.use_memory_backend = true;
    REQUIRE(Daemon::Create(o, &daemon_).ok());
    thread_ = std::thread([this] { daemon_->Run(); });
  }
  ~LoopbackDaemon() {
    daemon_->Shutdown();
    thread_.join();
  }
  std::string uri() const { return daemon_->uri(); }

 private:
  std::unique_ptr<Daemon> daemon_;
  std::thread thread_;
};

// A listening socket nobody accepts on: connections complete, requests are never answered.
class SilentPeer {
 public:
  SilentPeer() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&sa), len) == 0);
    REQUIRE(listen(fd_, 64) == 0);
    REQUIRE(getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len) == 0);
    port_ = ntohs(sa.sin_port);
  }
  ~SilentPeer() { Close(); }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  uint16_t port() const { return port_; }
  std::string uri() const { return "ucx+tcp://127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/gkfs-unit-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { (void)system(("rm -rf " + path_).c_str()); }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

Call PingCall(uint32_t daemon) {
  Call call;
  call.daemon = daemon;
  call.verb = rpc::Verb::kPing;
  call.body = rpc::EncodeBody(rpc::PingRequest());
  return call;
}

Status Ping(ClientTransport& t, uint32_t daemon) {
  Call call = PingCall(daemon);
  t.Run({&call});
  return call.status;
}

Status CreateExclusive(ClientTransport& t, uint32_t daemon, const std::string& path) {
  rpc::CreateRequest req;
  req.path = path;
  req.mode = 0100644;
  req.exclusive = 1;
  Call call;
  call.daemon = daemon;
  call.verb = rpc::Verb::kCreate;
  call.body = rpc::EncodeBody(req);
  t.Run({&call});
  return call.status;
}

ClientTransport::Options Limits(int timeout_ms, int down_recheck_ms, int recheck_timeout_ms) {
  ClientTransport::Options o;
  o.timeout_ms = timeout_ms;
  o.down_recheck_ms = down_recheck_ms;
  o.recheck_timeout_ms = recheck_timeout_ms;
  return o;
}

std::unique_ptr<ClientTransport> Transport(const std::vector<std::string>& uris,
                                           const ClientTransport::Options& o) {
  std::unique_ptr<ClientTransport> t;
  REQUIRE(ClientTransport::Create(uris, o, &t).ok());
  return t;
}

// One daemon and a transport whose endpoint to it has answered; Restart() stops the daemon
// while the client is idle and starts it again on its address.
struct RestartFixture {
  TempDir dir;
  std::unique_ptr<LoopbackDaemon> daemon = std::make_unique<LoopbackDaemon>(dir.sub("d0"), 0);
  std::string uri = daemon->uri();
  std::unique_ptr<ClientTransport> t = Transport({uri}, Limits(5000, 5000, 1000));

  RestartFixture() { REQUIRE(Ping(*t, 0).ok()); }
  void Restart() {
    auto port = static_cast<uint16_t>(std::stoi(uri.substr(uri.rfind(':') + 1)));
    daemon.reset();
    daemon = std::make_unique<LoopbackDaemon>(dir.sub("d0"), port);
    REQUIRE(daemon->uri() == uri);
  }
};

bool Says(const Status& s, const std::string& text) {
  return s.message().find(text) != std::string::npos;
}

}  // namespace

TEST_CASE("liveness: down after a timeout, rechecked after the interval, up on an answer",
          "[failover]") {
  Liveness live(2, ms(1000));
  auto t0 = Liveness::Clock::now();
  CHECK(live.Check(1, t0) == Liveness::Verdict::kUp);
  live.MarkDown(1, t0, "daemon X did not answer within 5000 ms");
  CHECK(live.IsDown(1));
  CHECK(live.Check(0, t0) == Liveness::Verdict::kUp);  // the others are not affected
  CHECK(live.Check(1, t0 + ms(999)) == Liveness::Verdict::kDown);
  Status s = live.DownStatus(1, t0 + ms(400));
  CHECK(s.code() == EHOSTDOWN);
  CHECK(Says(s, "did not answer within 5000 ms"));
  CHECK(Says(s, "next in 600 ms"));
  CHECK(live.Check(1, t0 + ms(1000)) == Liveness::Verdict::kRecheck);
  live.MarkDown(1, t0 + ms(1300), "no answer to a recheck");  // silent again: another interval
  CHECK(live.Check(1, t0 + ms(2299)) == Liveness::Verdict::kDown);
  CHECK(live.Check(1, t0 + ms(2300)) == Liveness::Verdict::kRecheck);
  live.MarkUp(1);
  CHECK(live.Check(1, t0 + ms(2300)) == Liveness::Verdict::kUp);
  CHECK_FALSE(live.IsDown(1));
}

TEST_CASE("only verbs whose second execution answers alike are repeated", "[failover]") {
  for (auto verb : {rpc::Verb::kStat, rpc::Verb::kReadChunks, rpc::Verb::kWriteChunks,
                    rpc::Verb::kGrowSize, rpc::Verb::kPing, rpc::Verb::kReadDir}) {
    CHECK(rpc::SafeToRepeat(verb));
  }
  for (auto verb : {rpc::Verb::kCreate, rpc::Verb::kCreateInDir, rpc::Verb::kRemove,
                    rpc::Verb::kRemoveInDir, rpc::Verb::kReserveAppend, rpc::Verb::kTouchDir,
                    rpc::Verb::kPutEntry, rpc::Verb::kLinks, rpc::Verb::kRelease, rpc::Verb::kUntouchDir,
                    rpc::Verb::kFwdWrite, rpc::Verb::kFwdRename}) {
    CHECK_FALSE(rpc::SafeToRepeat(verb));
  }
}

TEST_CASE("the first call after a daemon restarted on its address succeeds", "[failover]") {
  RestartFixture fs;
  for (int restart = 0; restart < 2; ++restart) {
    fs.Restart();
    // Not safe to repeat, so this only works when nothing went to the old daemon.
    std::string path = "/made-after-restart-" + std::to_string(restart);
    Status s = CreateExclusive(*fs.t, 0, path);
    INFO(s.ToString());
    CHECK(s.ok());
    CHECK(CreateExclusive(*fs.t, 0, path).code() == EEXIST);  // made once
  }
}

TEST_CASE("a call lost with a stale endpoint is resent only if its verb is safe to repeat",
          "[failover]") {
  RestartFixture fs;
  fs.t->TEST_SetDrainAfterIdle(ms(3600 * 1000));  // calls go out on the stale endpoint
  fs.Restart();
  Status ping = Ping(*fs.t, 0);  // lost with the old connection, resent on a fresh one
  INFO(ping.ToString());
  CHECK(ping.ok());

  fs.Restart();
  Status create = CreateExclusive(*fs.t, 0, "/f");  // the old daemon might have made it
  CHECK(create.code() == EHOSTDOWN);
  CHECK(CreateExclusive(*fs.t, 0, "/f").ok());  // the next call has a fresh endpoint
}

TEST_CASE("a silent daemon costs one timeout, then fails at once until a recheck answers",
          "[failover]") {
  TempDir dir;
  LoopbackDaemon healthy(dir.sub("d0"), 0);
  SilentPeer silent;
  auto o = Limits(300, 500, 200);
  auto t = Transport({healthy.uri(), silent.uri()}, o);

  // The first call waits the timeout; the healthy daemon's call beside it is answered.
  Call to_healthy = PingCall(0), to_silent = PingCall(1);
  t->Run({&to_healthy, &to_silent});
  CHECK(to_healthy.status.ok());
  CHECK(to_silent.status.code() == EHOSTDOWN);
  CHECK(Says(to_silent.status, "did not answer within 300 ms"));

  // Then every call to it fails at once, saying so; the healthy daemon serves meanwhile.
  for (int i = 0; i < 20; ++i) {
    Status s = Ping(*t, 1);
    CHECK(s.code() == EHOSTDOWN);
    CHECK(Says(s, "marked down"));
    CHECK(Ping(*t, 0).ok());
  }

  // A daemon on the silent one's address: the first call after the interval rechecks it
  // and goes through.
  silent.Close();
  LoopbackDaemon back(dir.sub("d1"), silent.port());
  std::this_thread::sleep_for(ms(o.down_recheck_ms + 100));
  Status s = Ping(*t, 1);
  INFO(s.ToString());
  CHECK(s.ok());
  CHECK(Ping(*t, 1).ok());
}

TEST_CASE("a recheck that gets no answer keeps the daemon down for another interval",
          "[failover]") {
  SilentPeer silent;
  auto o = Limits(300, 200, 100);
  auto t = Transport({silent.uri()}, o);
  CHECK(Says(Ping(*t, 0), "did not answer within 300 ms"));
  std::this_thread::sleep_for(ms(o.down_recheck_ms + 50));
  Status recheck = Ping(*t, 0);  // held behind the recheck, which gets no answer
  CHECK(recheck.code() == EHOSTDOWN);
  CHECK(Says(recheck, "did not answer a recheck within 100 ms"));
  Status after = Ping(*t, 0);
  CHECK(Says(after, "marked down"));
  CHECK_FALSE(Says(after, "next in 0 ms"));
}
