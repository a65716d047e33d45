#include "rpc/repeatable.h"

namespace gkfs::rpc {

bool SafeToRepeat(Verb verb) {
  switch (verb) {
    case Verb::kFsConfig:
    case Verb::kHealth:
    case Verb::kPing:
    case Verb::kStat:
    case Verb::kStatForRead:     // relatime: a second read sets the same atime rule again
    case Verb::kReadDir:
    case Verb::kReadChunks:
    case Verb::kWriteChunks:     // the same bytes at the same offsets
    case Verb::kGrowSize:        // size = max(size, off+len)
    case Verb::kSetSize:
    case Verb::kSetAttr:         // given values; ctime becomes now again
    case Verb::kUntouchDir:      // conditional on touched_ns: a second one changes nothing
    case Verb::kTruncateChunks:
    case Verb::kRemoveChunks:
    case Verb::kFwdRead:
    case Verb::kFwdStats:
      return true;
    default:  // Create*, Remove*, TouchDir, PutRecord, ReserveAppend, FwdWrite (append), FwdRename
      return false;
  }
}

}  // namespace gkfs::rpc
