#include "gelu.hpp"

#include <algorithm>
#include <cstdint>

#include "../vec_math.hpp"

namespace layerlens {
namespace {

// ggml custom-op signature: thread ith of nth handles its share of the elements.
void geluNewKernel(ggml_tensor* dst, const ggml_tensor* a, int ith, int nth, void*) {
  const int64_t n = ggml_nelements(a);
  const int64_t per = ((n + nth - 1) / nth + 15) / 16 * 16;  // whole SIMD blocks per thread
  const int64_t begin = std::min(n, per * ith), end = std::min(n, begin + per);
  const float* __restrict x = static_cast<const float*>(a->data);
  float* __restrict y = static_cast<float*>(dst->data);
  for (int64_t i = begin; i < end; ++i) y[i] = geluNewF32(x[i]);
}

ggml_tensor* composedGeluNew(ggml_context* ctx, ggml_tensor* x) {
  const float sqrt2OverPi = 0.7978845608028654f;
  ggml_tensor* cube = ggml_mul(ctx, ggml_sqr(ctx, x), x);
  ggml_tensor* inner = ggml_scale(ctx, ggml_add(ctx, x, ggml_scale(ctx, cube, 0.044715f)), sqrt2OverPi);
  ggml_tensor* onePlusTanh = ggml_scale_bias(ctx, ggml_tanh(ctx, inner), 1.0f, 1.0f);
  return ggml_mul(ctx, ggml_scale(ctx, x, 0.5f), onePlusTanh);
}

}  // namespace

ggml_tensor* buildGeluNew(ggml_context* ctx, ggml_tensor* x, bool cpuKernel) {
  if (cpuKernel && x->type == GGML_TYPE_F32 && ggml_is_contiguous(x)) {
    return ggml_map_custom1(ctx, x, geluNewKernel, GGML_N_TASKS_MAX, nullptr);
  }
  return composedGeluNew(ctx, x);
}

}  // namespace layerlens
