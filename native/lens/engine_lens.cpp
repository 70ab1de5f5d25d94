// The lens half of the Engine: ln_f and the tied unembedding over batches of d-wide vectors, with
// top-k and measures on the host. See docs/architecture.md, "Lens".
#include "../engine.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <thread>

namespace layerlens {
namespace {

// Rows projected per step: bounds the projections ([rows, n_vocab] floats) held at once.
constexpr int64_t kLensChunk = 128;
// Beyond this many bytes of projections held between steps, sums are ignored (each row projected).
constexpr int64_t kMaxHeldBytes = int64_t(256) << 20;

struct RowStats {
  std::vector<float> mean, invStd;
};

// ln_f's statistics of each row, in double: mean and 1/sqrt(var + eps).
RowStats rowStats(const float* x, int64_t m, int64_t d, float eps) {
  RowStats st;
  st.mean.resize(size_t(m));
  st.invStd.resize(size_t(m));
  for (int64_t r = 0; r < m; ++r) {
    const float* v = x + r * d;
    double sum = 0.0;
    for (int64_t i = 0; i < d; ++i) sum += v[i];
    const double mean = sum / double(d);
    double sq = 0.0;
    for (int64_t i = 0; i < d; ++i) sq += (v[i] - mean) * (v[i] - mean);
    st.mean[size_t(r)] = float(mean);
    st.invStd[size_t(r)] = float(1.0 / std::sqrt(sq / double(d) + double(eps)));
  }
  return st;
}

// The claims that hold: x[row] equals x[a] + x[b] up to the rounding of one float addition (with
// room for a backend that fuses or reorders), element by element. An intervention that edits a
// residual breaks its claim, and that row is then projected directly.
std::vector<RowSum> checkedSums(const float* x, int64_t d, const std::vector<RowSum>& claimed) {
  std::vector<RowSum> ok;
  for (const RowSum& s : claimed) {
    const float *r = x + s.row * d, *a = x + s.a * d, *b = x + s.b * d;
    bool holds = true;
    for (int64_t i = 0; i < d && holds; ++i)
      holds = std::fabs(r[i] - (a[i] + b[i])) <= 1e-6f * (std::fabs(a[i]) + std::fabs(b[i]));
    if (holds) ok.push_back(s);
  }
  return ok;
}

// work(thread, begin, end) over [0, n) split across up to `threads` threads (thread 0 is the caller).
template <typename F>
void parallelRanges(int64_t n, int threads, F&& work) {
  const int t = int(std::max<int64_t>(1, std::min<int64_t>(threads, n)));
  if (t == 1) return work(0, int64_t(0), n);
  std::vector<std::thread> pool;
  const int64_t per = (n + t - 1) / t;
  for (int i = 1; i < t; ++i) {
    const int64_t b = i * per, e = std::min(n, b + per);
    if (b < e) pool.emplace_back([&work, i, b, e] { work(i, b, e); });
  }
  work(0, int64_t(0), std::min(n, per));
  for (auto& th : pool) th.join();
}

// Row buffers for projections kept past their step, recycled within a call and kept across calls
// in `storage` (fresh pages cost a page fault each, ~13 µs on a VM: 48 fresh rows took 30 ms).
class HeldRows {
 public:
  HeldRows(std::vector<std::vector<float>>& storage, int64_t m, int64_t width)
      : storage_(storage), width_(width), slotOf_(size_t(m), -1) {
    for (size_t s = storage_.size(); s-- > 0;) free_.push_back(int32_t(s));
  }
  float* take(int64_t row) {
    int32_t s;
    if (!free_.empty()) {
      s = free_.back();
      free_.pop_back();
    } else {
      s = int32_t(storage_.size());
      storage_.emplace_back();
    }
    std::vector<float>& buf = storage_[size_t(s)];
    if (int64_t(buf.size()) < width_) buf.resize(size_t(width_));
    slotOf_[size_t(row)] = s;
    return buf.data();
  }
  void release(int64_t row) {
    int32_t& s = slotOf_[size_t(row)];
    if (s < 0) return;
    free_.push_back(s);
    s = -1;
  }

