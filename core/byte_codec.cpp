// Varints, zigzag and bit-packed blocks; see byte_codec.hpp and docs/storage-format.md.
#include "core/byte_codec.hpp"

#include <algorithm>
#include <bit>

namespace metricsd {
namespace {

__extension__ typedef unsigned __int128 Wide;

constexpr uint8_t kRiceFlag = 0x80;   // a block header at or above it is 0x80 | parameter
constexpr uint64_t kRiceEscape = 32;  // a quotient this large is written as 32 ones + 64 bits

// Appends bits LSB-first: bit j of a block is bit (j % 8) of its byte j / 8.
class BitWriter {
 public:
  explicit BitWriter(std::string& out) : out_(out) {}
  void put(uint64_t v, int width) {  // width <= 64
    if (width == 0) return;
    acc_ |= static_cast<Wide>(width == 64 ? v : v & ((uint64_t{1} << width) - 1)) << have_;
    have_ += width;
    while (have_ >= 8) {
      out_.push_back(static_cast<char>(acc_ & 0xff));
      acc_ >>= 8;
      have_ -= 8;
    }
  }
  void ones(uint64_t count) {
    for (; count >= 32; count -= 32)
      put(0xffffffffu, 32);
    put((uint64_t{1} << count) - 1, static_cast<int>(count));
  }
  void flush() {  // pads the last byte with zeros
    if (have_ > 0) out_.push_back(static_cast<char>(acc_ & 0xff));
    acc_ = 0;
    have_ = 0;
  }

