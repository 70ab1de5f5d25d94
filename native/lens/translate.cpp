#include "translate.hpp"

#include <algorithm>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

namespace layerlens {
namespace {

constexpr int32_t kMaxWidth = 1 << 16;
constexpr int32_t kMaxTranslators = 1 << 16;
constexpr size_t kMaxGroups = size_t(1) << 20;
// Per run of translators the graph holds the input view, the matrix view and the product.
constexpr size_t kTensorsPerRun = 3;

// Values per stored row: d weights, the bias, then zeros up to a multiple of 16, since ggml's fast f32
// matrix product (llamafile's tinyBLAS) takes only row lengths that are multiples of its vector width.
int64_t paddedWidth(int32_t d) { return (int64_t(d) + 1 + 15) / 16 * 16; }

}  // namespace

Translators::Translators(int32_t d, const std::vector<FloatSpan>& weights, const std::vector<FloatSpan>& biases) {
  if (d < 1 || d > kMaxWidth)
    throw std::invalid_argument("translators: d must be in 1.." + std::to_string(kMaxWidth) + ", got " +
                                std::to_string(d));
  if (weights.empty() || weights.size() > size_t(kMaxTranslators))
    throw std::invalid_argument("translators: expected 1.." + std::to_string(kMaxTranslators) +
                                " weight matrices, got " + std::to_string(weights.size()));
  if (!biases.empty() && biases.size() != weights.size())
    throw std::invalid_argument("translators: " + std::to_string(biases.size()) + " biases for " +
                                std::to_string(weights.size()) + " weight matrices (give one per translator, or none)");
  const size_t dd = size_t(d) * size_t(d);
  for (size_t i = 0; i < weights.size(); ++i) {
    if (!weights[i].data || weights[i].size != dd)
      throw std::invalid_argument("translators: weight " + std::to_string(i) + " has " +
                                  std::to_string(weights[i].size) + " values, a [" + std::to_string(d) + ", " +
                                  std::to_string(d) + "] matrix has " + std::to_string(dd));
  }
  for (size_t i = 0; i < biases.size(); ++i) {
    if (!biases[i].data || biases[i].size != size_t(d))
      throw std::invalid_argument("translators: bias " + std::to_string(i) + " has " + std::to_string(biases[i].size) +
                                  " values, expected " + std::to_string(d));
  }
  d_ = d;
  n_ = int32_t(weights.size());
  ctx_ = makeMetaContext(1);
  if (!ctx_) throw std::runtime_error("translators: could not allocate a ggml context");
  bias_ = !biases.empty();
  // Each translator is stored as the affine map in one matrix, [A + I | b] (d_out rows of d_in + 1
  // values, zero-padded: ggml's [paddedWidth, d]), so that out = [A + I | b]·[h; 1] is one matrix product per run of
  // translators, with no separate additions (each would be another node, and another barrier for the
  // CPU threads). Rounding A + I to float32 moves the result by as little as adding h afterwards would.
  const size_t stride = size_t(paddedWidth(d));
  weights_ = ggml_new_tensor_3d(ctx_.get(), GGML_TYPE_F32, int64_t(stride), d, n_);
  buffer_.reset(ggml_backend_alloc_ctx_tensors_from_buft(ctx_.get(), ggml_backend_cpu_buffer_type()));
  if (!buffer_)
    throw std::runtime_error("translators: could not allocate " +
                             std::to_string(stride * size_t(d) * weights.size() * 4) + " bytes for the weights");
  float* dst = static_cast<float*>(weights_->data);  // a CPU buffer: host memory
  std::memset(dst, 0, ggml_nbytes(weights_));
  for (size_t i = 0; i < weights.size(); ++i) {
    for (size_t o = 0; o < size_t(d); ++o) {
      float* row = dst + (i * size_t(d) + o) * stride;
      // PyTorch's row-major [d_out, d_in]: row o holds output o's weights over the inputs
      std::memcpy(row, weights[i].data + o * size_t(d), size_t(d) * sizeof(float));
      row[o] += 1.0f;
      row[d] = bias_ ? biases[i].data[o] : 0.0f;
    }
  }
}

size_t Translators::bytes() const { return buffer_ ? ggml_backend_buffer_get_size(buffer_.get()) : 0; }

void Translators::translatePart(const std::vector<float>& rows, const std::vector<Slice>& slices,
                                std::vector<float>& out) const {
  const int64_t first = slices.front().first;
  const int64_t count = slices.back().first + slices.back().rows - first;
  const size_t stride = size_t(paddedWidth(d_));
  // Runs of slices whose translators follow one another with the same row count become one batched
  // product (decodeLayers' usual case: translators 0, 1, 2, … with one row per position each).
  struct Run {
    int32_t translator;
    int64_t rows, matrices, first;  // first: row within this part
  };
  std::vector<Run> runs;
  for (const Slice& sl : slices) {
    Run* last = runs.empty() ? nullptr : &runs.back();
    if (last && last->rows == sl.rows && last->translator + last->matrices == sl.translator) ++last->matrices;
    else runs.push_back({sl.translator, sl.rows, 1, sl.first - first});
  }

  const size_t graphSize = kTensorsPerRun * runs.size() + 16;
  ContextPtr ctx = makeMetaContext(graphSize + 1, true, graphSize);
  if (!ctx) throw std::runtime_error("translate: could not allocate a ggml context");
  ggml_tensor* x = ggml_new_tensor_2d(ctx.get(), GGML_TYPE_F32, int64_t(stride), count);
  ggml_set_input(x);
  ggml_cgraph* gf = ggml_new_graph_custom(ctx.get(), graphSize, false);
  std::vector<std::pair<ggml_tensor*, int64_t>> results;  // (output [d, rows, matrices], first row in the part)
  for (const Run& run : runs) {
    ggml_tensor* h = ggml_view_3d(ctx.get(), x, int64_t(stride), run.rows, run.matrices, x->nb[1],
                                  size_t(run.rows) * x->nb[1], size_t(run.first) * x->nb[1]);
    ggml_tensor* a = ggml_view_3d(ctx.get(), weights_, int64_t(stride), d_, run.matrices, weights_->nb[1],
                                  weights_->nb[2], size_t(run.translator) * weights_->nb[2]);
    ggml_tensor* y = ggml_mul_mat(ctx.get(), a, h);  // [d, rows, matrices]
    ggml_set_output(y);
    ggml_build_forward_expand(gf, y);
    results.emplace_back(y, run.first);
  }

  std::unique_ptr<ggml_gallocr, void (*)(ggml_gallocr_t)> alloc(ggml_gallocr_new(ggml_backend_cpu_buffer_type()),
                                                                ggml_gallocr_free);
  if (!alloc || !ggml_gallocr_alloc_graph(alloc.get(), gf))
    throw std::runtime_error("translate: could not allocate the graph (" + std::to_string(count) + " rows)");
  // The input, written straight into its host buffer: each row with a 1 appended (the bias column's
  // input), zero-padded like the weights.
  float* input = static_cast<float*>(x->data);
  std::fill(input, input + size_t(count) * stride, 0.0f);
  for (int64_t r = 0; r < count; ++r) {
    std::memcpy(input + size_t(r) * stride, rows.data() + size_t(first + r) * size_t(d_), size_t(d_) * sizeof(float));
    input[size_t(r) * stride + size_t(d_)] = 1.0f;
  }
  BackendPtr cpu(ggml_backend_cpu_init());
  if (!cpu) throw std::runtime_error("translate: could not start ggml's CPU backend");
  ggml_backend_cpu_set_n_threads(cpu.get(), 1);
  if (ggml_backend_graph_compute(cpu.get(), gf) != GGML_STATUS_SUCCESS)
    throw std::runtime_error("translate: ggml failed to compute the translation");
  for (const auto& [y, row] : results)
    ggml_backend_tensor_get(y, out.data() + size_t(first + row) * size_t(d_), 0, ggml_nbytes(y));
}

std::vector<float> Translators::translate(const std::vector<float>& rows, const std::vector<TranslateGroup>& groups,
                                          int threads) const {
  if (groups.size() > kMaxGroups)
    throw std::invalid_argument("translate: at most " + std::to_string(kMaxGroups) + " groups per call");
  if (threads > 1024) throw std::invalid_argument("translate: threads must be at most 1024");
  int64_t total = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    const TranslateGroup& gr = groups[g];
    if (gr.translator < 0 || gr.translator >= n_)
      throw std::invalid_argument("translate: group " + std::to_string(g) + " names translator " +
                                  std::to_string(gr.translator) + "; there are " + std::to_string(n_) + " (0.." +
                                  std::to_string(n_ - 1) + ")");
    if (gr.rows < 0 || gr.rows > (int64_t(1) << 31))
      throw std::invalid_argument("translate: group " + std::to_string(g) + " has " + std::to_string(gr.rows) +
                                  " rows");
    total += gr.rows;
  }
  if (rows.size() / size_t(d_) != size_t(total) || rows.size() % size_t(d_) != 0)
    throw std::invalid_argument("translate: the groups cover " + std::to_string(total) + " rows of " +
                                std::to_string(d_) + " values, but " + std::to_string(rows.size()) +
                                " values were given");
  std::vector<float> out(rows.size());
  if (total == 0) return out;

