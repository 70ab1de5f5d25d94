// A GGUF model run by libllama (llama.cpp), behind the same operations as the GPT-2 engine: a forward
// that copies requested hooks and applies interventions inside the graph (through llama.cpp's eval
// callback), the lens with the model's own head, generation with the KV cache, and the model's own
// tokenizer and chat template. Calls are serialized by a mutex; every input is validated before
// llama.cpp sees it (its asserts abort the process).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "../rpc/failures.hpp"
#include "../run_types.hpp"
#include "llama-cparams.h"  // LLAMA_MAX_SEQ (llama.cpp private header, pinned commit)
#include "llama.h"
#include "llama_capture.hpp"
#include "llama_hook_map.hpp"
#include "llama_lens.hpp"

namespace layerlens {

struct LlamaEngineOptions {
  std::string device = "auto";
  int threads = 0;
  int32_t contextLength = 0;  // 0: the model's training context, at most 4096
  int32_t batchSize = 512;    // the most tokens one forward takes (llama.cpp's n_ubatch = n_batch)
  int64_t rpcTimeoutMs = 0;   // rpc:// devices: how long one call may wait for the servers (0: no limit)
};

struct LlamaModelInfo {
  std::string arch, description;
  int32_t nLayer = 0, nEmbd = 0, nHead = 0, nHeadKv = 0, nFF = 0, nVocab = 0, nCtxTrain = 0, nCtx = 0, nBatch = 0;
  int32_t bos = -1, eos = -1;
  bool addBos = false;
  std::string chatTemplate;  // empty when the file has none
  uint64_t sizeBytes = 0, nParams = 0;
  bool hooksVerified = false;
  std::vector<HookKind> hooks;  // kinds offered (block kinds exist for every block)
  FinalNorm finalNorm = FinalNorm::Rms;
  float normEps = 0.0f, finalLogitSoftcap = 0.0f;
  bool tiedOutput = false;
  int threads = 0;
  std::vector<std::string> rpcEndpoints;  // the RPC servers ("host:port") holding the blocks, if any
};

// Picks the next token from a row of logits (greedy or a sampler).
using TokenPicker = std::function<int32_t(const float* logits, int32_t nVocab)>;

class LlamaEngine {
 public:
  LlamaEngine(const std::string& path, const LlamaEngineOptions& options);
  ~LlamaEngine();
  LlamaEngine(const LlamaEngine&) = delete;
  LlamaEngine& operator=(const LlamaEngine&) = delete;

  RunResult run(const RunRequest& request);
  // Several sequences in one llama_decode (seq_id s each, positions from 0, the KV cache cleared per
  // call), one RunResult per sequence. Row hooks only; at most kMaxBatchSequences sequences and
  // n_batch tokens in all. The rows agree with run() of each sequence alone to float rounding, not bit
  // for bit: llama.cpp's attention sums over KV cells, where a sequence's keys sit at other offsets.
  std::vector<RunResult> runBatch(const BatchRunRequest& request);
  static constexpr size_t kMaxBatchSequences = LLAMA_MAX_SEQ;  // seq ids llama.cpp takes (unified KV cache)
  LensOutput lens(const LensRequest& request);
  // Decodes after the prompt until maxNewTokens, the context limit, or (stopAtEog) an end-of-generation
  // token, which is included. Interventions apply to the prompt's pass, stepInterventions (one token
  // wide) to each generated token's pass.
  std::vector<int32_t> generate(const std::vector<int32_t>& prompt, int32_t maxNewTokens, bool stopAtEog,
                                const std::vector<InterventionSpec>& interventions,
                                const std::vector<InterventionSpec>& stepInterventions, const TokenPicker& pick);

  // llama.cpp's own control vector (llama_set_adapter_cvec), for every later run and generate until
  // cleared: `directions` holds direction.1, direction.2, … (n_embd values each, block 1 first; blocks
  // past the model's last are ignored), added to the output of block il for ilStart <= il <= ilEnd.
  // Empty directions clear it. layerlens' own steering goes through interventions instead.
  void setControlVector(const std::vector<float>& directions, int32_t ilStart, int32_t ilEnd);

  std::vector<int32_t> tokenize(const std::string& text, bool addSpecial, bool parseSpecial) const;
  std::string piece(int32_t id) const;  // the token's bytes (special tokens rendered)
  std::string detokenize(const std::vector<int32_t>& ids) const;
  std::string applyChatTemplate(const std::vector<std::pair<std::string, std::string>>& messages,
                                bool addAssistant) const;

  const LlamaModelInfo& info() const { return info_; }
  // The RPC servers a call talks to and how long it may wait (no endpoint: a local model).
  RpcCall rpcCall() const { return {info_.rpcEndpoints, rpcTimeoutMs_}; }
  const ArchHooks& archHooks() const { return arch_; }

 private:
  void validateTokens(const std::vector<int32_t>& tokens, int32_t nPast) const;
  void validateHook(const HookRef& h) const;
  void validateInterventions(const std::vector<InterventionSpec>& ivs, int32_t nTokens) const;
  // One llama_decode's batch: each token at its position in its sequence; the last block computes the
  // `outputs` rows only (ascending).
  struct DecodeRows {
    const std::vector<int32_t>& tokens;
    std::vector<int32_t> positions;
    std::vector<int32_t> seqIds;
    std::vector<int32_t> outputs;
  };
  void decodeRows(const DecodeRows& rows, LlamaCapture* capture);
  // decodeRows with `hooks` captured at batch rows `captureRows` and `interventions` applied (run, runBatch
  // and generate's passes); llama.cpp's plain decode when there is neither. Caller holds the mutex.
  std::vector<CapturedTensor> capturedDecode(const DecodeRows& rows, const std::vector<HookRef>& hooks,
                                             const std::vector<int32_t>& captureRows,
                                             const std::vector<InterventionSpec>& interventions);
  static bool evalCallback(ggml_tensor* t, bool ask, void* self);

  std::mutex mutex_;
  RpcLease rpcLease_;  // before the model and context, so that it ends after them
  std::unique_ptr<llama_model, void (*)(llama_model*)> model_;
  std::unique_ptr<llama_context, void (*)(llama_context*)> ctx_;
  int64_t rpcTimeoutMs_ = 0;  // see rpcCall()
  const llama_vocab* vocab_ = nullptr;
  ArchHooks arch_;
  LlamaModelInfo info_;
  std::unique_ptr<LlamaLens> lens_;
  LlamaCapture* active_ = nullptr;  // the run's capture while llama_decode runs
};

}  // namespace layerlens
