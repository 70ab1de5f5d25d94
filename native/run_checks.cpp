#include "run_checks.hpp"

#include <algorithm>
#include <stdexcept>

namespace layerlens {

std::vector<int32_t> checkedPositions(const std::vector<int32_t>& requested, int32_t n) {
  std::vector<int32_t> positions = requested;
  if (positions.empty()) {
    positions.resize(size_t(std::max(n, 0)));
    for (int32_t i = 0; i < n; ++i) positions[size_t(i)] = i;
  }
  for (size_t i = 0; i < positions.size(); ++i) {
    if (positions[i] < 0 || positions[i] >= n) {
      throw std::invalid_argument("position " + std::to_string(positions[i]) + " is outside the prompt's " +
                                  std::to_string(n) + " tokens (0.." + std::to_string(n - 1) + ")");
    }
    if (i > 0 && positions[i] <= positions[i - 1])
      throw std::invalid_argument("positions must be ascending and unique");
  }
  return positions;
}

void checkDistinctHooks(const std::vector<HookRef>& hooks) {
  for (size_t i = 0; i < hooks.size(); ++i) {
    if (std::find(hooks.begin(), hooks.begin() + ptrdiff_t(i), hooks[i]) != hooks.begin() + ptrdiff_t(i))
      throw std::invalid_argument("hook '" + hookName(hooks[i]) + "' requested twice");
  }
}

CheckedBatch checkBatchRequest(const BatchRunRequest& req, const BatchLimits& limits,
                               const std::function<void(const std::vector<int32_t>&)>& validateTokens) {
  const size_t S = req.sequences.size();
  if (S == 0) throw std::invalid_argument("runBatch: no sequences to run");
  if (S > limits.maxSequences)
    throw std::invalid_argument("runBatch: " + std::to_string(S) + " sequences, more than one batch takes (" +
                                std::to_string(limits.maxSequences) + ")");
  if (!req.positions.empty() && req.positions.size() != S)
    throw std::invalid_argument("runBatch: " + std::to_string(req.positions.size()) + " position lists for " +
                                std::to_string(S) + " sequences");
  CheckedBatch out;
  out.positions.resize(S);
  for (size_t s = 0; s < S; ++s) {
    const std::vector<int32_t>& seq = req.sequences[s];
    try {
      validateTokens(seq);
      out.positions[s] =
          checkedPositions(req.positions.empty() ? std::vector<int32_t>{} : req.positions[s], int32_t(seq.size()));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("runBatch: sequence " + std::to_string(s) + ": " + e.what());
    }
    out.totalTokens += int64_t(seq.size());
  }
  if (out.totalTokens > limits.maxTokens)
    throw std::invalid_argument("runBatch: " + std::to_string(out.totalTokens) +
                                " tokens in all, more than one batch takes (" + std::to_string(limits.maxTokens) +
                                (limits.raiseTokensHint.empty() ? "" : "; " + limits.raiseTokensHint) + ")");
  checkDistinctHooks(req.hooks);
  for (const HookRef& h : req.hooks) {
    if (hookKindInfo(h.kind).perHead)
      throw std::invalid_argument("runBatch does not capture " + hookName(h) +
                                  " (per-head hooks): run those sequences one at a time");
  }
  return out;
}

}  // namespace layerlens
