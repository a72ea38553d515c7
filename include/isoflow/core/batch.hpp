// Columnar data: DataType, Field, Schema, Column and Batch.
//
// A Batch is a set of named columns of equal length. Every column has a validity bitmap
// (bit set = value present; clear = null). Numeric and timestamp columns are contiguous
// arrays, so the scorer and the expression evaluator read them without copies. Strings are
// stored Arrow-style: one character buffer and an offsets array.
//
// Column lookup by name is case-insensitive, as in Spark SQL: an exact-case match wins; two
// columns that differ only by case make an unqualified lookup an error that names both.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "isoflow/core/error.hpp"

namespace isoflow {

enum class DataType : std::uint8_t {
    int64,      // BIGINT
    float64,    // DOUBLE
    boolean,    // BOOLEAN
    string,     // STRING (UTF-8)
    timestamp,  // TIMESTAMP: microseconds since 1970-01-01T00:00:00Z, UTC
};

// The Spark SQL name of a type, lower case ("bigint", "double", "boolean", "string", "timestamp").
[[nodiscard]] constexpr std::string_view to_string(DataType type) noexcept {
    switch (type) {
        case DataType::int64: return "bigint";
        case DataType::float64: return "double";
        case DataType::boolean: return "boolean";
        case DataType::string: return "string";
        case DataType::timestamp: return "timestamp";
    }
    return "unknown";
}

namespace detail {

[[nodiscard]] constexpr char ascii_lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

[[nodiscard]] constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

[[nodiscard]] inline std::string to_lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = ascii_lower(c);
    return out;
}

// Edit distance, for "did you mean" suggestions in error messages.
[[nodiscard]] inline std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            const std::size_t cost = ascii_lower(a[i - 1]) == ascii_lower(b[j - 1]) ? 0 : 1;
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + cost});
            diagonal = above;
        }
    }
    return row[b.size()];
}

}  // namespace detail

// Parses a Spark SQL type name, case-insensitively: BIGINT/LONG/INT/INTEGER/SMALLINT/TINYINT,
// DOUBLE/FLOAT/REAL, BOOLEAN/BOOL, STRING/VARCHAR, TIMESTAMP. Returns nullopt for anything else.
[[nodiscard]] inline std::optional<DataType> parse_data_type(std::string_view name) {
    using detail::iequals;
    for (std::string_view n : {"bigint", "long", "int", "integer", "smallint", "tinyint"})
        if (iequals(name, n)) return DataType::int64;
    for (std::string_view n : {"double", "float", "real"})
        if (iequals(name, n)) return DataType::float64;
    for (std::string_view n : {"boolean", "bool"})
        if (iequals(name, n)) return DataType::boolean;
    for (std::string_view n : {"string", "varchar", "text"})
        if (iequals(name, n)) return DataType::string;
    if (iequals(name, "timestamp")) return DataType::timestamp;
    return std::nullopt;
}

struct Field {
    std::string name;
    DataType type = DataType::string;
    bool nullable = true;

    friend bool operator==(const Field&, const Field&) = default;
};

class Schema {
public:
    Schema() = default;
    explicit Schema(std::vector<Field> fields) {
        for (auto& f : fields) add(std::move(f));
    }

    // Adds a field; a name that equals an existing one exactly is a schema_error.
    void add(Field field) {
        for (const auto& f : fields_)
            if (f.name == field.name)
                detail::throw_error<schema_error>("duplicate column name '" + field.name + "'");
        fields_.push_back(std::move(field));
    }

    [[nodiscard]] std::size_t size() const noexcept { return fields_.size(); }
    [[nodiscard]] bool empty() const noexcept { return fields_.empty(); }
    [[nodiscard]] const Field& field(std::size_t i) const { return fields_.at(i); }
    [[nodiscard]] Field& field(std::size_t i) { return fields_.at(i); }
    [[nodiscard]] const std::vector<Field>& fields() const noexcept { return fields_; }

