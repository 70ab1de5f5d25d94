#include "llama_log.hpp"

#include <atomic>
#include <cstdio>
#include <mutex>

#include "llama.h"

namespace layerlens {
namespace {

std::atomic<LogLevel> gLevel{LogLevel::Errors};
std::mutex gErrorsMutex;
std::string gErrors;

void logCallback(ggml_log_level level, const char* text, void*) {
  if (level == GGML_LOG_LEVEL_ERROR) {
    std::lock_guard<std::mutex> lock(gErrorsMutex);
    if (gErrors.size() < 4096) gErrors += text;
  }
  const LogLevel want = gLevel.load(std::memory_order_relaxed);
  if (want == LogLevel::Quiet) return;
  if (want == LogLevel::Errors && level != GGML_LOG_LEVEL_ERROR) return;
  std::fputs(text, stderr);
}

}  // namespace

void setLlamaLogLevel(LogLevel level) {
  static std::once_flag installed;
  std::call_once(installed, [] { llama_log_set(logCallback, nullptr); });
  gLevel.store(level, std::memory_order_relaxed);
}

}  // namespace layerlens

namespace layerlens {

void clearLlamaErrors() {
  std::lock_guard<std::mutex> lock(gErrorsMutex);
  gErrors.clear();
}

std::string llamaErrors() {
  std::lock_guard<std::mutex> lock(gErrorsMutex);
  std::string s = gErrors;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace layerlens
