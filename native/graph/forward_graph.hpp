// Builds the GPT-2 forward pass as a ggml graph with every hook point named (see docs/architecture.md).
#pragma once

#include <string>
#include <vector>

#include "../ggml_handles.hpp"
#include "../io/weights.hpp"
#include "../run_types.hpp"
#include "capture.hpp"
#include "hook_kinds.hpp"

namespace layerlens {

// Keys and values of earlier tokens, for incremental decoding (generate()).
struct KvCache {
  ContextPtr ctx;
  BufferPtr buffer;
  std::vector<ggml_tensor*> k;  // per layer: [n_embd * n_ctx] f32, token-major
  std::vector<ggml_tensor*> v;
  int32_t capacity = 0;

  static KvCache create(const HParams& hp, ggml_backend_t backend);
};

// Hooks copied out by the graph itself (instead of through the eval callback): each requested hook
// gets a get_rows node right after it, gathering the wanted positions, and a copy of those rows
// into one arena tensor, read back with a single transfer after the graph finishes. No sub-graph
// splits and no synchronisation per hook, which matters on a GPU (hooks: 'all' is 145 of them).
struct OutputTaps {
  std::vector<HookRef> hooks;
  int32_t nPositions = 0;             // rows gathered per hook; 0 = every position (the hook node itself is copied)
  ggml_tensor* rows = nullptr;        // input: I32 [P] positions (set by the caller after allocation)
  ggml_tensor* rowsByHead = nullptr;  // input: I32 [P, n_head] the same positions per head, for attn_pattern
  ggml_tensor* arena = nullptr;       // F32 [>= tapFloats(...)] on the weights' backend, outliving the graph
  std::vector<ggml_tensor*> tensors;  // filled by buildForwardGraph, parallel to hooks; valid while its context lives
  std::vector<size_t> offsets;        // filled by buildForwardGraph: each tap's first float in arena
  size_t used = 0;                    // floats of arena written, offsets' padding included
  std::vector<CapturedTensor> captured;  // the rows read back after compute, parallel to hooks
};

// Floats of arena the taps need for nTokens new tokens attending over nKv (each tap padded to 64
// floats, so every copy starts 256-byte aligned).
size_t tapFloats(const HParams& hp, const OutputTaps& taps, int64_t nTokens, int64_t nKv);

// A persistent F32 tensor on a backend, for OutputTaps::arena.
struct TapArena {
  ContextPtr ctx;
  BufferPtr buffer;
  ggml_tensor* tensor = nullptr;

  size_t floats() const { return size_t(ggml_nelements(tensor)); }
  static TapArena create(ggml_backend_t backend, size_t floats);
};

// What a forward graph is built with besides the tokens.
struct GraphExtras {
  OutputTaps* taps = nullptr;
  const std::vector<InterventionSpec>* interventions = nullptr;
  std::vector<bool> headOutputs;  // per layer: build blocks.L.attn_head_out (only when asked: it costs a matmul)
  int64_t minMatmulCols = 0;      // see exactMatmul
  bool cpuKernels = false;        // the graph runs on the CPU backend alone: use layerlens' own CPU ops (gelu.hpp)
  bool logits = true;             // end with the unembedding of the logit rows (false: end at the last resid_post)
  // > 0: the tokens are several sequences packed end to end (no cache): attention is block-diagonal
  // causal through ForwardGraph::seqStarts (CPU kernels) or attnMask (composed ops), and the logits are
  // those of the rows in ForwardGraph::logitRows (nLogitRows of them: each sequence's last token).
  int32_t maxSeqLen = 0;
  int32_t nLogitRows = 1;
};

struct ForwardGraph {
  ggml_cgraph* graph = nullptr;
  ggml_tensor* tokens = nullptr;     // input: I32 [n_tokens]
  ggml_tensor* positions = nullptr;  // input: I32 [n_tokens]
  // output: F32 [n_vocab (padded), nLogitRows]: the last token's, or each packed sequence's last token's
  // (null without GraphExtras::logits)
  ggml_tensor* logits = nullptr;
  // Packed sequences only (GraphExtras::maxSeqLen > 0), each created when a node reads it:
  ggml_tensor* seqStarts = nullptr;  // input: I32 [n_tokens] each token's sequence's first row
  ggml_tensor* attnMask = nullptr;   // input: F32 [n_tokens, n_tokens] 0 where key j is visible to query i, else -inf
  ggml_tensor* logitRows = nullptr;  // input: I32 [nLogitRows] the rows to unembed (logits: [n_vocab, nLogitRows])
  std::vector<std::pair<ggml_tensor*, const std::vector<float>*>> interventionInputs;  // to fill after allocation
};

// Upper bound on the graph's node count, for sizing contexts and the scheduler.
size_t forwardGraphSize(const HParams& hp);

// ctx must be a metadata-only context with room for forwardGraphSize(hp) tensors and a graph.
// With a cache, the new keys/values are written at [nPast, nPast + nTokens) and attention covers
// all nPast + nTokens positions; without one, nPast must be 0.
ForwardGraph buildForwardGraph(ggml_context* ctx, const Weights& w, int32_t nTokens, int32_t nPast, KvCache* cache,
                               const GraphExtras& extras = {});

// ln_f followed by the tied unembedding, for x of shape [n_embd, m].
ggml_tensor* buildUnembed(ggml_context* ctx, const Weights& w, ggml_tensor* x, int64_t minCols = 0);

// mul_mat(w, x), with x zero-padded to at least minCols columns when it has 2..minCols-1 (then the
// first n columns are returned). ggml's CUDA backend multiplies f32 matrices by 2..16 columns in its
// MMF kernels on TF32 tensor cores (10-bit mantissa, ~1e-3 relative error), which neither
// NVIDIA_TF32_OVERRIDE nor GGML_PREC_F32 switches off; 17 columns take an exact f32 path.
ggml_tensor* exactMatmul(ggml_context* ctx, ggml_tensor* w, ggml_tensor* x, int64_t minCols);

}  // namespace layerlens
