// The server's reply barrier (transport/server.h): a reply leaves only after a barrier that
// began after its request was handled (the daemon's group commit of the metadata log), and a
// failed barrier fails the replies it held back of verbs that change metadata. A real Server
// and ClientTransport over loopback tcp, with a handler and a barrier of the test's own.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "rpc/schema.h"
#include "transport/client_transport.h"
#include "transport/server.h"

using namespace gkfs;
using transport::Call;
using transport::ClientTransport;

namespace {

// A server whose handler numbers the requests it handles (1, 2, ...) and replies that number;
// its barrier records how many were handled when it began, then (slowly) returns status.
class BarrierServer {
 public:
  BarrierServer() {
    auto handler = [this](const transport::Request&, transport::Response* out) {
      out->body = std::to_string(handled_.fetch_add(1) + 1);
    };
    REQUIRE(transport::Server::Create("ucx+tcp", "127.0.0.1", 0, false, handler, &server_).ok());
    server_->SetReplyBarrier([this] {
      const uint64_t handled = handled_.load();
      if (handled == covered_.load()) return Status::OK();  // nothing new: the idle call
      // A reply sent before this returns would reach the client before covered_ moves.
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      covered_.store(handled);
      return fail_.load() ? Status::Error(EIO, "test barrier failed") : Status::OK();
    });
    thread_ = std::thread([this] { server_->Run(); });
    ClientTransport::Options o;
    o.timeout_ms = 10000;
    const std::string uri = "ucx+tcp://127.0.0.1:" + std::to_string(server_->port());
    REQUIRE(ClientTransport::Create({uri}, o, &client_).ok());
  }
  ~BarrierServer() {
    client_.reset();
    server_->Stop();
    thread_.join();
  }
  // Sends n requests of verb at once (the handler ignores their bodies); their calls when
  // all are done.
  std::vector<Call> Send(rpc::Verb verb, int n) {
    std::vector<Call> calls(n);
    std::vector<Call*> out;
    for (Call& c : calls) {
      c.verb = verb;
      c.body = rpc::EncodeBody(rpc::PingRequest());
      out.push_back(&c);
    }
    client_->Run(out);
    return calls;
  }
  std::vector<Call> Pings(int n) { return Send(rpc::Verb::kPing, n); }
  uint64_t covered() const { return covered_.load(); }
  void FailBarriers() { fail_.store(true); }

 private:
  std::atomic<uint64_t> handled_{0};
  std::atomic<uint64_t> covered_{0};   // requests handled before the last barrier began
  std::atomic<bool> fail_{false};
  std::unique_ptr<transport::Server> server_;
  std::thread thread_;
  std::unique_ptr<ClientTransport> client_;
};

}  // namespace

TEST_CASE("a reply leaves after a barrier that covers its request", "[transport][barrier]") {
  BarrierServer s;
  for (int round = 0; round < 5; ++round) {
    for (const Call& c : s.Pings(round == 0 ? 1 : 8)) {
      INFO(c.status.ToString());
      REQUIRE(c.status.ok());
      // The barrier had covered this request when the client got its reply.
      CHECK(s.covered() >= std::stoull(c.reply_body));
    }
  }
  CHECK(s.covered() == 1 + 4 * 8);
}

TEST_CASE("a failed barrier fails the replies it held back, of verbs that change metadata", "[transport][barrier]") {
  BarrierServer s;
  REQUIRE(s.Pings(1)[0].status.ok());
  s.FailBarriers();
  for (const Call& c : s.Send(rpc::Verb::kTouchDir, 3)) CHECK(c.status.code() == EIO);
  // Replies of verbs that change no metadata go out as they are.
  for (const Call& c : s.Pings(3)) CHECK(c.status.ok());
  for (const Call& c : s.Send(rpc::Verb::kStat, 3)) CHECK(c.status.ok());
}
