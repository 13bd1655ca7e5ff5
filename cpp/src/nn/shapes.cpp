// Output shapes of windowed layers (TensorFlow's padding rule, in one place) and the checks
// every layer's shapes go through.
#include <algorithm>
#include <stdexcept>

#include "layer.hpp"
#include "scalegen/common/limits.hpp"

namespace scalegen::nn {

std::string layer_name(const char* kind, int index) { return std::string(kind) + " (layer " + std::to_string(index) + ")"; }

Shape checked_shape(std::int64_t h, std::int64_t w, std::int64_t c, int rank, const std::string& who) {
  const std::int64_t size = checked_mul(checked_mul(h, w, who), c, who);
  check_tensor_bytes(size, sizeof(float), who + ": one sample's output");
  return Shape{checked_int(h, who), checked_int(w, who), checked_int(c, who), rank};
}

// Strides and windows up to INT_MAX are valid hyper-parameters, hence the 64-bit sizes.
WindowAxis window_axis(int size, int window, int stride, bool same, int begin, int end, const std::string& who) {
  const std::int64_t n = size, k = window, s = stride;
  std::int64_t out = 0, pad = 0, pad_end = 0;
  if (begin >= 0 || end >= 0) {
    if (begin < 0 || end < 0 || begin >= window || end >= window)
      throw std::invalid_argument(who + ": explicit paddings must be in [0, window)");
    const std::int64_t padded = n + begin + end;
    if (padded < k)
      throw std::invalid_argument(who + ": the window (" + std::to_string(window) + ") is larger than the padded input");
    checked_int(padded, who + ": the padded input size");
    out = (padded - k) / s + 1;
    pad = begin;
    pad_end = end;
  } else if (same) {
    out = (n + s - 1) / s;
    const std::int64_t total = std::max<std::int64_t>((out - 1) * s + k - n, 0);
    pad = total / 2;
    pad_end = total - pad;
  } else {
    if (size < window)
      throw std::invalid_argument(who + ": the window (" + std::to_string(window) + ") is larger than the input (" +
                                  std::to_string(size) + ") with padding='valid'");
    out = (n - k) / s + 1;
  }
  if (out < 1) throw std::invalid_argument(who + ": the output would be empty");
  return {checked_int(out, who + ": the output size"), checked_int(pad, who + ": the padding"),
          checked_int(pad_end, who + ": the padding")};
}

WindowAxis deconv_axis(int size, int window, int stride, bool same, int output_padding, int begin, int end,
                        const std::string& who) {
  const std::int64_t in = size, k = window, s = stride, full = (in - 1) * s + k;
  if (output_padding >= stride) throw std::invalid_argument(who + ": output_padding must be smaller than the stride");
  std::int64_t length, drop_begin, drop_end;
  if (begin >= 0 || end >= 0) {  // explicit (ONNX, PyTorch): cells dropped at each end, then output_padding
    if (begin < 0 || end < 0) throw std::invalid_argument(who + ": explicit paddings must be non-negative");
    drop_begin = begin;
    length = full - begin - end + std::max(output_padding, 0);
  } else {
    if (output_padding < 0)
      length = same ? in * s : in * s + std::max<std::int64_t>(k - s, 0);
    else
      length = (in - 1) * s + k - 2 * (same ? k / 2 : 0) + output_padding;
    drop_begin = same ? std::max<std::int64_t>(full - length, 0) / 2 : 0;
  }
  if (length < 1) throw std::invalid_argument(who + ": the output would be empty");
  drop_end = std::max<std::int64_t>(full - drop_begin - length, 0);
  return {checked_int(length, who + ": the output size"), checked_int(drop_begin, who + ": the padding"),
          checked_int(drop_end, who + ": the padding")};
}

}  // namespace scalegen::nn
