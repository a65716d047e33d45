// gkfs._core.Client: one process's connection to a gkfs file system. Every call releases the
// GIL while the C++ client works, so Python threads issue RPCs concurrently (the C++ Client
// is thread-safe). The C++ object is held by shared_ptr: close() while another thread is
// inside a call only drops this wrapper's reference.
#include <pybind11/stl.h>

#include <dirent.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bindings.h"
#include "common/access.h"
#include "gkfs/client.h"

namespace gkfs::bindings {

namespace {

class PyClient {
 public:
  PyClient(const std::string& hosts_file, int timeout_ms, const std::string& secret_file,
           const std::string& forwarding_map_file, const std::string& hostname, uint32_t app_id,
           int down_recheck_ms, int recheck_timeout_ms, int64_t uid, int64_t gid,
           std::vector<uint32_t> groups) {
    ClientOptions options;
    if (uid >= 0) {  // checks as that identity; otherwise none (what is given is done)
      identity_ = Identity{static_cast<uint32_t>(uid), static_cast<uint32_t>(gid < 0 ? uid : gid), groups};
      credentials_ = NewIdentityCredentials(identity_->uid, identity_->gid, std::move(groups));
      options.credentials = credentials_.get();
    }
    options.hosts_file = hosts_file;
    options.timeout_ms = timeout_ms;
    options.down_recheck_ms = down_recheck_ms;
    options.recheck_timeout_ms = recheck_timeout_ms;
    options.secret_file = secret_file;
    options.forwarding_map_file = forwarding_map_file;
    options.hostname = hostname;
    options.app_id = app_id;
    std::unique_ptr<Client> client;
    Status s;
    {
      py::gil_scoped_release release;
      s = Client::Connect(options, &client);
    }
    ThrowIfError(s, hosts_file);
    // The credentials outlive every reference to the client (calls hold one while running).
    client_ = std::shared_ptr<Client>(client.release(), [credentials = credentials_](Client* c) { delete c; });
  }

  // The identity calls are checked as, if any (gkfs.Client's uid, gid, groups).
  struct Identity {
    uint32_t uid = 0, gid = 0;
    std::vector<uint32_t> groups;
    bool InGroup(uint32_t g) const {
      return g == gid || std::find(groups.begin(), groups.end(), g) != groups.end();
    }
  };
  const std::optional<Identity>& identity() const { return identity_; }

  // REQUIRES: the GIL is held. Raises ValueError after close().
  std::shared_ptr<Client> get() const {
    if (!client_) throw py::value_error("gkfs client is closed");
    return client_;
  }

  void close() {
    std::shared_ptr<Client> last = std::move(client_);
    py::gil_scoped_release release;
    last.reset();  // tears down UCX state outside the GIL when this was the last reference
  }

  bool closed() const { return !client_; }

 private:
  std::optional<Identity> identity_;
  std::shared_ptr<const Credentials> credentials_;
  std::shared_ptr<Client> client_;
};

// Runs fn(client) with the GIL released and raises OSError(path) on failure.
template <typename Fn>
void Call(const PyClient& self, const std::string& path, Fn&& fn) {
  std::shared_ptr<Client> client = self.get();
  Status s;
  {
    py::gil_scoped_release release;
    s = fn(*client);
  }
  ThrowIfError(s, path);
}

// A contiguous byte view of any buffer-protocol object (bytes, bytearray, memoryview, numpy).
// The exporter keeps the memory pinned (a bytearray cannot resize) while the view lives.
// Non-contiguous exporters raise BufferError instead of being copied silently.
// REQUIRES: the GIL is held when the view is created and destroyed.
class ByteView {
 public:
  ByteView(const py::buffer& buffer, bool writable) {
    if (PyObject_GetBuffer(buffer.ptr(), &view_, writable ? PyBUF_WRITABLE : PyBUF_SIMPLE) != 0) {
      throw py::error_already_set();
    }
  }
  ~ByteView() { PyBuffer_Release(&view_); }
  ByteView(const ByteView&) = delete;
  ByteView& operator=(const ByteView&) = delete;

