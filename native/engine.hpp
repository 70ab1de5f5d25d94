// One loaded GPT-2: weights on a backend, a scheduler, and the three operations layerlens needs.
// Every public method validates its input before ggml sees it and is safe to call from any
// thread (calls are serialized by a mutex).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "backends.hpp"
#include "graph/capture.hpp"
#include "graph/forward_graph.hpp"
#include "io/weights.hpp"
#include "lens/lens_plan.hpp"
#include "lens/topk.hpp"
#include "packed_batch.hpp"
#include "run_types.hpp"
#include "sampling.hpp"

namespace layerlens {

// How run() copies hooks out: "callback" (ggml's scheduler eval callback: the graph is split at
// each hook and the rows are copied as it computes), "outputs" (rows gathered into graph outputs
// and read after the graph finishes: no splits, no per-hook synchronisation), or "auto" (callback
// on the CPU, outputs on a GPU).
enum class CaptureMode { Auto, Callback, Outputs };

struct EngineOptions {
  std::string device = "auto";
  int threads = 0;
  CaptureMode capture = CaptureMode::Auto;
  std::string dtype =
      "auto";  // storage of the big matrices: auto (F16/BF16 widened to f32; quantized kept), f32, f16, q8_0
  int64_t rpcTimeoutMs = 0;  // rpc:// device: how long one call may wait for the server (0: no limit)
};

class Engine {
 public:
  Engine(const std::string& safetensorsPath, const HParams& hp, const EngineOptions& options);

  RunResult run(const RunRequest& request);

  // Several sequences in one packed forward (BatchRunRequest), one RunResult per sequence, equal to
  // run() of each alone. At most kMaxBatchSequences sequences and kMaxBatchTokens tokens in all
  // (the attention scratch grows with tokens × longest sequence on the CPU, tokens² on a GPU).
  std::vector<RunResult> runBatch(const BatchRunRequest& request);
  static constexpr int64_t kMaxBatchTokens = 2048;
  static constexpr size_t kMaxBatchSequences = 256;

  // ln_f + unembedding + top-k (and the requested measures) of m vectors, batched on the backend.
  LensOutput lens(const LensRequest& request);

  // Decoding with a KV cache, greedy or sampled (sampling.hpp; the PRNG is seeded once per call, so a
  // seed gives the same tokens every time). Stops after maxNewTokens, at the context limit, or after
  // emitting stopToken (>= 0).
  // Interventions (sized for the prompt) apply to the prompt's forward pass; the tokens generated
  // after it see their effect through the KV cache. stepInterventions (sized for one token) apply to
  // each generated token's own pass (steering vectors: the same addition at every position).
  std::vector<int32_t> generate(const std::vector<int32_t>& prompt, int32_t maxNewTokens, int32_t stopToken,
                                const std::vector<InterventionSpec>& interventions = {},
                                const std::vector<InterventionSpec>& stepInterventions = {},
                                const SamplingParams& sampling = {});

  std::vector<float> weight(const std::string& name);

  const HParams& hparams() const { return weights_.hp; }
  const Backends& backends() const { return backends_; }
  // The RPC server a call talks to and how long it may wait (no endpoint: a local model).
  RpcCall rpcCall() const { return {backends_.rpcEndpoints, rpcTimeoutMs_}; }
  const Weights& weights() const { return weights_; }
  bool capturesThroughOutputs() const { return capture_ == CaptureMode::Outputs; }

