// The byte-level pieces of the stored sample format (docs/storage-format.md): unsigned
// LEB128 varints, zigzag, and bit-packed streams of unsigned integers in blocks of 64 (one
// header byte per block, then the values LSB-first at that width or Rice-coded; runs of
// all-zero blocks take one byte). A reader never reads past its buffer: every malformed
// input is a CorruptBlock naming the byte offset.
// Pure functions and plain values; no I/O, no shared state.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace metricsd {

// A stored block that cannot be decoded. The message names the byte offset and what was
// wrong; callers add which block (series and window) it was.
struct CorruptBlock : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline constexpr size_t kPackBlock = 64;  // values per bit-packed block
// A header byte kZeroRunBase + k (k = 2..kZeroRunMax) stands for k blocks of zeros (the
// last of them may be the stream's short one): a regular time column or a constant value
// costs a byte per 4096 values instead of one per 64. Block format version 2 on.
inline constexpr uint8_t kZeroRunBase = 0x3f;
inline constexpr size_t kZeroRunMax = 64;

inline uint64_t zigzag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t unzigzag(uint64_t u) {
  return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
}

// Appends to a byte string.
class ByteWriter {
 public:
  explicit ByteWriter(std::string& out) : out_(out) {}
  void u8(uint8_t b) { out_.push_back(static_cast<char>(b)); }
  void uvarint(uint64_t v);
  void svarint(int64_t v) { uvarint(zigzag(v)); }
  // `values` bit-packed in blocks of kPackBlock, each with its own width.
  void packed(const std::vector<uint64_t>& values);

 private:
  std::string& out_;
};

// Reads a byte string front to back, checking every length against what is left.
class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}
  uint8_t u8();
  uint64_t uvarint();
  int64_t svarint() { return unzigzag(uvarint()); }
  // `count` values written by ByteWriter::packed, appended to `out`.
  void packed(size_t count, std::vector<uint64_t>& out);
  size_t offset() const { return pos_; }
  bool done() const { return pos_ == in_.size(); }
  [[noreturn]] void fail(const std::string& what) const;

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

// Bits needed for v (0 for 0).
int bit_width_of(uint64_t v);

// What ByteWriter::packed would write for `values`, in bytes, without writing it.
size_t packed_size(const std::vector<uint64_t>& values);

}  // namespace metricsd
