// Scalar conversions with Spark SQL's (non-ANSI) semantics: text to numbers, booleans and
// timestamps, numbers to text, ROUND half up, LIKE patterns.
#pragma once

#include "isoflow/core/detail/text.hpp"
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "isoflow/core/batch.hpp"

namespace isoflow::detail {

[[nodiscard]] inline std::string_view trim_spaces(std::string_view s) noexcept {
    while (!s.empty() && static_cast<unsigned char>(s.front()) <= ' ') s.remove_prefix(1);
    while (!s.empty() && static_cast<unsigned char>(s.back()) <= ' ') s.remove_suffix(1);
    return s;
}

// CAST(string AS DOUBLE): surrounding blanks allowed; NaN and Infinity spelled as Java does.
[[nodiscard]] inline std::optional<double> parse_double(std::string_view s) {
    s = trim_spaces(s);
    if (s.empty()) return std::nullopt;
    if (s.back() == 'd' || s.back() == 'D' || s.back() == 'f' || s.back() == 'F') s.remove_suffix(1);
    if (iequals(s, "nan")) return std::numeric_limits<double>::quiet_NaN();
    for (std::string_view inf : {"infinity", "+infinity", "inf", "+inf"})
        if (iequals(s, inf)) return std::numeric_limits<double>::infinity();
    for (std::string_view inf : {"-infinity", "-inf"})
        if (iequals(s, inf)) return -std::numeric_limits<double>::infinity();
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    double v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (p != s.data() + s.size()) return std::nullopt;
    if (ec == std::errc::result_out_of_range) {
        // from_chars reports overflow and underflow alike; tell them apart by the exponent sign.
        const bool tiny = s.find("e-") != std::string_view::npos || s.find("E-") != std::string_view::npos;
        const bool neg = s.front() == '-';
        return tiny ? (neg ? -0.0 : 0.0)
                    : (neg ? -std::numeric_limits<double>::infinity()
                           : std::numeric_limits<double>::infinity());
    }
    if (ec != std::errc()) return std::nullopt;
    return v;
}

// double -> bigint as Java's (long) cast does: truncation, NaN to 0, saturation at the ends.
[[nodiscard]] inline std::int64_t double_to_int64(double v) noexcept {
    if (std::isnan(v)) return 0;
    if (v >= 9223372036854775807.0) return std::numeric_limits<std::int64_t>::max();
    if (v <= -9223372036854775808.0) return std::numeric_limits<std::int64_t>::min();
    return static_cast<std::int64_t>(v);
}

// CAST(string AS BIGINT): an integer, or a decimal number truncated toward zero; else NULL.
[[nodiscard]] inline std::optional<std::int64_t> parse_int64(std::string_view s) {
    s = trim_spaces(s);
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && p == s.data() + s.size() && !s.empty()) return v;
    // "12.7" -> 12 as in Spark; exponents and overflow are NULL.
    const std::size_t dot = s.find('.');
    if (dot == std::string_view::npos || ec == std::errc::result_out_of_range) return std::nullopt;
    for (std::size_t i = dot + 1; i < s.size(); ++i)
        if (s[i] < '0' || s[i] > '9') return std::nullopt;
    const std::string_view whole = s.substr(0, dot);
    if (whole.empty() || whole == "-") return dot + 1 < s.size() ? std::optional<std::int64_t>(0) : std::nullopt;
    auto [p2, ec2] = std::from_chars(whole.data(), whole.data() + whole.size(), v);
    if (ec2 != std::errc() || p2 != whole.data() + whole.size()) return std::nullopt;
    return v;
}

[[nodiscard]] inline std::optional<bool> parse_bool(std::string_view s) {
    s = trim_spaces(s);
    for (std::string_view t : {"t", "true", "y", "yes", "1"})
        if (iequals(s, t)) return true;
    for (std::string_view f : {"f", "false", "n", "no", "0"})
        if (iequals(s, f)) return false;
    return std::nullopt;
}

struct CivilDate {
    std::int64_t year;
    unsigned month;
    unsigned day;
};
[[nodiscard]] constexpr CivilDate civil_from_days(std::int64_t z) noexcept {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    return {y + (m <= 2), m, d};
}

