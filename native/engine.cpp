#include "engine.hpp"

#include "ggml-cpu.h"
#include "io/gguf_model.hpp"
#include "packed_batch.hpp"
#include "run_checks.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <stdexcept>

namespace layerlens {
Engine::Engine(const std::string& path, const HParams& hp, const EngineOptions& options)
    : backends_(Backends::create(options.device, options.threads)),
      weights_(isGgufPath(path)
                   ? loadGgufWeights(path, hp, backends_.primary(), backends_.threads, options.dtype)
                   : loadSafetensorsWeights(path, hp, backends_.primary(), backends_.threads, options.dtype)),
      sched_(backends_.makeScheduler(forwardGraphSize(hp))),
      capture_(options.capture == CaptureMode::Auto ? (backends_.gpu ? CaptureMode::Outputs : CaptureMode::Callback)
                                                    : options.capture),
      rpcTimeoutMs_(options.rpcTimeoutMs) {}

void Engine::validateTokens(const std::vector<int32_t>& tokens, int32_t nPast) const {
  const HParams& hp = weights_.hp;
  if (tokens.empty()) throw std::invalid_argument("no tokens to run (empty prompt?)");
  if (int64_t(tokens.size()) + nPast > hp.nCtx) {
    throw std::invalid_argument("sequence of " + std::to_string(tokens.size() + nPast) +
                                " tokens exceeds the model's context of " + std::to_string(hp.nCtx) + " tokens");
  }
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || tokens[i] >= hp.nVocab) {
      throw std::invalid_argument("token id " + std::to_string(tokens[i]) + " at index " + std::to_string(i) +
                                  " is outside the vocabulary (0.." + std::to_string(hp.nVocab - 1) + ")");
    }
  }
}

// LAYERLENS_DEBUG_GPU_GRAPH=1 builds, on the CPU, the graph a GPU gets (padded matmuls, GELU from
// ggml ops), so the CPU tests cover it against the float64 reference.
static bool debugGpuGraph() { return std::getenv("LAYERLENS_DEBUG_GPU_GRAPH") != nullptr; }

int64_t Engine::minMatmulCols() const {
  // Only f32 weights on a GPU need it (f16 weights are within their own tolerance anyway).
  return ((backends_.gpu && weights_.matrixType == GGML_TYPE_F32) || debugGpuGraph()) ? 17 : 0;
}

bool Engine::cpuKernels() const {
  // Custom ops run on CPU backends only (including the second CPU backend of LAYERLENS_DEBUG_TWO_CPU).
  return ggml_backend_is_cpu(backends_.primary()) && !debugGpuGraph();
}

void Engine::validateHook(const HookRef& ref) const {
  const bool inBlock = hookKindInfo(ref.kind).inBlock;
  if (inBlock ? (ref.layer < 0 || ref.layer >= weights_.hp.nLayer) : ref.layer != -1) {
    throw std::invalid_argument("hook " + std::string(hookKindInfo(ref.kind).name) + " at layer " +
                                std::to_string(ref.layer) + " does not exist in this model (blocks 0.." +
                                std::to_string(weights_.hp.nLayer - 1) + ")");
  }
}

void Engine::validateInterventions(const std::vector<InterventionSpec>& interventions, int32_t nTokens) const {
  for (const InterventionSpec& iv : interventions) {
    validateHook(iv.hook);
    const std::string name = hookName(iv.hook);
    if (!hookKindInfo(iv.hook.kind).intervenable)
      throw std::invalid_argument("interventions apply to d-wide hooks and mlp_post, not to " + name);
    const size_t expected = size_t(hookPositionWidth(iv.hook.kind, weights_.hp, nTokens)) * size_t(nTokens);
    for (const auto* v : {&iv.mul, &iv.add}) {
      if (!v->empty() && v->size() != expected) {
        throw std::invalid_argument("intervention on " + name + ": expected " + std::to_string(expected) +
                                    " values (width x tokens), got " + std::to_string(v->size()));
      }
    }
  }
}

