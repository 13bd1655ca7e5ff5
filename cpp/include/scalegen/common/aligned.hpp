#pragma once
/// std::vector storage on cache-line boundaries: a 64-byte vector load from a buffer that
/// malloc aligned to 16 bytes spans two cache lines (the GEMM kernels run ~10% slower).

#include <cstddef>
#include <new>
#include <utility>
#include <vector>

namespace scalegen {

template <class T, std::size_t Align = 64>
struct AlignedAllocator {
  using value_type = T;
  template <class U>
  struct rebind {
    using other = AlignedAllocator<U, Align>;
  };
  AlignedAllocator() = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U, Align>&) {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(Align))); }
  void deallocate(T* p, std::size_t) { ::operator delete(p, std::align_val_t(Align)); }
  // resize() default-initializes (floats are left as they are, not zeroed): these buffers
  // are written before they are read, and zeroing them again whenever a batch grows cost
  // a pass over memory
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
  template <class U>
  bool operator==(const AlignedAllocator<U, Align>&) const {
    return true;
  }
  template <class U>
  bool operator!=(const AlignedAllocator<U, Align>&) const {
    return false;
  }
};

template <class T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

}  // namespace scalegen
