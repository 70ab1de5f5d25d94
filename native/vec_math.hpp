// Elementwise float math written as straight-line arithmetic, so that loops over arrays compile to
// SIMD code (glibc's expf/tanhf are scalar calls: in the forward's GELU they cost ~15 % of the time).
// Files that loop over these are compiled with -fno-trapping-math (CMakeLists.txt): without it GCC
// keeps the clamp below as a branch and leaves the loop scalar.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace layerlens {

// e^x for float, within 2 ulp of the true value on [-87, 88]; inputs outside are clamped to it
// (e^-87 ≈ 1.6e-38, e^88 ≈ 1.7e38). Cody–Waite reduction x = n·ln2 + r, |r| ≤ ln2/2, a degree-7
// polynomial for e^r (Cephes' expf coefficients), then 2^n through the exponent bits.
inline float expF32(float x) {
  x = std::min(std::max(x, -87.0f), 88.0f);
  // Round to nearest by the 1.5·2^23 trick: vectorizes everywhere, unlike nearbyint without -ffast-math.
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r =
      (x - n * 0.693359375f) + n * 2.12194440e-4f;  // ln2 = 0.693359375 - 2.12194440e-4, first part exact in n·
  const float r2 = r * r;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r2 + r + 1.0f;
  const int32_t bits = (int32_t(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// GPT-2's gelu_new, 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), written as x·σ(2u) = x / (1 + e^(-2u)):
// the same function, without the cancellation in 1 + tanh(u) for negative x.
inline float geluNewF32(float x) {
  const float u = 0.7978845608028654f * (x + 0.044715f * x * x * x);
  return x / (1.0f + expF32(-2.0f * u));
}

}  // namespace layerlens
