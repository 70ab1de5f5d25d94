#include "llama_engine.hpp"

#include <algorithm>
#include <stdexcept>
#include <thread>

#include "../packed_batch.hpp"
#include "../rpc/endpoints.hpp"
#include "../run_checks.hpp"
#include "ggml-cpu.h"
#include "llama-model.h"
#include "llama_log.hpp"

namespace layerlens {
namespace {

std::string metaString(const llama_model* model, const char* key) {
  char buf[256];
  const int32_t n = llama_model_meta_val_str(model, key, buf, sizeof(buf));
  return n < 0 ? std::string() : std::string(buf, size_t(std::min<int32_t>(n, int32_t(sizeof(buf)) - 1)));
}

// RAII for llama_batch.
struct Batch {
  llama_batch b;
  explicit Batch(int32_t n) : b(llama_batch_init(n, 0, 1)) {}
  ~Batch() { llama_batch_free(b); }
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;
};

}  // namespace

LlamaEngine::LlamaEngine(const std::string& path, const LlamaEngineOptions& options)
    : model_(nullptr, llama_model_free), ctx_(nullptr, llama_free), rpcTimeoutMs_(options.rpcTimeoutMs) {
  const std::vector<std::string> endpoints = parseRpcDevice(options.device);
  if (endpoints.empty() && options.device != "auto" && options.device != "cpu")
    throw std::invalid_argument("the llama.cpp engine runs on the CPU or on RPC servers (rpc://host:port), not on '" +
                                options.device + "'");
  if (options.threads < 0 || options.threads > 1024) throw std::invalid_argument("threads must be in 0..1024");
  if (options.contextLength < 0 || options.contextLength > (1 << 20))
    throw std::invalid_argument("contextLength must be in 0..1048576");
  if (options.batchSize < 1 || options.batchSize > 65536) throw std::invalid_argument("batchSize must be in 1..65536");
  static std::once_flag backendInit;
  std::call_once(backendInit, [] { llama_backend_init(); });

  llama_model_params mp = llama_model_default_params();
  mp.n_gpu_layers = 0;
  // On RPC servers: every block on them (split by layers in proportion to their memory), the token
  // embedding (llama.cpp keeps the input layer on the CPU) and the head here, so the lens reads the
  // head's weights from host memory and each forward returns hidden states rather than logits.
  std::vector<ggml_backend_dev_t> remote;
  const llama_model_tensor_buft_override headOnCpu[] = {
      {"^(output|output_norm|token_embd)\\.", ggml_backend_cpu_buffer_type()}, {nullptr, nullptr}};
  if (!endpoints.empty()) {
    rpcLease_ = RpcLease(endpoints);
    remote = connectRpcServers(endpoints);
    remote.push_back(nullptr);
    mp.devices = remote.data();
    mp.n_gpu_layers = -1;
    mp.split_mode = LLAMA_SPLIT_MODE_LAYER;
    mp.tensor_buft_overrides = headOnCpu;
    info_.rpcEndpoints = endpoints;
  }
  clearLlamaErrors();
  model_.reset(llama_model_load_from_file(path.c_str(), mp));
  if (!model_) {
    const std::string why = llamaErrors();
    throw std::runtime_error("llama.cpp could not load '" + path + "'" + (why.empty() ? "" : ": " + why));
  }
  vocab_ = llama_model_get_vocab(model_.get());

  const llama_model& m = *model_;
  info_.arch = metaString(model_.get(), "general.architecture");
  arch_ = layerlens::archHooks(info_.arch, m.hparams.use_par_res);
  char desc[256];
  if (llama_model_desc(model_.get(), desc, sizeof(desc)) > 0) info_.description = desc;
  info_.nLayer = llama_model_n_layer(model_.get());
  info_.nEmbd = llama_model_n_embd(model_.get());
  info_.nHead = llama_model_n_head(model_.get());
  info_.nHeadKv = llama_model_n_head_kv(model_.get());
  info_.nFF = int32_t(m.hparams.n_ff(0));
  info_.nVocab = llama_vocab_n_tokens(vocab_);
  info_.nCtxTrain = llama_model_n_ctx_train(model_.get());
  info_.bos = llama_vocab_bos(vocab_);
  info_.eos = llama_vocab_eos(vocab_);
  info_.addBos = llama_vocab_get_add_bos(vocab_);
  if (const char* tmpl = llama_model_chat_template(model_.get(), nullptr)) info_.chatTemplate = tmpl;
  info_.sizeBytes = llama_model_size(model_.get());
  info_.nParams = llama_model_n_params(model_.get());
  info_.hooksVerified = arch_.verified;
  info_.hooks = availableHookKinds(arch_);
  if (!llama_model_has_decoder(model_.get()) || llama_model_has_encoder(model_.get()))
    throw std::invalid_argument("'" + info_.arch + "' is not a decoder-only model: layerlens lenses decoders");
  if (info_.nLayer < 1 || info_.nEmbd < 1 || info_.nHead < 1 || info_.nVocab < 1)
    throw std::invalid_argument("the model's dimensions are not usable");

  LensHead head = lensHeadOf(model_.get(), arch_);
  info_.finalNorm = head.normKind;
  info_.normEps = head.eps;
  info_.finalLogitSoftcap = head.softcap;
  info_.tiedOutput = m.output == nullptr || m.output == m.tok_embd;

  const int threads = options.threads > 0 ? options.threads : int(std::max(1u, std::thread::hardware_concurrency()));
  info_.threads = threads;
  llama_context_params cp = llama_context_default_params();
  const int32_t ctxLen = options.contextLength > 0
                             ? options.contextLength
                             : std::min<int32_t>(info_.nCtxTrain > 0 ? info_.nCtxTrain : 4096, 4096);
  info_.nCtx = ctxLen;
  info_.nBatch = std::min(options.batchSize, ctxLen);
  cp.n_ctx = uint32_t(ctxLen);
  cp.n_batch = uint32_t(info_.nBatch);
  cp.n_ubatch = uint32_t(info_.nBatch);  // one graph per decode: the capture sees every row at once
  cp.n_seq_max = 1;
  cp.kv_unified = true;  // one KV stream: runBatch's sequences (seq ids up to LLAMA_MAX_SEQ) share it
  cp.n_threads = threads;
  cp.n_threads_batch = threads;
  // Faithful by default: an F32 KV cache and the plain softmax attention (llama.cpp's defaults, F16 KV
  // and flash attention, move the residual by 1e-3..4e-3, and flash attention has no pattern to show).
  cp.type_k = GGML_TYPE_F32;
  cp.type_v = GGML_TYPE_F32;
  cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
  cp.op_offload = false;
  cp.no_perf = true;
  cp.cb_eval = &LlamaEngine::evalCallback;
  cp.cb_eval_user_data = this;
  ctx_.reset(llama_init_from_model(model_.get(), cp));
  if (!ctx_) throw std::runtime_error("llama.cpp could not create a context for '" + path + "'");
  info_.nCtx = int32_t(llama_n_ctx(ctx_.get()));
  lens_ = std::make_unique<LlamaLens>(head, threads);
}

LlamaEngine::~LlamaEngine() = default;

bool LlamaEngine::evalCallback(ggml_tensor* t, bool ask, void* self) {
  return LlamaCapture::evalCallback(t, ask, static_cast<LlamaEngine*>(self)->active_);
}

void LlamaEngine::validateTokens(const std::vector<int32_t>& tokens, int32_t nPast) const {
  if (tokens.empty()) throw std::invalid_argument("no tokens to run");
  if (int64_t(tokens.size()) > info_.nBatch)
    throw std::invalid_argument(std::to_string(tokens.size()) + " tokens is more than one forward takes (" +
                                std::to_string(info_.nBatch) + "; raise batchSize when loading)");
  if (int64_t(nPast) + int64_t(tokens.size()) > info_.nCtx)
    throw std::invalid_argument("the sequence would be " + std::to_string(int64_t(nPast) + int64_t(tokens.size())) +
                                " tokens, more than the context of " + std::to_string(info_.nCtx));
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || tokens[i] >= info_.nVocab)
      throw std::invalid_argument("token " + std::to_string(tokens[i]) + " at position " + std::to_string(i) +
                                  " is outside the vocabulary (0.." + std::to_string(info_.nVocab - 1) + ")");
  }
}

