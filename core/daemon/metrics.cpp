#include "daemon/metrics.h"

#include <sys/statvfs.h>

#include <cinttypes>
#include <cstdio>
#include <vector>

#include "daemon/forwarding/forwarding.h"

namespace gkfs {
namespace {

// Appends exposition lines. Label values here are verb names, numbers and a version
// string, none of which needs escaping beyond what Quote does.
class Exposition {
 public:
  void Family(const char* name, const char* type, const char* help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  void Sample(const std::string& name, const std::string& labels, uint64_t value) {
    char number[32];
    snprintf(number, sizeof(number), "%" PRIu64, value);
    Line(name, labels, number);
  }
  void Sample(const std::string& name, const std::string& labels, double value) {
    char number[40];
    snprintf(number, sizeof(number), "%.9g", value);
    Line(name, labels, number);
  }
  static std::string Quote(const std::string& value) {
    std::string q = "\"";
    for (char c : value) {
      if (c == '\\' || c == '"') q += '\\';
      if (c == '\n') {
        q += "\\n";
        continue;
      }
      q += c;
    }
    return q + "\"";
  }
  std::string& text() { return out_; }

 private:
  void Line(const std::string& name, const std::string& labels, const char* number) {
    out_ += name;
    if (!labels.empty()) out_ += "{" + labels + "}";
    out_ += ' ';
    out_ += number;
    out_ += '\n';
  }
  std::string out_;
};

std::string VerbLabel(size_t v) {
  return "verb=" + Exposition::Quote(rpc::VerbName(static_cast<rpc::Verb>(v)));
}

// Per verb: replies by outcome, payload bytes, latency histogram. Verbs never requested
// are left out (their series would all be zero).
void RenderRequests(const transport::RequestMetrics& m, Exposition* e) {
  using transport::RequestMetrics;
  std::vector<size_t> seen;
  for (size_t v = 0; v < RequestMetrics::kVerbs; ++v) {
    const auto& c = m.verb(v);
    if (c.ok.load(std::memory_order_relaxed) + c.errors.load(std::memory_order_relaxed) > 0) seen.push_back(v);
  }
  e->Family("gkfs_requests_total", "counter", "Requests answered, by verb and outcome (ok, error: an errno).");
  for (size_t v : seen) {
    e->Sample("gkfs_requests_total", VerbLabel(v) + ",outcome=\"ok\"", m.verb(v).ok.load(std::memory_order_relaxed));
    e->Sample("gkfs_requests_total", VerbLabel(v) + ",outcome=\"error\"",
              m.verb(v).errors.load(std::memory_order_relaxed));
  }
  e->Family("gkfs_request_payload_bytes_total", "counter", "Bulk bytes received with requests, by verb.");
  for (size_t v : seen) e->Sample("gkfs_request_payload_bytes_total", VerbLabel(v), m.verb(v).bytes_in.load());
  e->Family("gkfs_reply_payload_bytes_total", "counter", "Bulk bytes sent with successful replies, by verb.");
  for (size_t v : seen) e->Sample("gkfs_reply_payload_bytes_total", VerbLabel(v), m.verb(v).bytes_out.load());
  e->Family("gkfs_request_duration_seconds", "histogram",
            "Time from the dispatch of a complete request to its reply, by verb.");
  for (size_t v : seen) {
    const auto& c = m.verb(v);
    uint64_t cumulative = 0;
    for (size_t b = 0; b < RequestMetrics::kBuckets; ++b) {
      cumulative += c.buckets[b].load(std::memory_order_relaxed);
      char le[32];
      if (b < RequestMetrics::kBucketBoundsNs.size()) {
        snprintf(le, sizeof(le), "%g", RequestMetrics::kBucketBoundsNs[b] / 1e9);
      } else {
        snprintf(le, sizeof(le), "+Inf");
      }
      e->Sample("gkfs_request_duration_seconds_bucket", VerbLabel(v) + ",le=\"" + le + "\"", cumulative);
    }
    e->Sample("gkfs_request_duration_seconds_sum", VerbLabel(v), c.latency_ns.load(std::memory_order_relaxed) / 1e9);
    e->Sample("gkfs_request_duration_seconds_count", VerbLabel(v), cumulative);
  }
  auto total = [&m](std::initializer_list<rpc::Verb> verbs, bool in) {
    uint64_t sum = 0;
    for (rpc::Verb v : verbs) {
      const auto& c = m.verb(static_cast<size_t>(v));
      sum += (in ? c.bytes_in : c.bytes_out).load(std::memory_order_relaxed);
    }
    return sum;
  };
  e->Family("gkfs_written_bytes_total", "counter", "File data bytes written by clients (chunk or PFS writes).");
  e->Sample("gkfs_written_bytes_total", "", total({rpc::Verb::kWriteChunks, rpc::Verb::kFwdWrite}, true));
  e->Family("gkfs_read_bytes_total", "counter", "File data bytes returned to clients (chunk or PFS reads).");
  e->Sample("gkfs_read_bytes_total", "", total({rpc::Verb::kReadChunks, rpc::Verb::kFwdRead}, false));
  e->Family("gkfs_rejected_requests_total", "counter", "Requests with a malformed header (no verb).");
  e->Sample("gkfs_rejected_requests_total", "", m.rejected());
  e->Family("gkfs_connected_clients", "gauge", "Client endpoints connected over the network now.");
  e->Sample("gkfs_connected_clients", "", m.connections());
}

void RenderStores(const MetricsSources& s, Exposition* e) {
  e->Family("gkfs_metadata_entries", "gauge", "Directory entries held by this daemon.");
  e->Sample("gkfs_metadata_entries", "", s.metadata->CountRecords());
  e->Family("gkfs_metadata_store_reads_total", "counter",
            "RocksDB lookups of the metadata provider (entries and inodes its caches did not hold).");
  e->Sample("gkfs_metadata_store_reads_total", "", s.metadata->CountStoreReads());
  e->Family("gkfs_metadata_store_bytes", "gauge", "Bytes of the metadata store (RocksDB tables and memtables).");
  e->Sample("gkfs_metadata_store_bytes", "", s.metadata->StoreBytes());
  e->Family("gkfs_orphans", "gauge", "Files unlinked while open, kept until their last close.");
  e->Sample("gkfs_orphans", "", s.metadata->CountOrphans());
  e->Family("gkfs_chunk_store_bytes", "gauge", "Bytes of chunk files (counted at most 2 s ago, plus writes since).");
  e->Sample("gkfs_chunk_store_bytes", "", s.data->BytesUsed());
  e->Family("gkfs_syncs_total", "counter", "Sync requests (fsync and its relatives) served.");
  e->Sample("gkfs_syncs_total", "", s.sync->syncs());
}

void RenderForwarding(ForwardingProvider* fwd, Exposition* e) {
  rpc::FwdStatsReply totals;
  std::vector<rpc::AppStats> apps;
  fwd->Statistics(&totals, &apps);
  e->Family("gkfs_fwd_pending_requests", "gauge", "Requests waiting in the I/O node's scheduler queue.");
  e->Sample("gkfs_fwd_pending_requests", "", totals.pending);
  e->Family("gkfs_fwd_in_service_requests", "gauge", "Requests being executed on the PFS.");
  e->Sample("gkfs_fwd_in_service_requests", "", totals.in_service);
  e->Family("gkfs_fwd_scheduler_errors_total", "counter", "Scheduler failures (the queue fell back to FIFO).");
  e->Sample("gkfs_fwd_scheduler_errors_total", "", totals.scheduler_errors);
  struct Counter {
    const char* name;
    const char* help;
    double (*value)(const rpc::AppStats&);
  };
  static const Counter kCounters[] = {
      {"gkfs_fwd_requests_total", "Reads and writes scheduled, by application.",
       [](const rpc::AppStats& a) { return double(a.requests); }},
      {"gkfs_fwd_bytes_total", "Bytes requested by reads and writes, by application.",
       [](const rpc::AppStats& a) { return double(a.bytes); }},
      {"gkfs_fwd_pfs_operations_total", "PFS operations issued (merged requests count once), by application.",
       [](const rpc::AppStats& a) { return double(a.units); }},
      {"gkfs_fwd_merged_requests_total", "Requests that rode in another request's PFS operation, by application.",
       [](const rpc::AppStats& a) { return double(a.requests - a.units); }},
      {"gkfs_fwd_queue_wait_seconds_total", "Time requests waited in the queue (arrival to dispatch), summed.",
       [](const rpc::AppStats& a) { return a.queue_wait_ns / 1e9; }},
      {"gkfs_fwd_service_seconds_total", "PFS time of the requests, summed.",
       [](const rpc::AppStats& a) { return a.service_ns / 1e9; }},
  };
  for (const Counter& c : kCounters) {
    e->Family(c.name, "counter", c.help);
    for (const auto& a : apps) e->Sample(c.name, "app=\"" + std::to_string(a.app_id) + "\"", c.value(a));
  }
}

}  // namespace

std::string DaemonMetrics::Render() const {
  Exposition e;
  e.Family("gkfs_info", "gauge", "This daemon: version, mode and address (value always 1).");
  e.Sample("gkfs_info",
           "version=" + Exposition::Quote(GKFS_VERSION) + ",mode=\"" +
               (sources_.forwarding ? "forwarding" : "normal") + "\",uri=" + Exposition::Quote(sources_.uri),
           uint64_t{1});
  RenderRequests(*sources_.requests, &e);
  if (sources_.forwarding != nullptr) {
    RenderForwarding(sources_.forwarding, &e);
  } else {
    RenderStores(sources_, &e);
  }
  struct statvfs vfs;
  if (statvfs(sources_.rootdir.c_str(), &vfs) == 0) {
    e.Family("gkfs_storage_total_bytes", "gauge", "Size of the file system holding the root (or PFS) directory.");
    e.Sample("gkfs_storage_total_bytes", "", static_cast<uint64_t>(vfs.f_blocks) * vfs.f_frsize);
    e.Family("gkfs_storage_free_bytes", "gauge", "Bytes available there to unprivileged users.");
    e.Sample("gkfs_storage_free_bytes", "", static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize);
  }
  return std::move(e.text());
}

}  // namespace gkfs
