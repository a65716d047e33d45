// RequestMetrics: what a Server counts of the requests it answers, per verb: replies by
// outcome, payload bytes in and out, and a latency histogram (from the dispatch of the
// complete request to its reply handed to UCX, deferred replies included). Owned by the
// Server. Written by its progress thread only (every reply is sent there), so a count is a
// relaxed load and store, no read-modify-write and no lock on the hot path; read by any
// thread (the metrics exporter), which sees each counter whole but not all of them at once.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "rpc/schema.h"

namespace gkfs::transport {

class RequestMetrics {
 public:
  static constexpr size_t kVerbs = static_cast<size_t>(rpc::Verb::kCount);
  // Upper bounds of the latency buckets, in nanoseconds (10 us .. 1 s); one more, +Inf.
  static constexpr std::array<uint64_t, 12> kBucketBoundsNs = {
      10000,    25000,    50000,     100000,    250000,    500000,
      1000000,  2500000,  10000000,  50000000,  250000000, 1000000000};
  static constexpr size_t kBuckets = kBucketBoundsNs.size() + 1;

  // One verb's counters. Buckets are not cumulative here (the exporter sums them).
  struct VerbCounters {
    std::atomic<uint64_t> ok{0}, errors{0};
    std::atomic<uint64_t> bytes_in{0}, bytes_out{0};  // request / reply payload bytes
    std::atomic<uint64_t> latency_ns{0};              // sum over replies
    std::array<std::atomic<uint64_t>, kBuckets> buckets{};
  };

  // REQUIRES: the calling thread is the only writer (the server's progress thread).
  void Record(uint16_t verb, int status, uint64_t bytes_in, uint64_t bytes_out, uint64_t latency_ns) {
    if (verb >= kVerbs) {
      Bump(rejected_, 1);
      return;
    }
    VerbCounters& v = verbs_[verb];
    Bump(status == 0 ? v.ok : v.errors, 1);
    if (bytes_in) Bump(v.bytes_in, bytes_in);
    if (bytes_out) Bump(v.bytes_out, bytes_out);
    Bump(v.latency_ns, latency_ns);
    size_t b = 0;
    while (b < kBucketBoundsNs.size() && latency_ns > kBucketBoundsNs[b]) ++b;
    Bump(v.buckets[b], 1);
  }
  // REQUIRES: the single writer, as Record.
  void SetConnections(uint64_t n) { connections_.store(n, std::memory_order_relaxed); }

  const VerbCounters& verb(size_t v) const { return verbs_[v]; }
  uint64_t rejected() const { return rejected_.load(std::memory_order_relaxed); }
  uint64_t connections() const { return connections_.load(std::memory_order_relaxed); }

 private:
  static void Bump(std::atomic<uint64_t>& c, uint64_t n) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::array<VerbCounters, kVerbs> verbs_{};
  std::atomic<uint64_t> rejected_{0};     // malformed headers (no verb to count them under)
  std::atomic<uint64_t> connections_{0};  // network endpoints of clients now open
};

}  // namespace gkfs::transport