// 'yyyy-mm-dd', 'yyyy-mm-dd hh:mm[:ss[.ffffff]]' with ' ' or 'T', then optional 'Z' or
// '+hh:mm' / '-hh:mm'. Without an offset the time is UTC (isoflow's session time zone).
// Returns microseconds since the epoch.
[[nodiscard]] inline std::optional<std::int64_t> parse_sql_timestamp(std::string_view s) {
    s = trim_spaces(s);
    std::size_t i = 0;
    auto digits = [&](std::size_t min_n, std::size_t max_n) -> std::optional<std::int64_t> {
        std::size_t n = 0;
        std::int64_t v = 0;
        while (i < s.size() && n < max_n && s[i] >= '0' && s[i] <= '9') {
            v = v * 10 + (s[i] - '0');
            ++i;
            ++n;
        }
        if (n < min_n) return std::nullopt;
        return v;
    };
    auto take = [&](char c) {
        if (i < s.size() && s[i] == c) {
            ++i;
            return true;
        }
        return false;
    };
    const auto year = digits(4, 4);
    if (!year || !take('-')) return std::nullopt;
    const auto month = digits(1, 2);
    if (!month || !take('-')) return std::nullopt;
    const auto day = digits(1, 2);
    if (!day || *month < 1 || *month > 12 || *day < 1) return std::nullopt;
    static constexpr std::array<int, 12> month_days = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (*year % 4 == 0 && *year % 100 != 0) || *year % 400 == 0;
    if (*day > month_days[static_cast<std::size_t>(*month - 1)] || (*month == 2 && !leap && *day > 28))
        return std::nullopt;
    std::int64_t micros = days_from_civil(*year, static_cast<unsigned>(*month),
                                          static_cast<unsigned>(*day)) * 86'400'000'000;
    if (i == s.size()) return micros;
    if (!take(' ') && !take('T')) return std::nullopt;
    const auto hh = digits(1, 2);
    if (!hh || !take(':')) return std::nullopt;
    const auto mm = digits(1, 2);
    if (!mm || *hh > 23 || *mm > 59) return std::nullopt;
    std::int64_t ss = 0;
    std::int64_t fraction = 0;
    if (take(':')) {
        const auto sec = digits(1, 2);
        if (!sec || *sec > 59) return std::nullopt;
        ss = *sec;
        if (take('.')) {
            std::size_t n = 0;
            while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
                if (n < 6) fraction = fraction * 10 + (s[i] - '0');
                ++i;
                ++n;
            }
            if (n == 0) return std::nullopt;
            for (; n < 6; ++n) fraction *= 10;
        }
    }
    micros += ((*hh * 60 + *mm) * 60 + ss) * 1'000'000 + fraction;
    if (i == s.size()) return micros;
    if (take('Z') || take('z')) return i == s.size() ? std::optional(micros) : std::nullopt;
    const bool plus = take('+');
    if (!plus && !take('-')) return std::nullopt;
    const auto oh = digits(2, 2);
    if (!oh) return std::nullopt;
    take(':');
    const auto om = digits(2, 2);
    if (!om || i != s.size() || *oh > 18 || *om > 59) return std::nullopt;
    const std::int64_t offset = (*oh * 60 + *om) * 60'000'000;
    return plus ? micros - offset : micros + offset;
}

// 'yyyy-mm-dd hh:mm:ss[.ffffff]' in UTC, trailing zeros of the fraction dropped (Spark's form).
inline void append_timestamp(std::string& out, std::int64_t micros) {
    std::int64_t days = micros / 86'400'000'000;
    std::int64_t rest = micros % 86'400'000'000;
    if (rest < 0) {
        rest += 86'400'000'000;
        --days;
    }
    const CivilDate d = civil_from_days(days);
    const std::int64_t secs = rest / 1'000'000;
    std::int64_t frac = rest % 1'000'000;
    char buf[64];
    int n = std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u %02lld:%02lld:%02lld",
                          static_cast<long long>(d.year), d.month, d.day,
                          static_cast<long long>(secs / 3600), static_cast<long long>(secs / 60 % 60),
                          static_cast<long long>(secs % 60));
    out.append(buf, static_cast<std::size_t>(n));
    if (frac != 0) {
        int width = 6;
        while (frac % 10 == 0) {
            frac /= 10;
            --width;
        }
        n = std::snprintf(buf, sizeof buf, ".%0*lld", width, static_cast<long long>(frac));
        out.append(buf, static_cast<std::size_t>(n));
    }
}

