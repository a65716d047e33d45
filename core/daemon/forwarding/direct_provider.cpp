// The direct route's provider (ForwardingProvider::CreateDirect): a client's own PFS
// namespace, answered in the client process through the daemon's one handler table, so a
// host mapped `direct` gets the semantics and checks of an I/O node without one.
#include <sys/uio.h>

#include "daemon/forwarding/forwarding.h"
#include "daemon/forwarding/pfs_namespace.h"
#include "daemon/forwarding/pfs_sync.h"

namespace gkfs {

namespace {

class DirectProvider : public ForwardingProvider {
 public:
  explicit DirectProvider(const std::string& pfs_dir)
      : store_(pfs_dir), namespace_(&store_), sync_(SyncMode::kFull, &store_) {}

  MetadataBackend* metadata() override { return &namespace_; }
  SyncBackend* sync() override { return &sync_; }

  void Write(const rpc::FwdWriteRequest& in, const Request& req, Response* out) override {
    if (in.append) return PfsAppend(&store_, in, req, out);
    std::vector<struct iovec> iov{{const_cast<char*>(req.payload.data()), req.payload.size()}};
    Status s = store_.WriteV(in.path, in.offset, iov);
    if (!s.ok()) return Fail(s, out);
    out->body = rpc::EncodeBody(rpc::OffsetReply{in.offset});
  }

  void Read(const rpc::FwdReadRequest& in, const Request&, Response* out) override {
    Buffer data(in.length);
    std::vector<struct iovec> iov{{data.data(), data.size()}};
    size_t n = 0;
    Status s = store_.ReadV(in.path, in.offset, iov, &n);
    if (!s.ok()) return Fail(s, out);
    out->body = rpc::EncodeBody(rpc::OffsetReply{in.offset});
    out->payload = std::move(data);
    out->payload_size = n;
  }

  void Statistics(rpc::FwdStatsReply*, std::vector<rpc::AppStats>*) override {}

 private:
  PfsStore store_;
  PfsNamespace namespace_;
  PfsSync sync_;
};

}  // namespace

Status ForwardingProvider::CreateDirect(const std::string& pfs_dir, std::unique_ptr<ForwardingProvider>* out) {
  Status s = CheckPfsDir(pfs_dir);
  if (!s.ok()) return s;
  *out = std::make_unique<DirectProvider>(pfs_dir);
  return Status::OK();
}

}  // namespace gkfs
