// Buffer: an owned, uninitialised byte array (no zero fill, unlike std::string::resize),
// for bulk data on the data path. Move-only.
#pragma once

#include <cstddef>
#include <memory>

namespace gkfs {

class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(size_t size) : data_(size ? new char[size] : nullptr), size_(size) {}
  char* data() { return data_.get(); }
  const char* data() const { return data_.get(); }
  size_t size() const { return size_; }
  // Shrinks the logical size (capacity is kept). REQUIRES: n <= size().
  void Shrink(size_t n) { size_ = n; }

 private:
  std::unique_ptr<char[]> data_;
  size_t size_ = 0;
};

}  // namespace gkfs
