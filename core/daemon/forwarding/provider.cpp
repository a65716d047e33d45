// The forwarding provider: the PFS namespace, its sync and the scheduled I/O queue behind
// the daemon's handlers.
#include <sys/stat.h>

#include "common/placement.h"
#include "daemon/forwarding/forwarding.h"
#include "daemon/forwarding/io_queue.h"
#include "daemon/forwarding/pfs_namespace.h"
#include "daemon/forwarding/pfs_sync.h"

namespace gkfs {
namespace {

class ForwardingProviderImpl : public ForwardingProvider {
 public:
  ForwardingProviderImpl(const DaemonOptions& options, transport::Server* server)
      : store_(options.pfs_dir, options.pfs_direct_io),
        namespace_(&store_),
        sync_(options.sync_mode, &store_),
        queue_(options.scheduler ? options.scheduler : NewFifoScheduler(16), &store_, server,
               options.io_threads) {}

  MetadataBackend* metadata() override { return &namespace_; }
  SyncBackend* sync() override { return &sync_; }

  void Write(const rpc::FwdWriteRequest& in, const Request& req, Response* out) override {
    if (in.append) return PfsAppend(&store_, in, req, out);  // the kernel orders appends; they bypass the scheduler
    PendingIo io = Pending(req, in.path, 1, in.offset, req.payload.size());
    io.payload = req.payload.data();
    io.request_data = std::move(*req.data);  // keeps the payload alive while queued
    queue_.Submit(std::move(io));
    out->deferred = true;
  }

  void Read(const rpc::FwdReadRequest& in, const Request& req, Response* out) override {
    queue_.Submit(Pending(req, in.path, 0, in.offset, in.length));
    out->deferred = true;
  }

  void Statistics(rpc::FwdStatsReply* totals, std::vector<rpc::AppStats>* apps) override {
    queue_.Stats(totals, apps);
  }

 private:
  PendingIo Pending(const Request& req, const std::string& path, uint8_t kind, uint64_t offset,
                    uint64_t length) {
    PendingIo io;
    io.path = path;
    io.token = req.token;
    io.info.app_id = req.app_id;
    io.info.queue_id = HashPath(path);
    io.info.target = store_.Target(path, offset);  // schedulers fold it modulo their targets
    io.info.kind = kind;
    io.info.offset = offset;
    io.info.length = length;
    return io;
  }

  PfsStore store_;
  PfsNamespace namespace_;
  PfsSync sync_;
  IoQueue queue_;  // after store_: its threads use the store
};

}  // namespace

Status CheckPfsDir(const std::string& pfs_dir) {
  struct stat st;
  if (pfs_dir.empty()) return Status::Error(EINVAL, "--pfs-dir is required with --enable-forwarding");
  if (stat(pfs_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::Error(ENOTDIR, "--pfs-dir '" + pfs_dir + "' is not a directory");
  }
  return Status::OK();
}

Status ForwardingProvider::Create(const DaemonOptions& options, transport::Server* server,
                                  std::unique_ptr<ForwardingProvider>* out) {
  Status s = CheckPfsDir(options.pfs_dir);
  if (!s.ok()) return s;
  *out = std::make_unique<ForwardingProviderImpl>(options, server);
  return Status::OK();
}

}  // namespace gkfs