void LlamaEngine::validateHook(const HookRef& h) const {
  if (h.layer >= info_.nLayer)
    throw std::invalid_argument("hook " + hookName(h) + ": the model has blocks 0.." +
                                std::to_string(info_.nLayer - 1));
  if (hookSource(arch_, h.kind, h.layer).how == HookSource::How::None) {
    std::string offered;
    for (HookKind k : info_.hooks) offered += std::string(offered.empty() ? "" : ", ") + hookKindInfo(k).name;
    throw std::invalid_argument("hook " + hookName(h) + " is not available for the '" + info_.arch +
                                "' architecture (it offers " + offered + ")");
  }
}

void LlamaEngine::validateInterventions(const std::vector<InterventionSpec>& ivs, int32_t nTokens) const {
  for (const InterventionSpec& iv : ivs) {
    validateHook(iv.hook);
    const HookSource src = hookSource(arch_, iv.hook.kind, iv.hook.layer);
    if (!src.intervenable)
      throw std::invalid_argument("interventions on " + hookName(iv.hook) + " are not supported for the '" +
                                  info_.arch + "' architecture");
    const int64_t width = iv.hook.kind == HookKind::MlpPost ? int64_t(model_->hparams.n_ff(uint32_t(iv.hook.layer)))
                                                            : int64_t(info_.nEmbd);
    const size_t expected = size_t(width) * size_t(nTokens);
    for (const auto* v : {&iv.mul, &iv.add}) {
      if (!v->empty() && v->size() != expected)
        throw std::invalid_argument("intervention on " + hookName(iv.hook) + ": expected " + std::to_string(expected) +
                                    " values (width x tokens), got " + std::to_string(v->size()));
    }
  }
}