    // Case-insensitive lookup: an exact-case match wins; otherwise exactly one field must match
    // ignoring case. Two case-insensitive matches without an exact one throw schema_error naming both.
    // Returns nullopt when no field matches.
    [[nodiscard]] std::optional<std::size_t> find(std::string_view name) const {
        std::optional<std::size_t> found;
        for (std::size_t i = 0; i < fields_.size(); ++i) {
            if (fields_[i].name == name) return i;
        }
        for (std::size_t i = 0; i < fields_.size(); ++i) {
            if (!detail::iequals(fields_[i].name, name)) continue;
            if (found)
                detail::throw_error<schema_error>(
                    "column reference '" + std::string(name) + "' is ambiguous: it matches both '" +
                    fields_[*found].name + "' and '" + fields_[i].name + "'");
            found = i;
        }
        return found;
    }

    // Like find(), but a missing column is a schema_error that lists the closest names.
    [[nodiscard]] std::size_t index_of(std::string_view name) const {
        if (auto i = find(name)) return *i;
        detail::throw_error<schema_error>("unknown column '" + std::string(name) + "'" +
                                          suggestions(name));
    }

    [[nodiscard]] bool contains(std::string_view name) const { return find(name).has_value(); }

    // " (did you mean 'A' or 'B'?)" for the names closest to `name`, or " (columns: ...)" when none
    // is close; empty for an empty schema.
    [[nodiscard]] std::string suggestions(std::string_view name) const {
        if (fields_.empty()) return " (the schema has no columns)";
        std::vector<std::pair<std::size_t, std::string_view>> scored;
        for (const auto& f : fields_) scored.emplace_back(detail::edit_distance(name, f.name), f.name);
        std::stable_sort(scored.begin(), scored.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
        const std::size_t limit = std::max<std::size_t>(2, name.size() / 2);
        std::string out;
        std::size_t shown = 0;
        for (const auto& [distance, candidate] : scored) {
            if (distance > limit || shown == 3) break;
            out += shown == 0 ? " (did you mean '" : " or '";
            out += candidate;
            out += "'";
            ++shown;
        }
        if (shown > 0) return out + "?)";
        out = " (columns: ";
        for (std::size_t i = 0; i < fields_.size(); ++i) {
            if (i) out += ", ";
            out += fields_[i].name;
        }
        return out + ")";
    }

    // "Name TYPE, Other TYPE"
    [[nodiscard]] std::string to_string() const {
        std::string out;
        for (std::size_t i = 0; i < fields_.size(); ++i) {
            if (i) out += ", ";
            out += fields_[i].name;
            out += ' ';
            for (char c : isoflow::to_string(fields_[i].type)) out += static_cast<char>(c - 'a' + 'A');
        }
        return out;
    }

    friend bool operator==(const Schema&, const Schema&) = default;

private:
    std::vector<Field> fields_;
};

// One nullable column. Storage depends on the type:
//   int64, timestamp -> int64 values;  float64 -> double values;  boolean -> one byte per value (0/1);
//   string -> offsets (size()+1 entries) into one character buffer.
// A null slot holds a zero / empty value, so vectorised code may read it freely.
#if defined(__GNUC__) || defined(__clang__)
#define ISOFLOW_COLUMN_APPEND_INLINE [[gnu::always_inline]] inline
#else
#define ISOFLOW_COLUMN_APPEND_INLINE inline
#endif

class Column {
public:
    Column() = default;
    explicit Column(DataType type) : type_(type) {
        if (type_ == DataType::string) offsets_.push_back(0);
    }

    [[nodiscard]] DataType type() const noexcept { return type_; }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

    void reserve(std::size_t n) {
        validity_.reserve((n + 63) / 64);
        switch (type_) {
            case DataType::int64:
            case DataType::timestamp: ints_.reserve(n); break;
            case DataType::float64: doubles_.reserve(n); break;
            case DataType::boolean: bools_.reserve(n); break;
            case DataType::string: offsets_.reserve(n + 1); break;
        }
    }

