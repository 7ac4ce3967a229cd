#include "edgesketch/config/toml_reader.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <fstream>
#include <sstream>

#include "edgesketch/common/units.h"

namespace edgesketch::config {

struct TomlDocument::Impl {
  toml::table table;
};

TomlDocument::TomlDocument() : impl_(std::make_unique<Impl>()) {}
TomlDocument::~TomlDocument() = default;

Result<std::unique_ptr<TomlDocument>> TomlDocument::parse(std::string_view text, std::string name) {
  std::unique_ptr<TomlDocument> doc(new TomlDocument());
  doc->name_ = name;
  try {
    doc->impl_->table = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    std::ostringstream out;
    out << name << ":" << e.source().begin.line << ":" << e.source().begin.column << ": "
        << e.description();
    return Status::invalid_argument(out.str());
  }
  return doc;
}

Result<std::unique_ptr<TomlDocument>> TomlDocument::parse_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::not_found("cannot read config file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::io_error("error reading config file " + path);
  return parse(text.str(), path);
}

TomlTable TomlDocument::root() { return TomlTable(&impl_->table, "", this); }

Status TomlDocument::status() const {
  if (errors_.empty()) return Status::ok_status();
  std::string all;
  for (const std::string& e : errors_) {
    if (!all.empty()) all += '\n';
    all += name_ + ": " + e;
  }
  return Status::invalid_argument(all);
}

std::string TomlTable::key_path(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

void TomlTable::error(std::string_view key, std::string_view message) {
  doc_->errors_.push_back(fmt::format("'{}': {}", key_path(key), message));
}

void TomlTable::warning(std::string_view key, std::string_view message) {
  doc_->warnings_.push_back(fmt::format("{}: '{}': {}", doc_->name_, key_path(key), message));
}

const toml::node* TomlTable::get(std::string_view key) {
  read_.emplace(key);
  if (table_ == nullptr) return nullptr;
  return table_->get(key);
}

bool TomlTable::has(std::string_view key) const {
  return table_ != nullptr && table_->contains(key);
}

std::string TomlTable::string(std::string_view key, std::string fallback) {
  const toml::node* n = get(key);
  if (n == nullptr) return fallback;
  if (auto v = n->value<std::string>(); v && n->is_string()) return *v;
  error(key, "expected a string");
  return fallback;
}

std::int64_t TomlTable::integer(std::string_view key, std::int64_t fallback, std::int64_t min,
                                std::int64_t max) {
  const toml::node* n = get(key);
  if (n == nullptr) return fallback;
  if (!n->is_integer()) {
    error(key, "expected an integer");
    return fallback;
  }
  const std::int64_t v = *n->value<std::int64_t>();
  if (v < min || v > max) {
    error(key, fmt::format("{} is out of range [{}, {}]", v, min, max));
    return fallback;
  }
  return v;
}

double TomlTable::number(std::string_view key, double fallback) {
  const toml::node* n = get(key);
  if (n == nullptr) return fallback;
  if (!n->is_number()) {
    error(key, "expected a number");
    return fallback;
  }
  return *n->value<double>();
}

bool TomlTable::boolean(std::string_view key, bool fallback) {
  const toml::node* n = get(key);
  if (n == nullptr) return fallback;
  if (!n->is_boolean()) {
    error(key, "expected true or false");
    return fallback;
  }
  return *n->value<bool>();
}

std::int64_t TomlTable::duration_ms(std::string_view key, std::int64_t fallback) {
  const toml::node* n = get(key);
  if (n == nullptr) return fallback;
  if (!n->is_string()) {
    error(key, "expected a duration string like \"10s\"");
    return fallback;
  }
  auto ms = parse_duration_ms(*n->value<std::string>());
  if (!ms.ok()) {
    error(key, ms.status().message());
    return fallback;
  }
  return *ms;
}

std::uint64_t TomlTable::bytes(std::string_view key, std::uint64_t fallback) {
  const toml::node* n = get(key);
  if (n == nullptr) return fallback;
  if (n->is_integer() && *n->value<std::int64_t>() >= 0) {
    return static_cast<std::uint64_t>(*n->value<std::int64_t>());
  }
  if (!n->is_string()) {
    error(key, "expected a size like \"256MiB\" or a number of bytes");
    return fallback;
  }
  auto b = parse_bytes(*n->value<std::string>());
  if (!b.ok()) {
    error(key, b.status().message());
    return fallback;
  }
  return *b;
}

std::int64_t TomlTable::duration_ms(std::string_view key, std::int64_t fallback,
                                    std::int64_t min_ms, std::int64_t max_ms) {
  const std::int64_t v = duration_ms(key, fallback);
  if (v < min_ms || v > max_ms) {
    error(key, fmt::format("{} ms is out of range [{}, {}]", v, min_ms, max_ms));
    return fallback;
  }
  return v;
}

std::uint64_t TomlTable::bytes(std::string_view key, std::uint64_t fallback, std::uint64_t min,
                               std::uint64_t max) {
  const std::uint64_t v = bytes(key, fallback);
  if (v < min || v > max) {
    error(key, fmt::format("{} bytes is out of range [{}, {}]", v, min, max));
    return fallback;
  }
  return v;
}

std::vector<std::string> TomlTable::strings(std::string_view key,
                                            std::vector<std::string> fallback) {
  const toml::node* n = get(key);
  if (n == nullptr) return fallback;
  const toml::array* a = n->as_array();
  if (a == nullptr) {
    error(key, "expected an array of strings");
    return fallback;
  }
  std::vector<std::string> out;
  for (const toml::node& e : *a) {
    if (!e.is_string()) {
      error(key, "expected an array of strings");
      return fallback;
    }
    out.push_back(*e.value<std::string>());
  }
  return out;
}

TomlTable TomlTable::table(std::string_view key) {
  const toml::node* n = get(key);
  if (n == nullptr) return TomlTable(nullptr, key_path(key), doc_);
  if (!n->is_table()) {
    error(key, "expected a table");
    return TomlTable(nullptr, key_path(key), doc_);
  }
  return TomlTable(n->as_table(), key_path(key), doc_);
}

std::vector<TomlTable> TomlTable::tables(std::string_view key) {
  std::vector<TomlTable> out;
  const toml::node* n = get(key);
  if (n == nullptr) return out;
  const toml::array* a = n->as_array();
  if (a == nullptr || !a->is_array_of_tables()) {
    error(key, fmt::format("expected an array of tables ([[{}]])", key_path(key)));
    return out;
  }
  for (std::size_t i = 0; i < a->size(); ++i) {
    out.push_back(
        TomlTable((*a)[i].as_table(), key_path(key) + "[" + std::to_string(i) + "]", doc_));
  }
  return out;
}

void TomlTable::finish() {
  if (table_ == nullptr) return;
  for (const auto& [k, v] : *table_) {
    if (!read_.contains(k.str())) {
      doc_->errors_.push_back(fmt::format("unknown key '{}'", key_path(k.str())));
    }
  }
}

}  // namespace edgesketch::config
