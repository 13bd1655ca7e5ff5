// Per-thread scratch buffers (see scratch.hpp).
#include "scratch.hpp"

#include <vector>

#include "scalegen/common/aligned.hpp"

namespace scalegen::nn {
namespace {

// The thread's buffers; leases [0, depth) are held.
struct ScratchStack {
  std::vector<AlignedVector<float>> buffers;
  std::size_t depth = 0;
};
thread_local ScratchStack stack;

}  // namespace

ScratchLease::ScratchLease(std::size_t n) {
  if (stack.depth == stack.buffers.size()) stack.buffers.emplace_back();  // moves keep older buffers' data
  AlignedVector<float>& b = stack.buffers[stack.depth++];
  if (b.size() < n) b.resize(n);
  data_ = b.data();
}

ScratchLease::~ScratchLease() { --stack.depth; }

}  // namespace scalegen::nn
