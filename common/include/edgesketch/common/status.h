// Status and Result<T>: how errors cross module edges in edgesketch.
//
// A Status is either OK or carries a code and a message that says what failed, with what input,
// and what to do. Result<T> holds either a T or a non-OK Status. Both are cheap to move and are
// [[nodiscard]]: ignoring one is a compile error under -Werror. Thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace edgesketch {

enum class StatusCode : std::uint8_t {
  kOk = 0,
  kInvalidArgument,     // the caller's input is wrong (config, flags, query)
  kCorruption,          // bytes do not decode: truncated, bad checksum, bad version
  kOutOfRange,          // a value outside a configured bound (clock, size)
  kResourceExhausted,   // a bound on memory, disk, rows or rate was reached
  kFailedPrecondition,  // the operation does not fit the object's state (seed mismatch)
  kNotFound,
  kAlreadyExists,
  kIoError,           // the operating system refused (errno is in the message)
  kUnavailable,       // a peer (broker, collector) cannot be reached now; retrying may help
  kInternal,          // a bug: an invariant did not hold
  kPermissionDenied,  // the caller's credentials do not allow the operation
};

std::string_view status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok_status() { return Status(); }
  static Status invalid_argument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status out_of_range(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
  static Status resource_exhausted(std::string m) {
    return {StatusCode::kResourceExhausted, std::move(m)};
  }
  static Status failed_precondition(std::string m) {
    return {StatusCode::kFailedPrecondition, std::move(m)};
  }
  static Status not_found(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status already_exists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status io_error(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  static Status unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
  static Status permission_denied(std::string m) {
    return {StatusCode::kPermissionDenied, std::move(m)};
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "CORRUPTION: histogram: truncated bucket block 3"; "OK" when ok().
  std::string to_string() const;

  // Returns a copy whose message is prefixed with `context: `; OK stays OK.
  Status with_context(std::string_view context) const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Holds a T or a non-OK Status. Constructing from an OK Status is a bug and yields kInternal.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    if (std::get<Status>(v_).ok()) v_ = Status::internal("Result constructed from OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  // OK status when a value is held.
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }

  // Preconditions: ok().
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace edgesketch

#define ES_STATUS_CONCAT_INNER(a, b) a##b
#define ES_STATUS_CONCAT(a, b) ES_STATUS_CONCAT_INNER(a, b)

// Evaluates `expr` (a Status) and returns it from the enclosing function when not OK.
#define ES_RETURN_IF_ERROR(expr)                     \
  do {                                               \
    ::edgesketch::Status es_status_tmp_ = (expr);    \
    if (!es_status_tmp_.ok()) return es_status_tmp_; \
  } while (0)

// `ES_ASSIGN_OR_RETURN(auto x, make_x());` declares x from a Result or returns its Status.
#define ES_ASSIGN_OR_RETURN(lhs, expr) \
  ES_ASSIGN_OR_RETURN_IMPL(ES_STATUS_CONCAT(es_result_, __LINE__), lhs, expr)
#define ES_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()
