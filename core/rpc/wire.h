// Little-endian binary encoding used by every byte format of gkfs (RPC bodies, metadata
// records, merge operands). Encoder appends to a std::string it owns. Decoder reads a
// borrowed byte range and is bounds-checked: every read past the end, every length larger
// than what remains and every trailing garbage turns the decoder "bad" and the caller gets
// EBADMSG from Finish(); it never reads out of range. Neither is thread-safe.
//
// Grammar of the primitives (docs/formats.md):
//   u8 | u16 | u32 | u64 | i64 : fixed-width little-endian
//   str  := u32 length, length bytes (length <= the decoder's remaining bytes)
#pragma once

#include <endian.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "gkfs/status.h"

namespace gkfs {

class Encoder {
 public:
  // Most messages are a few dozen bytes: one allocation up front instead of regrowing.
  Encoder() { out_.reserve(64); }
  // For a message of a known size: exactly one allocation.
  explicit Encoder(size_t capacity) { out_.reserve(capacity); }
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U16(uint16_t v) { Fixed(v, 2); }
  void U32(uint32_t v) { Fixed(v, 4); }
  void U64(uint64_t v) { Fixed(v, 8); }
  void I64(int64_t v) { Fixed(static_cast<uint64_t>(v), 8); }
  void I32(int32_t v) { Fixed(static_cast<uint32_t>(v), 4); }
  void Str(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    out_.append(s.data(), s.size());
  }
  std::string& buffer() { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  void Fixed(uint64_t v, int width) {
    uint64_t le = htole64(v);  // its first `width` bytes are v's low bytes, in order
    out_.append(reinterpret_cast<const char*>(&le), static_cast<size_t>(width));
  }
  std::string out_;
};

class Decoder {
 public:
  Decoder(const void* data, size_t size) : p_(static_cast<const uint8_t*>(data)), end_(p_ + size) {}
  explicit Decoder(std::string_view s) : Decoder(s.data(), s.size()) {}

  uint8_t U8() { return static_cast<uint8_t>(Fixed(1)); }
  uint16_t U16() { return static_cast<uint16_t>(Fixed(2)); }
  uint32_t U32() { return static_cast<uint32_t>(Fixed(4)); }
  uint64_t U64() { return Fixed(8); }
  int64_t I64() { return static_cast<int64_t>(Fixed(8)); }
  int32_t I32() { return static_cast<int32_t>(static_cast<uint32_t>(Fixed(4))); }
  // REQUIRES for a good result: the length prefix <= max_len and <= remaining bytes.
  std::string Str(size_t max_len = 1 << 20) {
    uint32_t n = U32();
    if (bad_ || n > max_len || n > remaining()) {
      bad_ = true;
      return std::string();
    }
    std::string s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return s;
  }
  // A count of items that each take at least min_item_bytes; bad if it cannot fit.
  uint32_t Count(size_t min_item_bytes, uint32_t max_count) {
    uint32_t n = U32();
    if (bad_ || n > max_count || static_cast<uint64_t>(n) * min_item_bytes > remaining()) {
      bad_ = true;
      return 0;
    }
    return n;
  }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  bool bad() const { return bad_; }
  void MarkBad() { bad_ = true; }
  // OK if every read was in range and all bytes were consumed.
  Status Finish(const char* what) const {
    if (bad_ || p_ != end_) {
      return Status::Error(EBADMSG, std::string("malformed ") + what);
    }
    return Status::OK();
  }

 private:
  uint64_t Fixed(int width) {
    if (bad_ || remaining() < static_cast<size_t>(width)) {
      bad_ = true;
      return 0;
    }
    uint64_t v = 0;
    std::memcpy(&v, p_, static_cast<size_t>(width));
    p_ += width;
    return le64toh(v);
  }
  const uint8_t* p_;
  const uint8_t* end_;
  bool bad_ = false;
};

}  // namespace gkfs
