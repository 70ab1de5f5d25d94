// Strict RFC 8259 parser; see json.hpp for the contract.
#include "json.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <locale>
#include <sstream>
#include <system_error>

#if defined(__has_include)
#if __has_include(<charconv>)
#include <charconv>
#endif
#endif

namespace layerlens {

// ---------------------------------------------------------------- JsonError

JsonError::JsonError(const std::string& reason, size_t offset)
    : std::runtime_error("JSON error at byte " + std::to_string(offset) + ": " + reason),
      reason_(reason),
      offset_(offset) {}

// ---------------------------------------------------------------- JsonValue

struct JsonValue::Children {
  std::vector<JsonValue> items;     // Array elements
  std::vector<JsonMember> members;  // Object members, keys in document order
};

// Special members are defined here, where JsonMember and Children are complete.
JsonValue::JsonValue() noexcept = default;
JsonValue::~JsonValue() = default;
JsonValue::JsonValue(JsonValue&&) noexcept = default;
JsonValue& JsonValue::operator=(JsonValue&&) noexcept = default;

JsonValue::JsonValue(const JsonValue& other)
    : type_(other.type_),
      bool_(other.bool_),
      number_(other.number_),
      text_(other.text_),
      children_(other.children_ ? std::make_unique<Children>(*other.children_) : nullptr) {}

JsonValue& JsonValue::operator=(const JsonValue& other) {
  if (this != &other) {
    JsonValue copy(other);  // copy first: strong guarantee, and safe if other is inside *this
    *this = std::move(copy);
  }
  return *this;
}

namespace {
const std::string kEmptyString;
const std::vector<JsonValue> kEmptyItems;
const std::vector<JsonMember> kEmptyMembers;
}  // namespace

JsonValue JsonValue::makeNull() noexcept { return JsonValue(); }

JsonValue JsonValue::makeBool(bool b) {
  JsonValue v;
  v.type_ = Type::Bool;
  v.bool_ = b;
  return v;
}

JsonValue JsonValue::makeString(std::string s) {
  JsonValue v;
  v.type_ = Type::String;
  v.text_ = std::move(s);
  return v;
}

JsonValue JsonValue::makeNumber(std::string literal, double value) {
  JsonValue v;
  v.type_ = Type::Number;
  v.text_ = std::move(literal);
  v.number_ = value;
  return v;
}

JsonValue JsonValue::makeArray(std::vector<JsonValue> items) {
  JsonValue v;
  v.type_ = Type::Array;
  if (!items.empty()) {
    v.children_ = std::make_unique<Children>();
    v.children_->items = std::move(items);
  }
  return v;
}

JsonValue JsonValue::makeObject(std::vector<JsonMember> members) {
  JsonValue v;
  v.type_ = Type::Object;
  if (!members.empty()) {
    v.children_ = std::make_unique<Children>();
    v.children_->members = std::move(members);
  }
  return v;
}

const std::string& JsonValue::numberText() const noexcept { return type_ == Type::Number ? text_ : kEmptyString; }

const std::string& JsonValue::asString() const noexcept { return type_ == Type::String ? text_ : kEmptyString; }

const std::vector<JsonValue>& JsonValue::items() const noexcept {
  return type_ == Type::Array && children_ ? children_->items : kEmptyItems;
}

const std::vector<JsonMember>& JsonValue::members() const noexcept {
  return type_ == Type::Object && children_ ? children_->members : kEmptyMembers;
}

std::string JsonValue::takeString() noexcept {
  if (type_ != Type::String) return std::string();
  std::string out = std::move(text_);
  text_.clear();
  return out;
}

std::vector<JsonValue> JsonValue::takeItems() noexcept {
  if (type_ != Type::Array || !children_) return {};
  std::vector<JsonValue> out = std::move(children_->items);
  children_.reset();
  return out;
}

std::vector<JsonMember> JsonValue::takeMembers() noexcept {
  if (type_ != Type::Object || !children_) return {};
  std::vector<JsonMember> out = std::move(children_->members);
  children_.reset();
  return out;
}

std::optional<uint64_t> JsonValue::asUint64() const noexcept {
  if (type_ != Type::Number || text_.empty()) return std::nullopt;
  uint64_t result = 0;
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  for (char c : text_) {
    // Any '-', '.', 'e' or 'E' means it is not a plain non-negative integer.
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (result > (kMax - digit) / 10) return std::nullopt;  // would overflow
    result = result * 10 + digit;
  }
  return result;
}

const JsonValue* JsonValue::find(std::string_view key) const noexcept {
  for (const JsonMember& m : members()) {
    if (m.key == key) return &m.value;
  }
  return nullptr;
}

bool JsonValue::hasDuplicateKeys(std::string* dupKey) const {
  const std::vector<JsonMember>& ms = members();
  if (ms.size() < 2) return false;
  // Sort views of the keys: O(n log n) even for adversarially many members.
  std::vector<std::string_view> keys;
  keys.reserve(ms.size());
  for (const JsonMember& m : ms) keys.emplace_back(m.key);
  std::sort(keys.begin(), keys.end());
  auto it = std::adjacent_find(keys.begin(), keys.end());
  if (it == keys.end()) return false;
  if (dupKey) *dupKey = std::string(*it);
  return true;
}

const char* JsonValue::typeName(Type t) noexcept {
  switch (t) {
    case Type::Null: return "null";
    case Type::Bool: return "boolean";
    case Type::Number: return "number";
    case Type::String: return "string";
    case Type::Array: return "array";
    case Type::Object: return "object";
  }
  return "unknown";
}

// ---------------------------------------------------------------- parser

namespace {

bool isDigit(int c) { return c >= '0' && c <= '9'; }

// Decimal magnitude class of a literal whose double conversion went out of
// range: true if it overflowed (so the value is +/-inf), false if it
// underflowed (so the value is +/-0). Computes the decimal exponent of the
// first significant digit, saturating so that huge exponents cannot overflow.
bool literalOverflows(std::string_view lit) {
  size_t i = 0;
  if (i < lit.size() && lit[i] == '-') ++i;
  long long firstSig = 0;  // power of ten of the first non-zero digit, +1
  bool found = false;
  long long intDigits = 0;
  while (i < lit.size() && isDigit(lit[i])) {
    if (!found && lit[i] != '0') found = true;
    if (found) ++intDigits;
    ++i;
  }
  if (found) firstSig = intDigits;
  if (i < lit.size() && lit[i] == '.') {
    ++i;
    long long zeros = 0;
    while (i < lit.size() && isDigit(lit[i])) {
      if (!found) {
        if (lit[i] == '0') {
          ++zeros;
        } else {
          found = true;
          firstSig = -zeros;
        }
      }
      ++i;
    }
  }
  long long exp = 0;
  if (i < lit.size() && (lit[i] == 'e' || lit[i] == 'E')) {
    ++i;
    bool neg = false;
    if (i < lit.size() && (lit[i] == '+' || lit[i] == '-')) neg = lit[i++] == '-';
    while (i < lit.size() && isDigit(lit[i])) {
      if (exp < 1000000000LL) exp = exp * 10 + (lit[i] - '0');
      ++i;
    }
    if (neg) exp = -exp;
  }
  return found && firstSig + exp > 0;
}

// Locale-independent string -> double. `lit` is a validated JSON literal.
double literalToDouble(std::string_view lit) {
  const bool negative = !lit.empty() && lit[0] == '-';
  // Fast, exact path for plain integers up to 19 digits (shapes and offsets).
  {
    size_t i = negative ? 1 : 0;
    if (lit.size() - i <= 19) {
      uint64_t u = 0;
      bool plain = i < lit.size();
      for (; i < lit.size(); ++i) {
        if (!isDigit(lit[i])) {
          plain = false;
          break;
        }
        u = u * 10 + static_cast<uint64_t>(lit[i] - '0');
      }
      if (plain) {
        const double d = static_cast<double>(u);
        return negative ? -d : d;
      }
    }
  }
  double value = 0.0;
  bool ok = false;
#if defined(__cpp_lib_to_chars) && __cpp_lib_to_chars >= 201611L && !defined(LAYERLENS_JSON_NO_FROM_CHARS)
  // Floating-point from_chars is locale independent and correctly rounded.
  auto res = std::from_chars(lit.data(), lit.data() + lit.size(), value);
  ok = res.ec == std::errc() && res.ptr == lit.data() + lit.size();
#else
  // Fallback for standard libraries without floating-point from_chars:
  // strtod would honour the process locale's decimal point, streams imbued
  // with the classic locale do not.
  std::istringstream in{std::string(lit)};
  in.imbue(std::locale::classic());
  in >> value;
  ok = !in.fail();
#endif
  if (ok) return value;
  // Only out-of-range can fail for a validated literal.
  const double mag = literalOverflows(lit) ? std::numeric_limits<double>::infinity() : 0.0;
  return negative ? -mag : mag;
}

class Parser {
 public:
  Parser(const char* data, size_t len, const JsonLimits& limits)
      : p_(reinterpret_cast<const unsigned char*>(data)), n_(len), limits_(limits) {}

