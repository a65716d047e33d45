// Data operations of ClientImpl: write, append, read, truncate.
#include <algorithm>
#include <cstring>

#include "client/client_impl.h"
#include "common/metadata_codec.h"

namespace gkfs {

using transport::Call;

namespace {

// One chunk RPC: the pieces of a range that one daemon owns, at most kMaxPiecesPerRpc.
struct Batch {
  uint32_t daemon = 0;
  rpc::ChunksRequest request;
  std::vector<size_t> buffer_offsets;  // where each piece starts in the caller's buffer
};

std::vector<Batch> MakeBatches(Routing& routing, uint64_t file_id, uint64_t offset,
                               size_t len, uint64_t chunk_size) {
  // A daemon's open batch is its last one: a handful of batches per call, searched from the
  // end (no map or index allocated on every small read and write).
  std::vector<Batch> batches;
  for (const ChunkPiece& piece : SplitIntoChunks(offset, len, chunk_size)) {
    uint32_t daemon = routing.ChunkOwner(file_id, piece.chunk_index);
    auto it = std::find_if(batches.rbegin(), batches.rend(), [daemon](const Batch& b) { return b.daemon == daemon; });
    if (it == batches.rend() || it->request.pieces.size() >= rpc::kMaxPiecesPerRpc) {
      Batch b;
      b.daemon = daemon;
      b.request.file_id = file_id;
      batches.push_back(std::move(b));
      it = batches.rbegin();
    }
    Batch& b = *it;
    b.request.pieces.push_back({piece.chunk_index, piece.offset, piece.length});
    b.buffer_offsets.push_back(piece.buffer_offset);
  }
  return batches;
}

// A ReadChunks reply, decoded at most once.
struct DecodedRead {
  const Batch* batch = nullptr;
  rpc::ReadChunksReply body;
  enum { kNotYet, kGood, kBad } state = kNotYet;
  // Whether call's reply body is well formed (a length per piece).
  bool Decode(const Call& call) {
    if (state == kNotYet) {
      bool ok = rpc::DecodeBody(call.reply_body, &body, "read reply").ok() &&
                body.lengths.size() == batch->request.pieces.size();
      state = ok ? kGood : kBad;
    }
    return state == kGood;
  }
};

}  // namespace

Status ClientImpl::WriteChunksLocked(uint64_t file_id, uint64_t offset, const void* buf, size_t len, bool grow) {
  std::vector<Batch> batches = MakeBatches(*routing_, file_id, offset, len, config_.chunk_size);
  const int64_t now = NowNs();
  // The size must never cover bytes that were not written: it grows once they are. When the
  // inode's home holds every piece, the write carries the size update (one round trip).
  const bool carried = grow && batches.size() == 1 && batches[0].daemon == InodeOwner(file_id);
  if (carried) {
    batches[0].request.grow_size = offset + len;
    batches[0].request.mtime_ns = now;
  }
  std::vector<Call> calls(batches.size());
  auto* base = static_cast<char*>(const_cast<void*>(buf));
  for (size_t i = 0; i < batches.size(); ++i) {
    calls[i].daemon = batches[i].daemon;
    calls[i].verb = rpc::Verb::kWriteChunks;
    calls[i].body = rpc::EncodeBody(batches[i].request);
    const auto& pieces = batches[i].request.pieces;
    for (size_t p = 0; p < pieces.size(); ++p) {
      calls[i].payload.push_back({base + batches[i].buffer_offsets[p], pieces[p].length});
    }
  }
  Status s = RunAll(calls);
  if (!s.ok() || !grow || carried) return s;
  rpc::SizeRequest size;
  size.target = rpc::Target{"", file_id};
  size.size = offset + len;
  size.mtime_ns = now;
  Call update = InodeCall(file_id, rpc::Verb::kGrowSize, rpc::EncodeBody(size));
  return CallOne(&update);
}

Status ClientImpl::Write(const std::string& path, uint64_t file_id, uint64_t offset, const void* buf,
                         size_t len) {
  if (len == 0) return Status::OK();
  if (file_id == 0) return Status::Error(EISDIR, "not a regular file");
  if (routing_->by_path()) return WriteWhole(path, offset, buf, len, false, nullptr);
  return WriteChunksLocked(file_id, offset, buf, len, true);
}

Status ClientImpl::Append(const std::string& path, uint64_t file_id, const void* buf, size_t len,
                          uint64_t* offset) {
  if (file_id == 0) return Status::Error(EISDIR, "not a regular file");
  if (routing_->by_path()) return WriteWhole(path, 0, buf, len, true, offset);
  rpc::ReserveAppendRequest req;
  req.ino = file_id;
  req.length = len;
  req.mtime_ns = NowNs();
  Call reserve = InodeCall(file_id, rpc::Verb::kReserveAppend, rpc::EncodeBody(req));
  Status s = CallOne(&reserve);
  rpc::OffsetReply reply;
  if (s.ok()) s = rpc::DecodeBody(reserve.reply_body, &reply, "append reply");
  if (!s.ok()) return s;
  *offset = reply.offset;
  if (len == 0) return Status::OK();
  return WriteChunksLocked(file_id, reply.offset, buf, len, true);
}

Status ClientImpl::Read(const std::string& path, uint64_t file_id, uint64_t offset, void* buf,
                        size_t len, size_t* nread) {
  *nread = 0;
  if (len == 0) return Status::OK();
  if (file_id == 0) return Status::Error(EISDIR, "is a directory");
  if (routing_->by_path()) return ReadWhole(path, offset, buf, len, nread);
  std::vector<Batch> batches = MakeBatches(*routing_, file_id, offset, len, config_.chunk_size);
  // The size travels beside the data: holes inside it read as zeros, bytes past it do not
  // count. The inode's home looks it up (and updates atime, relatime) within the chunk read
  // it serves, if any (with_record); else a StatForRead goes beside the reads, in the same
  // round trip.
  const uint32_t home = InodeOwner(file_id);
  size_t sized = 0;  // the batch that carries the size lookup; batches.size(): none
  while (sized < batches.size() && batches[sized].daemon != home) ++sized;
  if (sized < batches.size()) batches[sized].request.with_record = 1;
  std::vector<Call> calls(batches.size() + (sized == batches.size() ? 1 : 0));
  // Each batch's reply, decoded once: when its bytes arrive (prepare_sink), else after Run.
  std::vector<DecodedRead> replies(batches.size());
  std::vector<Call*> ptrs;
  ptrs.reserve(calls.size());
  auto* base = static_cast<char*>(buf);
  for (size_t i = 0; i < batches.size(); ++i) {
    calls[i].daemon = batches[i].daemon;
    calls[i].verb = rpc::Verb::kReadChunks;
    calls[i].body = rpc::EncodeBody(batches[i].request);
    replies[i].batch = &batches[i];
    // The reply says how many bytes each piece has; they arrive back to back.
    calls[i].prepare_sink = [reply = &replies[i], base](Call& call) {
      if (!reply->Decode(call)) return;  // sink stays empty: payload_in, rejected below
      const Batch& batch = *reply->batch;
      for (size_t p = 0; p < reply->body.lengths.size(); ++p) {
        uint32_t n = std::min(reply->body.lengths[p], batch.request.pieces[p].length);
        if (n > 0) call.sink.push_back({base + batch.buffer_offsets[p], n});
      }
    };
    ptrs.push_back(&calls[i]);
  }
  if (sized == batches.size()) {
    calls.back() = InodeCall(file_id, rpc::Verb::kStatForRead,
                             rpc::EncodeBody(rpc::TargetRequest{rpc::Target{"", file_id}}));
    ptrs.push_back(&calls.back());
  }
  RunCalls(ptrs);
  Metadata md;
  Status s;
  if (sized == batches.size()) {
    s = DecodeRecord(calls.back(), &md);
  } else if ((s = calls[sized].status).ok()) {
    s = replies[sized].Decode(calls[sized]) ? DecodeMetadata(replies[sized].body.record, &md)
                                            : Status::Error(EBADMSG, "malformed read reply");
  }
  if (!s.ok()) return s;
  size_t valid = offset >= md.size ? 0 : static_cast<size_t>(std::min<uint64_t>(len, md.size - offset));
  for (size_t i = 0; i < batches.size(); ++i) {
    // Only the file's own bytes count: a batch wholly past its end may fail (its daemon
    // down) without failing the read, so reading to the end needs only the file's daemons.
    if (batches[i].buffer_offsets.front() >= valid) continue;
    if (!calls[i].status.ok()) return calls[i].status;
    if (!replies[i].Decode(calls[i]) || !calls[i].payload_in.empty()) {
      return Status::Error(EIO, "malformed read reply from daemon " + hosts_[calls[i].daemon].uri);
    }
    const std::vector<uint32_t>& lengths = replies[i].body.lengths;
    for (size_t p = 0; p < lengths.size(); ++p) {
      size_t start = batches[i].buffer_offsets[p] + lengths[p];
      size_t stop = batches[i].buffer_offsets[p] + batches[i].request.pieces[p].length;
      if (start < valid) memset(base + start, 0, std::min(stop, valid) - start);
    }
  }
  *nread = valid;
  return Status::OK();
}

Status ClientImpl::TruncateLocked(const rpc::Target& target, uint64_t size) {
  Metadata md;
  Status s = StatTarget(target, &md);
  if (!s.ok()) return s;
  if (md.is_dir()) return Status::Error(EISDIR, "is a directory");
  Call call;
  rpc::SizeRequest req;
  req.target = FileTarget(target.path, md.file_id);
  req.size = size;
  req.mtime_ns = NowNs();
  if (!(s = CallTarget(rpc::Verb::kSetSize, req, &call)).ok() || size >= md.size) return s;
  if (routing_->by_path()) return s;  // the store cut the data itself
  rpc::FileSizeRequest chunks;
  chunks.file_id = md.file_id;
  chunks.size = size;
  return Broadcast(rpc::Verb::kTruncateChunks, rpc::EncodeBody(chunks), ChunkOwners(md.file_id, md.size));
}

Status ClientImpl::WriteWhole(const std::string& path, uint64_t offset, const void* buf, size_t len, bool append,
                              uint64_t* where) {
  rpc::FwdWriteRequest req;
  req.path = path;
  req.offset = offset;
  req.append = append;
  Call call = MetaCall(path, rpc::Verb::kFwdWrite, rpc::EncodeBody(req));
  if (len > 0) call.payload.push_back({const_cast<void*>(buf), len});
  Status s = CallOne(&call);
  if (!s.ok() || !append) return s;
  rpc::OffsetReply r;
  if ((s = rpc::DecodeBody(call.reply_body, &r, "append reply")).ok()) *where = r.offset;
  return s;
}

Status ClientImpl::ReadWhole(const std::string& path, uint64_t offset, void* buf, size_t len, size_t* nread) {
  while (*nread < len) {
    size_t part = static_cast<size_t>(std::min<uint64_t>(len - *nread, rpc::kMaxFwdRead));
    rpc::FwdReadRequest req;
    req.path = path;
    req.offset = offset + *nread;
    req.length = part;
    Call call = MetaCall(path, rpc::Verb::kFwdRead, rpc::EncodeBody(req));
    call.sink.push_back({static_cast<char*>(buf) + *nread, part});
    Status s = CallOne(&call);
    if (!s.ok()) return s;
    *nread += call.payload_received;
    if (call.payload_received < part) break;  // end of file
  }
  return Status::OK();
}

Status ClientImpl::Truncate(const std::string& path, uint64_t size) {
  return TruncateLocked(rpc::Target{path, 0}, size);
}

Status ClientImpl::TruncateFile(const std::string& path, uint64_t file_id, uint64_t size) {
  return TruncateLocked(FileTarget(path, file_id), size);
}

}  // namespace gkfs