namespace {

// Positions from..from+n−1 (one sequence).
std::vector<int32_t> positionsFrom(int32_t from, int32_t n) {
  std::vector<int32_t> out(size_t(std::max(n, 0)));
  for (int32_t i = 0; i < n; ++i) out[size_t(i)] = from + i;
  return out;
}

// The rows the last block computes: every row when hooks need others than `lastRows`, else those.
std::vector<int32_t> outputRows(int32_t nTokens, const std::vector<int32_t>& lastRows, bool everyRow) {
  return everyRow ? positionsFrom(0, nTokens) : lastRows;
}

}  // namespace

std::vector<CapturedTensor> LlamaEngine::capturedDecode(const DecodeRows& rows, const std::vector<HookRef>& hooks,
                                                        const std::vector<int32_t>& captureRows,
                                                        const std::vector<InterventionSpec>& interventions) {
  LlamaCaptureSetup setup;
  setup.arch = &arch_;
  setup.nTokens = int32_t(rows.tokens.size());
  setup.nHead = info_.nHead;
  setup.outputPositions = rows.outputs;
  setup.hooks = hooks;
  setup.positions = captureRows;
  setup.interventions = &interventions;
  LlamaCapture capture(std::move(setup));
  // Nothing to copy or edit: no callback at all, so this is llama.cpp's plain decode.
  const bool plain = hooks.empty() && interventions.empty();
  decodeRows(rows, plain ? nullptr : &capture);
  return capture.take();
}

void LlamaEngine::decodeRows(const DecodeRows& rows, LlamaCapture* capture) {
  const std::vector<int32_t>& tokens = rows.tokens;
  const std::vector<int32_t>& positions = rows.positions;
  const std::vector<int32_t>& seqIds = rows.seqIds;
  const std::vector<int32_t>& outputRows = rows.outputs;
  const int32_t n = int32_t(tokens.size());
  Batch batch(n);
  size_t next = 0;
  for (int32_t i = 0; i < n; ++i) {
    batch.b.token[i] = tokens[size_t(i)];
    batch.b.pos[i] = positions[size_t(i)];
    batch.b.n_seq_id[i] = 1;
    batch.b.seq_id[i][0] = seqIds[size_t(i)];
    const bool out = next < outputRows.size() && outputRows[next] == i;
    if (out) ++next;
    batch.b.logits[i] = out ? 1 : 0;
  }
  batch.b.n_tokens = n;
  active_ = capture;
  const int32_t rc = llama_decode(ctx_.get(), batch.b);
  active_ = nullptr;
  if (capture && !capture->error().empty()) throw std::runtime_error(capture->error());
  if (rc != 0) throw std::runtime_error("llama_decode failed (code " + std::to_string(rc) + ")");
}

