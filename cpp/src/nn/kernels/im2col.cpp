// im2col and col2im (see im2col.hpp).
#include "im2col.hpp"

#include <algorithm>
#include <type_traits>
#include <vector>

#include "elementwise.hpp"

namespace scalegen::nn {

std::pair<int, int> ConvGeometry::interior_columns() const {
  const int lo = std::min(out.w, (pl + sw - 1) / sw);
  const int hi = in.w + pl >= kw ? std::min(out.w, (in.w + pl - kw) / sw + 1) : 0;
  return {lo, std::max(lo, hi)};
}

void ConvGeometry::im2col(const float* x, std::int64_t samples, float* cols) const {
  for (std::int64_t s = 0; s < samples; ++s) im2col_rows(x + s * in.size(), 0, out.h, cols + s * pixels() * K);
}

void ConvGeometry::im2col_rows(const float* img, int oh0, int oh1, float* cols) const {
  const int C = in.c;
  if (!contiguous_rows()) {  // one tap of cg channels at a time
    const int G = channels();
    for (int oh = oh0; oh < oh1; ++oh)
      for (int ow = 0; ow < out.w; ++ow) {
        float* to = cols + (std::int64_t(oh - oh0) * out.w + ow) * K;
        for (int i = 0; i < kh; ++i)
          for (int j = 0; j < kw; ++j, to += G) {
            const int ih = oh * sh - pt + i * dh, iw = ow * sw - pl + j * dw;
            if (ih < 0 || ih >= in.h || iw < 0 || iw >= in.w)
              std::fill(to, to + G, 0.0f);
            else
              copy_floats(img + (std::int64_t(ih) * in.w + iw) * C + c0, G, to);
          }
      }
    return;
  }
  const std::int64_t span = std::int64_t(kw) * C;
  for (int oh = oh0; oh < oh1; ++oh) {
    float* base = cols + std::int64_t(oh - oh0) * out.w * K;
    for (int i = 0; i < kh; ++i) {
      const int ih = oh * sh - pt + i * dh;
      float* dst = base + i * span;
      if (ih < 0 || ih >= in.h) {
        for (int ow = 0; ow < out.w; ++ow) std::fill(dst + ow * K, dst + ow * K + span, 0.0f);
        continue;
      }
      const float* src = img + std::int64_t(ih) * in.w * C;
      const auto copy_interior = [&](auto fixed) {
        constexpr int S = decltype(fixed)::value;
        for_columns(
            [&](int ow) {
              const float* from = src + std::int64_t(ow * sw - pl) * C;
              float* to = dst + ow * K;
              if constexpr (S > 0) {
                for (int t = 0; t < S; ++t) to[t] = from[t];
              } else {
                copy_floats(from, span, to);
              }
            },
            [&](int ow, int j, int iw) {
              float* to = dst + ow * K + std::int64_t(j) * C;
              if (iw < 0 || iw >= in.w)
                std::fill(to, to + C, 0.0f);
              else
                copy_floats(src + std::int64_t(iw) * C, C, to);
            });
      };
      switch (span) {
        case 1: copy_interior(std::integral_constant<int, 1>{}); break;
        case 2: copy_interior(std::integral_constant<int, 2>{}); break;
        case 3: copy_interior(std::integral_constant<int, 3>{}); break;
        case 4: copy_interior(std::integral_constant<int, 4>{}); break;
        case 5: copy_interior(std::integral_constant<int, 5>{}); break;
        default: copy_interior(std::integral_constant<int, 0>{}); break;
      }
    }
  }
}

void ConvGeometry::col2im(const float* dcols, std::int64_t samples, float* dx, bool accumulate) const {
  const int C = in.c;
  const std::int64_t span = std::int64_t(kw) * C;
  if (!accumulate) std::fill(dx, dx + samples * in.size(), 0.0f);
  if (!contiguous_rows()) {
    const int G = channels();
    for (std::int64_t s = 0; s < samples; ++s)
      for (int oh = 0; oh < out.h; ++oh)
        for (int ow = 0; ow < out.w; ++ow) {
          const float* from = dcols + ((s * out.h + oh) * out.w + ow) * K;
          for (int i = 0; i < kh; ++i)
            for (int j = 0; j < kw; ++j, from += G) {
              const int ih = oh * sh - pt + i * dh, iw = ow * sw - pl + j * dw;
              if (ih >= 0 && ih < in.h && iw >= 0 && iw < in.w)
                add_floats(from, G, dx + s * in.size() + (std::int64_t(ih) * in.w + iw) * C + c0);
            }
        }
    return;
  }
  for (std::int64_t s = 0; s < samples; ++s) {
    float* img = dx + s * in.size();
    for (int oh = 0; oh < out.h; ++oh) {
      const float* base = dcols + (s * out.h + oh) * out.w * K;
      for (int i = 0; i < kh; ++i) {
        const int ih = oh * sh - pt + i * dh;
        if (ih < 0 || ih >= in.h) continue;
        const float* src = base + i * span;
        float* dst = img + std::int64_t(ih) * in.w * C;
        const auto add_interior = [&](auto fixed) {
          constexpr int S = decltype(fixed)::value;
          for_columns(
              [&](int ow) {
                const float* from = src + ow * K;
                float* to = dst + std::int64_t(ow * sw - pl) * C;
                if constexpr (S > 0) {
                  for (int t = 0; t < S; ++t) to[t] += from[t];
                } else {
                  add_floats(from, span, to);
                }
              },
              [&](int ow, int j, int iw) {
                if (iw >= 0 && iw < in.w) add_floats(src + ow * K + std::int64_t(j) * C, C, dst + std::int64_t(iw) * C);
              });
        };
        switch (span) {  // a fixed-size add for the few values of a one-channel image's windows
          case 2: add_interior(std::integral_constant<int, 2>{}); break;
          case 3: add_interior(std::integral_constant<int, 3>{}); break;
          case 4: add_interior(std::integral_constant<int, 4>{}); break;
          case 5: add_interior(std::integral_constant<int, 5>{}); break;
          default: add_interior(std::integral_constant<int, 0>{}); break;
        }
      }
    }
  }
}

void ConvGeometry::col2im_sum(const float* dcols, std::int64_t samples, float* dx, const float* bias, bool relu) const {
  constexpr int V = 16;  // channels a step: one AVX-512 vector, two AVX2 ones
  typedef float Vec __attribute__((vector_size(V * 4)));
  typedef float VecU __attribute__((vector_size(V * 4), aligned(4)));
  const auto load = [](const float* p) { return Vec(*reinterpret_cast<const VecU*>(p)); };
  const int C = in.c;
  const std::int64_t span = std::int64_t(kw) * C;
  // the windows' cells on image column iw: offsets within an output row's windows (the same
  // in every row)
  std::vector<std::int64_t> col_offsets(static_cast<std::size_t>(in.w) * kw);
  std::vector<int> col_taps(static_cast<std::size_t>(in.w));
  for (int iw = 0; iw < in.w; ++iw) {
    int m = 0;
    for (int j = 0; j < kw; ++j) {
      const int t = iw + pl - j * dw;
      if (t >= 0 && t % sw == 0 && t / sw < out.w) col_offsets[std::size_t(iw) * kw + m++] = (t / sw) * K + j * C;
    }
    col_taps[std::size_t(iw)] = m;
  }
  std::vector<const float*> row_windows(static_cast<std::size_t>(kh));
  const float* taps[kMaxTaps];
  for (std::int64_t s = 0; s < samples; ++s)
    for (int ih = 0; ih < in.h; ++ih) {
      int rows = 0;  // the window rows on image row ih: where their output row's windows start
      for (int i = 0; i < kh; ++i) {
        const int t = ih + pt - i * dh;
        if (t >= 0 && t % sh == 0 && t / sh < out.h)
          row_windows[std::size_t(rows++)] = dcols + (s * out.h + t / sh) * out.w * K + i * span;
      }
      float* cell = dx + s * in.size() + std::int64_t(ih) * in.w * C;
      for (int iw = 0; iw < in.w; ++iw, cell += C) {
        int count = 0;
        for (int r = 0; r < rows; ++r)
          for (int m = 0; m < col_taps[std::size_t(iw)]; ++m)
            taps[count++] = row_windows[std::size_t(r)] + col_offsets[std::size_t(iw) * kw + m];
        for (int c = 0; c < C; c += V) {
          Vec acc = bias != nullptr ? load(bias + c) : Vec{};
          for (int t = 0; t < count; ++t) acc += load(taps[t] + c);
          if (relu) acc = acc > 0.0f ? acc : Vec{};
          *reinterpret_cast<VecU*>(cell + c) = acc;
        }
      }
    }
}

}  // namespace scalegen::nn