    // --- appending -------------------------------------------------------------------------
    void append_null() {
        push_validity(false);
        switch (type_) {
            case DataType::int64:
            case DataType::timestamp: ints_.push_back(0); break;
            case DataType::float64: doubles_.push_back(0.0); break;
            case DataType::boolean: bools_.push_back(0); break;
            case DataType::string: offsets_.push_back(offsets_.back()); break;
        }
    }
    // The readers append tens of millions of values a second: the numeric appends are forced
    // inline (the compiler otherwise keeps them as calls), their rare paths stay out of line.
    ISOFLOW_COLUMN_APPEND_INLINE void append_int64(std::int64_t v) {
        expect_type(DataType::int64, DataType::timestamp);
        push_validity(true);
        ints_.push_back(v);
    }
    void append_timestamp(std::int64_t micros) { append_int64(micros); }
    ISOFLOW_COLUMN_APPEND_INLINE void append_double(double v) {
        expect_type(DataType::float64, DataType::float64);
        push_validity(true);
        doubles_.push_back(v);
    }
    void append_bool(bool v) {
        expect_type(DataType::boolean, DataType::boolean);
        push_validity(true);
        bools_.push_back(v ? 1 : 0);
    }
    void append_string(std::string_view v) {
        expect_type(DataType::string, DataType::string);
        push_validity(true);
        chars_.append(v);
        offsets_.push_back(chars_.size());
    }
    // Appends row `row` of `other` (same type), null or not.
    void append_from(const Column& other, std::size_t row) {
        if (other.type_ != type_) expect_type(other.type_, other.type_);
        if (!other.is_valid(row)) return append_null();
        switch (type_) {
            case DataType::int64:
            case DataType::timestamp: return append_int64(other.ints_[row]);
            case DataType::float64: return append_double(other.doubles_[row]);
            case DataType::boolean: return append_bool(other.bools_[row] != 0);
            case DataType::string: return append_string(other.string_at(row));
        }
    }

    // The rows whose flag is set, in order: values and validity copied type by type, without
    // a per-row type dispatch.
    [[nodiscard]] Column filter(std::span<const std::uint8_t> keep) const {
        if (keep.size() != size_)
            detail::throw_error<schema_error>("filter mask has " + std::to_string(keep.size()) +
                                              " entries for a column of " + std::to_string(size_) + " values");
        Column out(type_);
        const std::size_t n = size_;
        std::size_t kept = 0;
        for (std::size_t r = 0; r < n; ++r) kept += keep[r] != 0;
        out.validity_.assign((kept + 63) / 64, 0);
        // Whole runs of kept rows at once: filters usually drop few rows.
        auto for_each_run = [&](auto&& take) {
            const std::uint8_t* k = keep.data();
            for (std::size_t r = 0; r < n;) {
                if (!k[r]) {
                    ++r;
                    continue;
                }
                const std::size_t e = static_cast<std::size_t>(std::find(k + r, k + n, std::uint8_t{0}) - k);
                take(r, e);
                r = e;
            }
        };
        auto gather = [&](const auto& from, auto& to) {
            to.reserve(kept);
            for_each_run([&](std::size_t b, std::size_t e) {
                to.insert(to.end(), from.begin() + static_cast<std::ptrdiff_t>(b), from.begin() + static_cast<std::ptrdiff_t>(e));
            });
        };
        switch (type_) {
            case DataType::int64:
            case DataType::timestamp: gather(ints_, out.ints_); break;
            case DataType::float64: gather(doubles_, out.doubles_); break;
            case DataType::boolean: gather(bools_, out.bools_); break;
            case DataType::string:
                out.offsets_.reserve(kept + 1);
                for_each_run([&](std::size_t b, std::size_t e) {
                    const std::size_t base = out.chars_.size() - offsets_[b];
                    out.chars_.append(chars_, offsets_[b], offsets_[e] - offsets_[b]);
                    for (std::size_t r = b + 1; r <= e; ++r) out.offsets_.push_back(offsets_[r] + base);
                });
                break;
        }
        if (null_count_ == 0) {
            for (std::size_t w = 0; w < kept / 64; ++w) out.validity_[w] = ~std::uint64_t{0};
            if (kept % 64) out.validity_[kept / 64] = (std::uint64_t{1} << (kept % 64)) - 1;
        } else {
            std::size_t i = 0;
            for (std::size_t r = 0; r < n; ++r) {
                if (!keep[r]) continue;
                if (is_valid(r))
                    out.validity_[i >> 6] |= std::uint64_t{1} << (i & 63);
                else
                    ++out.null_count_;
                ++i;
            }
        }
        out.size_ = kept;
        return out;
    }

