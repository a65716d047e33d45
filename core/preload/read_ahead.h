// Opt-in client read-ahead of the preload library (LIBGKFS_READ_AHEAD=BYTES; 0, the
// default: off, every read asks the daemons).
//
// A sequential read shorter than the window (one that starts at offset 0, where the previous
// read of the same open file description ended, or less than a window after that: strided
// reads) fetches the whole window from its offset in one Client::Read; the reads that follow
// are copied from it while they stay inside it.
// Consistency with the option on:
//   * writes, truncations and appends of this process (any descriptor) are always seen: each
//     one ends the windows of every open file (a process-wide write epoch);
//   * writes of other processes or clients are seen once a read leaves the window (at most
//     one window later), or after the file is opened again; a read at or past the end of
//     file the window saw always asks the daemons, so a growing file is followed.
// Other reads (backwards, or further ahead) and reads as large as the window go straight to
// the daemons.
//
// Thread-safe: a window belongs to one OpenFile and is used under its mutex; a read that
// finds it taken by another thread goes to the daemons without it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

#include "gkfs/status.h"

namespace gkfs::preload {

class ReadAhead {
 public:
  // Fetches up to `len` bytes of the file at `offset` into dst; *got is what the file had
  // (short only at its end).
  using Fetch = std::function<Status(uint64_t offset, void* dst, size_t len, size_t* got)>;

  // Reads [offset, offset + len) into buf, from the window when it holds the range and no
  // write of this process happened since it was fetched, else through fetch (a whole
  // window when the read is sequential and shorter than window_bytes). REQUIRES:
  // window_bytes > 0, len > 0.
  Status Read(size_t window_bytes, uint64_t offset, void* buf, size_t len, size_t* got,
              const Fetch& fetch);

  // Ends every window of this process: called after each change of file data by it.
  static void DataChanged();

 private:
  std::mutex mu_;
  // The window: file bytes [start_, start_ + size_) in data_ (capacity_ bytes), fetched at
  // write epoch epoch_ (0: none); at_end_ when the file ended inside it. next_ is where the
  // last read of the description ended (what "sequential" means).
  std::unique_ptr<char[]> data_;  // GUARDED_BY(mu_), as every member below
  size_t capacity_ = 0;
  size_t size_ = 0;
  uint64_t start_ = 0;
  uint64_t epoch_ = 0;
  bool at_end_ = false;
  uint64_t next_ = 0;
};

}  // namespace gkfs::preload
