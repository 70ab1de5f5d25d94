// See lens_trainer.hpp for the math. Every product is a ggml mul_mat on the CPU, computed into
// contexts whose memory is reused from call to call (fresh pages cost a fault each); the per-position
// softmax, KL and layer-norm backward are O(V) or O(d) loops on the host, split over the same threads.
#include "lens_trainer.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

#include "../engine.hpp"
#include "../ggml_handles.hpp"
#include "../vec_math.hpp"

namespace layerlens {
namespace {

// Positions per chunk: bounds the [V, rows] blocks (logits, q − p, p) to about 48 MB each while keeping
// enough columns for mul_mat to run at speed.
int64_t chunkRows(int64_t vocab) { return std::clamp<int64_t>((int64_t(48) << 20) / (vocab * 4), 16, 512); }

// Memory that a context can live in, reused across calls.
class Arena {
 public:
  // A fresh context in this arena with room for `dataBytes` of tensor data in `tensors` tensors and a graph.
  ContextPtr context(size_t dataBytes, size_t tensors) {
    const size_t need =
        dataBytes + tensors * (ggml_tensor_overhead() + 64) + 2 * ggml_graph_overhead_custom(64, false) + 4096;
    const size_t units = (need + sizeof(std::max_align_t) - 1) / sizeof(std::max_align_t);
    if (memory_.size() < units) memory_.resize(units);
    ggml_init_params params{};
    params.mem_size = memory_.size() * sizeof(std::max_align_t);
    params.mem_buffer = memory_.data();
    params.no_alloc = false;
    ggml_context* ctx = ggml_init(params);
    if (!ctx) throw std::runtime_error("tuned lens training: could not create a ggml context");
    return ContextPtr(ctx);
  }

 private:
  std::vector<std::max_align_t> memory_;
};

// Runs f(begin, end) over [0, n) split across `threads` threads (the calling one included).
// Σ term(v) for v in [0, n) in eight double lanes, a shape GCC vectorizes without reassociating a serial sum.
template <typename F>
double laneSum(int64_t n, const F& term) {
  double lanes[8] = {};
  int64_t v = 0;
  for (; v + 8 <= n; v += 8)
    for (int k = 0; k < 8; ++k) lanes[k] += double(term(v + k));
  double sum = 0;
  for (; v < n; ++v) sum += double(term(v));
  for (double l : lanes) sum += l;
  return sum;
}

template <typename F>
void parallelRanges(int64_t n, int threads, const F& f) {
  const int64_t parts = std::max<int64_t>(1, std::min<int64_t>(threads, n));
  std::vector<std::thread> pool;
  pool.reserve(size_t(parts - 1));
  for (int64_t p = 1; p < parts; ++p) pool.emplace_back([&, p] { f(n * p / parts, n * (p + 1) / parts); });
  f(0, n / parts);
  for (auto& t : pool) t.join();
}

ggml_tensor* matrix(ggml_context* ctx, int64_t ne0, int64_t ne1, const float* from) {
  ggml_tensor* t = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, ne0, ne1);
  if (from) std::memcpy(t->data, from, size_t(ne0 * ne1) * sizeof(float));
  return t;
}

}  // namespace

struct LensTrainer::State {
  int64_t d = 0, vocab = 0;
  float eps = 0;
  int threads = 1;
  ContextPtr weights;            // W_U in both layouts, γ and β
  ggml_tensor* wte = nullptr;    // [d, V]: z = mul_mat(wte, y)
  int64_t vocabPadded = 0;       // V rounded up to 64: the K of g_y's product, so it takes ggml's sgemm path
  ggml_tensor* wteT = nullptr;   // [vocabPadded, d], zero past V: g_y = mul_mat(wteT, q − p)
  ggml_tensor* gamma = nullptr;  // [d]
  ggml_tensor* beta = nullptr;   // [d]
  Arena forward, backward;       // the forward graph's results stay alive while the backward runs
  std::vector<uint8_t> work;     // ggml's work buffer
  std::vector<float> p;          // [rows, V]: the final distribution of the current chunk
  std::vector<double> pLogP;     // [rows]: Σ_v p log p

