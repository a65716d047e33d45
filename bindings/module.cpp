// gkfs._core: the private pybind11 extension over the C++ core. The public API is the plain
// Python package gkfs; this module only registers each area and maps Status to OSError.
#include <cstring>

#include "bindings.h"
#include "gkfs/client.h"

namespace gkfs::bindings {

namespace {

py::object MakeOSError(const Status& status, const std::string* filename,
                       const std::string* filename2) {
  std::string text = std::strerror(status.code());
  if (!status.message().empty()) text += ": " + status.message();
  py::object os_error = py::reinterpret_borrow<py::object>(PyExc_OSError);
  if (filename2 != nullptr) {
    // OSError(errno, strerror, filename, winerror, filename2): the 4th argument is unused on
    // POSIX and must be None.
    return os_error(status.code(), text, *filename, py::none(), *filename2);
  }
  if (filename != nullptr) return os_error(status.code(), text, *filename);
  return os_error(status.code(), text);
}

void Raise(const Status& status, const std::string* filename, const std::string* filename2) {
  // OSError.__new__ returns the errno-specific subclass (FileNotFoundError, ...).
  py::object error = MakeOSError(status, filename, filename2);
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(error.ptr())), error.ptr());
  throw py::error_already_set();
}

}  // namespace

void ThrowIfError(const Status& status, const std::string& filename) {
  if (status.ok()) return;
  Raise(status, filename.empty() ? nullptr : &filename, nullptr);
}

void ThrowIfError(const Status& status, const std::string& filename,
                  const std::string& filename2) {
  if (status.ok()) return;
  Raise(status, &filename, &filename2);
}

}  // namespace gkfs::bindings

PYBIND11_MODULE(_core, m) {
  namespace gb = gkfs::bindings;
  m.doc() = "Private C++ core of gkfs (use the gkfs package instead).";
  m.def("version", [] { return std::string(gkfs::Version()); },
        "Version string of the C++ core.");
  gb::RegisterPlacement(m);
  gb::RegisterClient(m);
  gb::RegisterForwarding(m);
  gb::RegisterDaemon(m);
}