RunResult LlamaEngine::run(const RunRequest& req) {
  const int32_t n = int32_t(req.tokens.size());
  validateTokens(req.tokens, 0);
  for (const HookRef& h : req.hooks) validateHook(h);
  checkDistinctHooks(req.hooks);
  validateInterventions(req.interventions, n);
  const std::vector<int32_t> positions = checkedPositions(req.positions, n);
  const bool onlyLast = positions.size() == 1 && positions[0] == n - 1;
  const DecodeRows rows{req.tokens, positionsFrom(0, n), std::vector<int32_t>(size_t(n), 0),
                        outputRows(n, {n - 1}, !req.hooks.empty() && !onlyLast)};

  std::lock_guard<std::mutex> lock(mutex_);
  llama_memory_clear(llama_get_memory(ctx_.get()), true);
  RunResult out;
  out.captured = capturedDecode(rows, req.hooks, positions, req.interventions);
  if (req.logits) {
    const float* logits = llama_get_logits_ith(ctx_.get(), -1);
    if (!logits) throw std::runtime_error("llama.cpp returned no logits");
    out.logits.assign(logits, logits + info_.nVocab);
  }
  return out;
}

std::vector<RunResult> LlamaEngine::runBatch(const BatchRunRequest& req) {
  const size_t S = req.sequences.size();
  const CheckedBatch checked = checkBatchRequest(
      req, {kMaxBatchSequences, std::min<int64_t>(info_.nBatch, info_.nCtx), "raise batchSize when loading"},
      [this](const std::vector<int32_t>& seq) { validateTokens(seq, 0); });
  for (const HookRef& h : req.hooks) validateHook(h);
  const PackedBatch packed = packBatch(req, checked);
  const DecodeRows rows{
      packed.tokens, packed.positions, packed.sequence,
      outputRows(int32_t(packed.tokens.size()), packed.lastRows, !req.hooks.empty() && !packed.onlyLastRows)};

  std::lock_guard<std::mutex> lock(mutex_);
  llama_memory_clear(llama_get_memory(ctx_.get()), true);
  std::vector<RunResult> out = splitCapturedRows(packed, capturedDecode(rows, req.hooks, packed.rows, {}));
  for (size_t s = 0; s < S && req.logits; ++s) {
    const float* logits = llama_get_logits_ith(ctx_.get(), packed.lastRows[s]);
    if (!logits) throw std::runtime_error("llama.cpp returned no logits");
    out[s].logits.assign(logits, logits + info_.nVocab);
  }
  return out;
}

LensOutput LlamaEngine::lens(const LensRequest& req) {
  std::lock_guard<std::mutex> lock(mutex_);
  return lens_->lens(req);
}

std::vector<int32_t> LlamaEngine::generate(const std::vector<int32_t>& prompt, int32_t maxNewTokens, bool stopAtEog,
                                           const std::vector<InterventionSpec>& interventions,
                                           const std::vector<InterventionSpec>& stepInterventions,
                                           const TokenPicker& pick) {
  if (maxNewTokens < 0) throw std::invalid_argument("maxNewTokens must be >= 0");
  validateTokens(prompt, 0);
  validateInterventions(interventions, int32_t(prompt.size()));
  validateInterventions(stepInterventions, 1);
  std::lock_guard<std::mutex> lock(mutex_);
  llama_memory_clear(llama_get_memory(ctx_.get()), true);
  auto pass = [&](const std::vector<int32_t>& tokens, int32_t nPast, const std::vector<InterventionSpec>& ivs) {
    const int32_t n = int32_t(tokens.size());
    capturedDecode({tokens, positionsFrom(nPast, n), std::vector<int32_t>(size_t(n), 0), {n - 1}}, {}, {}, ivs);
  };
  std::vector<int32_t> out;
  pass(prompt, 0, interventions);
  int32_t nPast = int32_t(prompt.size());
  while (int32_t(out.size()) < maxNewTokens) {
    const float* logits = llama_get_logits_ith(ctx_.get(), -1);
    if (!logits) throw std::runtime_error("llama.cpp returned no logits");
    const int32_t next = pick(logits, info_.nVocab);
    out.push_back(next);
    if (stopAtEog && llama_vocab_is_eog(vocab_, next)) break;
    if (int32_t(out.size()) >= maxNewTokens || nPast >= info_.nCtx) break;  // done, or no room for `next`
    pass({next}, nPast, stepInterventions);
    ++nPast;
  }
  return out;
}

