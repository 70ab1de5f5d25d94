// The lens on the weights' backend, top-k included, for a GPU: there the projection costs next to
// nothing, and what the host path pays for is copying every row's n_vocab logits off the device
// and ranking them on the CPU. Here only k ids, logits and probabilities per row cross.
// See docs/architecture.md, "Lens".
#include "../engine.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

namespace layerlens {
namespace {

// Rows per graph: bounds the device memory of a step (three [n_vocab, rows] f32 tensors).
constexpr int64_t kDeviceLensChunk = 256;

}  // namespace

bool Engine::lensOnDevice() const {
  // The CPU path (engine_lens.cpp) is faster on the CPU: it forms the residual rows as sums and
  // skips most of each row in its top-k. The debug GPU graph runs this path on the CPU for the tests.
  return !cpuKernels();
}

void Engine::deviceLens(const float* x, int64_t m, int32_t k, TopK& out) {
  const HParams& hp = weights_.hp;
  const int64_t d = hp.nEmbd, V = hp.nVocab;
  std::vector<int32_t> ids;
  std::vector<float> logits, probs;
  std::vector<int32_t> order(static_cast<size_t>(k));
  for (int64_t begin = 0; begin < m; begin += kDeviceLensChunk) {
    const int64_t n = std::min(kDeviceLensChunk, m - begin);
    const LensGraph g = newLensGraph(n);
    ggml_context* ctx = g.ctx.get();
    ggml_tensor* z = buildUnembed(ctx, weights_, g.input, minMatmulCols());            // [vocabPadded, n]
    ggml_tensor* rowLogits = ggml_cont(ctx, ggml_view_2d(ctx, z, V, n, z->nb[1], 0));  // the padding rows dropped
    ggml_tensor* rowProbs = ggml_soft_max(ctx, rowLogits);
    ggml_tensor* top = ggml_top_k(ctx, rowLogits, k);  // [k, n], in no particular order
    // Each row's k entries gathered from its own logits and probabilities: rows of one float.
    ggml_tensor* topLogits = ggml_get_rows(ctx, ggml_reshape_3d(ctx, rowLogits, 1, V, n), top);
    ggml_tensor* topProbs = ggml_get_rows(ctx, ggml_reshape_3d(ctx, rowProbs, 1, V, n), top);
    for (ggml_tensor* t : {top, topLogits, topProbs}) {
      ggml_set_output(t);
      ggml_build_forward_expand(g.graph, t);
    }
    computeLensGraph(g, x + begin * d);
    const size_t count = size_t(n) * size_t(k);
    ids.resize(count);
    logits.resize(count);
    probs.resize(count);
    ggml_backend_tensor_get(top, ids.data(), 0, count * sizeof(int32_t));
    ggml_backend_tensor_get(topLogits, logits.data(), 0, count * sizeof(float));
    ggml_backend_tensor_get(topProbs, probs.data(), 0, count * sizeof(float));

    for (int32_t id : ids) {
      if (id < 0 || id >= V)
        throw std::runtime_error("lens: the backend's top-k returned token id " + std::to_string(id));
    }
    // Best first, ties to the lower id, as the host top-k orders them.
    for (int64_t r = 0; r < n; ++r) {
      const size_t from = size_t(r) * size_t(k), to = size_t(begin + r) * size_t(k);
      std::iota(order.begin(), order.end(), 0);
      std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
        const float la = logits[from + a], lb = logits[from + b];
        return la != lb ? la > lb : ids[from + a] < ids[from + b];
      });
      for (int32_t j = 0; j < k; ++j) {
        out.ids[to + j] = ids[from + order[j]];
        out.logits[to + j] = logits[from + order[j]];
        out.probs[to + j] = probs[from + order[j]];
      }
      // log Σ exp(logits) = logit − log p for any entry; the top one's p is the least rounded.
      out.logSumExp[size_t(begin + r)] = double(out.logits[to]) - std::log(double(out.probs[to]));
    }
  }
}

}  // namespace layerlens
