// HyperLogLog representation, adds, merges and Ertl's improved estimator. The wire format is in
// hyperloglog_codec.cc.
#include "edgesketch/sketch/hyperloglog.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

namespace edgesketch::sketch {
namespace {

constexpr int kRhoBits = HyperLogLog::kRhoBits;
constexpr int kExtraBits = HyperLogLog::kSparseExtraBits;
constexpr std::uint32_t kExtraMask = (1u << kExtraBits) - 1;
constexpr std::uint32_t kRhoMask = (1u << kRhoBits) - 1;

// Raises registers to the (register, rho) each coupon implies; see the header for why this is
// exactly what a dense sketch would hold.
void apply_coupons(std::span<const std::uint32_t> coupons, std::uint8_t* registers) {
  for (std::uint32_t c : coupons) {
    const std::uint32_t low = (c >> kRhoBits) & kExtraMask;
    const int rho = low != 0 ? std::countl_zero(low) - (32 - kExtraBits) + 1
                             : kExtraBits + static_cast<int>(c & kRhoMask);
    std::uint8_t& reg = registers[c >> (kRhoBits + kExtraBits)];
    reg = std::max(reg, static_cast<std::uint8_t>(rho));
  }
}

// Index of the first element of sorted[0, n) not less than key. Branch-free: coupon indices are
// random, so a branchy search mispredicts on about every other step.
std::size_t lower_bound_index(const std::uint32_t* sorted, std::size_t n, std::uint32_t key) {
  if (n == 0) return 0;
  const std::uint32_t* base = sorted;
  while (n > 1) {
    const std::size_t half = n / 2;
    base += static_cast<std::size_t>(base[half - 1] < key) * half;  // arithmetic, not a branch
    n -= half;
  }
  return static_cast<std::size_t>(base - sorted) + (*base < key);
}

// Sorts coupons and keeps one per idx', the one with the largest rho'.
void normalize(std::vector<std::uint32_t>& coupons) {
  std::sort(coupons.begin(), coupons.end());
  std::size_t out = 0;
  for (std::size_t i = 0; i < coupons.size(); ++i) {
    // Sorted by value, so the last coupon of an idx' has its largest rho'.
    if (i + 1 == coupons.size() || (coupons[i] >> kRhoBits) != (coupons[i + 1] >> kRhoBits)) {
      coupons[out++] = coupons[i];
    }
  }
  coupons.resize(out);
}

// Sorted, unique-per-idx' union of two such lists; the larger rho' wins on equal idx'.
std::vector<std::uint32_t> union_coupons(std::span<const std::uint32_t> a,
                                         std::span<const std::uint32_t> b) {
  std::vector<std::uint32_t> out;
  out.reserve(a.size() + b.size());
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const std::uint32_t ia = a[i] >> kRhoBits, ib = b[j] >> kRhoBits;
    if (ia < ib) {
      out.push_back(a[i++]);
    } else if (ib < ia) {
      out.push_back(b[j++]);
    } else {
      out.push_back(std::max(a[i++], b[j++]));
    }
  }
  out.insert(out.end(), a.begin() + static_cast<std::ptrdiff_t>(i), a.end());
  out.insert(out.end(), b.begin() + static_cast<std::ptrdiff_t>(j), b.end());
  return out;
}

// sigma(x) = x + sum_{k>=1} x^(2^k) 2^(k-1), for the share C0/m of empty registers.
double ertl_sigma(double x) {
  if (x == 1.0) return std::numeric_limits<double>::infinity();
  double y = 1.0;
  double z = x;
  double z_prev;
  do {
    x *= x;
    z_prev = z;
    z += x * y;
    y += y;
  } while (z != z_prev);
  return z;
}

// tau(x) = (1 - x - sum_{k>=1} (1 - x^(2^-k))^2 2^-k) / 3, for the share of saturated registers.
double ertl_tau(double x) {
  if (x == 0.0 || x == 1.0) return 0.0;
  double y = 1.0;
  double z = 1.0 - x;
  double z_prev;
  do {
    x = std::sqrt(x);
    z_prev = z;
    y *= 0.5;
    z -= (1.0 - x) * (1.0 - x) * y;
  } while (z != z_prev);
  return z / 3.0;
}

}  // namespace

