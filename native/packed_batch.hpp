// The layout of a multi-sequence batch in one forward, shared by both engines' runBatch: sequences
// packed end to end with no padding, each at its own positions 0..n_s−1, and the captured rows split
// back per sequence afterwards.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "run_checks.hpp"
#include "run_types.hpp"

namespace layerlens {

struct PackedBatch {
  std::vector<int32_t> tokens;     // every sequence's tokens, end to end
  std::vector<int32_t> positions;  // per token: its position in its own sequence
  std::vector<int32_t> sequence;   // per token: the index of its sequence
  std::vector<int32_t> starts;     // per token: the row of its sequence's first token
  std::vector<int32_t> rows;       // the rows to capture (every sequence's checked positions, offset), ascending
  std::vector<size_t> firstRow;    // per sequence, and one past the last: where its rows begin in `rows`
  std::vector<int32_t> lastRows;   // per sequence: the row of its last token (its next-token logits)
  bool onlyLastRows = true;        // every sequence captures its last position alone
  int32_t longest = 0;             // tokens of the longest sequence
};

PackedBatch packBatch(const BatchRunRequest& req, const CheckedBatch& checked);

// Captured tensors over packed.rows (row hooks, [rows, width]) cut into one RunResult per sequence;
// logits are left to the caller.
std::vector<RunResult> splitCapturedRows(const PackedBatch& packed, const std::vector<CapturedTensor>& captured);

}  // namespace layerlens
