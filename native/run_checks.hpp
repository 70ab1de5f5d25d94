// Checks of a run's shape that both engines (GPT-2 and llama.cpp) make before ggml sees the request:
// which rows to capture, and the size of a multi-sequence batch. One place, so both reject bad input
// with the same words.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "run_types.hpp"

namespace layerlens {

// The rows to capture out of n tokens: `requested` when it is ascending, unique and in 0..n−1
// (std::invalid_argument otherwise), every position when it is empty.
std::vector<int32_t> checkedPositions(const std::vector<int32_t>& requested, int32_t n);

// Throws std::invalid_argument when a hook is asked for twice (each engine checks the layers itself).
void checkDistinctHooks(const std::vector<HookRef>& hooks);

struct BatchLimits {
  size_t maxSequences = 0;
  int64_t maxTokens = 0;        // tokens of all sequences together
  std::string raiseTokensHint;  // appended to the too-many-tokens message (how to raise the limit), may be empty
};

struct CheckedBatch {
  std::vector<std::vector<int32_t>> positions;  // per sequence, as checkedPositions returns them
  int64_t totalTokens = 0;
};

// A BatchRunRequest checked before packing: sequence count and total length within `limits`, one
// position list per sequence (or none), every sequence's tokens through the engine's own check and its
// positions through checkedPositions (errors name the sequence), and no per-head hook (those hooks are
// captured one sequence at a time). Each hook's layer is the engine's to check.
CheckedBatch checkBatchRequest(const BatchRunRequest& req, const BatchLimits& limits,
                               const std::function<void(const std::vector<int32_t>&)>& validateTokens);

}  // namespace layerlens
