// GPT-2's activation, gelu_new, as a graph node (see docs/architecture.md, "GELU").
#pragma once

#include "ggml.h"

namespace layerlens {

// gelu_new(x) elementwise. With cpuKernel the node is one custom op running a vectorized f32
// kernel (native/vec_math.hpp) on ggml's CPU threads; otherwise it is composed of ggml's own f32
// ops, which every backend runs. ggml's built-in gelu is not used: its CPU version reads an fp16
// table (~4e-3 relative error), too coarse for parity with the float64 reference.
ggml_tensor* buildGeluNew(ggml_context* ctx, ggml_tensor* x, bool cpuKernel);

}  // namespace layerlens