    // --- reading ---------------------------------------------------------------------------
    [[nodiscard]] bool is_valid(std::size_t i) const noexcept {
        return (validity_[i >> 6] >> (i & 63)) & 1u;
    }
    [[nodiscard]] bool is_null(std::size_t i) const noexcept { return !is_valid(i); }
    [[nodiscard]] std::size_t null_count() const noexcept { return null_count_; }

    // The validity bitmap: bit i of word i/64 is row i. Bits past size() are zero.
    [[nodiscard]] std::span<const std::uint64_t> validity_words() const noexcept { return validity_; }

    [[nodiscard]] std::span<const std::int64_t> int64_values() const {
        expect_type(DataType::int64, DataType::timestamp);
        return ints_;
    }
    [[nodiscard]] std::span<const double> double_values() const {
        expect_type(DataType::float64, DataType::float64);
        return doubles_;
    }
    [[nodiscard]] std::span<const std::uint8_t> bool_values() const {
        expect_type(DataType::boolean, DataType::boolean);
        return bools_;
    }
    [[nodiscard]] std::string_view string_at(std::size_t i) const {
        expect_type(DataType::string, DataType::string);
        return std::string_view(chars_).substr(offsets_[i], offsets_[i + 1] - offsets_[i]);
    }
    [[nodiscard]] std::span<const std::size_t> string_offsets() const noexcept { return offsets_; }
    [[nodiscard]] std::string_view string_data() const noexcept { return chars_; }

    // Mutable access to numeric values, for code that builds a column in place.
    [[nodiscard]] std::span<std::int64_t> mutable_int64_values() { return ints_; }
    [[nodiscard]] std::span<double> mutable_double_values() { return doubles_; }
    [[nodiscard]] std::span<std::uint8_t> mutable_bool_values() { return bools_; }

    // Sets a slot to null (its value becomes zero/empty only for numeric types).
    void set_null(std::size_t i) {
        if (is_valid(i)) {
            validity_[i >> 6] &= ~(std::uint64_t{1} << (i & 63));
            ++null_count_;
        }
    }

    // Drops every row from `n` on (no-op when n >= size()). Readers build columns in place and
    // use this to undo a record that turned out to be malformed half-way through.
    void truncate(std::size_t n) {
        if (n >= size_) return;
        for (std::size_t i = n; i < size_; ++i)
            if (!is_valid(i)) --null_count_;
        validity_.resize((n + 63) / 64);
        if ((n & 63) != 0) validity_.back() &= (std::uint64_t{1} << (n & 63)) - 1;
        switch (type_) {
            case DataType::int64:
            case DataType::timestamp: ints_.resize(n); break;
            case DataType::float64: doubles_.resize(n); break;
            case DataType::boolean: bools_.resize(n); break;
            case DataType::string:
                chars_.resize(offsets_[n]);
                offsets_.resize(n + 1);
                break;
        }
        size_ = n;
    }

