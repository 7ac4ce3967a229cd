// The device registry: a strict RFC 4180 record reader, then the header and row checks.
#include "process/device_registry.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <numeric>
#include <sstream>

#include "input/payload_text.h"

namespace edgesketch::agent {
namespace {

constexpr std::string_view kDeviceColumn = "device";
constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";

// Reads CSV records one at a time; fields are unquoted into reused strings.
class CsvReader {
 public:
  CsvReader(std::string_view text, std::string_view source) : text_(text), source_(source) {
    if (text_.starts_with(kByteOrderMark)) pos_ = kByteOrderMark.size();
  }

  // The next non-blank record into fields[0, count); false at the end of the text.
  Result<bool> next(std::vector<std::string>& fields, std::size_t& count) {
    // Blank lines (nothing before the line end) are skipped.
    for (;;) {
      if (pos_ >= text_.size()) return false;
      if (text_[pos_] == '\n') {
        ++pos_;
        new_line();
        continue;
      }
      if (text_.substr(pos_).starts_with("\r\n")) {
        pos_ += 2;
        new_line();
        continue;
      }
      break;
    }
    record_line_ = line_;
    count = 0;
    for (;;) {
      if (count == fields.size()) fields.emplace_back();
      std::string& f = fields[count++];
      f.clear();
      bool end_of_record = false;
      ES_RETURN_IF_ERROR(read_field(f, end_of_record));
      if (end_of_record) return true;
      if (count > kMaxFields) {
        return error(line_, "more than " + std::to_string(kMaxFields) + " fields in a record");
      }
    }
  }

  // The line the last record started on (1-based).
  std::size_t record_line() const { return record_line_; }

  Status error(std::size_t line, std::string_view what) const {
    return Status::invalid_argument(std::string(source_) + ":" + std::to_string(line) + ": " +
                                    std::string(what));
  }

 private:
  // Far more than any registry needs (the tag columns are capped lower); keeps a hostile record
  // of commas from growing the field vector without bound.
  static constexpr std::size_t kMaxFields = 1024;

  std::size_t column() const { return pos_ - line_start_ + 1; }
  void new_line() {
    ++line_;
    line_start_ = pos_;
  }

  // At a field separator or record end: consumes it.
  // Returns with end_of_record set when the record ended (line end or end of text).
  Status after_field(bool& end_of_record) {
    if (pos_ >= text_.size()) {
      end_of_record = true;
      return Status();
    }
    const char c = text_[pos_];
    if (c == ',') {
      ++pos_;
      return Status();
    }
    if (c == '\n') {
      ++pos_;
      new_line();
      end_of_record = true;
      return Status();
    }
    if (c == '\r' && (pos_ + 1 == text_.size() || text_[pos_ + 1] == '\n')) {
      pos_ += pos_ + 1 == text_.size() ? 1 : 2;
      new_line();
      end_of_record = true;
      return Status();
    }
    return Status();  // not reached for unquoted fields; see read_field
  }

  Status read_field(std::string& out, bool& end_of_record) {
    if (pos_ < text_.size() && text_[pos_] == '"') {
      const std::size_t open_line = line_;
      const std::size_t open_column = column();
      ++pos_;
      for (;;) {
        if (pos_ >= text_.size()) {
          return error(open_line, "the quoted field starting at column " +
                                      std::to_string(open_column) + " is not closed");
        }
        const char c = text_[pos_];
        if (c == '"') {
          if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '"') {
            out.push_back('"');
            pos_ += 2;
            continue;
          }
          ++pos_;
          break;
        }
        out.push_back(c);
        ++pos_;
        if (c == '\n') new_line();
      }
      if (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '\n' &&
          !(text_[pos_] == '\r' && (pos_ + 1 == text_.size() || text_[pos_ + 1] == '\n'))) {
        return error(line_, "column " + std::to_string(column()) +
                                ": text after the closing quote of a field (a quote inside a "
                                "quoted field is written \"\")");
      }
      return after_field(end_of_record);
    }
    const std::size_t start = pos_;
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == ',' || c == '\n') break;
      if (c == '\r' && (pos_ + 1 == text_.size() || text_[pos_ + 1] == '\n')) break;
      if (c == '"') {
        return error(line_, "column " + std::to_string(column()) +
                                ": a quote inside an unquoted field (quote the whole field and "
                                "double the quote: \"say \"\"hi\"\"\")");
      }
      if (c == '\r') {
        return error(line_, "column " + std::to_string(column()) +
                                ": a carriage return not followed by a line feed");
      }
      ++pos_;
    }
    out.assign(text_.substr(start, pos_ - start));
    return after_field(end_of_record);
  }

  std::string_view text_;
  std::string_view source_;
  std::size_t pos_ = 0;
  std::size_t line_ = 1;
  std::size_t line_start_ = 0;
  std::size_t record_line_ = 1;
};

