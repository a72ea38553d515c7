// The fast path for the records that dominate real input: one flat JSON object whose keys are
// plain ASCII and whose values are numbers, plain ASCII strings, true, false or null, such as
// {"cust_id": 7, "Time": 0.0, "V1": -1.35, ...}.
//
// Why a hand-written scanner next to simdjson: for such records simdjson's DOM builds a tape
// and we then walk it, which on the card-transaction rows costs twice the time of scanning
// the text once and appending to the columns directly. The scanner accepts a strict subset of
// standard JSON and gives up (returns false) on anything else: escapes, non-ASCII bytes,
// nested values, NaN, single quotes, numbers it cannot convert exactly. Those records go to
// simdjson (and then to the lenient parser) as before, so what is accepted, and every value,
// is the same on both paths; tests/io/test_flat_json.cpp checks that record by record.
#pragma once

#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <system_error>
#include <vector>

#include "isoflow/io/detail/text.hpp"

namespace isoflow::detail {

// A JSON number as the grammar defines it, converted. Returns the end of the number, or
// nullptr when the text is not a JSON number or its value is one the fast path leaves to
// simdjson: an integer of 19 or more digits, "-0", or a value out of the double range.
// `integer` is set for a number without fraction and exponent (then `i` holds it exactly);
// `d` is the correctly rounded double in every case.
[[nodiscard]] ISOFLOW_IO_INLINE const char* scan_json_number(const char* p, const char* end, bool& integer,
                                                  std::int64_t& i, double& d) noexcept {
    static constexpr double powers[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                        1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                        1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const char* q = p;
    const bool negative = q != end && *q == '-';
    q += negative;
    if (q == end || !is_digit(*q)) return nullptr;
    std::uint64_t mantissa = 0;  // wraps beyond 19 digits; then `inexact` below
    const char* const int_begin = q;
    if (*q == '0') {
        ++q;
    } else {
        q = lead_digit_run(q, end, mantissa);
    }
    const char* const int_end = q;
    const char* frac_begin = q;
    const char* frac_end = q;
    bool is_int = true;
    if (q != end && *q == '.') {
        is_int = false;
        frac_begin = ++q;
        q = digit_run(q, end, mantissa);
        frac_end = q;
        if (frac_end == frac_begin) return nullptr;
    }
    int exponent = 0;
    if (q != end && (*q == 'e' || *q == 'E')) {
        is_int = false;
        ++q;
        bool exp_negative = false;
        if (q != end && (*q == '+' || *q == '-')) {
            exp_negative = *q == '-';
            ++q;
        }
        const char* exp_start = q;
        int e = 0;
        while (q != end && is_digit(*q)) {
            if (e < 100000) e = e * 10 + (*q - '0');
            ++q;
        }
        if (q == exp_start) return nullptr;
        exponent = exp_negative ? -e : e;
    }
    const auto int_digits = int_end - int_begin;
    const auto frac_digits = frac_end - frac_begin;
    const bool inexact = int_digits + frac_digits > 19;
    exponent -= static_cast<int>(frac_digits);
    if (is_int) {
        if (int_digits > 18 || (negative && mantissa == 0)) return nullptr;
        i = negative ? -static_cast<std::int64_t>(mantissa) : static_cast<std::int64_t>(mantissa);
        d = static_cast<double>(i);
        integer = true;
        return q;
    }
    integer = false;
    if (!inexact && mantissa == 0) {
        d = negative ? -0.0 : 0.0;
        return q;
    }
    if (!inexact && mantissa <= (std::uint64_t{1} << 53) && exponent >= -22 && exponent <= 22) {
        // Both the mantissa and the power of ten are exact doubles: one rounding (Clinger).
        const double m = static_cast<double>(mantissa);
        const double v = exponent < 0 ? m / powers[-exponent] : m * powers[exponent];
        d = negative ? -v : v;
        return q;
    }
    const auto r = std::from_chars(p, q, d);
    if (r.ec != std::errc{} || r.ptr != q) return nullptr;
    return q;
}

enum class FlatKind : std::uint8_t { null, boolean, number, string };

struct FlatMember {
    std::string_view key;
    std::string_view text;  // the number as written, or the string's body
    FlatKind kind = FlatKind::null;
    bool boolean = false;
    bool integer = false;
    std::int64_t i = 0;
    double d = 0;
};

namespace flat {

ISOFLOW_IO_INLINE const char* skip_ws(const char* p, const char* end) noexcept {
    // Most gaps are empty or one space: test for "above space" (no white space) first.
    while (p != end && static_cast<unsigned char>(*p) <= ' ' && is_space(*p)) ++p;
    return p;
}

// Bytes that may appear in a plain string body: printable ASCII except '"' and '\\'.
inline constexpr auto plain_byte = [] {
    std::array<bool, 256> t{};
    for (int c = 0x20; c < 0x80; ++c) t[static_cast<std::size_t>(c)] = c != '"' && c != '\\';
    return t;
}();

// A string body of plain bytes; returns the closing quote, or nullptr.
ISOFLOW_IO_INLINE const char* scan_plain_string(const char* p, const char* end) noexcept {
    while (p != end && plain_byte[static_cast<unsigned char>(*p)]) ++p;
    return p != end && *p == '"' ? p : nullptr;
}

inline bool literal(const char*& p, const char* end, std::string_view word) noexcept {
    if (static_cast<std::size_t>(end - p) < word.size() || std::string_view(p, word.size()) != word) return false;
    p += word.size();
    return true;
}

}  // namespace flat

// Splits `record` (one JSON object, surrounding white space allowed) into its members. False
// when the record is not of the flat shape described above; `members` is then unspecified.
[[nodiscard]] inline bool scan_flat_object(std::string_view record, std::vector<FlatMember>& members) {
    members.clear();
    const char* p = record.data();
    const char* const end = p + record.size();
    p = flat::skip_ws(p, end);
    if (p == end || *p != '{') return false;
    p = flat::skip_ws(p + 1, end);
    if (p != end && *p == '}') return flat::skip_ws(p + 1, end) == end;
    while (true) {
        if (p == end || *p != '"') return false;
        const char* key_end = flat::scan_plain_string(p + 1, end);
        if (!key_end) return false;
        FlatMember& m = members.emplace_back();
        m.key = std::string_view(p + 1, static_cast<std::size_t>(key_end - p - 1));
        p = flat::skip_ws(key_end + 1, end);
        if (p == end || *p != ':') return false;
        p = flat::skip_ws(p + 1, end);
        if (p == end) return false;
        const char c = *p;
        if (c == '"') {
            const char* close = flat::scan_plain_string(p + 1, end);
            if (!close) return false;
            m.kind = FlatKind::string;
            m.text = std::string_view(p + 1, static_cast<std::size_t>(close - p - 1));
            p = close + 1;
        } else if (c == '-' || is_digit(c)) {
            const char* q = scan_json_number(p, end, m.integer, m.i, m.d);
            if (!q) return false;
            m.kind = FlatKind::number;
            m.text = std::string_view(p, static_cast<std::size_t>(q - p));
            p = q;
        } else if (flat::literal(p, end, "true")) {
            m.kind = FlatKind::boolean;
            m.boolean = true;
        } else if (flat::literal(p, end, "false")) {
            m.kind = FlatKind::boolean;
        } else if (!flat::literal(p, end, "null")) {
            return false;
        }
        p = flat::skip_ws(p, end);
        if (p == end) return false;
        if (*p == ',') {
            p = flat::skip_ws(p + 1, end);
            continue;
        }
        if (*p != '}') return false;
        return flat::skip_ws(p + 1, end) == end;
    }
}

}  // namespace isoflow::detail
