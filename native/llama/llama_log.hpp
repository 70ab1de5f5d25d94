// Routes what llama.cpp and ggml print through one switch: silent by default except errors, which go to
// stderr; `verbose` lets everything through. Set from JS (setLogLevel) and by loadModel's `verbose`.
#pragma once

namespace layerlens {

enum class LogLevel { Quiet, Errors, Verbose };

// Installs the callback on first use; safe to call from any thread.
void setLlamaLogLevel(LogLevel level);

}  // namespace layerlens