  char* data() const { return static_cast<char*>(view_.buf); }
  size_t size() const { return static_cast<size_t>(view_.len); }

 private:
  Py_buffer view_;
};

py::bytes ReadBytes(const PyClient& self, const std::string& path, uint64_t file_id,
                    uint64_t offset, size_t size) {
  std::shared_ptr<Client> client = self.get();
  PyObject* raw = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(size));
  if (raw == nullptr) throw py::error_already_set();
  size_t nread = 0;
  Status s;
  {
    // The new bytes object is not shared yet, so filling it without the GIL is safe.
    py::gil_scoped_release release;
    s = client->Read(path, file_id, offset, PyBytes_AS_STRING(raw), size, &nread);
  }
  if (!s.ok()) {
    Py_DECREF(raw);
    ThrowIfError(s, path);
  }
  if (nread < size && _PyBytes_Resize(&raw, static_cast<Py_ssize_t>(nread)) != 0) {
    throw py::error_already_set();
  }
  return py::reinterpret_steal<py::bytes>(raw);
}

size_t ReadInto(const PyClient& self, const std::string& path, uint64_t file_id,
                uint64_t offset, const py::buffer& buffer) {
  ByteView view(buffer, /*writable=*/true);
  char* dst = view.data();
  size_t nread = 0;
  Call(self, path, [&](Client& c) { return c.Read(path, file_id, offset, dst, view.size(), &nread); });
  return nread;
}

size_t Write(const PyClient& self, const std::string& path, uint64_t file_id, uint64_t offset,
             const py::buffer& data) {
  ByteView view(data, /*writable=*/false);
  Call(self, path,
       [&](Client& c) { return c.Write(path, file_id, offset, view.data(), view.size()); });
  return view.size();
}

uint64_t Append(const PyClient& self, const std::string& path, uint64_t file_id,
                const py::buffer& data) {
  ByteView view(data, /*writable=*/false);
  uint64_t offset = 0;
  Call(self, path,
       [&](Client& c) { return c.Append(path, file_id, view.data(), view.size(), &offset); });
  return offset;
}

// One transport round trip (benchmarks): payload_bytes out, reply_bytes back, no file
// system work on the daemon. The bytes come from per-thread scratch buffers that only grow,
// so a loop of pings measures the transport, not allocation. Returns reply_bytes.
size_t Ping(const PyClient& self, uint32_t daemon, size_t payload_bytes, size_t reply_bytes) {
  thread_local std::vector<char> payload;
  thread_local std::vector<char> reply;
  if (payload.size() < payload_bytes) payload.resize(payload_bytes, 'g');
  if (reply.size() < reply_bytes) reply.resize(reply_bytes);
  char* out = payload.data();
  char* in = reply.data();
  Call(self, std::string(),
       [&](Client& c) { return c.Ping(daemon, out, payload_bytes, in, reply_bytes); });
  return reply_bytes;
}

py::list EntriesToList(const std::vector<DirEntry>& entries) {
  py::list out;
  for (const DirEntry& e : entries) out.append(py::make_tuple(e.name, e.type, e.ino));
  return out;
}

void RegisterValueTypes(py::module_& m) {
  py::class_<Metadata>(m, "Metadata", "Attributes of one path (a stat reply).")
      .def_readonly("mode", &Metadata::mode)
      .def_readonly("uid", &Metadata::uid)
      .def_readonly("gid", &Metadata::gid)
      .def_readonly("size", &Metadata::size)
      .def_readonly("file_id", &Metadata::file_id)
      .def_readonly("nlink", &Metadata::nlink)
      .def_readonly("rdev", &Metadata::rdev)
      .def_readonly("atime_ns", &Metadata::atime_ns)
      .def_readonly("mtime_ns", &Metadata::mtime_ns)
      .def_readonly("ctime_ns", &Metadata::ctime_ns)
      .def_readonly("link_target", &Metadata::link_target)
      .def("is_dir", &Metadata::is_dir)
      .def("is_regular", &Metadata::is_regular)
      .def("__repr__", [](const Metadata& md) {
        return py::str("Metadata(mode={:#o}, size={}, file_id={})")
            .format(md.mode, md.size, md.file_id);
      });

  py::class_<FsConfig>(m, "FsConfig", "File-system configuration a daemon reports to clients.")
      .def_readonly("chunk_size", &FsConfig::chunk_size)
      .def_readonly("mountdir", &FsConfig::mountdir)
      .def_readonly("rootdir", &FsConfig::rootdir)
      .def_readonly("protocol_version", &FsConfig::protocol_version)
      .def_readonly("num_daemons", &FsConfig::num_daemons)
      .def_readonly("device_id", &FsConfig::device_id)
      .def_readonly("pfs_dir", &FsConfig::pfs_dir);

  py::class_<FsStats>(m, "FsStats", "statfs(2) of the whole file system (sums over daemons).")
      .def_readonly("block_size", &FsStats::block_size)
      .def_readonly("total_bytes", &FsStats::total_bytes)
      .def_readonly("free_bytes", &FsStats::free_bytes)
      .def_readonly("files", &FsStats::files);

  py::class_<DaemonInfo>(m, "DaemonInfo", "Health and usage of one daemon.")
      .def_readonly("host", &DaemonInfo::host)
      .def_readonly("uri", &DaemonInfo::uri)
      .def_readonly("up", &DaemonInfo::up)
      .def_readonly("error", &DaemonInfo::error)
      .def_readonly("version", &DaemonInfo::version)
      .def_readonly("files", &DaemonInfo::files)
      .def_readonly("chunk_bytes", &DaemonInfo::chunk_bytes)
      .def_readonly("total_bytes", &DaemonInfo::total_bytes)
      .def_readonly("free_bytes", &DaemonInfo::free_bytes)
      .def_readonly("shared_memory", &DaemonInfo::shared_memory,
                    "Whether this client reaches the daemon over shared memory (same host, --auto-sm).")
      .def_readonly("orphans", &DaemonInfo::orphans)
      .def_readonly("syncs", &DaemonInfo::syncs)
      .def("__repr__", [](const DaemonInfo& d) {
        return py::str("DaemonInfo(uri={!r}, up={})").format(d.uri, d.up);
      });

  m.attr("DT_REG") = static_cast<int>(DT_REG);
  m.attr("DT_DIR") = static_cast<int>(DT_DIR);
  m.attr("DT_LNK") = static_cast<int>(DT_LNK);
}

}  // namespace