Status HyperLogLog::validate_options(const HllOptions& options) {
  if (options.precision < kMinPrecision || options.precision > kMaxPrecision) {
    return Status::invalid_argument("hyperloglog: precision " + std::to_string(options.precision) +
                                    " is outside " + std::to_string(kMinPrecision) + ".." +
                                    std::to_string(kMaxPrecision) + "; 12 is the default");
  }
  return Status::ok_status();
}

HyperLogLog::HyperLogLog(HllOptions options)
    : p_(std::clamp(options.precision, kMinPrecision, kMaxPrecision)), seed_(options.seed) {}

void HyperLogLog::add_sparse(std::uint64_t hash) {
  const int sp = p_ + kSparseExtraBits;
  const auto idx = static_cast<std::uint32_t>(hash >> (64 - sp));
  std::uint32_t rho = 0;
  if ((idx & kExtraMask) == 0) {
    rho = static_cast<std::uint32_t>(
        std::countl_zero((hash << sp) | (std::uint64_t{1} << (sp - 1))) + 1);
  }
  const std::uint32_t coupon = idx << kRhoBits | rho;

  // Known idx' are updated in place, so only new ones reach the buffer: once coupons_ is full,
  // repeated keys do not force a compaction per add.
  const std::size_t at = lower_bound_index(coupons_.data(), coupons_.size(), idx << kRhoBits);
  if (at < coupons_.size() && (coupons_[at] >> kRhoBits) == idx) {
    coupons_[at] = std::max(coupons_[at], coupon);  // same idx' keeps the sort order
    return;
  }
  buffer_.push_back(coupon);
  // The sum bounds the distinct count from above: compacting as soon as it passes the limit
  // keeps the representation exact (sparse iff at most sparse_limit() distinct idx').
  if (buffer_.size() >= buffer_capacity() || coupons_.size() + buffer_.size() > sparse_limit()) {
    compact_buffer();
  }
}

void HyperLogLog::compact_buffer() {
  if (buffer_.empty()) return;
  normalize(buffer_);
  // Backward in-place merge, a block move per buffered coupon (buffer_ and coupons_ hold
  // disjoint idx'): every old coupon moves once, in bulk.
  std::size_t i = coupons_.size();
  std::size_t j = buffer_.size();
  coupons_.resize(i + j);
  std::uint32_t* c = coupons_.data();
  while (j > 0) {
    const std::uint32_t b = buffer_[j - 1];
    const std::size_t at = lower_bound_index(c, i, b);
    std::memmove(c + at + j, c + at, (i - at) * sizeof(std::uint32_t));
    c[at + j - 1] = b;
    i = at;
    --j;
  }
  buffer_.clear();
  if (coupons_.size() > sparse_limit()) convert_to_dense();
}

std::vector<std::uint32_t> HyperLogLog::sorted_coupons() const {
  if (buffer_.empty()) return coupons_;
  std::vector<std::uint32_t> sorted_buffer = buffer_;
  normalize(sorted_buffer);
  return union_coupons(coupons_, sorted_buffer);
}

void HyperLogLog::convert_to_dense() {
  registers_.assign(num_registers(), 0);
  apply_coupons(coupons_, registers_.data());
  apply_coupons(buffer_, registers_.data());
  // Release the sparse storage: a dense sketch never goes back.
  coupons_ = std::vector<std::uint32_t>();
  buffer_ = std::vector<std::uint32_t>();
}

void HyperLogLog::merge_sorted_coupons(std::span<const std::uint32_t> coupons) {
  if (is_sparse()) {
    compact_buffer();  // stays sparse: the buffer holds at most sparse_limit() distinct idx'
    coupons_ = union_coupons(coupons_, coupons);
    if (coupons_.size() > sparse_limit()) convert_to_dense();
    return;
  }
  apply_coupons(coupons, registers_.data());
}

