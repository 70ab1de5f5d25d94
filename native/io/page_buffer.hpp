// A large transient host buffer taken from the OS page allocator and returned to it when released.
//
// Through malloc, the loaders' staging buffers (tens of MB, allocated on a libuv worker thread) were
// kept by that thread's glibc arena after being freed: every model load left ~28 MB more resident
// (gpt2-medium), up to one arena per worker thread. Pages from mmap go back on munmap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>

#if !defined(_WIN32)
#include <sys/mman.h>
#endif

namespace layerlens {

class PageBuffer {
 public:
  PageBuffer() = default;
  PageBuffer(const PageBuffer&) = delete;
  PageBuffer& operator=(const PageBuffer&) = delete;
  ~PageBuffer() { release(); }

  // At least `bytes` of storage; earlier contents are not kept when it grows.
  uint8_t* ensure(size_t bytes) {
    if (bytes == 0 || bytes <= size_) return data_;
    release();
#if defined(_WIN32)
    fallback_.reset(new uint8_t[bytes]);
    data_ = fallback_.get();
#else
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    data_ = static_cast<uint8_t*>(p);
#endif
    size_ = bytes;
    return data_;
  }

  uint8_t* data() const { return data_; }

 private:
  void release() {
#if defined(_WIN32)
    fallback_.reset();
#else
    if (data_) munmap(data_, size_);
#endif
    data_ = nullptr;
    size_ = 0;
  }

  uint8_t* data_ = nullptr;
  size_t size_ = 0;
#if defined(_WIN32)
  std::unique_ptr<uint8_t[]> fallback_;
#endif
};

}  // namespace layerlens
