// What a run or a lens call asks of an engine and what it returns: shared by the GPT-2 engine
// (engine.hpp) and the llama.cpp engine (llama/llama_engine.hpp), so the addon and the TS side see one shape.
#pragma once

#include <cstdint>
#include <vector>

#include "graph/hook_kinds.hpp"
#include "lens/lens_plan.hpp"
#include "lens/topk.hpp"

namespace layerlens {

// An edit of one hook inside the graph: value' = value ⊙ mul + add, with mul and add given for
// every element ([width, n_tokens], ggml layout; either may be empty). Later nodes read value'.
struct InterventionSpec {
  HookRef hook;
  std::vector<float> mul;
  std::vector<float> add;
};

struct CapturedTensor {
  HookRef hook;
  std::vector<int64_t> shape;  // [positions, width] or, for attn_pattern, [positions, n_head, n_kv]
  std::vector<float> data;
};

struct RunRequest {
  std::vector<int32_t> tokens;
  std::vector<HookRef> hooks;                   // hooks to capture (may be empty), parsed by the caller
  std::vector<int32_t> positions;               // rows to capture, ascending unique; empty = every position
  std::vector<InterventionSpec> interventions;  // edits applied inside the graph, in order
  bool logits = true;                           // false: skip the final unembedding (RunResult::logits stays empty)
};

struct RunResult {
  std::vector<CapturedTensor> captured;
  std::vector<float> logits;  // next-token logits at the last position [n_vocab]; empty when not asked for
};

// Several independent sequences in one forward (Engine::runBatch): packed end to end with no padding,
// each at positions 0..n_i−1 and attending only to its own earlier tokens, so every sequence's rows
// are those of a run of it alone. Per-head hooks (attn_pattern, attn_head_out) and interventions are
// not offered here: run those sequences one at a time.
struct BatchRunRequest {
  std::vector<std::vector<int32_t>> sequences;
  std::vector<HookRef> hooks;
  // Per sequence, as RunRequest::positions; empty = every position of each.
  std::vector<std::vector<int32_t>> positions;
  bool logits = true;  // each sequence's next-token logits (RunResult::logits)
};

struct LensRequest {
  std::vector<float> vectors;  // [m, n_embd] row-major
  int64_t m = 0;
  int32_t k = 5;
  bool entropy = false;
  std::vector<int32_t> targets;  // per row: token id or -1; empty = none
  std::vector<int32_t>
      references;            // per row: index of another row whose distribution is KL's reference, or -1; empty = none
  std::vector<RowSum> sums;  // rows claimed to be the sum of two others (a speed hint; checked, see runLens)
};

struct LensOutput {
  TopK top;
  MeasureResults measures;  // filled only for what was asked
};

}  // namespace layerlens
