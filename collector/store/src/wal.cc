// WAL segments: replay with torn-tail truncation, appends, the group-commit thread, rotation.
#include "wal.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "edgesketch/common/crc32c.h"

namespace edgesketch::store {
namespace {

constexpr char kMagic[8] = {'E', 'S', 'W', 'A', 'L', '0', '0', '1'};
constexpr std::size_t kHeaderBytes = 16;
constexpr std::size_t kRecordHeaderBytes = 8;
constexpr std::uint32_t kMaxPayloadBytes = 64u << 20;

std::uint32_t record_crc(std::uint32_t len, ByteSpan payload) {
  std::uint8_t l[4];
  std::memcpy(l, &len, 4);
  return crc32c_extend(crc32c(l, 4), payload.data(), payload.size());
}

}  // namespace

bool Wal::parse_segment_name(const std::string& name, std::uint64_t& n) {
  if (name.size() != 20 || name.compare(16, 4, ".wal") != 0) return false;
  n = 0;
  for (int i = 0; i < 16; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    n = n * 10 + static_cast<std::uint64_t>(name[i] - '0');
  }
  return true;
}

std::string Wal::segment_path(std::uint64_t n) const {
  char name[32];
  std::snprintf(name, sizeof name, "%016" PRIu64 ".wal", n);
  return options_.dir + "/" + name;
}

Result<std::unique_ptr<Wal>> Wal::open(const WalOptions& options, std::uint64_t first_live,
                                       const ReplayFn& replay, WalReplayReport& report) {
  std::unique_ptr<Wal> wal(new Wal(options));
  env::Env& env = *wal->env_;
  ES_RETURN_IF_ERROR(env.ensure_dir(options.dir));
  ES_ASSIGN_OR_RETURN(auto names, env.list_dir(options.dir));
  std::uint64_t newest = 0;
  for (const auto& name : names) {
    std::uint64_t n;
    if (parse_segment_name(name, n)) newest = std::max(newest, n);
  }
  std::uint64_t last = first_live == 0 ? 0 : first_live - 1;
  std::uint64_t lowest = 0;
  for (const auto& name : names) {
    std::uint64_t n;
    if (!parse_segment_name(name, n)) continue;
    const std::string path = options.dir + "/" + name;
    if (n < first_live) {
      ES_RETURN_IF_ERROR(env.remove_file(path));
      ++report.stale_segments_removed;
      continue;
    }
    if (lowest == 0) lowest = n;
    last = std::max(last, n);
    ++report.segments;
    ES_ASSIGN_OR_RETURN(env::MappedFile map, env.map_file(path));
    ByteSpan b = map.bytes();
    std::size_t valid = 0;
    if (b.size() >= kHeaderBytes && std::memcmp(b.data(), kMagic, 8) == 0) {
      std::uint64_t stored;
      std::memcpy(&stored, b.data() + 8, 8);
      if (stored == n) valid = kHeaderBytes;
    }
    std::size_t pos = valid;
    while (valid >= kHeaderBytes && pos + kRecordHeaderBytes <= b.size()) {
      std::uint32_t len, crc;
      std::memcpy(&len, b.data() + pos, 4);
      std::memcpy(&crc, b.data() + pos + 4, 4);
      if (len > kMaxPayloadBytes || len > b.size() - pos - kRecordHeaderBytes) break;
      ByteSpan payload = b.subspan(pos + kRecordHeaderBytes, len);
      if (record_crc(len, payload) != crc) break;
      ByteReader r(payload);
      std::string_view tenant = r.string(1024);
      if (!r.ok()) break;
      ES_RETURN_IF_ERROR(replay(tenant, payload.subspan(payload.size() - r.remaining())));
      ++report.records;
      pos += kRecordHeaderBytes + len;
      valid = pos;
    }
    if (valid < b.size() && n != newest) {
      // A closed segment: it was complete when the next one started. Keep it for inspection.
      ++report.segments_quarantined;
      const std::string qdir =
          options.quarantine_dir.empty() ? options.dir + "/quarantine" : options.quarantine_dir;
      const std::string to = qdir + "/" + name;
      spdlog::error(
          "wal: closed segment {} has {} invalid bytes after offset {} (damaged storage); "
          "replayed the {} bytes before them and moved the segment to {}; batches after the "
          "damage are not in the store unless their agents still hold them",
          path, b.size() - valid, valid, valid, to);
      map = env::MappedFile();
      ES_RETURN_IF_ERROR(env.ensure_dir(qdir));
      ES_RETURN_IF_ERROR(env.rename_durable(path, to));
      continue;
    }
    if (valid < b.size()) {
      report.torn_bytes += b.size() - valid;
      spdlog::warn(
          "wal: newest segment {} has {} invalid bytes after offset {} (a write cut short by a "
          "crash); truncating them",
          path, b.size() - valid, valid);
      ES_ASSIGN_OR_RETURN(auto f, env.open_append(path, false));
      ES_RETURN_IF_ERROR(f->truncate(valid));
      ES_RETURN_IF_ERROR(f->sync());
    }
    wal->closed_bytes_ += valid;
  }
  std::lock_guard lock(wal->mu_);
  wal->first_segment_ = lowest == 0 ? last + 1 : lowest;
  ES_RETURN_IF_ERROR(wal->start_segment_locked(last + 1));
  wal->thread_ = std::thread([w = wal.get()] { w->sync_loop(); });
  return wal;
}

Wal::~Wal() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status Wal::start_segment_locked(std::uint64_t n) {
  const std::string path = segment_path(n);
  ES_RETURN_IF_ERROR(env_->remove_file(path));
  ES_ASSIGN_OR_RETURN(auto f, env_->open_append(path, true));
  Bytes header;
  for (char c : kMagic) header.push_back(static_cast<std::uint8_t>(c));
  put_u64(header, n);
  Status s = f->append(header);
  if (s.ok()) s = f->sync();
  if (s.ok()) s = env_->sync_dir(options_.dir);
  if (!s.ok()) {
    f.reset();
    (void)env_->remove_file(path);  // a later attempt creates it again
    return s;
  }
  if (segment_ != 0 && file_ != nullptr) closed_bytes_ += file_->size();
  file_ = std::move(f);
  segment_ = n;
  segment_size_ = file_->size();
  return Status();
}

Result<std::uint64_t> Wal::append(std::string_view tenant, ByteSpan batch) {
  const std::size_t len =
      static_cast<std::size_t>(varint_size(tenant.size())) + tenant.size() + batch.size();
  if (len > kMaxPayloadBytes) return Status::invalid_argument("wal: record too large");
  bool rotate_first;
  {
    std::lock_guard lock(mu_);
    rotate_first = segment_size_ >= options_.segment_bytes;
  }
  if (rotate_first) {
    ES_ASSIGN_OR_RETURN(std::uint64_t ignored, rotate());
    (void)ignored;
  }
  std::unique_lock lock(mu_);
  durable_cv_.wait(lock,
                   [&] { return buffer_.size() < options_.max_buffer_bytes || !failed_.ok(); });
  if (!failed_.ok()) return failed_;
  const std::size_t at = buffer_.size();
  buffer_.resize(at + kRecordHeaderBytes);
  put_string(buffer_, tenant);
  put_bytes(buffer_, batch);
  const auto len32 = static_cast<std::uint32_t>(len);
  const std::uint32_t crc = record_crc(len32, ByteSpan(buffer_).subspan(at + kRecordHeaderBytes));
  std::memcpy(buffer_.data() + at, &len32, 4);
  std::memcpy(buffer_.data() + at + 4, &crc, 4);
  segment_size_ += kRecordHeaderBytes + len;
  ++appended_;
  work_cv_.notify_one();
  return appended_;
}

void Wal::sync_loop() {
  std::unique_lock lock(mu_);
  Bytes group;
  for (;;) {
    work_cv_.wait(lock, [&] { return stop_ || (appended_ > synced_ && failed_.ok()); });
    if (stop_) return;
    if (options_.group_commit_delay_us > 0) {
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::microseconds(options_.group_commit_delay_us));
      lock.lock();
    }
    const std::uint64_t target = appended_;
    group.clear();
    group.swap(buffer_);
    syncing_ = true;
    durable_cv_.notify_all();  // the buffer has room again
    lock.unlock();
    // file_ is only replaced by rotate(), which waits for !syncing_ and an empty buffer first.
    Status s = file_->append(group);
    if (s.ok()) s = file_->sync();
    lock.lock();
    syncing_ = false;
    ++fsyncs_;
    if (s.ok()) {
      synced_ = target;
    } else {
      spdlog::error("wal: {}; refusing writes until the store recovers", s.to_string());
      failed_ = s;
    }
    durable_cv_.notify_all();
  }
}

