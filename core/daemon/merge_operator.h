// The RocksDB merge operator for metadata records: applies 'M' (size = max), 'S' (size =
// value) and 'A' (attributes) operands to a record (common/metadata_codec.h). With no base
// value (the key was deleted) the result is the tombstone record, so a write that races an
// unlink never resurrects the file.
#pragma once

#include <rocksdb/merge_operator.h>

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace gkfs {

std::shared_ptr<rocksdb::MergeOperator> NewMetadataMergeOperator();

// Tests: how many operands the last full merge applied.
extern std::atomic<size_t> TEST_last_merge_operands;

// The merge itself, shared with the in-memory store and unit tests. base == nullptr: none.
std::string MergeRecord(const std::string_view* base, const std::vector<std::string_view>& operands);

}  // namespace gkfs
