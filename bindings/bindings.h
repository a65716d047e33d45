// Shared declarations of the gkfs._core extension: one Register* function per area and the
// single place where a gkfs::Status becomes a Python exception.
#pragma once

#include <pybind11/pybind11.h>

#include <string>

#include "gkfs/status.h"

namespace gkfs::bindings {

namespace py = pybind11;

// Raises OSError(code, "<strerror>: <message>"[, filename]) for a non-OK status, so Python
// picks the matching subclass (FileNotFoundError for ENOENT, ...). Returns if status is OK.
// REQUIRES: the GIL is held.
void ThrowIfError(const Status& status, const std::string& filename = std::string());
// Same, with a second filename (rename's destination).
void ThrowIfError(const Status& status, const std::string& filename,
                  const std::string& filename2);

void RegisterPlacement(py::module_& m);
void RegisterClient(py::module_& m);
void RegisterDaemon(py::module_& m);
void RegisterForwarding(py::module_& m);

}  // namespace gkfs::bindings