void LlamaEngine::setControlVector(const std::vector<float>& directions, int32_t ilStart, int32_t ilEnd) {
  const size_t d = size_t(info_.nEmbd);
  if (directions.size() % d != 0)
    throw std::invalid_argument("control vector: " + std::to_string(directions.size()) +
                                " values is not a whole number of directions of n_embd " + std::to_string(d));
  std::lock_guard<std::mutex> lock(mutex_);
  if (directions.empty()) {
    llama_set_adapter_cvec(ctx_.get(), nullptr, 0, info_.nEmbd, -1, -1);
    return;
  }
  // llama.cpp writes only the blocks the data reaches and keeps what an earlier vector left in the
  // others: the data always covers blocks 1..n_layer-1, zero where nothing was given.
  std::vector<float> full(size_t(std::max(info_.nLayer - 1, 0)) * d, 0.0f);
  std::copy_n(directions.begin(), std::min(directions.size(), full.size()), full.begin());
  if (full.empty()) return;  // a one-block model: block 0 cannot be steered
  clearLlamaErrors();
  if (llama_set_adapter_cvec(ctx_.get(), full.data(), full.size(), info_.nEmbd, ilStart, ilEnd) != 0)
    throw std::runtime_error("llama.cpp refused the control vector: " + llamaErrors());
}

std::vector<int32_t> LlamaEngine::tokenize(const std::string& text, bool addSpecial, bool parseSpecial) const {
  if (text.size() > size_t(1) << 30) throw std::invalid_argument("text too long to tokenize");
  std::vector<int32_t> ids(text.size() + 8);
  int32_t n = llama_tokenize(vocab_, text.data(), int32_t(text.size()), ids.data(), int32_t(ids.size()), addSpecial,
                             parseSpecial);
  if (n < 0) {
    ids.resize(size_t(-n));
    n = llama_tokenize(vocab_, text.data(), int32_t(text.size()), ids.data(), int32_t(ids.size()), addSpecial,
                       parseSpecial);
  }
  if (n < 0) throw std::runtime_error("llama.cpp could not tokenize the text");
  ids.resize(size_t(n));
  return ids;
}

std::string LlamaEngine::piece(int32_t id) const {
  if (id < 0 || id >= info_.nVocab)
    throw std::invalid_argument("token " + std::to_string(id) + " is outside the vocabulary");
  std::string buf(64, '\0');
  int32_t n = llama_token_to_piece(vocab_, id, buf.data(), int32_t(buf.size()), 0, true);
  if (n < 0) {
    buf.assign(size_t(-n), '\0');
    n = llama_token_to_piece(vocab_, id, buf.data(), int32_t(buf.size()), 0, true);
  }
  buf.resize(size_t(std::max(n, 0)));
  return buf;
}

std::string LlamaEngine::detokenize(const std::vector<int32_t>& ids) const {
  for (int32_t id : ids)
    if (id < 0 || id >= info_.nVocab)
      throw std::invalid_argument("token " + std::to_string(id) + " is outside the vocabulary");
  std::string buf(ids.size() * 8 + 16, '\0');
  int32_t n = llama_detokenize(vocab_, ids.data(), int32_t(ids.size()), buf.data(), int32_t(buf.size()), false, false);
  if (n < 0) {
    buf.assign(size_t(-n), '\0');
    n = llama_detokenize(vocab_, ids.data(), int32_t(ids.size()), buf.data(), int32_t(buf.size()), false, false);
  }
  buf.resize(size_t(std::max(n, 0)));
  return buf;
}

std::string LlamaEngine::applyChatTemplate(const std::vector<std::pair<std::string, std::string>>& messages,
                                           bool addAssistant) const {
  if (info_.chatTemplate.empty())
    throw std::invalid_argument("the model file has no chat template (tokenizer.chat_template)");
  std::vector<llama_chat_message> chat;
  size_t total = 0;
  for (const auto& [role, content] : messages) {
    chat.push_back({role.c_str(), content.c_str()});
    total += role.size() + content.size();
  }
  std::string buf(2 * total + 256, '\0');
  int32_t n = llama_chat_apply_template(info_.chatTemplate.c_str(), chat.data(), chat.size(), addAssistant, buf.data(),
                                        int32_t(buf.size()));
  if (n < 0)
    throw std::invalid_argument("llama.cpp does not recognise this model's chat template (it supports a fixed list)");
  if (size_t(n) > buf.size()) {
    buf.assign(size_t(n), '\0');
    n = llama_chat_apply_template(info_.chatTemplate.c_str(), chat.data(), chat.size(), addAssistant, buf.data(),
                                  int32_t(buf.size()));
  }
  buf.resize(size_t(n));
  return buf;
}

}  // namespace layerlens