 private:
  std::vector<std::vector<float>>& storage_;
  int64_t width_;
  std::vector<int32_t> slotOf_;
  std::vector<int32_t> free_;
};

}  // namespace

void Engine::prepareLensWeights() {
  if (!lensBias_.empty()) return;
  lnfGamma_ = weightToFloat32(weights_.lnfWeight);
  const std::vector<float> beta = weightToFloat32(weights_.lnfBias);
  const float* z = projectColumns(beta.data(), 1);
  lensBias_.assign(z, z + weights_.hp.nVocab);
}

Engine::LensGraph Engine::newLensGraph(int64_t n) const {
  constexpr size_t kNodes = 32;
  LensGraph g;
  g.ctx = makeMetaContext(kNodes, true, kNodes);
  g.graph = ggml_new_graph_custom(g.ctx.get(), kNodes, false);
  g.input = ggml_new_tensor_2d(g.ctx.get(), GGML_TYPE_F32, weights_.hp.nEmbd, n);
  ggml_set_name(g.input, "lens.input");
  ggml_set_input(g.input);
  return g;
}

void Engine::computeLensGraph(const LensGraph& g, const float* columns) {
  ggml_backend_sched_reset(sched_.get());
  if (!ggml_backend_sched_alloc_graph(sched_.get(), g.graph))
    throw std::runtime_error("could not allocate the lens graph");
  ggml_backend_tensor_set(g.input, columns, 0, ggml_nbytes(g.input));
  const ggml_status status = ggml_backend_sched_graph_compute(sched_.get(), g.graph);
  backends_.rest();
  if (status != GGML_STATUS_SUCCESS)
    throw std::runtime_error(std::string("lens compute failed: ") + ggml_status_to_string(status));
}

const float* Engine::projectColumns(const float* columns, int64_t n) {
  const LensGraph g = newLensGraph(n);
  ggml_tensor* y = exactMatmul(g.ctx.get(), weights_.wte, g.input, minMatmulCols());
  ggml_set_name(y, "lens.projection");
  ggml_set_output(y);
  ggml_build_forward_expand(g.graph, y);
  computeLensGraph(g, columns);
  // In host memory (the CPU backend) the result is read where it lies, until the next graph runs;
  // from a device it is copied into a host buffer grown once and kept (fresh pages cost a fault each).
  if (y->buffer && ggml_backend_buffer_is_host(y->buffer) && ggml_is_contiguous(y))
    return static_cast<const float*>(y->data);
  const size_t count = size_t(n) * weights_.vocabPadded;
  if (lensChunk_.size() < count) lensChunk_.resize(count);
  ggml_backend_tensor_get(y, lensChunk_.data(), 0, count * sizeof(float));
  return lensChunk_.data();
}

void Engine::runLens(const float* x, int64_t m, const std::vector<RowSum>& claimed, const LensSink& sink) {
  const HParams& hp = weights_.hp;
  const int64_t d = hp.nEmbd, V = hp.nVocab, stride = weights_.vocabPadded;
  prepareLensWeights();
  const RowStats st = rowStats(x, m, d, hp.eps);
  LensPlan plan = planLens(m, checkedSums(x, d, claimed), kLensChunk);
  if (plan.maxHeld * V * int64_t(sizeof(float)) > kMaxHeldBytes) plan = planLens(m, {}, kLensChunk);

  std::vector<const float*> z(size_t(m), nullptr);  // each row's projection W·(γ ⊙ (x − mean)), once formed
  std::vector<int32_t> left = plan.uses;            // reads still to come, per row
  HeldRows held(lensRows_, m, V);
  if (lensThreadRows_.size() < size_t(backends_.threads)) lensThreadRows_.resize(size_t(backends_.threads));
  std::vector<float>& columns = lensColumns_;
  std::vector<int64_t> ready;
  for (const LensStep& step : plan.steps) {
    const int64_t n = int64_t(step.project.size());
    columns.resize(size_t(n * d));
    for (int64_t j = 0; j < n; ++j) {
      const int64_t r = step.project[size_t(j)];
      const float* v = x + r * d;
      float* c = columns.data() + j * d;
      for (int64_t i = 0; i < d; ++i) c[i] = lnfGamma_[size_t(i)] * (v[i] - st.mean[size_t(r)]);
    }
    const float* projected = n > 0 ? projectColumns(columns.data(), n) : nullptr;
    ready.assign(step.project.begin(), step.project.end());
    for (int64_t j = 0; j < n; ++j) z[size_t(step.project[size_t(j)])] = projected + j * stride;
    for (const RowSum& s : step.derive) {
      float* out = held.take(s.row);
      const float *a = z[size_t(s.a)], *b = z[size_t(s.b)];
      for (int64_t i = 0; i < V; ++i) out[i] = a[i] + b[i];
      z[size_t(s.row)] = out;
      --left[size_t(s.a)];
      --left[size_t(s.b)];
      ready.push_back(s.row);
    }

    // logits = z / σ + W·β, row by row into a per-thread scratch row.
    parallelRanges(int64_t(ready.size()), backends_.threads, [&](int thread, int64_t begin, int64_t end) {
      std::vector<float>& logits = lensThreadRows_[size_t(thread)];
      if (int64_t(logits.size()) < V) logits.resize(size_t(V));
      for (int64_t i = begin; i < end; ++i) {
        const int64_t r = ready[size_t(i)];
        const float* zr = z[size_t(r)];
        const float inv = st.invStd[size_t(r)];
        for (int64_t v = 0; v < V; ++v) logits[size_t(v)] = zr[v] * inv + lensBias_[size_t(v)];
        sink(r, logits.data());
      }
    });

    // Keep what later steps read (the step's projections are overwritten by the next matmul);
    // recycle what nothing reads any more.
    for (int64_t r : step.project) {
      if (left[size_t(r)] > 0) {
        float* keep = held.take(r);
        std::copy(z[size_t(r)], z[size_t(r)] + V, keep);
        z[size_t(r)] = keep;
      }
    }
    for (const RowSum& s : step.derive) {
      for (int64_t r : {s.a, s.b, s.row}) {
        if (left[size_t(r)] == 0) held.release(r);
      }
    }
  }
}

LensOutput Engine::lens(const LensRequest& req) {
  const HParams& hp = weights_.hp;
  const int64_t m = req.m;
  if (req.k < 1 || req.k > hp.nVocab) {
    throw std::invalid_argument("k must be in 1.." + std::to_string(hp.nVocab) + ", got " + std::to_string(req.k));
  }
  if (m < 0 || req.vectors.size() != size_t(m) * size_t(hp.nEmbd)) {
    throw std::invalid_argument("lens: expected " + std::to_string(m) + " vectors of " + std::to_string(hp.nEmbd) +
                                " floats, got " + std::to_string(req.vectors.size()) + " floats");
  }
  auto checkPerRow = [&](const std::vector<int32_t>& v, const char* what, int64_t limit) {
    if (v.empty()) return;
    if (int64_t(v.size()) != m)
      throw std::invalid_argument(std::string("lens: ") + what + " must have one entry per vector");
    for (int32_t x : v) {
      if (x < -1 || x >= limit)
        throw std::invalid_argument(std::string("lens: ") + what + " entry " + std::to_string(x) + " is out of range");
    }
  };
  checkPerRow(req.targets, "targets", hp.nVocab);
  checkPerRow(req.references, "references", m);
  for (const RowSum& s : req.sums) {
    for (int64_t i : {s.row, s.a, s.b}) {
      if (i < 0 || i >= m)
        throw std::invalid_argument("lens: sums entry " + std::to_string(i) + " is outside 0.." +
                                    std::to_string(m - 1));
    }
  }

  RowMeasures measures;
  measures.entropy = req.entropy;
  measures.targets = req.targets;
  const bool anyMeasure = req.entropy || !req.targets.empty() || !req.references.empty();

  std::lock_guard<std::mutex> lock(mutex_);
  if (!req.references.empty()) {
    // Log-probabilities of each distinct reference row, projected once.
    std::vector<int32_t> compact(size_t(m), -1), distinct;
    for (int32_t r : req.references) {
      if (r >= 0 && compact[r] < 0) {
        compact[r] = int32_t(distinct.size());
        distinct.push_back(r);
      }
    }
    std::vector<float> refVectors(distinct.size() * size_t(hp.nEmbd));
    for (size_t i = 0; i < distinct.size(); ++i) {
      std::copy_n(req.vectors.data() + size_t(distinct[i]) * hp.nEmbd, hp.nEmbd, refVectors.data() + i * hp.nEmbd);
    }
    measures.referenceLogProbs.resize(distinct.size() * size_t(hp.nVocab));
    runLens(refVectors.data(), int64_t(distinct.size()), {}, [&](int64_t row, const float* logits) {
      logSoftmaxRow(logits, hp.nVocab, measures.referenceLogProbs.data() + size_t(row) * hp.nVocab);
    });
    measures.references.resize(size_t(m));
    for (int64_t i = 0; i < m; ++i) measures.references[i] = req.references[i] < 0 ? -1 : compact[req.references[i]];
  }

  LensOutput out;
  prepareTopK(out.top, m, req.k, anyMeasure ? &out.measures : nullptr);
  if (!anyMeasure && lensOnDevice()) {
    deviceLens(req.vectors.data(), m, req.k, out.top);
    return out;
  }
  runLens(req.vectors.data(), m, req.sums, [&](int64_t row, const float* logits) {
    rowTopK(logits, hp.nVocab, row, out.top, anyMeasure ? &measures : nullptr, anyMeasure ? &out.measures : nullptr);
  });
  return out;
}

}  // namespace layerlens
