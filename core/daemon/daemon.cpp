// DaemonImpl: wires the providers, the handler table and the transport Server together.
#include "gkfs/daemon.h"

#include <ftw.h>
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "common/chunk.h"
#include "common/hosts_file.h"
#include "common/log.h"
#include "common/secret.h"
#include "daemon/forwarding/forwarding.h"
#include "daemon/handlers.h"
#include "daemon/metrics_exporter.h"
#include "daemon/session_reaper.h"
#include "transport/worker.h"

namespace gkfs {

// listen_address.cpp: "127.0.0.1" stays; an interface name ("lo") becomes its IPv4 address.
Status ResolveListen(const std::string& listen, std::string* address);

namespace {

Status MakeDirs(const std::string& path) {
  std::string partial;
  for (size_t pos = 0; pos != std::string::npos;) {
    pos = path.find('/', pos + 1);
    partial = path.substr(0, pos);
    if (partial.empty()) continue;
    if (mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
      return Status::Error(errno, "cannot create directory '" + partial + "': " + strerror(errno));
    }
  }
  return Status::OK();
}

Status RemoveTree(const std::string& path) {
  if (path.empty() || path == "/") return Status::Error(EINVAL, "refusing to remove '" + path + "'");
  auto remove_one = [](const char* p, const struct stat*, int, struct FTW*) { return remove(p); };
  if (nftw(path.c_str(), remove_one, 32, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT) {
    return Status::Error(errno, "cannot remove '" + path + "': " + strerror(errno));
  }
  return Status::OK();
}

class DaemonImpl : public Daemon {
 public:
  explicit DaemonImpl(DaemonOptions options) : options_(std::move(options)) {}

  Status Init() {
    if (options_.rootdir.empty()) return Status::Error(EINVAL, "--rootdir is required");
    if (!IsValidChunkSize(options_.chunk_size)) {
      return Status::Error(EINVAL, "--chunk-size " + std::to_string(options_.chunk_size) +
                                       " is not a power of two between 4096 and 2^31");
    }
    if (options_.metadir.empty()) options_.metadir = options_.rootdir + "/metadata";
    std::string address;
    Status s = ResolveListen(options_.listen, &address);
    if (!s.ok()) return s;
    if (options_.clean_rootdir) {
      if (!(s = RemoveTree(options_.rootdir)).ok()) return s;
      if (!(s = RemoveTree(options_.metadir)).ok()) return s;
    }
    if (!(s = MakeDirs(options_.rootdir)).ok() || !(s = MakeDirs(options_.metadir)).ok()) return s;

    // The identity orders this daemon among the others for placement, whatever its port:
    // a file system restarted on the same root directories finds every file.
    if (!options_.enable_forwarding && !(s = DaemonIdentity(options_.rootdir, &identity_)).ok()) return s;
    providers_.chunk_size = options_.chunk_size;
    providers_.mountdir = options_.mountdir;
    providers_.rootdir = options_.rootdir;
    providers_.storage_dir = options_.enable_forwarding ? options_.pfs_dir : options_.rootdir;
    providers_.auto_sm = options_.auto_sm;
    providers_.host_id = transport::HostIdentity();
    if (!options_.enable_forwarding && !(s = OpenStores()).ok()) return s;
    // One handler table for both modes: forwarding mode only changes the providers behind it.
    auto handler = [this](const Request& req, Response* out) { HandleRequest(providers_, req, out); };
    s = transport::Server::Create(options_.protocol, address, options_.port, options_.auto_sm, handler, &server_);
    if (!s.ok()) return s;
    providers_.worker_address = server_->worker_address();
    providers_.server = server_.get();
    // Group commit: the metadata updates of the requests one turn served reach the OS in one
    // write, before any of their replies (forwarding mode keeps no metadata store).
    if (metadata_) server_->SetReplyBarrier([m = metadata_.get()] { return m->Flush(); });
    if (!options_.enable_forwarding && options_.io_threads > 0) {
      io_ = std::make_unique<WorkerPool>(static_cast<unsigned>(options_.io_threads));
      providers_.io = io_.get();
    }
    if (options_.enable_forwarding) {
      if (!(s = ForwardingProvider::Create(options_, server_.get(), &forwarding_)).ok()) return s;
      providers_.metadata = forwarding_->metadata();
      providers_.sync = forwarding_->sync();
      providers_.forwarding = forwarding_.get();
    }
    if (!options_.secret_file.empty()) {
      Secret secret;
      if (!(s = ReadSecretFile(options_.secret_file, &secret)).ok()) return s;
      server_->RequireSecret(secret);
    }
    uri_ = options_.protocol + "://" + address + ":" + std::to_string(server_->port());
    return StartMetrics(address);
  }

  std::string uri() const override { return uri_; }

  // Normal mode: the metadata store (RocksDB, or memory), the chunk store and their sync.
  Status OpenStores() {
    std::unique_ptr<KvStore> store;
    Status s;
    if (options_.use_memory_backend) {
      store = NewMemoryStore();
    } else if (!(s = OpenRocksDbStore(options_.metadir, &store)).ok()) {
      return s;
    }
    metadata_ = std::make_unique<MetadataProvider>(std::move(store),
                                                   static_cast<int64_t>(options_.session_lease_s * 1000 + 0.5));
    if (!(s = metadata_->Open(options_.metadir, geteuid(), getegid())).ok()) return s;
    const bool syncing = options_.sync_mode == SyncMode::kFull;
    data_ = std::make_unique<DataProvider>(options_.rootdir, options_.chunk_size, syncing);
    if (!(s = data_->Init()).ok()) return s;
    sync_ = std::make_unique<SyncProvider>(options_.sync_mode, data_.get(), metadata_.get());
    providers_.metadata = metadata_.get();
    providers_.data = data_.get();
    providers_.sync = sync_.get();
    return Status::OK();
  }

  // The metrics renderer always exists (the Metrics verb); the exporter only when asked.
  Status StartMetrics(const std::string& address) {
    MetricsSources sources;
    sources.requests = &server_->metrics();
    if (forwarding_) {
      sources.forwarding = forwarding_.get();
      sources.rootdir = options_.pfs_dir;
    } else {
      sources.metadata = metadata_.get();
      sources.data = data_.get();
      sources.sync = sync_.get();
      sources.rootdir = options_.rootdir;
    }
    sources.uri = uri_;
    address_ = address;
    metrics_ = std::make_unique<DaemonMetrics>(std::move(sources));
    providers_.metrics = metrics_.get();
    if (options_.metrics_port == 0 && options_.prometheus_gateway.empty()) return Status::OK();
    MetricsExporter::Options m;
    m.address = address;
    m.port = options_.metrics_port;
    m.gateway = options_.prometheus_gateway;
    m.push_interval_s = options_.push_interval_s;
    m.instance = address + ":" + std::to_string(server_->port());
    return MetricsExporter::Start(m, metrics_.get(), &exporter_);
  }

  Status Run() override {
    if (!options_.hosts_file.empty()) {
      char host[256] = {0};
      gethostname(host, sizeof(host) - 1);
      Status s = AppendHostsFile(options_.hosts_file, HostEntry{host, uri_, identity_});
      if (!s.ok()) return s;
      if (!forwarding_) StartReaper();
    }
    if (forwarding_) {
      fprintf(stderr, "gkfs daemon %s forwarding %s to %s\n", GKFS_VERSION, uri_.c_str(), options_.pfs_dir.c_str());
    } else {
      fprintf(stderr, "gkfs daemon %s serving %s (rootdir %s, chunk size %llu)\n", GKFS_VERSION, uri_.c_str(),
              options_.rootdir.c_str(), static_cast<unsigned long long>(options_.chunk_size));
    }
    if (options_.metrics_port != 0) {
      fprintf(stderr, "metrics at http://%s:%u/metrics\n", address_.c_str(), options_.metrics_port);
    }
    if (!options_.prometheus_gateway.empty()) {
      fprintf(stderr, "metrics pushed to the Pushgateway %s every %gs\n", options_.prometheus_gateway.c_str(),
              options_.push_interval_s);
    }
    GKFS_LOG(kInfo, "ready: " + uri_ + ", rootdir " + options_.rootdir);
    fprintf(stderr, "Startup successful. Daemon is ready.\n");
    fflush(stderr);
    server_->Run();
    reaper_.reset();      // a release in flight to this daemon ends by its short timeout
    exporter_.reset();    // pushes the final numbers
    io_.reset();          // finishes queued chunk I/O; its replies are dropped
    forwarding_.reset();  // joins its threads; replies it still completes are dropped
    server_.reset();
    sync_.reset();
    metadata_.reset();  // closes RocksDB (flushes the WAL)
    if (options_.clean_rootdir_finish) {
      Status s = RemoveTree(options_.rootdir);
      if (s.ok()) s = RemoveTree(options_.metadir);
      if (!s.ok()) return s;
    }
    fprintf(stderr, "gkfs daemon %s stopped\n", uri_.c_str());
    return Status::OK();
  }

  // Orphans of clients that stopped renewing go with their chunks on every daemon: the
  // reaper releases them through a client of its own (session_reaper.h).
  void StartReaper() {
    ClientOptions client;
    client.hosts_file = options_.hosts_file;
    client.secret_file = options_.secret_file;
    client.timeout_ms = 2000;
    reaper_ = std::make_unique<SessionReaper>(metadata_.get(), client);
  }

  void Shutdown() override {
    if (server_) server_->Stop();
  }

 private:
  DaemonOptions options_;
  std::unique_ptr<MetadataProvider> metadata_;  // normal mode only
  std::unique_ptr<DataProvider> data_;          // normal mode only
  std::unique_ptr<SyncProvider> sync_;          // normal mode only
  Providers providers_{};
  std::unique_ptr<transport::Server> server_;
  std::unique_ptr<WorkerPool> io_;                  // large chunk transfers; normal mode only
  std::unique_ptr<ForwardingProvider> forwarding_;  // forwarding mode only
  std::unique_ptr<DaemonMetrics> metrics_;
  std::unique_ptr<MetricsExporter> exporter_;       // --metrics-port / --prometheus-gateway
  std::unique_ptr<SessionReaper> reaper_;           // normal mode with a hosts file
  std::string uri_;
  std::string address_;   // the resolved listen address
  std::string identity_;  // normal mode: placement order (hosts_file.h); forwarding: none
};

}  // namespace

Status Daemon::Create(const DaemonOptions& options, std::unique_ptr<Daemon>* out) {
  LogInit("GKFS_LOG", "GKFS_LOG_OUTPUT");
  // Request and reply buffers of up to a few MiB come and go with every transfer: keep
  // them in the heap instead of an mmap/munmap (and a page fault per 4 KiB) each time.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  auto daemon = std::make_unique<DaemonImpl>(options);
  Status s = daemon->Init();
  if (!s.ok()) return s;
  *out = std::move(daemon);
  return Status::OK();
}

}  // namespace gkfs
