// Journal: segment rotation, recovery of the last segment at open, replay, trim and interval
// syncing.
#include "journal/journal.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "journal/journal_format.h"

namespace edgesketch::agent {

namespace {

// Segments are read whole whatever their size: one written under a larger segment_bytes (or
// holding a single large record) must still replay.
constexpr std::uint64_t kNoSizeLimit = UINT64_MAX;

const char* segment_end_name(SegmentEnd end) {
  switch (end) {
    case SegmentEnd::kClean:
      return "clean";
    case SegmentEnd::kTornTail:
      return "torn tail";
    case SegmentEnd::kCorrupt:
      return "damaged record";
    case SegmentEnd::kBadHeader:
      return "bad segment header";
  }
  return "?";
}

}  // namespace

Journal::Journal(JournalOptions options)
    : options_(std::move(options)),
      fs_(options_.env != nullptr ? *options_.env : env::Env::posix()) {}

Journal::~Journal() {
  // Wait for a concurrent sync() (a contract violation, but cheap to tolerate).
  std::lock_guard sync_lock(sync_mu_);
  std::lock_guard lock(mu_);
}

Result<std::unique_ptr<Journal>> Journal::open(JournalOptions options) {
  if (options.dir.empty()) return Status::invalid_argument("journal: options.dir is empty");
  if (options.segment_bytes < kSegmentHeaderBytes + kRecordHeaderBytes) {
    return Status::invalid_argument("journal: segment_bytes " +
                                    std::to_string(options.segment_bytes) +
                                    " is too small; use at least 64 KiB");
  }
  if (options.sync_interval_ms < 0) {
    return Status::invalid_argument("journal: sync_interval_ms must be >= 0");
  }
  if (options.min_next_record_no == 0) options.min_next_record_no = 1;
  std::unique_ptr<Journal> journal(new Journal(std::move(options)));
  ES_RETURN_IF_ERROR(journal->recover());
  {
    std::lock_guard lock(journal->mu_);
    if (journal->next_record_no_ < journal->options_.min_next_record_no) {
      // Numbers inside a segment are consecutive, so jumping ahead needs a new segment.
      journal->next_record_no_ = journal->options_.min_next_record_no;
      ES_RETURN_IF_ERROR(journal->rotate_locked().with_context("journal: open"));
    }
  }
  return journal;
}

std::string Journal::segment_path(std::uint64_t first_record_no) const {
  return options_.dir + "/" + segment_file_name(first_record_no);
}

Status Journal::recover() {
  const std::string context = "journal: open " + options_.dir;
  ES_RETURN_IF_ERROR(fs_.create_dir(options_.dir).with_context(context));
  ES_ASSIGN_OR_RETURN(std::vector<std::string> names, fs_.list_dir(options_.dir));
  std::lock_guard lock(mu_);
  for (const std::string& name : names) {
    if (auto first = parse_segment_file_name(name)) segments_.push_back(*first);
  }
  std::sort(segments_.begin(), segments_.end());

  // Make what an earlier process wrote but may not have synced durable before building on it.
  for (std::size_t i = 0; i < segments_.size(); ++i) {
    auto file = fs_.open_append(segment_path(segments_[i]), /*truncate=*/false);
    Status s = file.ok() ? (*file)->sync() : file.status();
    if (!s.ok()) {
      ++stats_.sync_errors;
      spdlog::warn("{}: {}", context, s.to_string());
    }
  }

  if (segments_.empty()) {
    segments_.push_back(1);
    next_record_no_ = 1;
    ES_ASSIGN_OR_RETURN(active_, create_segment_locked(1));
    active_first_ = 1;
    active_size_ = kSegmentHeaderBytes;
    return Status();
  }

  const std::uint64_t last = segments_.back();
  const std::string path = segment_path(last);
  ES_ASSIGN_OR_RETURN(Bytes data, fs_.read_file(path, kNoSizeLimit));
  SegmentScan scan = scan_segment(data, nullptr);
  if (scan.end == SegmentEnd::kBadHeader && scan.version != 0) {
    return Status::failed_precondition(
        context + ": " + path + " has journal format version " + std::to_string(scan.version) +
        " but this build writes version " + std::to_string(kJournalVersion) +
        "; run the newer agent or move the journal directory away");
  }
  const bool header_ok = scan.end != SegmentEnd::kBadHeader && scan.first_record_no == last;

  if (!header_ok && data.size() < kSegmentHeaderBytes) {
    // The process died while creating this segment: it holds nothing. Start it again.
    stats_.torn_tail_bytes += data.size();
    ES_ASSIGN_OR_RETURN(active_, create_segment_locked(last));
    next_record_no_ = last;
    active_first_ = last;
    active_size_ = kSegmentHeaderBytes;
    stats_.synced_record_no = next_record_no_ - 1;
    return Status();
  }

  if (!header_ok || scan.end == SegmentEnd::kCorrupt) {
    // Damage inside the last segment: leave it for replay to read up to the damage and count,
    // and continue in a new segment numbered past anything the damaged bytes could hold, so no
    // record number is ever used twice.
    const std::uint64_t after_valid = scan.records > 0 ? scan.last_record_no + 1 : last;
    const std::size_t valid = header_ok ? scan.valid_bytes : 0;
    next_record_no_ = after_valid + (data.size() - valid) / kRecordHeaderBytes + 1;
    spdlog::warn("{}: {} has a {} at offset {}; appending to a new segment from record {}", context,
                 path, segment_end_name(header_ok ? scan.end : SegmentEnd::kBadHeader), valid,
                 next_record_no_);
    ES_ASSIGN_OR_RETURN(active_, create_segment_locked(next_record_no_));
    segments_.push_back(next_record_no_);
    active_first_ = next_record_no_;
    active_size_ = kSegmentHeaderBytes;
    stats_.synced_record_no = next_record_no_ - 1;
    return Status();
  }

  // Clean or torn tail: keep appending to the last segment, after cutting the torn tail away.
  ES_ASSIGN_OR_RETURN(active_, fs_.open_append(path, /*truncate=*/false));
  if (scan.end == SegmentEnd::kTornTail) {
    ES_RETURN_IF_ERROR(active_->truncate(scan.valid_bytes).with_context(context));
    stats_.torn_tail_records = 1;
    stats_.torn_tail_bytes += data.size() - scan.valid_bytes;
    active_unsynced_ = true;
    spdlog::warn("{}: cut a torn record ({} bytes) off the end of {} after record {}", context,
                 data.size() - scan.valid_bytes, path, scan.last_record_no);
  }
  active_first_ = last;
  active_size_ = scan.valid_bytes;
  active_records_ = scan.records;
  next_record_no_ = scan.records > 0 ? scan.last_record_no + 1 : last;
  stats_.synced_record_no = next_record_no_ - 1;
  return Status();
}

Result<std::unique_ptr<env::WritableFile>> Journal::create_segment_locked(
    std::uint64_t first_record_no) {
  // A segment that fails half-way stays on disk: a later attempt reuses the same name (no record
  // number was used up), and open() restarts a last segment shorter than its header.
  ES_ASSIGN_OR_RETURN(std::unique_ptr<env::WritableFile> file,
                      fs_.open_append(segment_path(first_record_no), /*truncate=*/true));
  Bytes header;
  append_segment_header(header, first_record_no);
  ES_RETURN_IF_ERROR(file->append(header));
  dir_dirty_ = true;
  active_unsynced_ = true;
  return file;
}

Status Journal::rotate_locked() {
  const std::uint64_t first = next_record_no_;
  ES_ASSIGN_OR_RETURN(std::unique_ptr<env::WritableFile> file, create_segment_locked(first));
  // Kept alive until the next sync() even when it had no record (then it has this very name
  // and was just recreated): a concurrent sync() may be using it.
  if (active_) unsynced_closed_.push_back(std::move(active_));
  if (segments_.empty() || segments_.back() != first) segments_.push_back(first);
  active_ = std::move(file);
  active_first_ = first;
  active_size_ = kSegmentHeaderBytes;
  active_records_ = 0;
  active_broken_ = false;
  return Status();
}

Result<std::uint64_t> Journal::append(ByteSpan payload, std::uint8_t type) {
  if (payload.size() > kMaxJournalPayload) {
    return Status::invalid_argument("journal: payload of " + std::to_string(payload.size()) +
                                    " bytes exceeds the limit of " +
                                    std::to_string(kMaxJournalPayload));
  }
  const std::uint64_t record_bytes = kRecordHeaderBytes + payload.size();
  std::lock_guard lock(mu_);
  if (active_broken_ ||
      (active_records_ > 0 && active_size_ + record_bytes > options_.segment_bytes)) {
    ES_RETURN_IF_ERROR(
        rotate_locked().with_context("journal: start segment " + segment_path(next_record_no_)));
  }
  const std::uint64_t record_no = next_record_no_;
  scratch_.clear();
  append_record(scratch_, record_no, type, payload);
  Status s = active_->append(scratch_);
  if (!s.ok()) {
    ++stats_.write_errors;
    // Cut the partial record away so the next one does not follow garbage.
    Status t = active_->truncate(active_size_);
    if (!t.ok()) {
      active_broken_ = true;
      spdlog::warn("journal: {}; the next append starts a new segment", t.to_string());
    }
    return s.with_context("journal: append record " + std::to_string(record_no) + " (" +
                          std::to_string(record_bytes) + " bytes)");
  }
  active_size_ += record_bytes;
  ++active_records_;
  active_unsynced_ = true;
  ++next_record_no_;
  ++stats_.records;
  stats_.bytes += record_bytes;
  return record_no;
}

Status Journal::sync() {
  std::lock_guard sync_lock(sync_mu_);
  std::vector<std::unique_ptr<env::WritableFile>> closed;
  env::WritableFile* active = nullptr;
  std::uint64_t target;
  bool need_dir;
  {
    std::lock_guard lock(mu_);
    target = next_record_no_ - 1;
    closed.swap(unsynced_closed_);
    if (active_unsynced_) active = active_.get();
    active_unsynced_ = false;
    need_dir = dir_dirty_;
    dir_dirty_ = false;
  }
  if (closed.empty() && active == nullptr && !need_dir) return Status();

  // Directory entries first, then older segments before the active one. Nothing here touches
  // state guarded by mu_: only sync() (serialised by sync_mu_) retires WritableFile objects.
  Status first_error;
  std::uint64_t ok_syncs = 0, errors = 0;
  auto note = [&](const Status& s) {
    if (s.ok()) return true;
    ++errors;
    if (first_error.ok()) first_error = s;
    return false;
  };
  const bool dir_ok = !need_dir || note(fs_.sync_dir(options_.dir));
  for (auto& file : closed) ok_syncs += note(file->sync()) ? 1 : 0;
  bool active_ok = true;
  if (active != nullptr) {
    active_ok = note(active->sync());
    ok_syncs += active_ok ? 1 : 0;
  }

  std::lock_guard lock(mu_);
  stats_.syncs += ok_syncs;
  stats_.sync_errors += errors;
  if (!dir_ok) dir_dirty_ = true;
  if (!active_ok) {
    active_unsynced_ = true;
    if (active_.get() == active) active_broken_ = true;
  }
  if (errors == 0) {
    stats_.synced_record_no = std::max(stats_.synced_record_no, target);
    return Status();
  }
  return first_error.with_context("journal: sync");
}

Status Journal::maybe_sync(std::int64_t now_ms) {
  {
    std::lock_guard lock(mu_);
    if (now_ms - last_sync_ms_ < options_.sync_interval_ms) return Status();
    last_sync_ms_ = now_ms;
  }
  return sync();
}

Result<ReplayResult> Journal::replay(std::uint64_t from_record_no, const ReplayCallback& callback) {
  const std::string context = "journal: replay " + options_.dir;
  ES_ASSIGN_OR_RETURN(std::vector<std::string> names, fs_.list_dir(options_.dir));
  std::vector<std::uint64_t> firsts;
  for (const std::string& name : names) {
    if (auto first = parse_segment_file_name(name)) firsts.push_back(*first);
  }
  std::sort(firsts.begin(), firsts.end());

  ReplayResult result;
  std::uint64_t active_first, active_size;
  {
    std::lock_guard lock(mu_);
    active_first = active_first_;
    active_size = active_size_;
    result.torn_tail_records = stats_.torn_tail_records;
  }

  for (std::size_t i = 0; i < firsts.size(); ++i) {
    const std::uint64_t first = firsts[i];
    const std::string path = segment_path(first);
    auto data = fs_.read_file(path, kNoSizeLimit);
    if (!data.ok()) {
      ++result.corrupt_segments;
      spdlog::warn("{}: skipping unreadable segment: {}", context, data.status().to_string());
      continue;
    }
    ByteSpan bytes(*data);
    // Only what was appended when the replay started, so a concurrent append is not mistaken
    // for a torn record.
    if (first == active_first && bytes.size() > active_size) bytes = bytes.first(active_size);
    // Numbers must lie within this segment's range: a record that does not belongs elsewhere.
    const std::uint64_t limit = i + 1 < firsts.size() ? firsts[i + 1] : UINT64_MAX;
    bool out_of_range = false;
    SegmentScan scan =
        scan_segment(bytes, [&](std::uint64_t record_no, std::uint8_t type, ByteSpan payload) {
          if (out_of_range || record_no < first || record_no >= limit) {
            out_of_range = true;
            return;
          }
          result.last_record_no = record_no;
          if (record_no < from_record_no) {
            ++result.skipped_records;
            return;
          }
          ++result.records;
          callback(record_no, type, payload);
        });
    if (scan.end != SegmentEnd::kClean || out_of_range) {
      ++result.corrupt_segments;
      spdlog::warn(
          "{}: {}: {} after record {} (offset {}); skipped the rest of the segment", context, path,
          out_of_range ? "record number outside the segment's range" : segment_end_name(scan.end),
          scan.last_record_no, scan.valid_bytes);
    }
  }
  std::lock_guard lock(mu_);
  stats_.corrupt_segments += result.corrupt_segments;
  return result;
}

Result<std::size_t> Journal::trim(std::uint64_t upto_record_no) {
  std::vector<std::uint64_t> doomed;
  {
    std::lock_guard lock(mu_);
    // Segment i holds records < segments_[i + 1]; the last segment is the active one.
    std::size_t n = 0;
    while (n + 1 < segments_.size() && segments_[n + 1] - 1 <= upto_record_no) ++n;
    doomed.assign(segments_.begin(), segments_.begin() + static_cast<std::ptrdiff_t>(n));
    segments_.erase(segments_.begin(), segments_.begin() + static_cast<std::ptrdiff_t>(n));
  }
  // Unlink without the lock; put back what could not be removed so a later trim retries.
  for (std::size_t i = 0; i < doomed.size(); ++i) {
    Status s = fs_.remove_file(segment_path(doomed[i]));
    if (!s.ok()) {
      std::lock_guard lock(mu_);
      segments_.insert(segments_.begin(), doomed.begin() + static_cast<std::ptrdiff_t>(i),
                       doomed.end());
      stats_.segments_trimmed += i;
      return s.with_context("journal: trim");
    }
  }
  std::lock_guard lock(mu_);
  stats_.segments_trimmed += doomed.size();
  return doomed.size();
}

JournalStats Journal::stats() const {
  std::lock_guard lock(mu_);
  JournalStats s = stats_;
  s.segments = segments_.size();
  s.next_record_no = next_record_no_;
  return s;
}

}  // namespace edgesketch::agent
