// gkfs._core.Daemon and DaemonOptions. Daemon.run() blocks in C++ with the GIL released, so
// the Python main thread keeps handling signals and calls shutdown() (thread- and
// signal-safe in C++) to make run() return.
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <utility>

#include "bindings.h"
#include "gkfs/daemon.h"

namespace gkfs::bindings {

namespace {

std::string ReprOptions(const DaemonOptions& o) {
  return py::str(
             "DaemonOptions(mountdir={!r}, rootdir={!r}, metadir={!r}, listen={!r}, port={}, "
             "hosts_file={!r}, protocol={!r}, chunk_size={}, clean_rootdir={}, "
             "clean_rootdir_finish={}, use_memory_backend={})")
      .format(o.mountdir, o.rootdir, o.metadir, o.listen, o.port, o.hosts_file, o.protocol,
              o.chunk_size, o.clean_rootdir, o.clean_rootdir_finish, o.use_memory_backend);
}

std::shared_ptr<Daemon> CreateDaemon(const DaemonOptions& options) {
  std::unique_ptr<Daemon> daemon;
  Status s;
  {
    py::gil_scoped_release release;
    s = Daemon::Create(options, &daemon);
  }
  ThrowIfError(s, options.rootdir);
  return std::shared_ptr<Daemon>(std::move(daemon));
}

}  // namespace

void RegisterDaemon(py::module_& m) {
  py::class_<DaemonOptions>(m, "DaemonOptions", "Options of one daemon (see gkfs.settings).")
      .def(py::init<>())
      .def_readwrite("mountdir", &DaemonOptions::mountdir)
      .def_readwrite("rootdir", &DaemonOptions::rootdir)
      .def_readwrite("metadir", &DaemonOptions::metadir)
      .def_readwrite("listen", &DaemonOptions::listen)
      .def_readwrite("port", &DaemonOptions::port)
      .def_readwrite("hosts_file", &DaemonOptions::hosts_file)
      .def_readwrite("protocol", &DaemonOptions::protocol)
      .def_readwrite("chunk_size", &DaemonOptions::chunk_size)
      .def_readwrite("clean_rootdir", &DaemonOptions::clean_rootdir)
      .def_readwrite("clean_rootdir_finish", &DaemonOptions::clean_rootdir_finish)
      .def_readwrite("use_memory_backend", &DaemonOptions::use_memory_backend)
      .def_readwrite("secret_file", &DaemonOptions::secret_file)
      .def_readwrite("auto_sm", &DaemonOptions::auto_sm)
      .def_readwrite("enable_forwarding", &DaemonOptions::enable_forwarding)
      .def_readwrite("pfs_dir", &DaemonOptions::pfs_dir)
      .def_readwrite("pfs_direct_io", &DaemonOptions::pfs_direct_io)
      .def_readwrite("io_threads", &DaemonOptions::io_threads)
      .def_readwrite("scheduler", &DaemonOptions::scheduler)
      .def_readwrite("metrics_port", &DaemonOptions::metrics_port)
      .def_readwrite("prometheus_gateway", &DaemonOptions::prometheus_gateway)
      .def_readwrite("push_interval_s", &DaemonOptions::push_interval_s)
      .def_readwrite("session_lease_s", &DaemonOptions::session_lease_s)
      .def_property(
          "sync_mode",
          [](const DaemonOptions& o) { return o.sync_mode == SyncMode::kNone ? "none" : "full"; },
          [](DaemonOptions& o, const std::string& mode) {
            if (mode != "full" && mode != "none") {
              throw py::value_error("sync_mode must be 'full' or 'none', not '" + mode + "'");
            }
            o.sync_mode = mode == "none" ? SyncMode::kNone : SyncMode::kFull;
          },
          "'full': fsync of a client syncs the chunk files and the metadata WAL; 'none': "
          "answered at once (--sync-mode).")
      .def("__repr__", &ReprOptions);

  py::class_<Daemon, std::shared_ptr<Daemon>>(m, "Daemon", "One gkfs server in this process.")
      .def_static("create", &CreateDaemon, py::arg("options"),
                  "Validates options, opens the backends and starts listening. Raises OSError.")
      .def_property_readonly("uri", &Daemon::uri)
      .def(
          "run",
          [](Daemon& d) {
            Status s;
            {
              py::gil_scoped_release release;
              s = d.Run();
            }
            ThrowIfError(s);
          },
          "Writes the hosts file line, serves until shutdown(). Blocks without the GIL.")
      .def(
          "shutdown", [](Daemon& d) { d.Shutdown(); },
          py::call_guard<py::gil_scoped_release>(), "Asks run() to return (any thread).");
}

}  // namespace gkfs::bindings