  JsonValue parseDocument() {
    skipWs();
    JsonValue v = parseValue(0);
    skipWs();
    if (pos_ != n_) fail("unexpected trailing data after the JSON value");
    return v;
  }

 private:
  const unsigned char* p_;
  size_t n_;
  size_t pos_ = 0;
  JsonLimits limits_;
  size_t values_ = 0;

  [[noreturn]] void fail(const std::string& reason) const { throw JsonError(reason, pos_); }
  [[noreturn]] void failAt(const std::string& reason, size_t at) const { throw JsonError(reason, at); }

  bool atEnd() const { return pos_ >= n_; }
  unsigned char peek() const { return p_[pos_]; }  // only when !atEnd()

  void skipWs() {
    while (pos_ < n_) {
      const unsigned char c = p_[pos_];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
      ++pos_;
    }
  }

  static std::string describeByte(unsigned char c) {
    static const char hex[] = "0123456789abcdef";
    if (c >= 0x21 && c < 0x7f) return std::string("'") + static_cast<char>(c) + "'";
    return std::string("byte 0x") + hex[c >> 4] + hex[c & 15];
  }

  void countValue() {
    if (++values_ > limits_.maxValues) {
      fail("document has more than " + std::to_string(limits_.maxValues) + " values");
    }
  }