  // Threads work on consecutive row ranges of equal size, each one graph computed by ggml on that
  // thread alone: ggml's own threading synchronises its threads at every matrix of a batched product
  // (llamafile's tinyBLAS waits on a barrier per matrix), which costs more than the product when the
  // cores are shared, while independent ranges never wait for each other.
  const int64_t hardware = int64_t(std::max(1u, std::thread::hardware_concurrency()));
  const int64_t nParts = std::min<int64_t>(threads > 0 ? threads : hardware, total);
  const int64_t perPart = (total + nParts - 1) / nParts;
  std::vector<std::vector<Slice>> parts(static_cast<size_t>(nParts));
  int64_t at = 0;
  for (const TranslateGroup& gr : groups) {
    int64_t left = gr.rows;
    while (left > 0) {
      const int64_t part = at / perPart;
      const int64_t take = std::min(left, (part + 1) * perPart - at);
      parts[size_t(part)].push_back({gr.translator, at, take});
      at += take;
      left -= take;
    }
  }
  std::vector<std::exception_ptr> errors(parts.size());
  auto work = [&](size_t p) {
    try {
      if (!parts[p].empty()) translatePart(rows, parts[p], out);
    } catch (...) {
      errors[p] = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  for (size_t p = 1; p < parts.size(); ++p) {
    try {
      pool.emplace_back(work, p);
    } catch (const std::system_error&) {
      work(p);  // no thread to be had: this one does the range
    }
  }
  work(0);
  for (std::thread& t : pool) t.join();
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
  return out;
}

}  // namespace layerlens
