#include "daemon/merge_operator.h"

#include "common/log.h"
#include "common/metadata_codec.h"

namespace gkfs {

std::string MergeRecord(const std::string_view* base, const std::vector<std::string_view>& operands) {
  Metadata md;
  if (base == nullptr || !DecodeMetadata(*base, &md).ok()) {
    return std::string(1, static_cast<char>(kTombstoneVersion));
  }
  for (std::string_view op : operands) {
    Status s = ApplyOperand(op, &md);
    if (!s.ok()) GKFS_LOG(kError, "skipping a malformed merge operand");
  }
  return EncodeMetadata(md);
}

std::atomic<size_t> TEST_last_merge_operands{0};

namespace {

class MetadataMergeOperator : public rocksdb::MergeOperator {
 public:
  bool FullMergeV2(const MergeOperationInput& in, MergeOperationOutput* out) const override {
    std::string_view base;
    if (in.existing_value != nullptr) base = in.existing_value->ToStringView();
    std::vector<std::string_view> operands;
    operands.reserve(in.operand_list.size());
    for (const auto& op : in.operand_list) operands.push_back(op.ToStringView());
    TEST_last_merge_operands.store(operands.size(), std::memory_order_relaxed);
    out->new_value = MergeRecord(in.existing_value != nullptr ? &base : nullptr, operands);
    return true;
  }
  const char* Name() const override { return "gkfs.MetadataMergeOperator.v1"; }
};

}  // namespace

std::shared_ptr<rocksdb::MergeOperator> NewMetadataMergeOperator() {
  return std::make_shared<MetadataMergeOperator>();
}

}  // namespace gkfs
