// The heavy half of training a tuned lens: for a batch of positions, the KL divergence from the model's
// final distribution to each translator's lens distribution, and its gradient with respect to the
// translator's weight and bias. The optimizer, the data and the checkpoints live in TS
// (lib/lens/tuned/train.ts); this file only does the math that costs V × d per position.
//
// Per translator i and position r, with h = inputs[i][r] and f = final[r] (the last block's resid_post):
//   u = h + A h + b,  y = γ ⊙ norm(u) + β,  z = W_U y,  q = softmax(z),  p = softmax(W_U (γ ⊙ norm(f) + β))
//   loss_i = Σ_r KL(p_r ‖ q_r)   (a sum over positions: the caller divides by its batch size)
// Gradients (hand-derived: ggml 0.15's CPU backend has no backward for every op used here):
//   ∂KL/∂z = q − p,  g_y = W_Uᵀ (q − p),  g_u = (g_x̂ − mean(g_x̂) − x̂ mean(g_x̂ ⊙ x̂)) / σ with g_x̂ = γ ⊙ g_y,
//   ∂loss/∂A = Σ_r g_u hᵀ,  ∂loss/∂b = Σ_r g_u.
// The two V × d products per position run as ggml mul_mat on the CPU backend with the model's threads.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace layerlens {

class Engine;

struct LensTrainBatch {
  int64_t rows = 0;            // positions in the batch
  int32_t count = 0;           // translators in this call
  std::vector<float> inputs;   // [count, rows, d]: the hidden state each translator acts on
  std::vector<float> final;    // [rows, d]: the last block's resid_post (its lens is the model's output)
  std::vector<float> weights;  // [count, d, d]: A, row-major out × in (PyTorch's Linear layout)
  std::vector<float> biases;   // [count, d]
  bool gradients = true;       // false: the loss only (held-out evaluation)
};

struct LensTrainResult {
  std::vector<double> loss;        // [count]: Σ over rows of KL(p ‖ q_i), in nats
  std::vector<float> gradWeights;  // [count, d, d] (empty without gradients)
  std::vector<float> gradBiases;   // [count, d]
};

// Holds float32 copies of W_U in both layouts the two products need (made on the first step, so that
// a model that never trains pays nothing). Calls are serialized by a mutex.
class LensTrainer {
 public:
  explicit LensTrainer(std::shared_ptr<Engine> engine);
  ~LensTrainer();
  LensTrainer(const LensTrainer&) = delete;
  LensTrainer& operator=(const LensTrainer&) = delete;

  // Throws std::invalid_argument for inconsistent sizes, before any ggml call.
  LensTrainResult step(const LensTrainBatch& batch);

 private:
  struct State;
  void prepare();  // caller holds mutex_
  std::shared_ptr<Engine> engine_;
  std::unique_ptr<State> state_;
  std::mutex mutex_;
};

}  // namespace layerlens