  JsonValue parseValue(size_t depth) {
    if (atEnd()) fail("unexpected end of input, expected a value");
    countValue();
    const unsigned char c = peek();
    switch (c) {
      case '{': return parseObject(depth + 1);
      case '[': return parseArray(depth + 1);
      case '"': return JsonValue::makeString(parseString());
      case 't': expectWord("true"); return JsonValue::makeBool(true);
      case 'f': expectWord("false"); return JsonValue::makeBool(false);
      case 'n': expectWord("null"); return JsonValue::makeNull();
      default:
        if (c == '-' || isDigit(c)) return parseNumber();
        fail("unexpected " + describeByte(c) + ", expected a value");
    }
  }

  void expectWord(const char* word) {
    const size_t start = pos_;
    for (const char* w = word; *w; ++w) {
      if (atEnd() || peek() != static_cast<unsigned char>(*w)) {
        failAt(std::string("invalid literal, expected '") + word + "'", start);
      }
      ++pos_;
    }
  }

  void checkDepth(size_t depth) {
    // Checked before descending, so recursion depth is bounded by maxDepth.
    if (depth > limits_.maxDepth) {
      fail("nesting deeper than " + std::to_string(limits_.maxDepth) + " levels");
    }
  }

  JsonValue parseArray(size_t depth) {
    checkDepth(depth);
    ++pos_;  // '['
    std::vector<JsonValue> items;
    skipWs();
    if (!atEnd() && peek() == ']') {
      ++pos_;
      return JsonValue::makeArray(std::move(items));
    }
    for (;;) {
      skipWs();
      items.push_back(parseValue(depth));
      skipWs();
      if (atEnd()) fail("unexpected end of input inside an array, expected ',' or ']'");
      const unsigned char c = peek();
      ++pos_;
      if (c == ']') break;
      if (c != ',') failAt("unexpected " + describeByte(c) + " inside an array, expected ',' or ']'", pos_ - 1);
    }
    // Drop growth slack so memory stays close to the element count.
    items.shrink_to_fit();
    return JsonValue::makeArray(std::move(items));
  }

  JsonValue parseObject(size_t depth) {
    checkDepth(depth);
    ++pos_;  // '{'
    std::vector<JsonMember> members;
    skipWs();
    if (!atEnd() && peek() == '}') {
      ++pos_;
      return JsonValue::makeObject(std::move(members));
    }
    for (;;) {
      skipWs();
      if (atEnd()) fail("unexpected end of input inside an object, expected a string key");
      if (peek() != '"') fail("unexpected " + describeByte(peek()) + ", expected a string key");
      std::string key = parseString();
      skipWs();
      if (atEnd() || peek() != ':') fail("expected ':' after object key");
      ++pos_;
      skipWs();
      JsonValue value = parseValue(depth);
      members.push_back(JsonMember{std::move(key), std::move(value)});
      skipWs();
      if (atEnd()) fail("unexpected end of input inside an object, expected ',' or '}'");
      const unsigned char c = peek();
      ++pos_;
      if (c == '}') break;
      if (c != ',') failAt("unexpected " + describeByte(c) + " inside an object, expected ',' or '}'", pos_ - 1);
    }
    members.shrink_to_fit();
    return JsonValue::makeObject(std::move(members));
  }

