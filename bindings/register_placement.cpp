// Placement and path helpers: pure functions, safe to call from any thread.
#include <string>

#include "bindings.h"
#include "common/hosts_file.h"
#include "common/placement.h"
#include "gkfs/client.h"

namespace gkfs::bindings {

void RegisterPlacement(py::module_& m) {
  m.def(
      "normalize_path",
      [](const std::string& path) {
        std::string out;
        ThrowIfError(NormalizePath(path, &out), path);
        return out;
      },
      py::arg("path"),
      "Normalises an absolute file-system path ('//', '.', '..', trailing '/').\n"
      "Raises OSError EINVAL (not absolute) or ENAMETOOLONG (PATH_MAX / NAME_MAX).");
  // std::string accepts both str (UTF-8) and bytes, so callers can hash raw path bytes.
  m.def("hash_path", [](const std::string& path) { return HashPath(path); }, py::arg("path"),
        "XXH3-64 (seed 0) of the path's bytes (docs/formats.md).");
  m.def("hash_chunk", &HashChunk, py::arg("file_id"), py::arg("chunk_index"),
        "XXH3-64 (seed 0) of file_id then chunk_index, each little-endian u64.");

  m.def(
      "daemon_order",
      [](const std::string& hosts_file) {
        std::vector<HostEntry> hosts;
        ThrowIfError(ReadHostsFile(hosts_file, &hosts), hosts_file);
        py::list out;
        for (const HostEntry& h : hosts) out.append(py::make_tuple(h.host, h.uri, h.id));
        return out;
      },
      py::arg("hosts_file"),
      "The daemons of a hosts file as every client orders them for placement (by daemon id, "
      "else by uri; a daemon listed twice once): a list of (host, uri, id).");
  py::class_<Placement>(m, "Placement", "Which daemon owns a path's metadata or a chunk.")
      .def(py::init([](uint32_t n) {
             if (n == 0) throw py::value_error("num_daemons must be > 0");
             return Placement(n);
           }),
           py::arg("num_daemons"))
      .def_property_readonly("num_daemons", &Placement::num_daemons)
      .def("metadata_owner",
           [](const Placement& p, const std::string& path) { return p.MetadataOwner(path); },
           py::arg("path"))
      .def("chunk_owner", &Placement::ChunkOwner, py::arg("file_id"), py::arg("chunk_index"));
}

}  // namespace gkfs::bindings
