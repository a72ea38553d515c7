// IsolationForestParams: scikit-learn's parameters of IsolationForest, with its defaults and
// meanings, and their checks.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "isoflow/core/error.hpp"

namespace isoflow {

namespace detail {

[[nodiscard]] inline std::string format_double(double v) {
    char buffer[32];
    auto result = std::to_chars(buffer, buffer + sizeof buffer, v);
    return std::string(buffer, result.ptr);
}

template <class Number>
[[nodiscard]] std::optional<Number> parse_number(std::string_view text) {
    Number value{};
    const char* first = text.data();
    const char* last = text.data() + text.size();
    if (first != last && *first == '+') ++first;
    auto [ptr, ec] = std::from_chars(first, last, value);
    if (ec != std::errc{} || ptr != last || first == last) return std::nullopt;
    return value;
}

}  // namespace detail

// The number of rows drawn to build each tree (psi): "auto" = min(256, n), a count, or a
// fraction of n in (0, 1].
class MaxSamples {
public:
    enum class Kind : std::uint8_t { automatic, count, fraction };

    MaxSamples() = default;
    template <std::integral I>
    MaxSamples(I count) : kind_(Kind::count), count_(static_cast<std::int64_t>(count)) {}  // NOLINT
    template <std::floating_point F>
    MaxSamples(F fraction) : kind_(Kind::fraction), fraction_(static_cast<double>(fraction)) {}  // NOLINT

    [[nodiscard]] static MaxSamples automatic() { return MaxSamples(); }

    // "auto", an integer count, or a fraction written with a decimal point ("0.5", "1.0").
    [[nodiscard]] static MaxSamples parse(std::string_view text) {
        if (text == "auto") return automatic();
        if (auto n = detail::parse_number<std::int64_t>(text)) return MaxSamples(*n);
        if (auto f = detail::parse_number<double>(text)) return MaxSamples(*f);
        detail::throw_error<config_error>("max_samples: expected 'auto', a count or a fraction, got '" +
                                          std::string(text) + "'");
    }

    [[nodiscard]] Kind kind() const noexcept { return kind_; }
    [[nodiscard]] std::int64_t count() const noexcept { return count_; }
    [[nodiscard]] double fraction() const noexcept { return fraction_; }

    // psi for a training set of n rows, as scikit-learn computes it; a count above n is clamped
    // to n (scikit-learn warns).
    [[nodiscard]] std::int64_t resolve(std::int64_t n) const {
        switch (kind_) {
            case Kind::automatic: return std::min<std::int64_t>(256, n);
            case Kind::count: return std::min(count_, n);
            case Kind::fraction: {
                const auto psi = static_cast<std::int64_t>(fraction_ * static_cast<double>(n));
                if (psi < 1)
                    detail::throw_error<model_error>(
                        "max_samples: the fraction " + detail::format_double(fraction_) + " of " +
                        std::to_string(n) + " rows is less than one row");
                return psi;
            }
        }
        return 0;
    }

    [[nodiscard]] std::string to_string() const {
        switch (kind_) {
            case Kind::automatic: return "auto";
            case Kind::count: return std::to_string(count_);
            case Kind::fraction: return detail::format_double(fraction_);
        }
        return "";
    }

    friend bool operator==(const MaxSamples&, const MaxSamples&) = default;

private:
    Kind kind_ = Kind::automatic;
    std::int64_t count_ = 0;
    double fraction_ = 0.0;
};

// The expected share of outliers: "auto" (offset -0.5, as in the paper) or a value in (0, 0.5].
class Contamination {
public:
    Contamination() = default;
    template <std::floating_point F>
    Contamination(F value) : automatic_(false), value_(static_cast<double>(value)) {}  // NOLINT

    [[nodiscard]] static Contamination automatic() { return Contamination(); }
    [[nodiscard]] static Contamination parse(std::string_view text) {
        if (text == "auto") return automatic();
        if (auto f = detail::parse_number<double>(text)) return Contamination(*f);
        detail::throw_error<config_error>("contamination: expected 'auto' or a number in (0, 0.5], got '" +
                                          std::string(text) + "'");
    }

    [[nodiscard]] bool is_auto() const noexcept { return automatic_; }
    [[nodiscard]] double value() const noexcept { return value_; }
    [[nodiscard]] std::string to_string() const {
        return automatic_ ? "auto" : detail::format_double(value_);
    }

