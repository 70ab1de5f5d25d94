// libFuzzer entry point for the safetensors header parser (and the JSON parser
// under it). Build and run with scripts/fuzz-safetensors.sh, or by hand:
//   clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
//       native/io/json.cpp native/io/safetensors.cpp native/fuzz/safetensors_fuzz.cpp -o /tmp/st_fuzz
//   /tmp/st_fuzz -max_total_time=120
//
// The input is a whole file's bytes: 8-byte little-endian header length, the
// header JSON, then the data section. Declared errors (SafetensorsError,
// JsonError) are the expected outcome for most inputs; anything else escaping
// (std::bad_alloc, std::length_error, ...) is a finding, as are sanitizer
// reports and the invariant checks below, which trap when an accepted header
// breaks a promise the loader relies on.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "../io/json.hpp"
#include "../io/safetensors.hpp"

namespace {

void require(bool ok) {
  if (!ok) __builtin_trap();
}

// What the loader may assume about any header the parser accepts.
void checkInvariants(const layerlens::SafetensorsHeader& h, uint64_t fileSize) {
  require(h.headerLen > 0 && h.headerLen <= layerlens::kMaxSafetensorsHeaderLen);
  require(h.dataStart == 8 + h.headerLen && h.dataStart <= fileSize);

  std::vector<const layerlens::TensorInfo*> order;
  for (const auto& t : h.tensors) {
    require(h.find(t.name) == &t);  // names are unique, so find() hits this one
    require(t.begin >= h.dataStart && t.begin <= t.end && t.end <= fileSize);
    // numel is the exact product of the shape (0 if any dim is 0).
    bool zero = std::find(t.shape.begin(), t.shape.end(), 0) != t.shape.end();
    uint64_t n = 1;
    for (uint64_t d : t.shape) {
      if (zero) break;
      require(d == 0 || n <= UINT64_MAX / d);
      n *= d;
    }
    require(t.numel == (zero ? 0 : n));
    const uint64_t size = layerlens::dtypeSize(t.dtype);
    require(size > 0 && (t.numel == 0 || t.numel <= UINT64_MAX / size));
    require(t.end - t.begin == t.numel * size);
    order.push_back(&t);
  }
  // Sorted by offset, the tensors tile the data section exactly.
  std::sort(order.begin(), order.end(), [](const layerlens::TensorInfo* a, const layerlens::TensorInfo* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t at = h.dataStart;
  for (const auto* t : order) {
    require(t->begin == at);
    at = t->end;
  }
  require(at == fileSize);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // 1. The whole input as a file.
  try {
    const layerlens::SafetensorsHeader h = layerlens::parseSafetensorsPrefix(data, size, size);
    checkInvariants(h, size);
  } catch (const layerlens::SafetensorsError&) {
    // Expected for malformed input.
  }

  // 2. The same input as a file whose data section was not read: the header
  //    must be parsed against the declared file size alone (the way
  //    readSafetensorsFile works), never touching bytes past the header.
  if (size >= 8) {
    try {
      const uint64_t headerLen = layerlens::readHeaderLength(data, size, size);
      // Copy just the header so ASan flags any read beyond it.
      const std::vector<uint8_t> header(data + 8, data + 8 + headerLen);
      const layerlens::SafetensorsHeader h = layerlens::parseSafetensorsHeader(header.data(), header.size(), size);
      checkInvariants(h, size);
    } catch (const layerlens::SafetensorsError&) {
    }
  }

  // 3. The raw input as a JSON document, so the JSON parser is explored
  //    without needing a consistent length prefix.
  try {
    const layerlens::JsonValue v = layerlens::parseJson(reinterpret_cast<const char*>(data), size);
    // A value that claims to be an exact integer must be spelled as exactly
    // that integer (leading zeros are rejected by the grammar).
    if (v.isNumber() && v.asUint64()) require(std::to_string(*v.asUint64()) == v.numberText());
  } catch (const layerlens::JsonError&) {
  }
  return 0;
}
