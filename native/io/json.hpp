// Minimal strict JSON (RFC 8259) parser for untrusted input.
//
// It exists to read safetensors headers without a third-party dependency, so it
// is built for hostile bytes rather than for speed or convenience:
//   * strict grammar: no comments, no trailing commas, no NaN/Infinity, no
//     leading zeros, no byte-order mark, nothing but whitespace after the value;
//   * strings must be valid UTF-8 (as the reference safetensors implementation
//     requires), escapes incl. \uXXXX surrogate pairs are decoded to UTF-8, and
//     lone surrogates are rejected;
//   * nesting depth and total value count are limited, so recursion cannot
//     overflow the stack and memory stays proportional to (and bounded by a
//     limit on) the input, never to a number written inside it;
//   * every failure is a layerlens::JsonError carrying the byte offset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace layerlens {

// Thrown for every malformed document (and for exceeded limits).
// what() reads "JSON error at byte N: <reason>".
class JsonError : public std::runtime_error {
 public:
  JsonError(const std::string& reason, size_t offset);
  size_t offset() const noexcept { return offset_; }
  const std::string& reason() const noexcept { return reason_; }

 private:
  std::string reason_;
  size_t offset_;
};

struct JsonMember;

class JsonValue {
 public:
  enum class Type { Null, Bool, Number, String, Array, Object };

  JsonValue() noexcept;  // null
  ~JsonValue();
  JsonValue(const JsonValue&);
  JsonValue(JsonValue&&) noexcept;
  JsonValue& operator=(const JsonValue&);
  JsonValue& operator=(JsonValue&&) noexcept;

  static JsonValue makeNull() noexcept;
  static JsonValue makeBool(bool b);
  static JsonValue makeString(std::string s);
  // `literal` must already be a valid RFC 8259 number literal (the parser
  // guarantees this); `value` is its nearest double.
  static JsonValue makeNumber(std::string literal, double value);
  static JsonValue makeArray(std::vector<JsonValue> items);
  static JsonValue makeObject(std::vector<JsonMember> members);

  Type type() const noexcept { return type_; }
  bool isNull() const noexcept { return type_ == Type::Null; }
  bool isBool() const noexcept { return type_ == Type::Bool; }
  bool isNumber() const noexcept { return type_ == Type::Number; }
  bool isString() const noexcept { return type_ == Type::String; }
  bool isArray() const noexcept { return type_ == Type::Array; }
  bool isObject() const noexcept { return type_ == Type::Object; }

  // Accessors for the wrong type return a neutral value (false, 0, empty)
  // rather than throwing; callers check type() first.
  bool asBool() const noexcept { return type_ == Type::Bool && bool_; }
  double asDouble() const noexcept { return type_ == Type::Number ? number_ : 0.0; }
  // The number exactly as written in the document (e.g. "1.50e+3").
  const std::string& numberText() const noexcept;
  // Exact unsigned 64-bit value of a number written as a plain non-negative
  // integer ("0", "42", "18446744073709551615"). Empty for anything else:
  // non-numbers, negatives (even "-0"), fractions ("1.0"), exponents ("1e3"),
  // and values above 2^64-1. Never goes through a double, so it is exact.
  std::optional<uint64_t> asUint64() const noexcept;
  const std::string& asString() const noexcept;             // decoded UTF-8; empty if not a string
  const std::vector<JsonValue>& items() const noexcept;     // array elements; empty if not an array
  const std::vector<JsonMember>& members() const noexcept;  // object members in document order

  // First member with this key, or nullptr (also for non-objects). Linear:
  // objects here are small, and order + duplicates must be preserved anyway.
  const JsonValue* find(std::string_view key) const noexcept;

  // Move the contents out (leaving this value an empty string/array/object of
  // the same type), so callers can keep large strings without copying them.
  // Wrong type: returns an empty result and leaves the value alone.
  std::string takeString() noexcept;
  std::vector<JsonValue> takeItems() noexcept;
  std::vector<JsonMember> takeMembers() noexcept;
  // Whether any key occurs more than once in this object (not recursive); the
  // first such key (by sorted order) goes into *dupKey when given.
  bool hasDuplicateKeys(std::string* dupKey = nullptr) const;

  static const char* typeName(Type t) noexcept;

 private:
  // Kept small (56 bytes with libstdc++) because a hostile document can hold
  // one value per two input bytes: containers live behind a pointer that is
  // null for scalars and for empty containers.
  struct Children;
  Type type_ = Type::Null;
  bool bool_ = false;
  double number_ = 0.0;
  std::string text_;                    // String: decoded value; Number: literal text
  std::unique_ptr<Children> children_;  // Array elements / object members
};

struct JsonMember {
  std::string key;
  JsonValue value;
};

struct JsonLimits {
  // Arrays/objects nested deeper than this are rejected before recursing.
  size_t maxDepth = 64;
  // Total number of values (scalars + containers, object keys not counted)
  // in the document. Each value costs ~60 bytes (plus its string, if any),
  // so this caps memory use independently of how large the input may be.
  size_t maxValues = size_t(1) << 22;
};

// Parse exactly one JSON value occupying all of [data, data+len) except
// surrounding whitespace. Throws JsonError on any problem; std::bad_alloc
// only if memory proportional to the input cannot be had.
JsonValue parseJson(const char* data, size_t len, const JsonLimits& limits = JsonLimits());
inline JsonValue parseJson(std::string_view text, const JsonLimits& limits = JsonLimits()) {
  return parseJson(text.data(), text.size(), limits);
}

}  // namespace layerlens