  JsonValue parseNumber() {
    const size_t start = pos_;
    if (peek() == '-') ++pos_;
    if (atEnd() || !isDigit(peek())) fail("invalid number: expected a digit");
    if (peek() == '0') {
      ++pos_;
      // RFC 8259 forbids leading zeros ("01").
      if (!atEnd() && isDigit(peek())) fail("invalid number: leading zero");
    } else {
      while (!atEnd() && isDigit(peek())) ++pos_;
    }
    if (!atEnd() && peek() == '.') {
      ++pos_;
      if (atEnd() || !isDigit(peek())) fail("invalid number: expected a digit after '.'");
      while (!atEnd() && isDigit(peek())) ++pos_;
    }
    if (!atEnd() && (peek() == 'e' || peek() == 'E')) {
      ++pos_;
      if (!atEnd() && (peek() == '+' || peek() == '-')) ++pos_;
      if (atEnd() || !isDigit(peek())) fail("invalid number: expected a digit in the exponent");
      while (!atEnd() && isDigit(peek())) ++pos_;
    }
    std::string literal(reinterpret_cast<const char*>(p_ + start), pos_ - start);
    const double value = literalToDouble(literal);
    return JsonValue::makeNumber(std::move(literal), value);
  }

  static int hexValue(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  // Reads the 4 hex digits after "\u" (pos_ is on the first digit).
  uint32_t readHex4() {
    if (n_ - pos_ < 4) fail("truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const int h = hexValue(p_[pos_]);
      if (h < 0) fail("invalid hex digit in \\u escape");
      v = (v << 4) | static_cast<uint32_t>(h);
      ++pos_;
    }
    return v;
  }

  static void appendUtf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  // Length of the well-formed UTF-8 sequence starting at pos_ (lead byte
  // >= 0x80), or 0 if it is ill-formed: overlong forms, UTF-16 surrogates,
  // code points above U+10FFFF, bad or missing continuation bytes.
  size_t utf8SequenceLength() const {
    const unsigned char c = p_[pos_];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the 2nd byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;  // no overlong 3-byte forms
      if (c == 0xED) hi = 0x9F;  // no surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;  // no overlong 4-byte forms
      if (c == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
    } else {
      return 0;
    }
    if (n_ - pos_ < len) return 0;
    if (p_[pos_ + 1] < lo || p_[pos_ + 1] > hi) return 0;
    for (size_t i = 2; i < len; ++i) {
      if ((p_[pos_ + i] & 0xC0) != 0x80) return 0;
    }
    return len;
  }

  std::string parseString() {
    const size_t open = pos_;
    ++pos_;  // opening quote
    std::string out;
    for (;;) {
      // Copy runs of ordinary bytes in one go.
      const size_t runStart = pos_;
      while (pos_ < n_) {
        const unsigned char c = p_[pos_];
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
        ++pos_;
      }
      out.append(reinterpret_cast<const char*>(p_ + runStart), pos_ - runStart);
      if (atEnd()) failAt("unterminated string", open);
      const unsigned char c = peek();
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c < 0x20) fail("unescaped control character " + describeByte(c) + " in string");
      if (c >= 0x80) {
        const size_t len = utf8SequenceLength();
        if (len == 0) fail("invalid UTF-8 in string");
        out.append(reinterpret_cast<const char*>(p_ + pos_), len);
        pos_ += len;
        continue;
      }
      // Backslash escape.
      ++pos_;
      if (atEnd()) failAt("unterminated string", open);
      const unsigned char e = peek();
      ++pos_;
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          const size_t escStart = pos_ - 2;
          uint32_t cp = readHex4();
          if (cp >= 0xDC00 && cp <= 0xDFFF) failAt("lone low surrogate in \\u escape", escStart);
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            // A high surrogate must be followed by an escaped low surrogate.
            if (n_ - pos_ < 2 || p_[pos_] != '\\' || p_[pos_ + 1] != 'u') {
              failAt("high surrogate in \\u escape not followed by a low surrogate", escStart);
            }
            pos_ += 2;
            const uint32_t low = readHex4();
            if (low < 0xDC00 || low > 0xDFFF) {
              failAt("high surrogate in \\u escape not followed by a low surrogate", escStart);
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          appendUtf8(out, cp);
          break;
        }
        default:
          failAt("invalid escape sequence \\" + std::string(1, static_cast<char>(e >= 0x20 && e < 0x7f ? e : '?')),
                 pos_ - 2);
      }
    }
  }
};

}  // namespace

JsonValue parseJson(const char* data, size_t len, const JsonLimits& limits) {
  if (data == nullptr && len != 0) throw JsonError("null input buffer", 0);
  Parser parser(data, len, limits);
  return parser.parseDocument();
}

}  // namespace layerlens