 private:
  void validateTokens(const std::vector<int32_t>& tokens, int32_t nPast) const;
  struct Forward {
    const std::vector<int32_t>* tokens = nullptr;
    int32_t nPast = 0;
    // Packed sequences (runBatch; `tokens` are its tokens): each token's position and sequence start,
    // the longest sequence, and the rows whose logits are computed (each sequence's last). Null: one
    // sequence at nPast.., logits of the last row.
    const PackedBatch* packed = nullptr;
    KvCache* cache = nullptr;
    Capture* capture = nullptr;  // eval-callback capture, or
    OutputTaps* taps = nullptr;  // capture through graph outputs
    const std::vector<int32_t>* tapPositions = nullptr;
    const std::vector<InterventionSpec>* interventions = nullptr;
    std::vector<bool> headOutputs;
    bool logits = true;
  };
  std::vector<float> forwardLogits(const Forward& f);  // [n_vocab] per logit row, rows end to end
  // forwardLogits with the hooks copied out at rows `rows` (ascending, of the forward's tokens).
  RunResult captureForward(Forward& f, const std::vector<HookRef>& hooks, const std::vector<int32_t>& rows);
  void validateHooks(const std::vector<HookRef>& hooks) const;
  int64_t minMatmulCols() const;
  bool cpuKernels() const;
  void validateHook(const HookRef& ref) const;  // the layer exists in this model (names are parsed by the caller)
  void validateInterventions(const std::vector<InterventionSpec>& interventions, int32_t nTokens) const;
  // The lens of m rows (native/lens/engine_lens.cpp): calls sink(row, logits) once per row with its
  // n_vocab logits, from several threads at once (distinct rows). `sums` may declare rows to be the
  // sum of two others (lens_plan.hpp); each claim is checked against the vectors, and a row whose
  // claim does not hold is projected like any other. Caller holds the mutex.
  using LensSink = std::function<void(int64_t row, const float* logits)>;
  void runLens(const float* vectors, int64_t m, const std::vector<RowSum>& sums, const LensSink& sink);
  // wte · columns (n_embd × n columns, column-major) as [n, vocabPadded] floats, valid until the next
  // graph runs: the backend's own output on the CPU, else a copy in lensChunk_.
  const float* projectColumns(const float* columns, int64_t n);
  // A small graph over one F32 [n_embd, n] input, for the lens: built by newLensGraph, completed by
  // the caller, then computeLensGraph allocates it, uploads the columns, runs it and rests the pool.
  struct LensGraph {
    ContextPtr ctx;
    ggml_cgraph* graph = nullptr;
    ggml_tensor* input = nullptr;
  };
  LensGraph newLensGraph(int64_t n) const;
  void computeLensGraph(const LensGraph& g, const float* columns);
  void prepareLensWeights();
  // The lens with ln_f, softmax and top-k on the backend (native/lens/engine_lens_device.cpp), for rows
  // without measures, into `out` (sized by prepareTopK). Used where lensOnDevice() says.
  bool lensOnDevice() const;
  void deviceLens(const float* vectors, int64_t m, int32_t k, TopK& out);
  static std::vector<CapturedTensor> readTaps(const OutputTaps& taps, size_t nPositions);

  std::mutex mutex_;
  Backends backends_;
  Weights weights_;
  SchedPtr sched_;
  std::optional<KvCache> kvCache_;    // allocated on the first generate()
  std::optional<TapArena> tapArena_;  // where capture through outputs copies the rows; grown on demand
  static constexpr size_t kKeptTapFloats = size_t(16) << 20;  // a larger arena is freed after its call
  MetaArena graphMeta_;  // the forward graph's metadata, at the same addresses every call
  CaptureMode capture_;
  int64_t rpcTimeoutMs_ = 0;      // see rpcCall()
  std::vector<float> lensChunk_;  // host copy of one lens step's projections from a device, reused across calls
  std::vector<float> lnfGamma_;   // ln_f.weight as float, for the lens's host-side centring and scaling
  std::vector<float> lensBias_;   // wte · ln_f.bias [n_vocab]: the lens's constant term
  // Lens work buffers kept across calls: fresh pages cost a page fault each (see engine_lens.cpp).
  std::vector<float> lensColumns_;                  // one step's centred, scaled inputs
  std::vector<std::vector<float>> lensRows_;        // projections held past their step, and sums
  std::vector<std::vector<float>> lensThreadRows_;  // one logits row per host thread
};

}  // namespace layerlens
