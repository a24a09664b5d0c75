#pragma once
#include <cstddef>
#include <vector>

namespace util {

template <typename T>
class RingBuffer {
 public:
  explicit RingBuffer(std::size_t cap) : data_(cap), head_(0), size_(0) {}
  void push(const T& v) {
    data_[(head_ + size_) % data_.size()] = v;
    if (size_ < data_.size()) ++size_; else head_ = (head_ + 1) % data_.size();
  }
  std::size_t size() const noexcept { return size_; }

 private:
  std::vector<T> data_;
  std::size_t head_, size_;
};

}  // namespace util