Status Wal::wait_durable(std::uint64_t lsn) {
  std::unique_lock lock(mu_);
  durable_cv_.wait(lock, [&] { return synced_ >= lsn || !failed_.ok(); });
  if (synced_ >= lsn) return Status();
  return failed_;
}

Result<std::uint64_t> Wal::rotate() {
  std::unique_lock lock(mu_);
  durable_cv_.wait(lock, [&] { return (synced_ >= appended_ && !syncing_) || !failed_.ok(); });
  if (!failed_.ok()) return failed_;
  ES_RETURN_IF_ERROR(start_segment_locked(segment_ + 1));
  return segment_;
}

Status Wal::remove_segments_before(std::uint64_t segment) {
  std::lock_guard lock(mu_);
  segment = std::min(segment, segment_);
  for (std::uint64_t n = first_segment_; n < segment; ++n) {
    const std::string path = segment_path(n);
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) {
      closed_bytes_ -=
          std::min<std::uint64_t>(closed_bytes_, static_cast<std::uint64_t>(st.st_size));
    }
    ES_RETURN_IF_ERROR(env_->remove_file(path));
    first_segment_ = std::max(first_segment_, n + 1);
  }
  first_segment_ = std::max(first_segment_, segment);
  return env_->sync_dir(options_.dir);
}

Status Wal::failure() const {
  std::lock_guard lock(mu_);
  return failed_;
}

Result<std::uint64_t> Wal::begin_recovery() {
  std::unique_lock lock(mu_);
  durable_cv_.wait(lock, [&] { return !syncing_; });
  buffer_.clear();
  // The current segment may hold a partial group; a fresh one keeps replay's torn-tail rule
  // (only the newest segment may end early) true.
  ES_RETURN_IF_ERROR(start_segment_locked(segment_ + 1));
  durable_cv_.notify_all();
  return segment_;
}

void Wal::end_recovery() {
  {
    std::lock_guard lock(mu_);
    synced_ = appended_;
    failed_ = Status();
  }
  durable_cv_.notify_all();
}

std::uint64_t Wal::last_lsn() const {
  std::lock_guard lock(mu_);
  return appended_;
}

std::uint64_t Wal::bytes() const {
  std::lock_guard lock(mu_);
  return closed_bytes_ + segment_size_;
}

std::uint64_t Wal::segments() const {
  std::lock_guard lock(mu_);
  return segment_ - first_segment_ + 1;
}

std::uint64_t Wal::fsyncs() const {
  std::lock_guard lock(mu_);
  return fsyncs_;
}

}  // namespace edgesketch::store
