// ChaCha20 (RFC 8439 section 2.3) as a deterministic stream of random words.
#include <stdexcept>

#include "scalegen/privacy/discrete_noise.hpp"

namespace scalegen::privacy {
namespace {

inline std::uint32_t rotl(std::uint32_t x, int n) {
  return (x << n) | (x >> (32 - n));
}

inline void quarter_round(std::uint32_t* x, int a, int b, int c, int d) {
  x[a] += x[b];
  x[d] = rotl(x[d] ^ x[a], 16);
  x[c] += x[d];
  x[b] = rotl(x[b] ^ x[c], 12);
  x[a] += x[b];
  x[d] = rotl(x[d] ^ x[a], 8);
  x[c] += x[d];
  x[b] = rotl(x[b] ^ x[c], 7);
}

inline std::uint32_t load_le32(const std::uint8_t* p) {
  return std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 | std::uint32_t(p[3]) << 24;
}

}  // namespace

void chacha20_block(const std::uint32_t in[16], std::uint32_t out[16]) {
  std::uint32_t x[16];
  for (int i = 0; i < 16; ++i) x[i] = in[i];
  for (int round = 0; round < 10; ++round) {  // 10 double rounds: columns, then diagonals
    quarter_round(x, 0, 4, 8, 12);
    quarter_round(x, 1, 5, 9, 13);
    quarter_round(x, 2, 6, 10, 14);
    quarter_round(x, 3, 7, 11, 15);
    quarter_round(x, 0, 5, 10, 15);
    quarter_round(x, 1, 6, 11, 12);
    quarter_round(x, 2, 7, 8, 13);
    quarter_round(x, 3, 4, 9, 14);
  }
  for (int i = 0; i < 16; ++i) out[i] = x[i] + in[i];
}

ChaCha20Stream::ChaCha20Stream(const std::array<std::uint8_t, 32>& key, std::uint64_t stream) {
  input_[0] = 0x61707865;  // "expand 32-byte k"
  input_[1] = 0x3320646e;
  input_[2] = 0x79622d32;
  input_[3] = 0x6b206574;
  for (int i = 0; i < 8; ++i) input_[4 + i] = load_le32(key.data() + 4 * i);
  input_[14] = std::uint32_t(stream);
  input_[15] = std::uint32_t(stream >> 32);
}

void ChaCha20Stream::refill() {
  // 2^64 blocks (2^70 bytes) cannot be reached; refuse rather than reuse a block if it were
  if (counter_ == ~std::uint64_t(0)) throw std::overflow_error("the ChaCha20 stream of this key is exhausted");
  input_[12] = std::uint32_t(counter_);
  input_[13] = std::uint32_t(counter_ >> 32);
  chacha20_block(input_.data(), block_.data());
  ++counter_;
  pos_ = 0;
}

std::uint32_t ChaCha20Stream::next_u32() {
  if (pos_ == 16) refill();
  return block_[pos_++];
}

std::uint64_t ChaCha20Stream::next_u64() {
  const std::uint64_t lo = next_u32();
  return lo | std::uint64_t(next_u32()) << 32;
}

}  // namespace scalegen::privacy