std::vector<float> Engine::forwardLogits(const Forward& f) {
  const std::vector<int32_t>& tokens = *f.tokens;
  const int32_t n = int32_t(tokens.size()), nPast = f.nPast;
  OutputTaps* taps = f.taps;
  const std::vector<int32_t>* tapPositions = f.tapPositions;
  Capture* capture = f.capture;
  const size_t graphSize = forwardGraphSize(weights_.hp) + (taps ? taps->hooks.size() + 2 : 0) +
                           (f.interventions ? 4 * f.interventions->size() : 0);
  ContextPtr ctx = makeMetaContext(graphSize, true, graphSize, &graphMeta_);
  GraphExtras extras;
  extras.taps = taps;
  extras.interventions = f.interventions;
  extras.headOutputs = f.headOutputs;
  extras.minMatmulCols = minMatmulCols();
  extras.cpuKernels = cpuKernels();
  extras.logits = f.logits;
  extras.maxSeqLen = f.packed ? f.packed->longest : 0;
  extras.nLogitRows = f.packed ? int32_t(f.packed->lastRows.size()) : 1;
  ForwardGraph fg = buildForwardGraph(ctx.get(), weights_, n, nPast, f.cache, extras);

  ggml_backend_sched_reset(sched_.get());
  ggml_backend_sched_set_eval_callback(sched_.get(), capture ? &Capture::evalCallback : nullptr, capture);
  if (!ggml_backend_sched_alloc_graph(sched_.get(), fg.graph))
    throw std::runtime_error("could not allocate the forward graph");

  std::vector<int32_t> positions;
  if (!f.packed) {
    positions.resize(size_t(n));
    for (int32_t i = 0; i < n; ++i) positions[size_t(i)] = nPast + i;
  }
  ggml_backend_tensor_set(fg.tokens, tokens.data(), 0, n * sizeof(int32_t));
  ggml_backend_tensor_set(fg.positions, (f.packed ? f.packed->positions : positions).data(), 0, n * sizeof(int32_t));
  if (fg.seqStarts) ggml_backend_tensor_set(fg.seqStarts, f.packed->starts.data(), 0, n * sizeof(int32_t));
  if (fg.attnMask) {
    // Query i (row) sees key j (column) of its own sequence up to itself: starts[i] <= j <= i.
    std::vector<float> mask(size_t(n) * size_t(n), -INFINITY);
    for (int32_t i = 0; i < n; ++i)
      std::fill(mask.begin() + size_t(i) * n + f.packed->starts[size_t(i)], mask.begin() + size_t(i) * n + i + 1, 0.0f);
    ggml_backend_tensor_set(fg.attnMask, mask.data(), 0, mask.size() * sizeof(float));
  }
  if (fg.logitRows)
    ggml_backend_tensor_set(fg.logitRows, f.packed->lastRows.data(), 0, f.packed->lastRows.size() * sizeof(int32_t));
  for (const auto& [tensor, values] : fg.interventionInputs)
    ggml_backend_tensor_set(tensor, values->data(), 0, values->size() * sizeof(float));
  if (taps && taps->rows)
    ggml_backend_tensor_set(taps->rows, tapPositions->data(), 0, tapPositions->size() * sizeof(int32_t));
  if (taps && taps->rowsByHead) {
    const size_t P = tapPositions->size(), nh = size_t(weights_.hp.nHead);
    std::vector<int32_t> byHead(P * nh);
    for (size_t h = 0; h < nh; ++h) std::copy(tapPositions->begin(), tapPositions->end(), byHead.begin() + h * P);
    ggml_backend_tensor_set(taps->rowsByHead, byHead.data(), 0, byHead.size() * sizeof(int32_t));
  }

  const ggml_status status = ggml_backend_sched_graph_compute(sched_.get(), fg.graph);
  backends_.rest();
  ggml_backend_sched_set_eval_callback(sched_.get(), nullptr, nullptr);
  if (status != GGML_STATUS_SUCCESS && !(capture && status == GGML_STATUS_ABORTED)) {
    throw std::runtime_error(std::string("ggml graph compute failed: ") + ggml_status_to_string(status));
  }
  std::vector<float> logits;
  if (fg.logits) {
    // One read (one transfer from a GPU or an RPC server), then the padding past n_vocab dropped in place.
    const size_t V = size_t(weights_.hp.nVocab), rows = size_t(fg.logits->ne[1]);
    const size_t stride = fg.logits->nb[1] / sizeof(float);
    logits.resize(size_t(ggml_nbytes(fg.logits)) / sizeof(float));
    ggml_backend_tensor_get(fg.logits, logits.data(), 0, ggml_nbytes(fg.logits));
    for (size_t r = 1; r < rows && stride != V; ++r)
      std::copy(logits.begin() + ptrdiff_t(r * stride), logits.begin() + ptrdiff_t(r * stride + V),
                logits.begin() + ptrdiff_t(r * V));
    logits.resize(V * rows);
  }
  if (taps) {
    // The tap tensors belong to ctx, which ends with this call: read them now.
    taps->captured = readTaps(*taps, tapPositions->size());
    taps->tensors.clear();
    taps->rows = taps->rowsByHead = nullptr;
  }
  return logits;
}

