// Views of decoded WindowRecords.
#include "record_views.h"

namespace edgesketch::store {

void RecordViews::assign(std::span<const wire::WindowRecord> records) {
  views_.clear();
  tags_.clear();
  blobs_.clear();
  // Offsets first: the tag and blob buffers may move while they grow.
  struct Offsets {
    std::size_t tags, h, h_end, d_end, t_end;
  };
  std::vector<Offsets> at(records.size());
  for (std::size_t i = 0; i < records.size(); ++i) {
    const wire::WindowRecord& r = records[i];
    at[i].tags = tags_.size();
    for (const wire::Tag& t : r.key.tags) tags_.push_back(wire::TagView{t.key, t.value});
    at[i].h = blobs_.size();
    if (const auto* h = r.agg.histogram()) h->serialize(blobs_);
    at[i].h_end = blobs_.size();
    if (const auto* d = r.agg.distinct()) d->serialize(blobs_);
    at[i].d_end = blobs_.size();
    if (const auto* t = r.agg.topk()) t->serialize(blobs_);
    at[i].t_end = blobs_.size();
  }
  views_.resize(records.size());
  const ByteSpan blobs(blobs_);
  for (std::size_t i = 0; i < records.size(); ++i) {
    const wire::WindowRecord& r = records[i];
    wire::WindowRecordView& v = views_[i];
    v.metric = r.key.metric;
    v.tags = std::span<const wire::TagView>(tags_.data() + at[i].tags, r.key.tags.size());
    v.window_start_ms = r.window_start_ms;
    v.window_ms = r.window_ms;
    v.delta = r.delta;
    v.count = r.agg.count();
    v.sum = r.agg.sum();
    v.min = r.agg.min();
    v.max = r.agg.max();
    v.histogram = blobs.subspan(at[i].h, at[i].h_end - at[i].h);
    v.distinct = blobs.subspan(at[i].h_end, at[i].d_end - at[i].h_end);
    v.topk = blobs.subspan(at[i].d_end, at[i].t_end - at[i].d_end);
    v.distinct_of = r.distinct_of;
    v.topk_of = r.topk_of;
  }
}

}  // namespace edgesketch::store