  void compute(ggml_cgraph* graph) {
    ggml_cplan plan = ggml_graph_plan(graph, threads, nullptr);
    if (plan.work_size > work.size()) work.resize(plan.work_size);
    plan.work_data = work.data();
    if (ggml_graph_compute(graph, &plan) != GGML_STATUS_SUCCESS)
      throw std::runtime_error("tuned lens training: a ggml graph failed to compute");
  }

  // γ ⊙ norm(x) + β, then W_U ·: the lens logits [V, c] of columns x [d, c].
  ggml_tensor* lensLogits(ggml_context* ctx, ggml_tensor* x) const {
    ggml_tensor* y = ggml_add(ctx, ggml_mul(ctx, ggml_norm(ctx, x, eps), gamma), beta);
    return ggml_mul_mat(ctx, wte, y);
  }
};

LensTrainer::LensTrainer(std::shared_ptr<Engine> engine) : engine_(std::move(engine)) {}
LensTrainer::~LensTrainer() = default;

void LensTrainer::prepare() {
  if (state_) return;
  ggml_cpu_init();  // ggml's CPU kernels need their tables; the engine has usually made them already
  auto s = std::make_unique<State>();
  const HParams& hp = engine_->hparams();
  s->d = hp.nEmbd;
  s->vocab = hp.nVocab;
  s->eps = hp.eps;
  s->threads = std::max(1, engine_->backends().threads);
  const std::vector<float> wte = engine_->weight("wte");  // [V, d] row-major, widened to float32
  const std::vector<float> gamma = engine_->weight("ln_f.weight");
  const std::vector<float> beta = engine_->weight("ln_f.bias");
  if (wte.size() != size_t(s->vocab * s->d) || gamma.size() != size_t(s->d) || beta.size() != size_t(s->d))
    throw std::runtime_error("tuned lens training: the model's wte or ln_f does not match its hparams");
  ggml_init_params params{};
  s->vocabPadded = (s->vocab + 63) / 64 * 64;
  params.mem_size =
      size_t((s->vocab + s->vocabPadded) * s->d + 2 * s->d) * sizeof(float) + 8 * (ggml_tensor_overhead() + 64);
  params.no_alloc = false;
  s->weights.reset(ggml_init(params));
  if (!s->weights) throw std::runtime_error("tuned lens training: out of memory for the unembedding copies");
  ggml_context* ctx = s->weights.get();
  s->wte = matrix(ctx, s->d, s->vocab, wte.data());
  const int64_t d = s->d, V = s->vocab, Vp = s->vocabPadded;
  s->wteT = matrix(ctx, Vp, d, nullptr);
  auto* t = static_cast<float*>(s->wteT->data);
  parallelRanges(d, s->threads, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      for (int64_t v = 0; v < V; ++v) t[i * Vp + v] = wte[size_t(v * d + i)];
      std::fill(t + i * Vp + V, t + (i + 1) * Vp, 0.0f);
    }
  });
  s->gamma = matrix(ctx, d, 1, gamma.data());
  s->beta = matrix(ctx, d, 1, beta.data());
  state_ = std::move(s);
}

