#pragma once
// Per-thread scratch memory for the kernels, without an allocation per call.

#include <cstddef>

namespace scalegen::nn {

/// A buffer of at least n floats (64-byte aligned) of the calling thread, held while the
/// lease lives. Leases nest: each one alive on a thread has its own buffer. Released buffers
/// stay with the thread for its next leases, so a training step allocates nothing once warm.
class ScratchLease {
 public:
  explicit ScratchLease(std::size_t n);
  ~ScratchLease();
  ScratchLease(const ScratchLease&) = delete;
  ScratchLease& operator=(const ScratchLease&) = delete;
  float* data() const { return data_; }

 private:
  float* data_;
};

}  // namespace scalegen::nn