// Valid UTF-8 without control characters (a tag value with a line break would garble logs and
// exposition formats downstream).
bool printable(std::string_view s) {
  if (!valid_text(s)) return false;
  return std::none_of(s.begin(), s.end(),
                      [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == '\x7f'; });
}

}  // namespace

Result<DeviceRegistry> DeviceRegistry::parse(std::string_view text, std::string_view source,
                                             const RegistryLimits& limits) {
  const std::string src(source);
  if (text.size() > limits.max_bytes) {
    return Status::invalid_argument(src + ": " + std::to_string(text.size()) +
                                    " bytes, above the limit of " +
                                    std::to_string(limits.max_bytes) + " ([enrich] max_bytes)");
  }
  if (text.size() > std::numeric_limits<std::uint32_t>::max()) {
    return Status::invalid_argument(src + ": larger than 4 GiB");
  }
  CsvReader csv(text, source);
  std::vector<std::string> fields;
  std::size_t count = 0;
  ES_ASSIGN_OR_RETURN(bool any, csv.next(fields, count));
  if (!any) {
    return Status::invalid_argument(src + ": empty; expected a header row with a 'device' column");
  }
  const std::size_t header_line = csv.record_line();
  // The header: names, the device column, the tag columns sorted by key.
  std::size_t device_column = count;
  std::vector<std::string> header(fields.begin(), fields.begin() + count);
  for (std::size_t i = 0; i < header.size(); ++i) {
    const std::string& name = header[i];
    if (name.empty()) {
      return csv.error(header_line, "column " + std::to_string(i + 1) + " has no name");
    }
    if (name.size() > limits.max_value_bytes || !printable(name)) {
      return csv.error(header_line, "column " + std::to_string(i + 1) +
                                        ": a name must be valid UTF-8 without control characters, "
                                        "at most " +
                                        std::to_string(limits.max_value_bytes) + " bytes");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (header[j] == name) return csv.error(header_line, "column '" + name + "' appears twice");
    }
    if (name == kDeviceColumn) device_column = i;
  }
  if (device_column == header.size()) {
    std::string names;
    for (const std::string& h : header) names += (names.empty() ? "" : ", ") + h;
    return csv.error(header_line, "no 'device' column in the header (it has: " + names +
                                      "); the first row names the columns, one of them 'device'");
  }
  const std::size_t tag_columns = header.size() - 1;
  if (tag_columns > limits.max_tag_columns) {
    return csv.error(header_line, std::to_string(tag_columns) + " tag columns, at most " +
                                      std::to_string(limits.max_tag_columns));
  }
  DeviceRegistry reg;
  // file column -> index into the sorted tag keys (the device column maps to nothing).
  std::vector<std::size_t> tag_index(header.size(), 0);
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (i != device_column) reg.tag_keys_.push_back(header[i]);
  }
  std::sort(reg.tag_keys_.begin(), reg.tag_keys_.end());
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (i == device_column) continue;
    tag_index[i] = static_cast<std::size_t>(
        std::lower_bound(reg.tag_keys_.begin(), reg.tag_keys_.end(), header[i]) -
        reg.tag_keys_.begin());
  }
  // The file's columns in tag key order, so each row's cells come out sorted.
  std::vector<std::size_t> by_key(header.size());
  std::iota(by_key.begin(), by_key.end(), 0);
  by_key.erase(by_key.begin() + static_cast<std::ptrdiff_t>(device_column));
  std::sort(by_key.begin(), by_key.end(),
            [&](std::size_t a, std::size_t b) { return tag_index[a] < tag_index[b]; });

  reg.values_.reserve(text.size());
  reg.row_begin_.push_back(0);
  std::vector<std::size_t> lines;  // the line of each row, for the duplicate message
  for (;;) {
    ES_ASSIGN_OR_RETURN(bool more, csv.next(fields, count));
    if (!more) break;
    const std::size_t line = csv.record_line();
    if (count != header.size()) {
      return csv.error(line, std::to_string(count) + " fields, the header has " +
                                 std::to_string(header.size()) +
                                 " (quote a field that holds a comma)");
    }
    if (reg.devices_.size() >= limits.max_devices) {
      return csv.error(line, "more than " + std::to_string(limits.max_devices) + " devices");
    }
    auto check = [&](std::size_t column, const std::string& v) -> Status {
      if (v.size() > limits.max_value_bytes) {
        return csv.error(line, "column '" + header[column] + "': " + std::to_string(v.size()) +
                                   " bytes, at most " + std::to_string(limits.max_value_bytes));
      }
      if (!printable(v)) {
        return csv.error(
            line, "column '" + header[column] + "': not valid UTF-8, or holds a control character");
      }
      return Status();
    };
    const std::string& dev = fields[device_column];
    if (dev.empty()) return csv.error(line, "the device column is empty");
    ES_RETURN_IF_ERROR(check(device_column, dev));
    reg.devices_.push_back(Span{static_cast<std::uint32_t>(reg.values_.size()),
                                static_cast<std::uint32_t>(dev.size())});
    reg.values_ += dev;
    for (std::size_t column : by_key) {
      const std::string& v = fields[column];
      if (v.empty()) continue;
      ES_RETURN_IF_ERROR(check(column, v));
      reg.cells_.push_back(Cell{static_cast<std::uint32_t>(reg.values_.size()),
                                static_cast<std::uint16_t>(v.size()),
                                static_cast<std::uint16_t>(tag_index[column])});
      reg.values_ += v;
    }
    reg.row_begin_.push_back(static_cast<std::uint32_t>(reg.cells_.size()));
    lines.push_back(line);
  }
  reg.values_.shrink_to_fit();
  reg.cells_.shrink_to_fit();
  reg.by_device_.resize(reg.devices_.size());
  std::iota(reg.by_device_.begin(), reg.by_device_.end(), 0u);
  std::sort(reg.by_device_.begin(), reg.by_device_.end(), [&](std::uint32_t a, std::uint32_t b) {
    const std::string_view x = reg.device(a), y = reg.device(b);
    return x != y ? x < y : a < b;
  });
  for (std::size_t i = 1; i < reg.by_device_.size(); ++i) {
    const std::uint32_t a = reg.by_device_[i - 1], b = reg.by_device_[i];
    if (reg.device(a) == reg.device(b)) {
      return csv.error(lines[b], "device '" + std::string(reg.device(b)) +
                                     "' is listed again (first on line " +
                                     std::to_string(lines[a]) + ")");
    }
  }
  return reg;
}

