// The order in which a lens batch is computed when some rows are sums of others.
//
// The lens is affine in the centred vector: lens(x) = W·(γ ⊙ (x − mean x)) / σ(x) + W·β. A residual
// stream is the sum of the vectors written into it (resid_post = resid_mid + mlp_out, ...), so the
// projection z = W·(γ ⊙ (x − mean x)) of a sum row is the sum of its parts' projections: it needs a
// vector addition instead of a matmul. For decodeLayers over all hooks that halves the lens's
// matmul (49 projected rows instead of 97 for GPT-2 medium).
#pragma once

#include <cstdint>
#include <vector>

namespace layerlens {

// row = a + b.
struct RowSum {
  int64_t row = 0, a = 0, b = 0;
};

// One step: project `project` (one matmul), then form each `derive` entry in order from rows already
// available (projected in this or an earlier step, or derived earlier).
struct LensStep {
  std::vector<int64_t> project;
  std::vector<RowSum> derive;
};

struct LensPlan {
  std::vector<LensStep> steps;
  std::vector<int32_t> uses;  // per row: how many derive entries read it
  int64_t maxHeld = 0;        // the most rows whose projection must be kept past their own step
};

// Plans m rows given the claimed sums (indices already checked to lie in [0, m)). Sums that would
// form a cycle, name a row twice or derive a row from itself are dropped: that row is projected.
// Rows are ordered depth-first from the rows nothing else reads, so that each residual chain is
// finished before the next starts and few projections are held at once. At most `chunk` rows are
// projected per step.
LensPlan planLens(int64_t m, const std::vector<RowSum>& sums, int64_t chunk);

}  // namespace layerlens
