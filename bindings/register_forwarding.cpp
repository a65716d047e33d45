// Forwarding mode: the C++ IoScheduler objects a daemon's options take, and the adapter that
// makes a Python scheduler host (gkfs.forwarding.scheduling.SchedulerHost) one of them.
#include <pybind11/stl.h>

#include "bindings.h"
#include "common/log.h"
#include "daemon/forwarding/pfs_files.h"
#include "gkfs/scheduler.h"

namespace gkfs::bindings {
namespace {

// Calls the Python host once per batch decision and once per group of completions, with
// the GIL taken only for those calls (the I/O queue's threads run without it). A Python
// exception becomes a non-OK Status: the queue then dispatches in arrival order.
class PyIoScheduler : public IoScheduler {
 public:
  PyIoScheduler(py::object host, uint32_t max_aggregation)
      : host_(std::move(host)), max_aggregation_(max_aggregation ? max_aggregation : 1) {}
  ~PyIoScheduler() override {
    py::gil_scoped_acquire gil;  // the last reference may go in a thread without the GIL
    host_ = py::object();
  }
  uint32_t max_aggregation() const override { return max_aggregation_; }

  Status Schedule(double now, const IoQueues& queues, int limit, std::vector<std::vector<uint64_t>>* batch,
                  double* sleep) override {
    py::gil_scoped_acquire gil;
    try {
      py::dict view;
      for (const auto& [queue, requests] : queues) {
        py::list list(requests.size());
        for (size_t i = 0; i < requests.size(); ++i) {
          const IoRequestInfo& r = requests[i];
          list[i] = py::make_tuple(r.id, r.app_id, r.queue_id, r.target, r.kind, r.offset, r.length, r.arrival);
        }
        view[py::int_(queue)] = std::move(list);
      }
      py::tuple result = host_.attr("schedule")(now, view, limit);
      for (py::handle unit : py::list(result[0])) {
        batch->push_back(unit.cast<std::vector<uint64_t>>());
      }
      *sleep = result[1].is_none() ? -1 : result[1].cast<double>();
      return Status::OK();
    } catch (const std::exception& e) {
      return Status::Error(EINVAL, std::string("scheduler plug-in failed: ") + e.what());
    }
  }

  void OnComplete(const std::vector<IoUnitStats>& stats) override {
    py::gil_scoped_acquire gil;
    try {
      py::list list;
      for (const auto& s : stats) list.append(py::make_tuple(s.ids, s.bytes, s.queue_wait, s.service, s.error));
      host_.attr("on_complete")(list);
    } catch (const std::exception& e) {
      GKFS_LOG(kError, std::string("scheduler plug-in on_complete failed: ") + e.what());
    }
  }

 private:
  py::object host_;
  uint32_t max_aggregation_;
};

}  // namespace

void RegisterForwarding(py::module_& m) {
  py::class_<IoScheduler, std::shared_ptr<IoScheduler>>(
      m, "IoScheduler", "Orders an I/O node's PFS reads and writes (forwarding mode).")
      .def_property_readonly("max_aggregation", &IoScheduler::max_aggregation);
  m.def("fifo_scheduler", &NewFifoScheduler, py::arg("max_aggregation") = 16,
        "The built-in scheduler: arrival order, contiguous requests merged (TO-agg).");
  m.def(
      "python_scheduler",
      [](py::object host, uint32_t max_aggregation) -> std::shared_ptr<IoScheduler> {
        return std::make_shared<PyIoScheduler>(std::move(host), max_aggregation);
      },
      py::arg("host"), py::arg("max_aggregation"),
      "Adapts a gkfs.forwarding.scheduling.SchedulerHost (schedule(now, queues, limit) -> "
      "(batch, sleep), on_complete(stats)).");
  m.attr("HAVE_FORWARDING") = static_cast<bool>(GKFS_HAVE_FORWARDING);
  m.attr("PFS_OPEN_FILES") = kPfsOpenFiles;
  m.attr("PFS_REVALIDATE_BATCH") = kPfsRevalidateBatch;
  m.attr("PFS_REVALIDATE_SECONDS") = kPfsRevalidateSeconds;
}

}  // namespace gkfs::bindings