// CAST(double AS STRING) as Java prints doubles: shortest round trip, "1.0" for integral
// values, scientific form ("1.0E10") outside [1e-3, 1e7).
inline void append_double(std::string& out, double v) {
    if (std::isnan(v)) {
        out += "NaN";
        return;
    }
    if (std::isinf(v)) {
        out += v > 0 ? "Infinity" : "-Infinity";
        return;
    }
    char buf[64];
    const double mag = std::fabs(v);
    if (v == 0 || (mag >= 1e-3 && mag < 1e7)) {
        auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
        std::string_view s(buf, static_cast<std::size_t>(p - buf));
        out += s;
        if (s.find('.') == std::string_view::npos) out += ".0";
        return;
    }
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
    std::string_view s(buf, static_cast<std::size_t>(p - buf));
    const std::size_t e = s.find('e');
    std::string_view mantissa = s.substr(0, e);
    std::string_view exponent = s.substr(e + 1);
    out += mantissa;
    if (mantissa.find('.') == std::string_view::npos) out += ".0";
    out += 'E';
    if (exponent.front() == '+') exponent.remove_prefix(1);
    const bool neg = exponent.front() == '-';
    if (neg) {
        out += '-';
        exponent.remove_prefix(1);
    }
    while (exponent.size() > 1 && exponent.front() == '0') exponent.remove_prefix(1);
    out += exponent;
}

// ROUND(x, d) for doubles, HALF_UP on the shortest decimal form of x, as Spark does through
// BigDecimal: round(2.675, 2) is 2.68 although the double 2.675 is slightly below it.
[[nodiscard]] inline double round_half_up(double x, std::int64_t scale) {
    if (!std::isfinite(x)) return x;
    if (scale > 300) return x;
    if (scale < -300) return 0.0;
    char buf[64];
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);
    std::string_view s(buf, static_cast<std::size_t>(p - buf));
    const bool negative = s.front() == '-';
    if (negative) s.remove_prefix(1);
    const std::size_t e = s.find('e');
    int exp10 = 0;
    std::from_chars(s.data() + e + 1 + (s[e + 1] == '+'), s.data() + s.size(), exp10);
    std::string digits;
    for (char c : s.substr(0, e))
        if (c != '.') digits += c;
    // digits d0 d1 d2 ... mean d0.d1d2... * 10^exp10; keep those with weight >= 10^-scale.
    const std::int64_t keep = static_cast<std::int64_t>(exp10) + 1 + scale;
    if (keep < 0) return negative ? -0.0 : 0.0;
    if (keep >= static_cast<std::int64_t>(digits.size())) return x;
    const bool up = digits[static_cast<std::size_t>(keep)] >= '5';
    digits.resize(static_cast<std::size_t>(keep));
    int new_exp = exp10;
    if (up) {
        std::int64_t i = keep - 1;
        while (i >= 0 && digits[static_cast<std::size_t>(i)] == '9') digits[static_cast<std::size_t>(i--)] = '0';
        if (i >= 0) {
            ++digits[static_cast<std::size_t>(i)];
        } else {
            digits.insert(digits.begin(), '1');
            ++new_exp;
        }
    }
    if (digits.empty()) return negative ? -0.0 : 0.0;
    std::string text = (negative ? "-" : "") + digits + "e" +
                       std::to_string(new_exp - static_cast<int>(digits.size()) + 1);
    double out = 0;
    std::from_chars(text.data(), text.data() + text.size(), out);
    return out;
}

