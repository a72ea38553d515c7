// Small builders for the quality tests: columns from initializer lists with std::nullopt as NULL,
// and evaluation of an expression into a vector of optionals.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "isoflow/quality.hpp"

namespace qt {

using isoflow::Batch;
using isoflow::Column;
using isoflow::DataType;

inline Column doubles(std::initializer_list<std::optional<double>> v) {
    Column c(DataType::float64);
    for (const auto& x : v) x ? c.append_double(*x) : c.append_null();
    return c;
}
inline Column ints(std::initializer_list<std::optional<std::int64_t>> v) {
    Column c(DataType::int64);
    for (const auto& x : v) x ? c.append_int64(*x) : c.append_null();
    return c;
}
inline Column timestamps(std::initializer_list<std::optional<std::int64_t>> v) {
    Column c(DataType::timestamp);
    for (const auto& x : v) x ? c.append_timestamp(*x) : c.append_null();
    return c;
}
inline Column strings(std::initializer_list<std::optional<std::string>> v) {
    Column c(DataType::string);
    for (const auto& x : v) x ? c.append_string(*x) : c.append_null();
    return c;
}
inline Column bools(std::initializer_list<std::optional<bool>> v) {
    Column c(DataType::boolean);
    for (const auto& x : v) x ? c.append_bool(*x) : c.append_null();
    return c;
}

template <class T>
std::vector<std::optional<T>> values(const Column& c) {
    std::vector<std::optional<T>> out;
    for (std::size_t i = 0; i < c.size(); ++i) {
        if (c.is_null(i)) {
            out.emplace_back();
            continue;
        }
        if constexpr (std::is_same_v<T, double>) out.emplace_back(c.double_values()[i]);
        else if constexpr (std::is_same_v<T, std::int64_t>) out.emplace_back(c.int64_values()[i]);
        else if constexpr (std::is_same_v<T, bool>) out.emplace_back(c.bool_values()[i] != 0);
        else out.emplace_back(std::string(c.string_at(i)));
    }
    return out;
}

template <class T>
std::vector<std::optional<T>> eval(const std::string& text, const Batch& batch) {
    return values<T>(isoflow::Expression::compile(text, batch.schema()).evaluate(batch));
}

// A one-row batch with no columns of interest, for constant expressions.
inline Batch one_row() {
    Batch b;
    b.add_column("x", ints({1}));
    return b;
}
template <class T>
std::optional<T> scalar(const std::string& text) {
    return eval<T>(text, one_row()).at(0);
}

// The message of the exception `f` throws, or "" when it throws nothing.
template <class E, class F>
std::string message_of(F&& f) {
    try {
        f();
    } catch (const E& e) {
        return e.what();
    }
    return "";
}

}  // namespace qt
