// Picking the next token from a row of logits: greedy, or seeded sampling with temperature, top-k and
// top-p. Self-contained (no ggml, no engine) so every engine samples with the same code and a seed
// means the same tokens whichever engine produced the logits.
//
// The contract (test/helpers/reference-sampler.ts implements it independently, in TypeScript):
//
//  temperature == 0: greedy, the id of the largest logit; equal logits go to the lowest id. No draw.
//  temperature  > 0: one draw of the PRNG per sampled token, even when a single candidate is left, so
//  the k-th token always uses the k-th number of the stream.
//   1. z_i = double(logit_i) / double(temperature) (temperature as the float32 it is stored in).
//   2. w_i = exp(z_i - max z). Tokens with w_i == 0 (a -inf logit, or exp underflowing) are dropped:
//      they could never be drawn.
//   3. Order the rest by z descending, equal z by lower id (the order of probability descending,
//      defined on z so that no rounding of exp can reorder it). topK > 0 keeps the first topK.
//   4. S = sum of the kept w_i, added in that order; p_i = w_i / S.
//   5. topP < 1 keeps the shortest prefix whose running sum of p (added in order) is >= topP; if
//      rounding keeps the sum below topP, all are kept. At least one token is always kept.
//   6. P = running sum of the kept p; q_i = p_i / P; the pick is the first i whose running sum of q
//      exceeds u (u < c_i), with u the next uniform number; if rounding leaves u >= every c_i, the
//      last kept token.
//
//  PRNG: splitmix64 (Steele, Lea & Flood 2014; the seeder of xoshiro), state = seed at the start of
//  each generate call; each number is next() >> 11 scaled by 2^-53: a uniform double in [0, 1).
#pragma once

#include <cstdint>
#include <vector>

namespace layerlens {

struct SamplingParams {
  float temperature = 0.0f;  // 0 = greedy; else finite and > 0
  int32_t topK = 0;          // <= 0 = every token
  float topP = 1.0f;         // in (0, 1]; 1 = no nucleus cut
  uint64_t seed = 0;         // the PRNG's state at the start of a generate call
};

// Throws std::invalid_argument for a temperature that is negative or not finite, or a topP outside (0, 1].
void validateSamplingParams(const SamplingParams& params);

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);  // validates

  // The next token of a row of nVocab logits. Throws std::invalid_argument for a NaN logit, for a +inf
  // logit when sampling, or when sampling from a row that is all -inf.
  int32_t sample(const float* logits, int32_t nVocab);

  bool greedy() const { return params_.temperature == 0.0f; }

 private:
  uint64_t nextU64();
  double nextUniform();

  struct Candidate {
    uint32_t key;  // the logit, mapped so that ascending keys are descending logits
    int32_t id;
    double w;  // exp(z - max z)
  };
  void sortCandidates();

  SamplingParams params_;
  uint64_t state_;
  // reused across tokens: a vocabulary's worth each call
  std::vector<Candidate> candidates_;
  std::vector<Candidate> scratch_;
  std::vector<double> probs_;
};

}  // namespace layerlens
