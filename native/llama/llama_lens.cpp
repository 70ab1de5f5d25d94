#include "llama_lens.hpp"

#include <algorithm>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "ggml-alloc.h"
#include "ggml-cpu.h"
#include "llama-model.h"

namespace layerlens {

LensHead lensHeadOf(const llama_model* model, const ArchHooks& arch) {
  LensHead h;
  h.norm = model->output_norm;
  h.normBias = model->output_norm_b;
  h.output = model->output ? model->output : model->tok_embd;
  h.outputBias = model->output_b;
  h.normKind = arch.finalNorm;
  h.eps = arch.finalNorm == FinalNorm::Rms ? model->hparams.f_norm_rms_eps : model->hparams.f_norm_eps;
  // What each architecture's graph does after the output matrix (src/models/<arch>.cpp at the pinned commit).
  const std::string& a = arch.arch;
  const float scale = model->hparams.f_logit_scale;
  if ((a == "command-r" || a == "cohere2" || a == "cohere2moe" || a == "grok") && scale != 0.0f) h.logitScale = scale;
  if (a.rfind("granite", 0) == 0 && scale != 0.0f) h.logitScale = 1.0f / scale;
  if ((a == "gemma2" || a == "gemma3" || a == "gemma3n" || a == "gemma4") &&
      model->hparams.f_final_logit_softcapping > 0.0f)
    h.softcap = model->hparams.f_final_logit_softcapping;
  h.nEmbd = int32_t(model->hparams.n_embd);
  if (!h.output) throw std::runtime_error("the model has neither an output matrix nor a token embedding");
  h.nVocab = int32_t(h.output->ne[1]);
  if (h.output->ne[0] != h.nEmbd) throw std::runtime_error("the output matrix is not n_embd wide");
  return h;
}

LlamaLens::LlamaLens(LensHead head, int threads) : head_(head) {
  backend_ = ggml_backend_cpu_init();
  if (!backend_) throw std::runtime_error("could not start ggml's CPU backend for the lens");
  if (threads > 0) ggml_backend_cpu_set_n_threads(backend_, threads);
}

LlamaLens::~LlamaLens() {
  if (backend_) ggml_backend_free(backend_);
}

void LlamaLens::project(const float* vectors, int64_t m, const std::function<void(int64_t, const float*)>& sink) {
  const int64_t d = head_.nEmbd, V = head_.nVocab;
  // Columns per graph: about 64 MiB of logits at a time, whatever the vocabulary.
  const int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(m, (int64_t(64) << 20) / (V * 4)));
  for (int64_t start = 0; start < m; start += chunk) {
    const int64_t n = std::min(chunk, m - start);
    ggml_init_params params{ggml_tensor_overhead() * 16 + ggml_graph_overhead(), nullptr, true};
    std::unique_ptr<ggml_context, void (*)(ggml_context*)> ctx(ggml_init(params), ggml_free);
    if (!ctx) throw std::runtime_error("lens: could not allocate a ggml context");
    ggml_tensor* x = ggml_new_tensor_2d(ctx.get(), GGML_TYPE_F32, d, n);
    ggml_set_input(x);
    ggml_tensor* cur =
        head_.normKind == FinalNorm::Rms ? ggml_rms_norm(ctx.get(), x, head_.eps) : ggml_norm(ctx.get(), x, head_.eps);
    if (head_.norm) cur = ggml_mul(ctx.get(), cur, head_.norm);
    if (head_.normBias) cur = ggml_add(ctx.get(), cur, head_.normBias);
    cur = ggml_mul_mat(ctx.get(), head_.output, cur);  // [V, n]
    if (head_.outputBias) cur = ggml_add(ctx.get(), cur, head_.outputBias);
    if (head_.logitScale != 1.0f) cur = ggml_scale(ctx.get(), cur, head_.logitScale);
    if (head_.softcap > 0.0f) {
      cur = ggml_scale(ctx.get(), cur, 1.0f / head_.softcap);
      cur = ggml_tanh(ctx.get(), cur);
      cur = ggml_scale(ctx.get(), cur, head_.softcap);
    }
    ggml_set_output(cur);
    ggml_cgraph* gf = ggml_new_graph(ctx.get());
    ggml_build_forward_expand(gf, cur);
    std::unique_ptr<ggml_gallocr, void (*)(ggml_gallocr_t)> alloc(
        ggml_gallocr_new(ggml_backend_get_default_buffer_type(backend_)), ggml_gallocr_free);
    if (!ggml_gallocr_alloc_graph(alloc.get(), gf)) throw std::runtime_error("lens: could not allocate the graph");
    ggml_backend_tensor_set(x, vectors + start * d, 0, size_t(n * d) * sizeof(float));
    if (ggml_backend_graph_compute(backend_, gf) != GGML_STATUS_SUCCESS)
      throw std::runtime_error("lens: ggml failed to compute the head");
    logits_.resize(size_t(n * V));
    ggml_backend_tensor_get(cur, logits_.data(), 0, logits_.size() * sizeof(float));
    for (int64_t i = 0; i < n; ++i) sink(start + i, logits_.data() + i * V);
  }
}