 private:
  std::string& out_;
  Wide acc_ = 0;  // pending bits, low first; never more than 7 + 64 of them
  int have_ = 0;
};

// Rice cost of v with parameter r, in bits.
uint64_t rice_bits(uint64_t v, int r) {
  uint64_t q = v >> r;
  return q < kRiceEscape ? q + 1 + static_cast<uint64_t>(r) : kRiceEscape + 64;
}

// How a block of values is best written: 0..64 = packed at that width, 0x80 | r = Rice
// with parameter r. Returns the header and the block's size in bytes (header included).
std::pair<uint8_t, size_t> choose_layout(const uint64_t* v, size_t n) {
  uint64_t all = 0;
  for (size_t i = 0; i < n; ++i)
    all |= v[i];
  int width = bit_width_of(all);
  std::pair<uint8_t, size_t> best{static_cast<uint8_t>(width),
                                  1 + (n * static_cast<size_t>(width) + 7) / 8};
  if (width <= 1) return best;
  // Geometric-like values (deltas of a walk) cost about a bit less each in Rice code with
  // the parameter near log2 of their mean; try the few parameters around it.
  for (int r = std::max(0, width - 6); r < width; ++r) {
    uint64_t total = 0;
    if (r > width - 6) {
      // Every value is below 2^width <= 32 << r: no escapes, a sum the compiler vectorizes.
      total = n * (1 + static_cast<uint64_t>(r));
      for (size_t i = 0; i < n; ++i)
        total += v[i] >> r;
    } else {
      for (size_t i = 0; i < n; ++i)
        total += rice_bits(v[i], r);
    }
    size_t bytes = 1 + static_cast<size_t>((total + 7) / 8);
    if (bytes < best.second) best = {static_cast<uint8_t>(kRiceFlag | r), bytes};
  }
  return best;
}

// How many blocks of zeros start at `start` (at most kZeroRunMax): 0 if the first block
// holds anything else.
size_t zero_blocks(const std::vector<uint64_t>& values, size_t start) {
  size_t blocks = 0;
  for (size_t at = start; at < values.size() && blocks < kZeroRunMax; at += kPackBlock) {
    size_t end = std::min(values.size(), at + kPackBlock);
    if (std::any_of(values.begin() + static_cast<ptrdiff_t>(at),
                    values.begin() + static_cast<ptrdiff_t>(end), [](uint64_t v) { return v; }))
      break;
    ++blocks;
  }
  return blocks;
}

}  // namespace

int bit_width_of(uint64_t v) {
  return static_cast<int>(std::bit_width(v));
}

void ByteWriter::uvarint(uint64_t v) {
  while (v >= 0x80) {
    out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out_.push_back(static_cast<char>(v));
}

void ByteWriter::packed(const std::vector<uint64_t>& values) {
  for (size_t start = 0; start < values.size(); start += kPackBlock) {
    if (size_t zeros = zero_blocks(values, start); zeros >= 2) {
      u8(static_cast<uint8_t>(kZeroRunBase + zeros));
      start += (zeros - 1) * kPackBlock;
      continue;
    }
    size_t n = std::min(values.size() - start, kPackBlock);
    const uint64_t* v = values.data() + start;
    uint8_t header = choose_layout(v, n).first;
    u8(header);
    BitWriter bits(out_);
    if (header < kRiceFlag) {
      for (size_t i = 0; i < n; ++i)
        bits.put(v[i], header);
    } else {
      int r = header & 0x7f;
      for (size_t i = 0; i < n; ++i) {
        uint64_t q = v[i] >> r;
        if (q < kRiceEscape) {
          bits.ones(q);
          bits.put(0, 1);
          bits.put(v[i], r);
        } else {
          bits.ones(kRiceEscape);
          bits.put(v[i], 64);
        }
      }
    }
    bits.flush();
  }
}

size_t packed_size(const std::vector<uint64_t>& values) {
  size_t bytes = 0;
  for (size_t start = 0; start < values.size(); start += kPackBlock) {
    if (size_t zeros = zero_blocks(values, start); zeros >= 2) {
      ++bytes;
      start += (zeros - 1) * kPackBlock;
      continue;
    }
    bytes +=
        choose_layout(values.data() + start, std::min(values.size() - start, kPackBlock)).second;
  }
  return bytes;
}

void ByteReader::fail(const std::string& what) const {
  throw CorruptBlock("at byte " + std::to_string(pos_) + ": " + what);
}

uint8_t ByteReader::u8() {
  if (pos_ >= in_.size()) fail("ends early");
  return static_cast<uint8_t>(in_[pos_++]);
}

uint64_t ByteReader::uvarint() {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    uint8_t b = u8();
    if (shift == 63 && b > 1) fail("varint overflows 64 bits");
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
  fail("varint longer than 10 bytes");
}

void ByteReader::packed(size_t count, std::vector<uint64_t>& out) {
  out.reserve(out.size() + std::min(count, (in_.size() - pos_ + 1) * kPackBlock));
  const auto* p = reinterpret_cast<const unsigned char*>(in_.data());
  // Bits are taken from byte pos_ on; a block ends at a byte boundary.
  Wide acc = 0;
  int have = 0;
  auto take = [&](int width) -> uint64_t {
    while (have < width) {
      if (pos_ >= in_.size()) fail("packed block ends early");
      acc |= static_cast<Wide>(p[pos_++]) << have;
      have += 8;
    }
    uint64_t v =
        static_cast<uint64_t>(acc) & (width == 64 ? ~uint64_t{0} : (uint64_t{1} << width) - 1);
    acc >>= width;
    have -= width;
    return v;
  };
  for (size_t start = 0; start < count; start += kPackBlock) {
    size_t n = std::min(count - start, kPackBlock);
    uint8_t header = u8();
    acc = 0;
    have = 0;
    if (header > 64 && header < kRiceFlag) {
      size_t blocks = header - kZeroRunBase;
      if (start + (blocks - 1) * kPackBlock >= count)
        fail("a run of " + std::to_string(blocks) + " zero blocks past the column's " +
             std::to_string(count) + " values");
      out.insert(out.end(), std::min(count - start, blocks * kPackBlock), 0);
      start += (blocks - 1) * kPackBlock;
      continue;
    }
    if (header < kRiceFlag) {
      if (header > 0 && in_.size() - pos_ < (n * header + 7) / 8) fail("packed block ends early");
      for (size_t i = 0; i < n; ++i)
        out.push_back(take(header));
      continue;
    }
    int r = header & 0x7f;
    if (r > 63) fail("Rice parameter " + std::to_string(r) + " over 63");
    for (size_t i = 0; i < n; ++i) {
      uint64_t q = 0;
      while (q < kRiceEscape && take(1))
        ++q;
      out.push_back(q == kRiceEscape ? take(64) : (q << r) | take(r));
    }
  }
}

}  // namespace metricsd