// ROUND(x, d) for bigints: d >= 0 changes nothing; d < 0 rounds half up to 10^-d.
[[nodiscard]] inline std::int64_t round_int_half_up(std::int64_t x, std::int64_t scale) noexcept {
    if (scale >= 0) return x;
    if (scale < -18) return 0;
    std::int64_t p = 1;
    for (std::int64_t i = 0; i < -scale; ++i) p *= 10;
    const std::int64_t q = x / p;
    const std::int64_t r = x % p;
    const std::int64_t half = p / 2;
    if (r >= half) return (q + 1) * p;
    if (r <= -half) return (q - 1) * p;
    return q * p;
}

// Number of characters (UTF-8 code points), as Spark's length().
[[nodiscard]] inline std::int64_t utf8_length(std::string_view s) noexcept {
    std::int64_t n = 0;
    for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    return n;
}

// A LIKE pattern compiled once: '%' any run, '_' one character (one UTF-8 code point),
// '\' escapes the next character. Common shapes (exact, prefix%, %suffix, %infix%) skip the
// general matcher.
class LikePattern {
public:
    explicit LikePattern(std::string_view pattern) {
        bool escaped = false;
        for (char c : pattern) {
            if (escaped) {
                items_.push_back({Item::literal, c});
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (c == '%') {
                if (items_.empty() || items_.back().kind != Item::any_run) items_.push_back({Item::any_run, 0});
            } else if (c == '_') {
                items_.push_back({Item::one, 0});
            } else {
                items_.push_back({Item::literal, c});
            }
        }
        if (escaped) items_.push_back({Item::literal, '\\'});
        // Classify: literal runs separated only by leading/trailing '%'.
        std::size_t first = 0, last = items_.size();
        const bool lead = !items_.empty() && items_.front().kind == Item::any_run;
        const bool trail = items_.size() > (lead ? 1u : 0u) && items_.back().kind == Item::any_run;
        if (lead) ++first;
        if (trail) --last;
        bool simple = true;
        for (std::size_t i = first; i < last; ++i) {
            if (items_[i].kind != Item::literal) simple = false;
            else literal_ += items_[i].c;
        }
        if (simple) shape_ = lead ? (trail ? Shape::infix : Shape::suffix) : (trail ? Shape::prefix : Shape::exact);
        if (items_.size() == 1 && lead) shape_ = Shape::everything;
    }

    [[nodiscard]] bool matches(std::string_view s) const {
        switch (shape_) {
            case Shape::everything: return true;
            case Shape::exact: return s == literal_;
            case Shape::prefix: return s.substr(0, literal_.size()) == literal_;
            case Shape::suffix:
                return s.size() >= literal_.size() && s.substr(s.size() - literal_.size()) == literal_;
            case Shape::infix: return s.find(literal_) != std::string_view::npos;
            case Shape::general: break;
        }
        // Greedy matcher with one backtrack point per '%': linear for typical patterns.
        std::size_t p = 0, i = 0;
        std::size_t star_p = std::string_view::npos, star_i = 0;
        while (i < s.size()) {
            if (p < items_.size() && items_[p].kind == Item::any_run) {
                star_p = p++;
                star_i = i;
            } else if (p < items_.size() && items_[p].kind == Item::one) {
                i += char_len(s, i);
                ++p;
            } else if (p < items_.size() && items_[p].c == s[i]) {
                ++i;
                ++p;
            } else if (star_p != std::string_view::npos) {
                p = star_p + 1;
                star_i += char_len(s, star_i);
                i = star_i;
            } else {
                return false;
            }
        }
        while (p < items_.size() && items_[p].kind == Item::any_run) ++p;
        return p == items_.size();
    }

private:
    static std::size_t char_len(std::string_view s, std::size_t i) noexcept {
        std::size_t n = 1;
        while (i + n < s.size() && (static_cast<unsigned char>(s[i + n]) & 0xC0) == 0x80) ++n;
        return n;
    }
    struct Item {
        enum Kind : std::uint8_t { literal, one, any_run } kind;
        char c;
    };
    enum class Shape : std::uint8_t { general, exact, prefix, suffix, infix, everything };
    std::vector<Item> items_;
    std::string literal_;
    Shape shape_ = Shape::general;
};

}  // namespace isoflow::detail