void RegisterClient(py::module_& m) {
  RegisterValueTypes(m);

  using S = const std::string&;
  py::class_<PyClient>(m, "Client", "Connection to the daemons listed in a hosts file.")
      .def(py::init<const std::string&, int, const std::string&, const std::string&, const std::string&,
                    uint32_t, int, int, int64_t, int64_t, std::vector<uint32_t>>(),
           py::arg("hosts_file"), py::arg("timeout_ms") = 5000, py::arg("secret_file") = "",
           py::arg("forwarding_map_file") = "", py::arg("hostname") = "", py::arg("app_id") = 0,
           py::arg("down_recheck_ms") = ClientOptions().down_recheck_ms,
           py::arg("recheck_timeout_ms") = ClientOptions().recheck_timeout_ms, py::arg("uid") = -1,
           py::arg("gid") = -1, py::arg("groups") = std::vector<uint32_t>())
      .def_property_readonly("checks_permissions",
                             [](const PyClient& self) { return self.identity().has_value(); })
      .def(
          "may_access",
          [](const PyClient& self, const Metadata& md, int mask) {
            const auto& who = self.identity();
            return !who || PermitsAccess(md, mask, who->uid, [&](uint32_t g) { return who->InGroup(g); });
          },
          py::arg("md"), py::arg("mask"),
          "access(2)'s rule for the client's identity (True without one).")
      .def(
          "owns",
          [](const PyClient& self, const Metadata& md) {
            return !self.identity() || OwnsOrPrivileged(md, self.identity()->uid);
          },
          py::arg("md"), "Whether the identity owns md or is root (True without one).")
      .def(
          "chmod_bits",
          [](const PyClient& self, const Metadata& md, uint32_t mode) {
            const auto& who = self.identity();
            uint32_t bits = mode & 07777;
            if (who) {
              int error = ChmodBits(md, mode, who->uid, [&](uint32_t g) { return who->InGroup(g); }, &bits);
              ThrowIfError(error ? Status::Error(error, "chmod by neither owner nor root") : Status::OK(), "");
            }
            return bits;
          },
          py::arg("md"), py::arg("mode"), "chmod(2)'s rule: the bits to store; PermissionError (EPERM).")
      .def(
          "chown_mode",
          [](const PyClient& self, const Metadata& md, int64_t uid, int64_t gid) {
            const auto& who = self.identity();
            int64_t mode = -1;
            uint32_t caller = who ? who->uid : 0;
            int error = ChownChange(md, uid, gid, caller,
                                    [&](uint32_t g) { return who && who->InGroup(g); }, &mode);
            ThrowIfError(error ? Status::Error(error, "chown not permitted") : Status::OK(), "");
            return who ? mode : -1;
          },
          py::arg("md"), py::arg("uid"), py::arg("gid"),
          "chown(2)'s rule: the mode to store with the change (-1: unchanged); PermissionError.")
      .def_property_readonly("config", [](const PyClient& self) { return self.get()->config(); })
      .def_property_readonly("closed", &PyClient::closed)
      .def("close", &PyClient::close)
      .def(
          "create",
          [](const PyClient& self, S path, uint32_t mode, bool exclusive) {
            Metadata md;
            Call(self, path, [&](Client& c) { return c.Create(path, mode, exclusive, &md, nullptr); });
            return md;
          },
          py::arg("path"), py::arg("mode") = 0644, py::arg("exclusive") = false)
      .def(
          "open_file",
          [](const PyClient& self, S path, bool create, uint32_t mode, bool exclusive, uint64_t opener) {
            Metadata md;
            bool created = false;
            Call(self, path, [&](Client& c) { return c.OpenFile(path, create, mode, exclusive, opener, &md, &created); });
            return py::make_tuple(md, created);
          },
          py::arg("path"), py::arg("create"), py::arg("mode") = 0644, py::arg("exclusive") = false,
          py::arg("opener") = 0,
          "open(2)'s lookup (create as Create, else Stat), counted as an open by session opener "
          "until release(): the file keeps its data when unlinked while open.")
      .def(
          "release",
          [](const PyClient& self, uint64_t opener, const std::vector<uint64_t>& inos) {
            Call(self, std::string(), [&](Client& c) { return c.Release(opener, inos); });
          },
          py::arg("opener"), py::arg("inos"), "Ends opens counted by open_file (one per ino).")
      .def(
          "stat_file",
          [](const PyClient& self, S path, uint64_t file_id) {
            Metadata md;
            Call(self, path, [&](Client& c) { return c.StatFile(path, file_id, &md); });
            return md;
          },
          py::arg("path"), py::arg("file_id"), "Stat of an open file: its inode, whatever its name now.")
      .def(
          "truncate_file",
          [](const PyClient& self, S path, uint64_t file_id, uint64_t size) {
            Call(self, path, [&](Client& c) { return c.TruncateFile(path, file_id, size); });
          },
          py::arg("path"), py::arg("file_id"), py::arg("size"))
      .def(
          "stat",
          [](const PyClient& self, S path) {
            Metadata md;
            Call(self, path, [&](Client& c) { return c.Stat(path, &md); });
            return md;
          },
          py::arg("path"))
      .def(
          "resolve",
          [](const PyClient& self, S path, bool follow_last) {
            std::string resolved;
            Metadata md;
            bool exists = false;
            Call(self, path, [&](Client& c) { return c.Resolve(path, follow_last, &resolved, &md, &exists); });
            return py::make_tuple(resolved, exists ? py::cast(md) : py::none());
          },
          py::arg("path"), py::arg("follow_last"),
          "(path with its symbolic links followed, the last one when follow_last; what it names "
          "or None when the last component is missing). One stat when no link is involved.")
      .def(
          "remove",
          [](const PyClient& self, S path) {
            Call(self, path, [&](Client& c) { return c.Remove(path); });
          },
          py::arg("path"))
      .def(
          "mkdir",
          [](const PyClient& self, S path, uint32_t mode) {
            Call(self, path, [&](Client& c) { return c.Mkdir(path, mode); });
          },
          py::arg("path"), py::arg("mode") = 0755)
      .def(
          "rmdir",
          [](const PyClient& self, S path) {
            Call(self, path, [&](Client& c) { return c.Rmdir(path); });
          },
          py::arg("path"))
      .def(
          "readdir",
          [](const PyClient& self, S path) {
            std::vector<DirEntry> entries;
            Call(self, path, [&](Client& c) { return c.ReadDir(path, &entries); });
            return EntriesToList(entries);
          },
          py::arg("path"), "All entries as a sorted list of (name, DT_* type).")
      .def(
          "readdir_page",
          [](const PyClient& self, S path, S start_after, size_t max_entries) {
            std::vector<DirEntry> entries;
            bool end = false;
            Call(self, path, [&](Client& c) {
              return c.ReadDirPage(path, start_after, max_entries, &entries, &end);
            });
            return py::make_tuple(EntriesToList(entries), end);
          },
          py::arg("path"), py::arg("start_after") = "", py::arg("max_entries") = 1024,
          "One page of entries with names > start_after: (entries, end).")
      .def("write", &Write, py::arg("path"), py::arg("file_id"), py::arg("offset"),
           py::arg("data"), "Writes data at offset; returns len(data).")
      .def("append", &Append, py::arg("path"), py::arg("file_id"), py::arg("data"),
           "Appends data atomically; returns the offset it was written at.")
      .def("read", &ReadBytes, py::arg("path"), py::arg("file_id"), py::arg("offset"),
           py::arg("size"), "Reads up to size bytes (short only at end of file).")
      .def("readinto", &ReadInto, py::arg("path"), py::arg("file_id"), py::arg("offset"),
           py::arg("buffer"), "Reads into a writable buffer; returns the byte count.")
      .def(
          "truncate",
          [](const PyClient& self, S path, uint64_t size) {
            Call(self, path, [&](Client& c) { return c.Truncate(path, size); });
          },
          py::arg("path"), py::arg("size"))
      .def(
          "rename",
          [](const PyClient& self, S old_path, S new_path) {
            std::shared_ptr<Client> client = self.get();
            Status s;
            {
              py::gil_scoped_release release;
              s = client->Rename(old_path, new_path);
            }
            ThrowIfError(s, old_path, new_path);
          },
          py::arg("old_path"), py::arg("new_path"))
      .def(
          "set_attr",
          [](const PyClient& self, S path, int64_t mode, int64_t atime_ns, int64_t mtime_ns) {
            Call(self, path, [&](Client& c) { return c.SetAttr(path, mode, atime_ns, mtime_ns, -1, -1); });
          },
          py::arg("path"), py::arg("mode") = -1, py::arg("atime_ns") = -1,
          py::arg("mtime_ns") = -1, "Sets permission bits / times; -1 leaves a value as is.")
      .def(
          "chown",
          [](const PyClient& self, S path, int64_t uid, int64_t gid, int64_t mode) {
            Call(self, path, [&](Client& c) { return c.SetAttr(path, mode, -1, -1, uid, gid); });
          },
          py::arg("path"), py::arg("uid") = -1, py::arg("gid") = -1, py::arg("mode") = -1,
          "Sets the owner and group; -1 leaves one as is. No permission checks (the caller's "
          "identity is not consulted) and no set-id bits cleared: what is given is stored.")
      .def(
          "link",
          [](const PyClient& self, S old_path, S new_path) {
            std::shared_ptr<Client> client = self.get();
            Status s;
            {
              py::gil_scoped_release release;
              s = client->Link(old_path, new_path);
            }
            ThrowIfError(s, old_path, new_path);
          },
          py::arg("old_path"), py::arg("new_path"), "new_path becomes another name of old_path's inode.")
      .def(
          "symlink",
          [](const PyClient& self, S path, S target) {
            Call(self, path, [&](Client& c) { return c.Symlink(path, target); });
          },
          py::arg("path"), py::arg("target"))
      .def(
          "mknod",
          [](const PyClient& self, S path, uint32_t mode, uint64_t rdev) {
            Call(self, path, [&](Client& c) { return c.Mknod(path, mode, rdev); });
          },
          py::arg("path"), py::arg("mode"), py::arg("rdev") = 0)
      .def(
          "fsync",
          [](const PyClient& self, S path, uint64_t file_id, bool datasync) {
            SyncLevel level = datasync ? SyncLevel::kData : SyncLevel::kFile;
            Call(self, path, [&](Client& c) { return c.Sync(path, file_id, level); });
          },
          py::arg("path"), py::arg("file_id"), py::arg("datasync") = false,
          "fsync(2) of the file (fdatasync(2) with datasync): its data and metadata durable on "
          "the daemons' storage. file_id 0: a directory.")
      .def(
          "syncfs",
          [](const PyClient& self) {
            Call(self, std::string(), [&](Client& c) { return c.SyncFs(); });
          },
          "syncfs(2): everything every daemon holds made durable.")
      .def("ping", &Ping, py::arg("daemon"), py::arg("payload_bytes") = 0,
           py::arg("reply_bytes") = 0,
           "One round trip to daemon index `daemon` carrying payload_bytes, with reply_bytes "
           "back (transport cost alone); returns reply_bytes.")
      .def("statfs",
           [](const PyClient& self) {
             FsStats stats;
             Call(self, std::string(), [&](Client& c) { return c.StatFs(&stats); });
             return stats;
           })
      .def("daemons", [](const PyClient& self) {
        std::vector<DaemonInfo> infos;
        Call(self, std::string(), [&](Client& c) { return c.Daemons(&infos); });
        return infos;
      })
      .def(
          "metrics",
          [](const PyClient& self, uint32_t daemon) {
            std::string text;
            Call(self, std::string(), [&](Client& c) { return c.Metrics(daemon, &text); });
            return text;
          },
          py::arg("daemon"), "Daemon `daemon`'s metrics, Prometheus text format (its /metrics).")
      .def(
          "io_node_statistics",
          [](const PyClient& self, uint32_t daemon) {
            IoNodeStats stats;
            Call(self, std::string(), [&](Client& c) { return c.IoNodeStatistics(daemon, &stats); });
            py::list apps;
            for (const auto& a : stats.apps) {
              py::dict app;
              app["app_id"] = a.app_id;
              app["requests"] = a.requests;
              app["bytes"] = a.bytes;
              app["reads"] = a.reads;
              app["writes"] = a.writes;
              app["units"] = a.units;
              app["merged"] = a.requests - a.units;
              app["mean_size"] = a.requests ? static_cast<double>(a.bytes) / a.requests : 0.0;
              app["queue_wait_s"] = a.queue_wait_s;
              app["service_s"] = a.service_s;
              apps.append(app);
            }
            py::dict out;
            out["pending"] = stats.pending;
            out["in_service"] = stats.in_service;
            out["scheduler_errors"] = stats.scheduler_errors;
            out["apps"] = apps;
            return out;
          },
          py::arg("daemon"),
          "Forwarding mode: I/O node `daemon`'s queue and per-application metrics (requests, "
          "bytes, mean size, merges, queue wait, service time). EOPNOTSUPP otherwise.");
}

}  // namespace gkfs::bindings