LensOutput LlamaLens::lens(const LensRequest& req) {
  const int64_t m = req.m, d = head_.nEmbd, V = head_.nVocab;
  if (req.k < 1 || req.k > V)
    throw std::invalid_argument("k must be in 1.." + std::to_string(V) + ", got " + std::to_string(req.k));
  if (m < 0 || req.vectors.size() != size_t(m) * size_t(d))
    throw std::invalid_argument("lens: expected " + std::to_string(m) + " vectors of " + std::to_string(d) +
                                " floats, got " + std::to_string(req.vectors.size()) + " floats");
  auto checkPerRow = [&](const std::vector<int32_t>& v, const char* what, int64_t limit) {
    if (v.empty()) return;
    if (int64_t(v.size()) != m)
      throw std::invalid_argument(std::string("lens: ") + what + " must have one entry per vector");
    for (int32_t x : v)
      if (x < -1 || x >= limit)
        throw std::invalid_argument(std::string("lens: ") + what + " entry " + std::to_string(x) + " is out of range");
  };
  checkPerRow(req.targets, "targets", V);
  checkPerRow(req.references, "references", m);

  RowMeasures measures;
  measures.entropy = req.entropy;
  measures.targets = req.targets;
  const bool anyMeasure = req.entropy || !req.targets.empty() || !req.references.empty();
  if (!req.references.empty()) {
    std::vector<int32_t> compact(size_t(m), -1), distinct;
    for (int32_t r : req.references) {
      if (r >= 0 && compact[size_t(r)] < 0) {
        compact[size_t(r)] = int32_t(distinct.size());
        distinct.push_back(r);
      }
    }
    std::vector<float> refs(distinct.size() * size_t(d));
    for (size_t i = 0; i < distinct.size(); ++i)
      std::copy_n(req.vectors.data() + size_t(distinct[i]) * size_t(d), d, refs.data() + i * size_t(d));
    measures.referenceLogProbs.resize(distinct.size() * size_t(V));
    project(refs.data(), int64_t(distinct.size()), [&](int64_t row, const float* logits) {
      logSoftmaxRow(logits, V, measures.referenceLogProbs.data() + size_t(row) * size_t(V));
    });
    measures.references.resize(size_t(m));
    for (int64_t i = 0; i < m; ++i)
      measures.references[size_t(i)] = req.references[size_t(i)] < 0 ? -1 : compact[size_t(req.references[size_t(i)])];
  }
  LensOutput out;
  prepareTopK(out.top, m, req.k, anyMeasure ? &out.measures : nullptr);
  project(req.vectors.data(), m, [&](int64_t row, const float* logits) {
    rowTopK(logits, V, row, out.top, anyMeasure ? &measures : nullptr, anyMeasure ? &out.measures : nullptr);
  });
  return out;
}

}  // namespace layerlens