    // Builds a typed column from values and an optional validity (empty = all valid).
    [[nodiscard]] static Column from_doubles(std::span<const double> values,
                                             std::span<const bool> valid = {}) {
        Column c(DataType::float64);
        c.reserve(values.size());
        for (std::size_t i = 0; i < values.size(); ++i)
            (valid.empty() || valid[i]) ? c.append_double(values[i]) : c.append_null();
        return c;
    }
    [[nodiscard]] static Column from_int64s(std::span<const std::int64_t> values,
                                            std::span<const bool> valid = {}) {
        Column c(DataType::int64);
        c.reserve(values.size());
        for (std::size_t i = 0; i < values.size(); ++i)
            (valid.empty() || valid[i]) ? c.append_int64(values[i]) : c.append_null();
        return c;
    }

    // Adopts buffers that a vectorised producer (the expression evaluator) built in bulk, instead
    // of appending row by row. `validity` holds at least (size+63)/64 words, bit set = valid.
    // Null slots are zeroed and bits past the end cleared here, so the class invariants hold.
    [[nodiscard]] static Column adopt_int64(DataType type, std::vector<std::int64_t> values,
                                            std::vector<std::uint64_t> validity) {
        Column c(type);
        c.expect_type(DataType::int64, DataType::timestamp);
        c.adopt_validity(values.size(), std::move(validity));
        c.ints_ = std::move(values);
        c.for_each_null([&](std::size_t i) { c.ints_[i] = 0; });
        return c;
    }
    [[nodiscard]] static Column adopt_doubles(std::vector<double> values,
                                              std::vector<std::uint64_t> validity) {
        Column c(DataType::float64);
        c.adopt_validity(values.size(), std::move(validity));
        c.doubles_ = std::move(values);
        c.for_each_null([&](std::size_t i) { c.doubles_[i] = 0.0; });
        return c;
    }
    [[nodiscard]] static Column adopt_bools(std::vector<std::uint8_t> values,
                                            std::vector<std::uint64_t> validity) {
        Column c(DataType::boolean);
        c.adopt_validity(values.size(), std::move(validity));
        c.bools_ = std::move(values);
        for (auto& b : c.bools_) b = b ? 1 : 0;
        c.for_each_null([&](std::size_t i) { c.bools_[i] = 0; });
        return c;
    }
    // `offsets` has size+1 entries into `chars`; a null slot must be empty.
    [[nodiscard]] static Column adopt_strings(std::vector<std::size_t> offsets, std::string chars,
                                              std::vector<std::uint64_t> validity) {
        Column c(DataType::string);
        if (offsets.empty() || offsets.back() != chars.size())
            detail::throw_error<schema_error>("string column offsets do not match its characters");
        c.adopt_validity(offsets.size() - 1, std::move(validity));
        c.for_each_null([&](std::size_t i) {
            if (offsets[i] != offsets[i + 1])
                detail::throw_error<schema_error>("a null string slot must be empty");
        });
        c.offsets_ = std::move(offsets);
        c.chars_ = std::move(chars);
        return c;
    }

private:
    void adopt_validity(std::size_t size, std::vector<std::uint64_t> validity) {
        const std::size_t words = (size + 63) / 64;
        if (validity.size() < words)
            detail::throw_error<schema_error>("validity bitmap too short for " +
                                              std::to_string(size) + " rows");
        validity.resize(words);
        if (size % 64 != 0) validity.back() &= (std::uint64_t{1} << (size % 64)) - 1;
        std::size_t valid = 0;
        for (std::uint64_t w : validity) valid += static_cast<std::size_t>(std::popcount(w));
        size_ = size;
        null_count_ = size - valid;
        validity_ = std::move(validity);
    }
    template <class F>
    void for_each_null(F&& f) const {
        if (null_count_ == 0) return;
        for (std::size_t w = 0; w < validity_.size(); ++w) {
            std::uint64_t nulls = ~validity_[w];
            if (w + 1 == validity_.size() && size_ % 64 != 0)
                nulls &= (std::uint64_t{1} << (size_ % 64)) - 1;
            while (nulls) {
                f(w * 64 + static_cast<std::size_t>(std::countr_zero(nulls)));
                nulls &= nulls - 1;
            }
        }
    }

private:
    ISOFLOW_COLUMN_APPEND_INLINE void push_validity(bool valid) {
        if ((size_ & 63) == 0) validity_.push_back(0);
        if (valid)
            validity_.back() |= std::uint64_t{1} << (size_ & 63);
        else
            ++null_count_;
        ++size_;
    }
    ISOFLOW_COLUMN_APPEND_INLINE void expect_type(DataType a, DataType b) const {
        if (type_ != a && type_ != b) [[unlikely]]
            wrong_type(a);
    }
#if defined(__GNUC__) || defined(__clang__)
    [[gnu::cold, gnu::noinline]]
#endif
    [[noreturn]] void wrong_type(DataType a) const {
        detail::throw_error<schema_error>("column of type " + std::string(to_string(type_)) +
                                          " used as " + std::string(to_string(a)));
    }

