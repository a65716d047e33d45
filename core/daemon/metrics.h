// DaemonMetrics: renders one daemon's metrics in the Prometheus text exposition format 0.0.4,
// from the server's RequestMetrics and the providers' own counters (sizes of the metadata
// and chunk stores, syncs, and in forwarding mode the I/O queue's waits and merges). The
// same text goes to /metrics (MetricsExporter), to a Pushgateway and, through the Metrics
// RPC, to gkfs-ctl stats. Holds pointers only; Render() is thread-safe.
#pragma once

#include <string>

#include "daemon/metadata_provider.h"
#include "daemon/data_provider.h"
#include "daemon/sync_provider.h"
#include "transport/request_metrics.h"

namespace gkfs {

class ForwardingProvider;

struct MetricsSources {
  const transport::RequestMetrics* requests = nullptr;
  MetadataProvider* metadata = nullptr;  // normal mode; null in forwarding mode
  DataProvider* data = nullptr;          // normal mode; null in forwarding mode
  SyncProvider* sync = nullptr;          // normal mode; null in forwarding mode
  ForwardingProvider* forwarding = nullptr;  // forwarding mode only
  std::string rootdir;                   // capacity (statvfs); forwarding: the PFS directory
  std::string uri;
};

class DaemonMetrics {
 public:
  explicit DaemonMetrics(MetricsSources sources) : sources_(std::move(sources)) {}
  // The whole exposition, every family with # HELP and # TYPE lines.
  std::string Render() const;

 private:
  MetricsSources sources_;
};

}  // namespace gkfs