void HyperLogLog::merge_registers(const std::uint8_t* registers) {
  if (is_sparse()) convert_to_dense();
  std::uint8_t* __restrict dst = registers_.data();
  const std::size_t m = registers_.size();
  for (std::size_t i = 0; i < m; ++i) dst[i] = std::max(dst[i], registers[i]);  // vectorised
}

Status HyperLogLog::check_compatible(int precision, std::uint64_t seed,
                                     std::string_view what) const {
  if (precision != p_) {
    return Status::failed_precondition(std::string(what) + ": precision mismatch (this sketch " +
                                       std::to_string(p_) + ", other " + std::to_string(precision) +
                                       "); merge only sketches of equal precision");
  }
  if (seed != seed_) {
    return Status::failed_precondition(std::string(what) + ": hash seed mismatch (this sketch " +
                                       std::to_string(seed_) + ", other " + std::to_string(seed) +
                                       "); merge only sketches hashed with the same seed");
  }
  return Status::ok_status();
}

Status HyperLogLog::merge(const HyperLogLog& other) {
  ES_RETURN_IF_ERROR(check_compatible(other.p_, other.seed_, "hyperloglog merge"));
  if (&other == this) return Status::ok_status();
  if (!other.is_sparse()) {
    merge_registers(other.registers_.data());
  } else if (other.buffer_.empty()) {
    merge_sorted_coupons(other.coupons_);
  } else {
    merge_sorted_coupons(other.sorted_coupons());
  }
  return Status::ok_status();
}

double HyperLogLog::estimate() const {
  if (is_sparse()) {
    // Linear counting over the 2^p' coupon buckets, one occupied per distinct idx'.
    std::vector<std::uint32_t> buffered = buffer_;
    normalize(buffered);
    const double buckets = std::ldexp(1.0, p_ + kSparseExtraBits);
    const double occupied = static_cast<double>(coupons_.size() + buffered.size());
    return -buckets * std::log1p(-occupied / buckets);
  }
  // Ertl (2017), improved raw estimator with q = 64 - p:
  //   n = alpha_inf m^2 / (m sigma(C0/m) + sum_{k=1..q} C_k 2^-k + m tau(1 - C_{q+1}/m) 2^-q)
  // The middle sum and the tau term are evaluated by Horner's scheme from k = q down to 1.
  const int q = 64 - p_;
  std::array<std::uint32_t, 66> histogram{};
  for (std::uint8_t r : registers_) ++histogram[r];
  const auto saturated = static_cast<std::size_t>(q + 1);
  if (histogram[saturated] == registers_.size()) {
    --histogram[saturated];  // z would be 0; report one register short of saturation
    ++histogram[saturated - 1];
  }
  const double m = static_cast<double>(registers_.size());
  double z = m * ertl_tau(1.0 - histogram[saturated] / m);
  for (int k = q; k >= 1; --k) z = 0.5 * (z + histogram[static_cast<std::size_t>(k)]);
  z += m * ertl_sigma(histogram[0] / m);
  const double alpha_inf = 0.5 / std::log(2.0);
  return alpha_inf * m * m / z;
}

std::vector<std::uint8_t> HyperLogLog::dense_registers() const {
  if (!is_sparse()) return registers_;
  std::vector<std::uint8_t> out(num_registers(), 0);
  apply_coupons(coupons_, out.data());
  apply_coupons(buffer_, out.data());
  return out;
}

bool operator==(const HyperLogLog& a, const HyperLogLog& b) {
  if (a.p_ != b.p_ || a.seed_ != b.seed_ || a.is_sparse() != b.is_sparse()) return false;
  if (!a.is_sparse()) return a.registers_ == b.registers_;
  return a.sorted_coupons() == b.sorted_coupons();
}

std::size_t HyperLogLog::memory_bytes() const {
  return sizeof(*this) + registers_.capacity() +
         sizeof(std::uint32_t) * (coupons_.capacity() + buffer_.capacity());
}

}  // namespace edgesketch::sketch
