// The sampler of sampling.hpp; the algorithm and the PRNG are documented there.
#include "sampling.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace layerlens {

void validateSamplingParams(const SamplingParams& p) {
  if (!std::isfinite(p.temperature) || p.temperature < 0.0f) {
    throw std::invalid_argument("sampling: temperature must be a finite number >= 0 (0 = greedy), got " +
                                std::to_string(p.temperature));
  }
  // written so that NaN fails too
  if (!(p.topP > 0.0f && p.topP <= 1.0f)) {
    throw std::invalid_argument("sampling: topP must be in (0, 1], got " + std::to_string(p.topP));
  }
}

Sampler::Sampler(const SamplingParams& params) : params_(params), state_(params.seed) {
  validateSamplingParams(params_);
}

uint64_t Sampler::nextU64() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

double Sampler::nextUniform() { return double(nextU64() >> 11) * 0x1.0p-53; }

int32_t Sampler::sample(const float* logits, int32_t nVocab) {
  if (!logits || nVocab <= 0) throw std::invalid_argument("sampling: empty logits row");
  for (int32_t i = 0; i < nVocab; ++i) {
    if (std::isnan(logits[i]))
      throw std::invalid_argument("sampling: the logit of token " + std::to_string(i) + " is NaN");
  }
  if (greedy()) return int32_t(std::max_element(logits, logits + nVocab) - logits);  // the first maximum wins

  const double temperature = double(params_.temperature);
  double maxZ = -INFINITY;
  for (int32_t i = 0; i < nVocab; ++i) {
    if (logits[i] == INFINITY) {
      throw std::invalid_argument("sampling: the logit of token " + std::to_string(i) + " is +inf");
    }
    maxZ = std::max(maxZ, double(logits[i]) / temperature);
  }
  if (maxZ == -INFINITY) throw std::invalid_argument("sampling: every logit is -inf");

  candidates_.clear();
  for (int32_t i = 0; i < nVocab; ++i) {
    const double z = double(logits[i]) / temperature;
    const double w = std::exp(z - maxZ);
    if (w > 0.0) candidates_.push_back({z, w, i});
  }
  const auto before = [](const Candidate& a, const Candidate& b) { return a.z > b.z || (a.z == b.z && a.id < b.id); };
  const size_t n = candidates_.size();
  if (params_.topK > 0 && size_t(params_.topK) < n) {
    std::partial_sort(candidates_.begin(), candidates_.begin() + params_.topK, candidates_.end(), before);
    candidates_.resize(size_t(params_.topK));
  } else {
    std::sort(candidates_.begin(), candidates_.end(), before);
  }

  double total = 0.0;
  for (const Candidate& c : candidates_) total += c.w;
  probs_.resize(candidates_.size());
  for (size_t i = 0; i < candidates_.size(); ++i) probs_[i] = candidates_[i].w / total;

  size_t kept = probs_.size();
  if (params_.topP < 1.0f) {
    const double topP = double(params_.topP);
    double cumulative = 0.0;
    for (size_t i = 0; i < probs_.size(); ++i) {
      cumulative += probs_[i];
      if (cumulative >= topP) {
        kept = i + 1;
        break;
      }
    }
  }

  double keptMass = 0.0;
  for (size_t i = 0; i < kept; ++i) keptMass += probs_[i];
  const double u = nextUniform();
  double cdf = 0.0;
  for (size_t i = 0; i < kept; ++i) {
    cdf += probs_[i] / keptMass;
    if (u < cdf) return candidates_[i].id;
  }
  return candidates_[kept - 1].id;
}

}  // namespace layerlens
