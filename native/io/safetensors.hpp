// Hardened safetensors header parser: header ≤ 100 MB, offsets contiguous and in the file, element
// counts overflow-checked, byte sizes equal to dtype size × count; a bad file is an error, never a crash.
//
// File layout: u64 little-endian header length N, then N bytes of JSON
// {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}},
// then the data section. Offsets in the JSON are relative to the data section.
//
// Validation follows the reference implementation (huggingface/safetensors):
// header <= 100 MB and inside the file, header text starts with '{', element
// counts and byte sizes computed with overflow checks, byte size == dtype size
// x element count, and the tensors, sorted by offset, tile the data section
// exactly (no holes, no overlap, nothing past the end, nothing left over).
// It is stricter in one respect: duplicate tensor names are errors (JSON
// parsers usually keep the last one silently).
//
// Every failure is a SafetensorsError with a message naming the tensor and the
// numbers involved. Nothing here allocates from a size written in the file
// other than the header buffer itself, whose length is checked against the
// 100 MB cap and against the real file size first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace layerlens {

// F32, F16 and BF16 are what the GPT-2 loader accepts; the others are valid
// safetensors dtypes that are parsed (so errors can name them) and rejected
// later by the loader. Other safetensors dtypes (U16, U32, U64, F8_*) are
// rejected here as unsupported.
enum class DType { F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL };

size_t dtypeSize(DType dtype);       // bytes per element
const char* dtypeName(DType dtype);  // safetensors spelling, e.g. "BF16"

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<uint64_t> shape;
  // Absolute byte offsets from the start of the FILE:
  // 8 + headerLen + data_offsets[i]. end - begin == numel * dtypeSize(dtype).
  uint64_t begin = 0;
  uint64_t end = 0;
  uint64_t numel = 0;  // product of shape (1 for a scalar, shape [])

  uint64_t byteSize() const { return end - begin; }
};

struct SafetensorsHeader {
  uint64_t headerLen = 0;                       // N, the JSON length (including any padding)
  uint64_t dataStart = 0;                       // 8 + N
  std::vector<TensorInfo> tensors;              // in header (document) order
  std::map<std::string, std::string> metadata;  // "__metadata__", if present

  // Tensor by exact name, or nullptr.
  const TensorInfo* find(const std::string& name) const;
};

class SafetensorsError : public std::runtime_error {
 public:
  explicit SafetensorsError(const std::string& message) : std::runtime_error(message) {}
};

// Largest header accepted, as in the reference implementation.
constexpr uint64_t kMaxSafetensorsHeaderLen = 100'000'000;

// Validates the first 8 bytes of a file of `fileSize` bytes and returns the
// header length N: needs n >= 8, 0 < N <= 100 MB and 8 + N <= fileSize.
uint64_t readHeaderLength(const uint8_t* first8, size_t n, uint64_t fileSize);

// Parses and validates the header JSON (the jsonLen bytes after the length
// prefix) of a file of `fileSize` bytes. jsonLen is taken to be N.
SafetensorsHeader parseSafetensorsHeader(const uint8_t* json, size_t jsonLen, uint64_t fileSize);

// Convenience for in-memory prefixes (tests, fuzzing): `prefix` holds the first
// `prefixLen` bytes of a file of `fileSize` bytes and must include the whole
// header, i.e. at least 8 + N bytes.
SafetensorsHeader parseSafetensorsPrefix(const uint8_t* prefix, size_t prefixLen, uint64_t fileSize);

// Opens `path`, reads the length prefix and the header only (never the data)
// and validates them against the file's size. Error messages start with the path.
SafetensorsHeader readSafetensorsFile(const std::string& path);

}  // namespace layerlens