void Engine::validateHooks(const std::vector<HookRef>& hooks) const {
  for (const HookRef& h : hooks) validateHook(h);
  checkDistinctHooks(hooks);
}

RunResult Engine::run(const RunRequest& req) {
  validateTokens(req.tokens, 0);
  const int32_t n = int32_t(req.tokens.size());
  const std::vector<int32_t> positions = checkedPositions(req.positions, n);
  validateHooks(req.hooks);

  validateInterventions(req.interventions, n);
  Forward f;
  f.tokens = &req.tokens;
  f.interventions = &req.interventions;
  f.logits = req.logits;
  f.headOutputs.assign(size_t(weights_.hp.nLayer), false);
  for (const HookRef& h : req.hooks) {
    if (h.kind == HookKind::AttnHeadOut) f.headOutputs[size_t(h.layer)] = true;
  }
  if (std::find(f.headOutputs.begin(), f.headOutputs.end(), true) != f.headOutputs.end() &&
      ggml_is_quantized(weights_.matrixType)) {
    throw std::invalid_argument("attn_head_out needs f32 or f16 weights (this model's are " +
                                std::string(ggml_type_name(weights_.matrixType)) + ")");
  }

  std::lock_guard<std::mutex> lock(mutex_);
  return captureForward(f, req.hooks, positions);
}

RunResult Engine::captureForward(Forward& f, const std::vector<HookRef>& hooks, const std::vector<int32_t>& rows) {
  const int32_t n = int32_t(f.tokens->size());
  RunResult result;
  if (hooks.empty()) {
    result.logits = forwardLogits(f);
  } else if (capture_ == CaptureMode::Outputs) {
    OutputTaps taps;
    taps.hooks = hooks;
    taps.nPositions = int32_t(rows.size()) == n ? 0 : int32_t(rows.size());
    const size_t floats = tapFloats(weights_.hp, taps, n, n);
    if (!tapArena_ || tapArena_->floats() < floats) {
      tapArena_.reset();  // free the old one first: on a GPU both may not fit
      tapArena_.emplace(TapArena::create(backends_.primary(), floats));
    }
    taps.arena = tapArena_->tensor;
    f.taps = &taps;
    f.tapPositions = &rows;
    result.logits = forwardLogits(f);
    // Kept for the next call unless it is large (attention at every position of a long prompt).
    if (tapArena_->floats() > kKeptTapFloats) tapArena_.reset();
    result.captured = std::move(taps.captured);
  } else {
    Capture capture(hooks, rows);
    f.capture = &capture;
    result.logits = forwardLogits(f);
    result.captured = capture.take();
  }
  return result;
}

std::vector<RunResult> Engine::runBatch(const BatchRunRequest& req) {
  const size_t S = req.sequences.size();
  const CheckedBatch checked = checkBatchRequest(req, {kMaxBatchSequences, kMaxBatchTokens, ""},
                                                 [this](const std::vector<int32_t>& seq) { validateTokens(seq, 0); });
  validateHooks(req.hooks);
  const PackedBatch packed = packBatch(req, checked);

  Forward f;
  f.tokens = &packed.tokens;
  f.packed = &packed;
  f.logits = req.logits;

  RunResult all;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    all = captureForward(f, req.hooks, packed.rows);
  }
  std::vector<RunResult> out = splitCapturedRows(packed, all.captured);
  const size_t V = size_t(weights_.hp.nVocab);
  for (size_t s = 0; s < S && req.logits; ++s)
    out[s].logits.assign(all.logits.begin() + ptrdiff_t(s * V), all.logits.begin() + ptrdiff_t((s + 1) * V));
  return out;
}