LensTrainResult LensTrainer::step(const LensTrainBatch& b) {
  const HParams& hp = engine_->hparams();
  const int64_t d = hp.nEmbd;
  const std::string call = "trainLens: ";
  if (b.rows < 1 || b.rows > (int64_t(1) << 24))
    throw std::invalid_argument(call + "'rows' must be between 1 and 2^24, got " + std::to_string(b.rows));
  if (b.count < 1 || b.count > 4096)
    throw std::invalid_argument(call + "'count' must be between 1 and 4096, got " + std::to_string(b.count));
  const auto expect = [&](const std::vector<float>& v, uint64_t n, const char* name, const char* shape) {
    if (uint64_t(v.size()) != n)
      throw std::invalid_argument(call + "'" + name + "' must hold " + shape + " = " + std::to_string(n) +
                                  " floats, got " + std::to_string(v.size()));
  };
  const uint64_t rows = uint64_t(b.rows), count = uint64_t(b.count), ud = uint64_t(d);
  expect(b.inputs, count * rows * ud, "inputs", "count × rows × n_embd");
  expect(b.final, rows * ud, "final", "rows × n_embd");
  expect(b.weights, count * ud * ud, "weights", "count × n_embd × n_embd");
  expect(b.biases, count * ud, "biases", "count × n_embd");

  std::lock_guard<std::mutex> lock(mutex_);
  prepare();
  State& s = *state_;
  const int64_t V = s.vocab;
  const int threads = s.threads;
  LensTrainResult out;
  out.loss.assign(size_t(b.count), 0.0);
  if (b.gradients) {
    out.gradWeights.assign(size_t(count * ud * ud), 0.0f);
    out.gradBiases.assign(size_t(count * ud), 0.0f);
  }
  std::vector<double> gradBias(b.gradients ? size_t(count * ud) : 0, 0.0);
  std::vector<double> rowLoss;

  const int64_t step = chunkRows(V);
  for (int64_t r0 = 0; r0 < b.rows; r0 += step) {
    const int64_t c = std::min(step, b.rows - r0);
    const size_t block = size_t(c * V);
    // p and Σ p log p of this chunk's positions, from the last block's residual stream.
    {
      ContextPtr ctx = s.forward.context((block + size_t(4 * c * d)) * sizeof(float), 8);
      ggml_tensor* x = matrix(ctx.get(), d, c, b.final.data() + r0 * d);
      ggml_tensor* z = s.lensLogits(ctx.get(), x);
      ggml_cgraph* g = ggml_new_graph_custom(ctx.get(), 64, false);
      ggml_build_forward_expand(g, z);
      s.compute(g);
      s.p.resize(block);
      s.pLogP.assign(size_t(c), 0.0);
      const auto* zs = static_cast<const float*>(z->data);
      parallelRanges(c, threads, [&](int64_t a, int64_t e) {
        for (int64_t r = a; r < e; ++r) {
          const float* zr = zs + r * V;
          float* pr = s.p.data() + r * V;
          const float mx = *std::max_element(zr, zr + V);
          for (int64_t v = 0; v < V; ++v) pr[v] = expF32(zr[v] - mx);
          const double sum = laneSum(V, [&](int64_t v) { return pr[v]; });
          const float inv = float(1.0 / sum);
          for (int64_t v = 0; v < V; ++v) pr[v] *= inv;
          // Σ p log p = Σ p z − log Σ e^z, since Σ p = 1
          s.pLogP[size_t(r)] = laneSum(V, [&](int64_t v) { return pr[v] * zr[v]; }) - (double(mx) + std::log(sum));
        }
      });
    }

    for (int32_t i = 0; i < b.count; ++i) {
      const float* h = b.inputs.data() + (size_t(i) * rows + size_t(r0)) * ud;
      ContextPtr fctx = s.forward.context((block + size_t(8 * c * d + d * d + d)) * sizeof(float), 16);
      ggml_context* fc = fctx.get();
      ggml_tensor* hx = matrix(fc, d, c, h);
      ggml_tensor* A = matrix(fc, d, d, b.weights.data() + size_t(i) * ud * ud);
      ggml_tensor* bias = matrix(fc, d, 1, b.biases.data() + size_t(i) * ud);
      ggml_tensor* u = ggml_add(fc, ggml_add(fc, hx, ggml_mul_mat(fc, A, hx)), bias);
      ggml_tensor* z = s.lensLogits(fc, u);
      ggml_cgraph* fg = ggml_new_graph_custom(fc, 64, false);
      ggml_build_forward_expand(fg, z);
      s.compute(fg);

      ContextPtr bctx;
      float* residual =
          nullptr;  // q − p, [c, vocabPadded] (zero past V), written straight into the backward graph's input
      ggml_tensor* qp = nullptr;
      const int64_t Vp = s.vocabPadded;
      if (b.gradients) {
        bctx = s.backward.context((size_t(c * Vp) + size_t(6 * c * d + d * d)) * sizeof(float), 16);
        qp = matrix(bctx.get(), Vp, c, nullptr);
        residual = static_cast<float*>(qp->data);
      }
      rowLoss.assign(size_t(c), 0.0);
      const auto* zs = static_cast<const float*>(z->data);
      parallelRanges(c, threads, [&](int64_t a, int64_t e) {
        std::vector<float> scratch(residual ? 0 : size_t(V));
        for (int64_t r = a; r < e; ++r) {
          const float* zr = zs + r * V;
          const float* pr = s.p.data() + r * V;
          float* er = residual ? residual + r * Vp : scratch.data();
          const float mx = *std::max_element(zr, zr + V);
          for (int64_t v = 0; v < V; ++v) er[v] = expF32(zr[v] - mx);
          const double sum = laneSum(V, [&](int64_t v) { return er[v]; });
          const double pz = laneSum(V, [&](int64_t v) { return pr[v] * zr[v]; });
          // KL(p‖q) = Σ p log p − Σ p (z − lse), with Σ p = 1
          rowLoss[size_t(r)] = s.pLogP[size_t(r)] - pz + double(mx) + std::log(sum);
          if (residual) {
            const float inv = float(1.0 / sum);
            for (int64_t v = 0; v < V; ++v) er[v] = er[v] * inv - pr[v];
            std::fill(er + V, er + Vp, 0.0f);
          }
        }
      });
      for (double l : rowLoss) out.loss[size_t(i)] += l;
      if (!b.gradients) continue;

      // g_y = W_Uᵀ (q − p), then layer norm's backward on the host, then ∂A = Σ_r g_u hᵀ by mul_mat.
      ggml_context* bc = bctx.get();
      ggml_tensor* gy = ggml_mul_mat(bc, s.wteT, qp);  // [d, c]
      ggml_cgraph* bg = ggml_new_graph_custom(bc, 64, false);
      ggml_build_forward_expand(bg, gy);
      s.compute(bg);
      ggml_tensor* gu = matrix(bc, d, c, nullptr);
      const auto* us = static_cast<const float*>(u->data);
      const auto* gys = static_cast<const float*>(gy->data);
      auto* gus = static_cast<float*>(gu->data);
      const auto* gammas = static_cast<const float*>(s.gamma->data);
      parallelRanges(c, threads, [&](int64_t a, int64_t e) {
        std::vector<double> xhat(static_cast<size_t>(d)), gx(static_cast<size_t>(d));
        for (int64_t r = a; r < e; ++r) {
          const float* ur = us + r * d;
          double mean = 0;
          for (int64_t j = 0; j < d; ++j) mean += ur[j];
          mean /= double(d);
          double var = 0;
          for (int64_t j = 0; j < d; ++j) var += (ur[j] - mean) * (ur[j] - mean);
          const double sigma = std::sqrt(var / double(d) + double(s.eps));
          double m1 = 0, m2 = 0;
          for (int64_t j = 0; j < d; ++j) {
            xhat[size_t(j)] = (ur[j] - mean) / sigma;
            gx[size_t(j)] = double(gammas[j]) * double(gys[r * d + j]);
            m1 += gx[size_t(j)];
            m2 += gx[size_t(j)] * xhat[size_t(j)];
          }
          m1 /= double(d);
          m2 /= double(d);
          for (int64_t j = 0; j < d; ++j) gus[r * d + j] = float((gx[size_t(j)] - m1 - xhat[size_t(j)] * m2) / sigma);
        }
      });
      double* gb = gradBias.data() + size_t(i) * ud;
      for (int64_t r = 0; r < c; ++r)
        for (int64_t j = 0; j < d; ++j) gb[j] += gus[r * d + j];
      // [d_in, d_out] = Σ_r h[r][in] g_u[r][out]: PyTorch's weight[out][in], row-major.
      ggml_tensor* dA = ggml_mul_mat(bc, ggml_cont(bc, ggml_transpose(bc, hx)), ggml_cont(bc, ggml_transpose(bc, gu)));
      ggml_cgraph* ag = ggml_new_graph_custom(bc, 64, false);
      ggml_build_forward_expand(ag, dA);
      s.compute(ag);
      float* gw = out.gradWeights.data() + size_t(i) * ud * ud;
      const auto* dAs = static_cast<const float*>(dA->data);
      for (size_t k = 0; k < ud * ud; ++k) gw[k] += dAs[k];
    }
  }
  if (b.gradients)
    std::transform(gradBias.begin(), gradBias.end(), out.gradBiases.begin(), [](double x) { return float(x); });
  return out;
}

}  // namespace layerlens