Result<DeviceRegistry> DeviceRegistry::load(const std::string& path, const RegistryLimits& limits) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    const std::string what = path + ": " + std::strerror(err);
    return err == ENOENT ? Status::not_found(what) : Status::io_error(what);
  }
  if (!S_ISREG(st.st_mode)) return Status::invalid_argument(path + ": not a regular file");
  if (static_cast<std::uint64_t>(st.st_size) > limits.max_bytes) {
    return Status::invalid_argument(path + ": " + std::to_string(st.st_size) +
                                    " bytes, above the limit of " +
                                    std::to_string(limits.max_bytes) + " ([enrich] max_bytes)");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::io_error(path + ": cannot open: " + std::strerror(errno));
  std::string text;
  text.resize(static_cast<std::size_t>(st.st_size));
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  // The file may have changed size between stat and read: take what was read, then check for
  // more.
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (in.peek() != std::ifstream::traits_type::eof()) {
    return Status::invalid_argument(path + ": grew while it was read; try again");
  }
  if (in.bad()) return Status::io_error(path + ": read failed");
  return parse(text, path, limits);
}

std::uint32_t DeviceRegistry::find(std::string_view dev) const {
  auto it =
      std::lower_bound(by_device_.begin(), by_device_.end(), dev,
                       [&](std::uint32_t row, std::string_view d) { return device(row) < d; });
  if (it == by_device_.end() || device(*it) != dev) return kNoRow;
  return *it;
}

}  // namespace edgesketch::agent