std::vector<CapturedTensor> Engine::readTaps(const OutputTaps& taps, size_t P) {
  std::vector<float> all(taps.used);
  ggml_backend_tensor_get(taps.arena, all.data(), 0, all.size() * sizeof(float));
  std::vector<CapturedTensor> out(taps.hooks.size());
  for (size_t i = 0; i < taps.hooks.size(); ++i) {
    const ggml_tensor* t = taps.tensors[i];
    if (!t) throw std::logic_error("hook " + hookName(taps.hooks[i]) + " was not built into the graph");
    CapturedTensor& c = out[i];
    c.hook = taps.hooks[i];
    const int64_t width = t->ne[0], heads = t->ne[2];
    const float* tap = all.data() + taps.offsets[i];
    c.data.resize(size_t(ggml_nelements(t)));
    if (heads == 1) {
      c.shape = {int64_t(P), width};
      std::copy(tap, tap + c.data.size(), c.data.begin());
      continue;
    }
    // attn_pattern and attn_head_out come out as [width, P, n_head]; the API's layout is [P, n_head, width].
    c.shape = {int64_t(P), heads, width};
    for (size_t p = 0; p < P; ++p) {
      for (int64_t h = 0; h < heads; ++h) {
        const float* src = tap + (size_t(h) * P + p) * width;
        std::copy(src, src + width, c.data.data() + (p * heads + h) * width);
      }
    }
  }
  return out;
}

std::vector<int32_t> Engine::generate(const std::vector<int32_t>& prompt, int32_t maxNewTokens, int32_t stopToken,
                                      const std::vector<InterventionSpec>& interventions,
                                      const std::vector<InterventionSpec>& stepInterventions,
                                      const SamplingParams& sampling) {
  Sampler sampler(sampling);  // validates the parameters
  validateTokens(prompt, 0);
  validateInterventions(interventions, int32_t(prompt.size()));
  validateInterventions(stepInterventions, 1);
  if (maxNewTokens < 0) throw std::invalid_argument("maxNewTokens must be >= 0");
  std::lock_guard<std::mutex> lock(mutex_);
  if (!kvCache_) kvCache_.emplace(KvCache::create(weights_.hp, backends_.primary()));

  std::vector<int32_t> generated;
  std::vector<int32_t> step = prompt;
  int32_t nPast = 0;
  while (int32_t(generated.size()) < maxNewTokens && nPast + int32_t(step.size()) <= weights_.hp.nCtx) {
    Forward f;
    f.tokens = &step;
    f.nPast = nPast;
    f.cache = &*kvCache_;
    if (nPast == 0) f.interventions = &interventions;  // the prompt's pass
    else if (!stepInterventions.empty()) f.interventions = &stepInterventions;
    std::vector<float> logits = forwardLogits(f);
    nPast += int32_t(step.size());
    // greedy keeps torch.argmax's rule: the first maximum wins
    const int32_t next = sampler.sample(logits.data(), int32_t(logits.size()));
    generated.push_back(next);
    if (next == stopToken) break;
    step.assign(1, next);
  }
  return generated;
}

std::vector<float> Engine::weight(const std::string& name) {
  const Weights& w = weights_;
  const ggml_tensor* t = nullptr;
  if (name == "wte") t = w.wte;
  else if (name == "wpe") t = w.wpe;
  else if (name == "ln_f.weight") t = w.lnfWeight;
  else if (name == "ln_f.bias") t = w.lnfBias;
  if (!t) throw std::invalid_argument("unknown weight '" + name + "' (available: wte, wpe, ln_f.weight, ln_f.bias)");
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<float> out = weightToFloat32(t);
  if (t == w.wte) out.resize(size_t(w.hp.nVocab) * w.hp.nEmbd);  // drop the zero padding rows
  return out;
}

}  // namespace layerlens
