// Routes what llama.cpp and ggml print through one switch: silent by default except errors, which go to
// stderr; `verbose` lets everything through. Set from JS (setLogLevel) and by loadModel's `verbose`.
#pragma once

#include <string>

namespace layerlens {

enum class LogLevel { Quiet, Errors, Verbose };

// Installs the callback on first use; safe to call from any thread.
void setLlamaLogLevel(LogLevel level);

// The error lines llama.cpp logged since the last clear (whatever the level shown), so that a failed
// load can say why. Loads are serialized by the caller's use (one at a time per engine construction).
void clearLlamaErrors();
std::string llamaErrors();

}  // namespace layerlens
