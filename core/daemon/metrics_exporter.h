// MetricsExporter: makes a daemon's metrics (DaemonMetrics) available to Prometheus: serves
// them over HTTP (GET /metrics) on ADDRESS:PORT, and/or pushes them to a Pushgateway
// (PUT /metrics/job/gkfs/instance/<instance>) every push interval and once more when it
// stops. Owns one thread, which blocks in poll(2) between events. Requests are answered one
// at a time, each bounded by socket timeouts (kIoTimeoutMs), so a stalled scraper or
// gateway delays the next scrape or push, never the file system.
#pragma once

#include <memory>
#include <string>

#include "daemon/metrics.h"
#include "gkfs/status.h"

namespace gkfs {

class MetricsExporter {
 public:
  struct Options {
    std::string address;      // IPv4 address the HTTP server binds to
    uint16_t port = 0;        // 0: no HTTP server
    std::string gateway;      // "host:port" (or "http://host:port") of a Pushgateway; empty: none
    double push_interval_s = 5.0;
    std::string instance;     // the Pushgateway's instance label (host:port of the daemon)
  };
  static constexpr int kIoTimeoutMs = 2000;

  // Binds the port (EADDRINUSE and friends name it) and starts the thread.
  // REQUIRES: metrics outlives the exporter.
  static Status Start(const Options& options, const DaemonMetrics* metrics,
                      std::unique_ptr<MetricsExporter>* out);
  // Stops the thread after a last push (if pushing).
  ~MetricsExporter();

  class Impl;

 private:
  explicit MetricsExporter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace gkfs
