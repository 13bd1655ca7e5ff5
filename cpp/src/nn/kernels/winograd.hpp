#pragma once
// 4 x 4 stride-2 convolutions padded by one row and column before (Keras' 'same' on even
// sizes: the DCGAN's layers and their transposes) by Winograd's minimal filtering.
//
// Such a kernel is four 2 x 2 kernels, one per phase of the input (even or odd rows, even or
// odd columns), each filtering its phase with stride 1. F(7x7, 2x2) gets a 7 x 7 output
// tile of a 2 x 2 filter from an 8 x 8 input tile with 8 x 8 products instead of 7 x 7 x 4:
//   y = A^T [ (G g G^T) (.) (B^T d B) ] A     (Toom-Cook points 0, +-1, +-2, +-1/2, infinity)
// The four phases' products add up in the transformed domain, where each of the 64
// positions is one GEMM of (tiles x 4C) by (4C x F): 3.06x fewer multiplications than the
// direct product. The two gradients are the adjoint maps with the same transforms:
//   dx = B [ U^T-products of A dy A^T ] B^T,  dU = sum over tiles of (B^T d B) (A dy A^T).
// Rounding: about 1e-5 of the output's scale (the direct product: 2e-7).

#include <cstdint>

#include "im2col.hpp"

namespace scalegen::nn {

// Layers use it for training batches of at least this many images (the kernel's transform
// is paid per call; inference keeps the direct product's rounding).
constexpr std::int64_t kWinogradMinBatch = 8;
constexpr std::int64_t kTilePositions = 64;  // an 8 x 8 transformed tile

class Winograd4x4s2 {
 public:
  /// Whether geo (a convolution's windows, filters outputs) is such a convolution with
  /// channel counts our kernels take (multiples of 16) and a transformed kernel of at most
  /// 2^24 floats.
  static bool applies(const ConvGeometry& geo, std::int64_t filters);

  Winograd4x4s2() = default;
  Winograd4x4s2(const ConvGeometry& geo, std::int64_t filters);

  /// y (n images of geo.out's size, F channels) = the convolution of x (n images of geo.in)
  /// with w (4 x 4 x C x F), no bias. With keep_tiles (tile_floats(n) floats), x's
  /// transformed tiles are left there for the kernel gradient of backward.
  void forward(const float* x, const float* w, float* y, std::int64_t n, int n_threads,
               float* keep_tiles = nullptr) const;
  /// The adjoints from dy (n images of the output): dx (the input's gradient, overwritten)
  /// and dw (the kernel's, overwritten: summed over the images of x), either may be null;
  /// kept_tiles, when not null, are x's tiles as forward kept them.
  void backward(const float* x, const float* dy, const float* w, float* dx, float* dw, std::int64_t n, int n_threads,
                const float* kept_tiles = nullptr) const;
  /// The floats of n images' transformed input tiles.
  std::int64_t tile_floats(std::int64_t n) const { return n * T_ * kTilePositions * K_; }

 private:
  // Position pos of the transformed kernel into U: U[pos] (4C x F) from w (4 x 4 x C x F),
  // or U[pos]^T (F x 4C) from w transposed per tap (4 x 4 x F x C) when transposed. Built
  // where the position's GEMM runs, so it stays in that core's cache.
  void kernel_at(const float* w, int pos, bool transposed, float* U) const;
  // dw (4 x 4 x C x F) += position pos's share of the kernel gradient dU (4C x F).
  void add_kernel_gradient(const float* dU, int pos, float* dw) const;
  // Images per chunk: the chunk's transformed tiles stay within a few MB.
  std::int64_t chunk_images() const;
  // Transformed input tiles of images [s0, s1) into V (rows x 64 x 4C), parallel over rows.
  void input_tiles(const float* x, std::int64_t s0, std::int64_t s1, float* V, int n_threads) const;
  // Transformed output-gradient tiles (A dy A^T) of images [s0, s1) into M (rows x 64 x F).
  void output_grad_tiles(const float* dy, std::int64_t s0, std::int64_t s1, float* M, int n_threads) const;

  int H_ = 0, W_ = 0, Ho_ = 0, Wo_ = 0, th_ = 0, tw_ = 0;
  std::int64_t C_ = 0, F_ = 0, K_ = 0, T_ = 0;  // K = 4 C: the phases' channels; T: tiles per image
};

}  // namespace scalegen::nn