    DataType type_ = DataType::string;
    std::size_t size_ = 0;
    std::size_t null_count_ = 0;
    std::vector<std::uint64_t> validity_;
    std::vector<std::int64_t> ints_;
    std::vector<double> doubles_;
    std::vector<std::uint8_t> bools_;
    std::vector<std::size_t> offsets_;
    std::string chars_;
};

// Named columns of equal length.
class Batch {
public:
    Batch() = default;

    [[nodiscard]] const Schema& schema() const noexcept { return schema_; }
    [[nodiscard]] std::size_t num_rows() const noexcept { return num_rows_; }
    [[nodiscard]] std::size_t num_columns() const noexcept { return columns_.size(); }

    // Adds a column; its length must equal the batch's (the first column sets it).
    void add_column(Field field, Column column) {
        if (field.type != column.type())
            detail::throw_error<schema_error>("column '" + field.name + "' declared " +
                                              std::string(to_string(field.type)) + " but holds " +
                                              std::string(to_string(column.type())));
        if (!columns_.empty() && column.size() != num_rows_)
            detail::throw_error<schema_error>(
                "column '" + field.name + "' has " + std::to_string(column.size()) +
                " rows but the batch has " + std::to_string(num_rows_));
        schema_.add(std::move(field));
        num_rows_ = column.size();
        columns_.push_back(std::move(column));
    }
    void add_column(std::string name, Column column) {
        const DataType type = column.type();
        add_column(Field{std::move(name), type, true}, std::move(column));
    }

    [[nodiscard]] const Column& column(std::size_t i) const { return columns_.at(i); }
    [[nodiscard]] Column& column(std::size_t i) { return columns_.at(i); }
    [[nodiscard]] const Column& column(std::string_view name) const {
        return columns_[schema_.index_of(name)];
    }
    [[nodiscard]] Column& column(std::string_view name) { return columns_[schema_.index_of(name)]; }
    [[nodiscard]] std::optional<std::size_t> find_column(std::string_view name) const {
        return schema_.find(name);
    }

    // A new batch with the rows whose flag is set, in order.
    [[nodiscard]] Batch filter(std::span<const std::uint8_t> keep) const {
        if (keep.size() != num_rows_)
            detail::throw_error<schema_error>("filter mask has " + std::to_string(keep.size()) +
                                              " entries for a batch of " +
                                              std::to_string(num_rows_) + " rows");
        Batch out;
        for (std::size_t c = 0; c < columns_.size(); ++c)
            out.add_column(schema_.field(c), columns_[c].filter(keep));
        if (columns_.empty()) out.num_rows_ = 0;
        return out;
    }

private:
    Schema schema_;
    std::vector<Column> columns_;
    std::size_t num_rows_ = 0;
};

}  // namespace isoflow
