// RecordViews: WindowRecordViews of records that are already decoded (a batch handed to
// Store::submit() as a WindowBatch, the rollup records the store derives), so that the write
// path has one input form: the views a decoded payload gives.
//
// Thread safety: thread-compatible.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/wire/batch_view.h"
#include "edgesketch/wire/types.h"

namespace edgesketch::store {

class RecordViews {
 public:
  // Views of `records`, whose strings must outlive them; their sketches are serialized into this
  // object. Precondition: the records' aggregates are valid (from_parts() accepts them).
  void assign(std::span<const wire::WindowRecord> records);
  std::span<const wire::WindowRecordView> views() const { return views_; }

 private:
  std::vector<wire::WindowRecordView> views_;
  std::vector<wire::TagView> tags_;
  Bytes blobs_;
};

}  // namespace edgesketch::store
