// Bucket-boundary tables behind ExpHistogram's exact, log-free bucket index.
#include <array>
#include <cstdint>

#include "edgesketch/sketch/exp_histogram.h"

namespace edgesketch::sketch::detail {
namespace {

// Mantissa fields (significand M minus 2^52) of the smallest double >= 2^(k/256) in [1, 2), i.e.
// the smallest integer M with M^256 >= 2^(13312 + k), found with exact integer arithmetic
// (Python big integers) and re-checked by exp_histogram_test. Entry 256 is the sentinel 2^52.
constexpr std::uint64_t kFirstAbove[257] = {
    0x0000000000000ull,  0x00b1afa5abcbfull, 0x0163da9fb3336ull, 0x02168143b0281ull,
    0x02c9a3e778061ull,  0x037d42e11bbcdull, 0x04315e86e7f85ull, 0x04e5f72f654b2ull,
    0x059b0d3158575ull,  0x0650a0e3c1f89ull, 0x0706b29ddf6deull, 0x07bd42b72a837ull,
    0x0874518759bc9ull,  0x092bdf66607e0ull, 0x09e3ecac6f384ull, 0x0a9c79b1f391aull,
    0x0b5586cf98910ull,  0x0c0f145e46c86ull, 0x0cc922b7247f8ull, 0x0d83b23395decull,
    0x0e3ec32d3d1a3ull,  0x0efa55fdfa9c5ull, 0x0fb66affed31bull, 0x1073028d7233full,
    0x11301d0125b51ull,  0x11edbab5e2ab6ull, 0x12abdc06c31ccull, 0x136a814f204abull,
    0x1429aaea92de0ull,  0x14e95934f312eull, 0x15a98c8a58e52ull, 0x166a45471c3c3ull,
    0x172b83c7d517bull,  0x17ed48695bbc1ull, 0x18af9388c8deaull, 0x1972658375d30ull,
    0x1a35beb6fcb76ull,  0x1af99f8138a1dull, 0x1bbe084045cd4ull, 0x1c82f95281c6cull,
    0x1d4873168b9abull,  0x1e0e75eb44027ull, 0x1ed5022fcd91dull, 0x1f9c18438ce4dull,
    0x2063b88628cd7ull,  0x212be3578a81aull, 0x21f49917ddc97ull, 0x22bdda27912d2ull,
    0x2387a6e756239ull,  0x2451ffb82140bull, 0x251ce4fb2a640ull, 0x25e85711ece76ull,
    0x26b4565e27cdeull,  0x2780e341ddf2aull, 0x284dfe1f56381ull, 0x291ba7591bb70ull,
    0x29e9df51fdee2ull,  0x2ab8a66d10f13ull, 0x2b87fd0dad990ull, 0x2c57e39771b2full,
    0x2d285a6e4030cull,  0x2df961f64158aull, 0x2ecafa93e2f57ull, 0x2f9d24abd886bull,
    0x306fe0a31b716ull,  0x31432edeeb2feull, 0x32170fc4cd832ull, 0x32eb83ba8ea32ull,
    0x33c08b2641700ull,  0x3496266e3fa2dull, 0x356c55f929ff1ull, 0x36431a2de883bull,
    0x371a7373aa9cbull,  0x37f26231e754aull, 0x38cae6d05d866ull, 0x39a401b7140efull,
    0x3a7db34e59ff7ull,  0x3b57fbfec6cf5ull, 0x3c32dc313a8e5ull, 0x3d0e544ede174ull,
    0x3dea64c123423ull,  0x3ec70df1c5175ull, 0x3fa4504ac801cull, 0x40822c367a025ull,
    0x4160a21f72e2aull,  0x423fb2709468aull, 0x431f5d950a897ull, 0x43ffa3f84b9d5ull,
    0x44e086061892eull,  0x45c2042a7d232ull, 0x46a41ed1d0058ull, 0x4786d668b3237ull,
    0x486a2b5c13cd1ull,  0x494e1e192aed2ull, 0x4a32af0d7d3dfull, 0x4b17dea6db7d7ull,
    0x4bfdad5362a28ull,  0x4ce41b817c115ull, 0x4dcb299fddd0eull, 0x4eb2d81d8abffull,
    0x4f9b2769d2ca7ull,  0x508417f4531efull, 0x516daa2cf6642ull, 0x5257de83f4eefull,
    0x5342b569d4f82ull,  0x542e2f4f6ad28ull, 0x551a4ca5d920full, 0x56070dde910d2ull,
    0x56f4736b527dbull,  0x57e27dbe2c4cfull, 0x58d12d497c7feull, 0x59c0827ff07ccull,
    0x5ab07dd48542aull,  0x5ba11fba87a03ull, 0x5c9268a5946b8ull, 0x5d84590998b93ull,
    0x5e76f15ad2149ull,  0x5f6a320dceb71ull, 0x605e1b976dc09ull, 0x6152ae6cdf6f5ull,
    0x6247eb03a5585ull,  0x633dd1d1929feull, 0x6434634ccc320ull, 0x652b9febc8fb7ull,
    0x6623882552225ull,  0x671c1c70833f6ull, 0x68155d44ca974ull, 0x690f4b19e9539ull,
    0x6a09e667f3bcdull,  0x6b052fa75173full, 0x6c012750bdabfull, 0x6cfdcddd47646ull,
    0x6dfb23c651a2full,  0x6ef9298593ae5ull, 0x6ff7df9519484ull, 0x70f7466f42e88ull,
    0x71f75e8ec5f74ull,  0x72f8286ead08aull, 0x73f9a48a58174ull, 0x74fbd35d7cbfeull,
    0x75feb564267c9ull,  0x77024b1ab6e0aull, 0x780694fde5d40ull, 0x790b938ac1cf7ull,
    0x7a11473eb0187ull,  0x7b17b0976cfdbull, 0x7c1ed0130c133ull, 0x7d26a62ff86f1ull,
    0x7e2f336cf4e63ull,  0x7f3878491c491ull, 0x80427543e1a12ull, 0x814d2add106daull,
    0x82589994cce13ull,  0x8364c1eb941f8ull, 0x8471a4623c7adull, 0x857f4179f5b21ull,
    0x868d99b4492edull,  0x879cad931a437ull, 0x88ac7d98a669aull, 0x89bd0a4785810ull,
    0x8ace5422aa0dcull,  0x8be05bad61779ull, 0x8cf3216b5448cull, 0x8e06a5e0866d9ull,
    0x8f1ae99157737ull,  0x902fed0282c8bull, 0x9145b0b91ffc6ull, 0x925c353aa2fe2ull,
    0x93737b0cdc5e5ull,  0x948b82b5f98e5ull, 0x95a44cbc8520full, 0x96bdd9a7670b3ull,
    0x97d829fde4e50ull,  0x98f33e47a22a3ull, 0x9a0f170ca07baull, 0x9b2bb4d53fe0dull,
    0x9c49182a3f091ull,  0x9d674194bb8d5ull, 0x9e86319e32324ull, 0x9fa5e8d07f29eull,
    0xa0c667b5de565ull,  0xa1e7aed8eb8bcull, 0xa309bec4a2d34ull, 0xa42c980460ad8ull,
    0xa5503b23e255dull,  0xa674a8af46053ull, 0xa799e1330b359ull, 0xa8bfe53c12e59ull,
    0xa9e6b5579fdc0ull,  0xab0e521356ebbull, 0xac36bbfd3f37aull, 0xad5ff3a3c2775ull,
    0xae89f995ad3aeull,  0xafb4ce622f2ffull, 0xb0e07298db666ull, 0xb20ce6c9a8953ull,
    0xb33a2b84f15fbull,  0xb468415b749b1ull, 0xb59728de5593aull, 0xb6c6e29f1c52bull,
    0xb7f76f2fb5e47ull,  0xb928cf22749e4ull, 0xba5b030a1064aull, 0xbb8e0b79a6f1full,
    0xbcc1e904bc1d3ull,  0xbdf69c3f3a207ull, 0xbf2c25bd71e09ull, 0xc06286141b33dull,
    0xc199bdd85529dull,  0xc2d1cd9fa652cull, 0xc40ab5fffd07bull, 0xc544778fafb23ull,
    0xc67f12e57d14cull,  0xc7ba88988c933ull, 0xc8f6d9406e7b6ull, 0xca3405751c4dbull,
    0xcb720dcef906aull,  0xccb0f2e6d1675ull, 0xcdf0b555dc3faull, 0xcf3155b5bab74ull,
    0xd072d4a07897cull,  0xd1b532b08c969ull, 0xd2f87080d89f2ull, 0xd43c8eacaa1d7ull,
    0xd5818dcfba488ull,  0xd6c76e862e6d4ull, 0xd80e316c98398ull, 0xd955d71ff6076ull,
    0xda9e603db3286ull,  0xdbe7cd63a8315ull, 0xdd321f301b461ull, 0xde7d5641c0658ull,
    0xdfc97337b9b5full,  0xe11676b197d17ull, 0xe264614f5a129ull, 0xe3b333b16ee12ull,
    0xe502ee78b3ff7ull,  0xe653924676d76ull, 0xe7a51fbc74c84ull, 0xe8f7977cdb740ull,
    0xea4afa2a490daull,  0xeb9f4867cca6full, 0xecf482d8e67f1ull, 0xee4aaa2188511ull,
    0xefa1bee615a28ull,  0xf0f9c1cb6412aull, 0xf252b376bba98ull, 0xf3ac948dd7274ull,
    0xf50765b6e4541ull,  0xf6632798844f9ull, 0xf7bfdad9cbe14ull, 0xf91d802243c89ull,
    0xfa7c1819e90d9ull,  0xfbdba3692d514ull, 0xfd3c22b8f71f2ull, 0xfe9d96b2a23daull,
    0x10000000000000ull,  // 2^52
};

constexpr std::array<std::uint64_t, 257> make_boundary() {
  // The index is computed from bits(v) - 1 (see exp_hist_index8), so each boundary moves down
  // by one unit in the last place; 2^52 stays the sentinel.
  std::array<std::uint64_t, 257> table{};
  for (int k = 1; k < 256; ++k) table[k] = kFirstAbove[k] - 1;
  table[256] = kFirstAbove[256];
  return table;
}

constexpr std::array<std::uint64_t, 257> kBoundary = make_boundary();

constexpr std::uint64_t kCellBits = 43;  // 52 mantissa bits - 9 bits of cell number

constexpr std::array<std::uint8_t, 512> make_sub_index() {
  std::array<std::uint8_t, 512> table{};
  std::uint32_t k = 0;
  for (std::uint64_t cell = 0; cell < 512; ++cell) {
    while (k + 1 < 256 && kBoundary[k + 1] <= cell << kCellBits) ++k;
    table[cell] = static_cast<std::uint8_t>(k);
  }
  return table;
}

constexpr std::array<std::uint8_t, 512> kSubIndex = make_sub_index();

// The lookup needs increasing boundaries and at most one boundary inside a cell.
constexpr bool tables_consistent() {
  for (int k = 0; k < 256; ++k) {
    if (kBoundary[k] >= kBoundary[k + 1]) return false;
  }
  for (std::uint64_t cell = 0; cell < 512; ++cell) {
    const std::uint32_t k = kSubIndex[cell];
    if (kBoundary[k] > cell << kCellBits) return false;
    if (k + 2 <= 256 && kBoundary[k + 2] < (cell + 1) << kCellBits) return false;
  }
  return true;
}
static_assert(tables_consistent());

}  // namespace

alignas(64) constexpr ExpHistIndexTables kExpHistTables = {kBoundary, kSubIndex};
}  // namespace edgesketch::sketch::detail