    friend bool operator==(const Contamination&, const Contamination&) = default;

private:
    bool automatic_ = true;
    double value_ = 0.0;
};

// The number of features each tree sees: a count, or a fraction of the columns (default 1.0).
class MaxFeatures {
public:
    MaxFeatures() = default;
    template <std::integral I>
    MaxFeatures(I count) : is_count_(true), count_(static_cast<std::int64_t>(count)) {}  // NOLINT
    template <std::floating_point F>
    MaxFeatures(F fraction) : is_count_(false), fraction_(static_cast<double>(fraction)) {}  // NOLINT

    [[nodiscard]] static MaxFeatures parse(std::string_view text) {
        if (auto n = detail::parse_number<std::int64_t>(text)) return MaxFeatures(*n);
        if (auto f = detail::parse_number<double>(text)) return MaxFeatures(*f);
        detail::throw_error<config_error>("max_features: expected a count or a fraction, got '" +
                                          std::string(text) + "'");
    }

    [[nodiscard]] bool is_count() const noexcept { return is_count_; }
    [[nodiscard]] std::int64_t count() const noexcept { return count_; }
    [[nodiscard]] double fraction() const noexcept { return fraction_; }

    // The number of features per tree for d columns, as scikit-learn's bagging computes it.
    [[nodiscard]] std::int64_t resolve(std::int64_t d) const {
        // A fraction that rounds down to no feature gives one, as in scikit-learn.
        const std::int64_t m =
            is_count_ ? count_
                      : std::max<std::int64_t>(
                            1, static_cast<std::int64_t>(fraction_ * static_cast<double>(d)));
        if (m < 1 || m > d)
            detail::throw_error<model_error>("max_features: " + to_string() + " gives " +
                                             std::to_string(m) + " features of " +
                                             std::to_string(d) + "; expected 1 to " +
                                             std::to_string(d));
        return m;
    }

    [[nodiscard]] std::string to_string() const {
        return is_count_ ? std::to_string(count_) : detail::format_double(fraction_);
    }

    friend bool operator==(const MaxFeatures&, const MaxFeatures&) = default;

private:
    bool is_count_ = false;
    std::int64_t count_ = 0;
    double fraction_ = 1.0;
};

struct IsolationForestParams {
    int n_estimators = 100;
    MaxSamples max_samples = MaxSamples::automatic();
    Contamination contamination = Contamination::automatic();
    MaxFeatures max_features = 1.0;
    bool bootstrap = false;
    // Threads for fit and for scoring large batches: a count, or -1 for all cores (-2 for all but
    // one, as in joblib).
    int n_jobs = 1;
    // Seed of the forest; without one, fit draws a seed from std::random_device.
    std::optional<std::uint64_t> random_state;
    bool warm_start = false;

    // Throws model_error naming the first parameter out of range, its value and the allowed range.
    void validate() const {
        if (n_estimators < 1)
            detail::throw_error<model_error>("n_estimators: " + std::to_string(n_estimators) +
                                             " is out of range; expected an integer >= 1");
        switch (max_samples.kind()) {
            case MaxSamples::Kind::automatic: break;
            case MaxSamples::Kind::count:
                if (max_samples.count() < 1)
                    detail::throw_error<model_error>("max_samples: " + max_samples.to_string() +
                                                     " is out of range; expected a count >= 1, a "
                                                     "fraction in (0, 1] or 'auto'");
                break;
            case MaxSamples::Kind::fraction:
                if (!(max_samples.fraction() > 0.0 && max_samples.fraction() <= 1.0))
                    detail::throw_error<model_error>("max_samples: " + max_samples.to_string() +
                                                     " is out of range; expected a fraction in "
                                                     "(0, 1], a count >= 1 or 'auto'");
                break;
        }
        if (!contamination.is_auto() &&
            !(contamination.value() > 0.0 && contamination.value() <= 0.5))
            detail::throw_error<model_error>("contamination: " + contamination.to_string() +
                                             " is out of range; expected 'auto' or a value in (0, 0.5]");
        if (max_features.is_count() && max_features.count() < 1)
            detail::throw_error<model_error>("max_features: " + max_features.to_string() +
                                             " is out of range; expected a count >= 1 or a "
                                             "fraction in (0, 1]");
        if (!max_features.is_count() &&
            !(max_features.fraction() > 0.0 && max_features.fraction() <= 1.0))
            detail::throw_error<model_error>("max_features: " + max_features.to_string() +
                                             " is out of range; expected a fraction in (0, 1] or "
                                             "a count >= 1");
        if (n_jobs == 0 || n_jobs < -1024)
            detail::throw_error<model_error>("n_jobs: " + std::to_string(n_jobs) +
                                             " is out of range; expected a thread count >= 1, or "
                                             "-1 for all cores (-2 all but one, ...)");
    }

    friend bool operator==(const IsolationForestParams&, const IsolationForestParams&) = default;
};

}  // namespace isoflow
