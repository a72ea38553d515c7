// Builds a Batch record by record: maps field names to columns (with schema evolution),
// converts values to the column types, and keeps whatever does not fit in the rescued-data
// column as JSON. Shared by the JSON and CSV readers and by the file source, which appends
// several files into one builder.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "isoflow/core/batch.hpp"
#include "isoflow/core/error.hpp"
#include "isoflow/io/detail/text.hpp"
#include "isoflow/io/options.hpp"

namespace isoflow::detail {

enum class ValueKind : std::uint8_t {
    null,
    boolean,
    number,  // text is the number as written (JSON number, NaN, Infinity, -Infinity)
    string,  // text is the decoded string
    nested,  // text is the object or array as JSON
    text,    // untyped text (a CSV field); its type is decided by the column
};

struct ValueRef {
    ValueKind kind = ValueKind::null;
    std::string_view text;
    bool boolean = false;
};

// The type a single value suggests, for inference; nullopt for null.
[[nodiscard]] inline std::optional<DataType> type_of_value(const ValueRef& v) {
    switch (v.kind) {
        case ValueKind::null: return std::nullopt;
        case ValueKind::boolean: return DataType::boolean;
        case ValueKind::number: {
            if (looks_like_int64(v.text)) return DataType::int64;
            std::int64_t i = 0;
            return is_signed_digits(v.text) && parse_int64(v.text, i) ? DataType::int64 : DataType::float64;
        }
        case ValueKind::string:
            return parse_timestamp(v.text, true) ? DataType::timestamp : DataType::string;
        case ValueKind::nested: return DataType::string;
        case ValueKind::text: {
            if (v.text.empty()) return std::nullopt;
            if (looks_like_int64(v.text)) return DataType::int64;
            double d = 0;
            const char* end = v.text.data() + v.text.size();
            if (parse_double_prefix(v.text.data(), end, d) == end) {
                // parse_double_prefix accepts a subset of what parse_double does; an integer
                // it accepts may still be an int64 (looks_like_int64 only takes 18 digits).
                std::int64_t i = 0;
                return is_signed_digits(v.text) && parse_int64(v.text, i) ? DataType::int64 : DataType::float64;
            }
            std::int64_t i = 0;
            if (parse_int64(v.text, i)) return DataType::int64;
            if (parse_double(v.text, d)) return DataType::float64;
            if (iequals(v.text, "true") || iequals(v.text, "false")) return DataType::boolean;
            if (parse_timestamp(v.text, true)) return DataType::timestamp;
            return DataType::string;
        }
    }
    return DataType::string;
}

// Accumulates the types seen per field name, in order of first appearance.
class TypeInference {
public:
    // Names that differ only by case are one field, spelled as first seen (the reader then
    // rescues the other spellings).
    void observe(std::string_view name, const ValueRef& v) {
        // Records usually list their fields in the same order: the field after the last one
        // observed is tried first, which spares the lower-casing and the hash lookup.
        std::size_t i = last_ + 1 < fields_.size() ? last_ + 1 : 0;
        if (i < fields_.size() && fields_[i].name == name) {
            last_ = i;
            if (auto t = type_of_value(v)) fields_[i].seen |= 1u << static_cast<unsigned>(*t);
            return;
        }
        std::string key = to_lower(name);
        auto it = index_.find(key);
        if (it == index_.end()) {
            i = fields_.size();
            fields_.push_back(State{std::string(name), 0});
            index_.emplace(std::move(key), i);
        } else {
            i = it->second;
        }
        last_ = i;
        if (auto t = type_of_value(v)) fields_[i].seen |= 1u << static_cast<unsigned>(*t);
    }
    void observe_name(std::string_view name) { observe(name, ValueRef{}); }
    [[nodiscard]] bool empty() const noexcept { return fields_.empty(); }

    // Merges the evidence: int64 widens to double; anything mixed with text, or a mix of
    // numbers with booleans or timestamps, is a string; no evidence at all is a string.
    [[nodiscard]] std::vector<Field> result(bool infer_types) const {
        std::vector<Field> out;
        for (const auto& f : fields_) {
            out.push_back(Field{f.name, infer_types ? merge(f.seen) : DataType::string, true});
        }
        return out;
    }

private:
    struct State {
        std::string name;
        unsigned seen;
    };
    static DataType merge(unsigned seen) {
        auto has = [&](DataType t) { return (seen >> static_cast<unsigned>(t)) & 1u; };
        if (seen == 0 || has(DataType::string)) return DataType::string;
        const bool numeric = has(DataType::int64) || has(DataType::float64);
        const int kinds = (numeric ? 1 : 0) + (has(DataType::boolean) ? 1 : 0) + (has(DataType::timestamp) ? 1 : 0);
        if (kinds > 1) return DataType::string;
        if (has(DataType::boolean)) return DataType::boolean;
        if (has(DataType::timestamp)) return DataType::timestamp;
        return has(DataType::float64) ? DataType::float64 : DataType::int64;
    }
    std::vector<State> fields_;
    std::unordered_map<std::string, std::size_t> index_;
    std::size_t last_ = static_cast<std::size_t>(-1);
};

// The field a hint (or any column reference) names, as Schema::find matches: an exact-case
// match wins, else the one field equal ignoring case; two such fields are a schema_error
// naming both. nullopt when none matches.
[[nodiscard]] inline std::optional<std::size_t> find_field(const std::vector<Field>& fields, std::string_view name) {
    for (std::size_t i = 0; i < fields.size(); ++i)
        if (fields[i].name == name) return i;
    std::optional<std::size_t> found;
    for (std::size_t i = 0; i < fields.size(); ++i) {
        if (!iequals(fields[i].name, name)) continue;
        if (found)
            throw_error<schema_error>("schema hint '" + std::string(name) + "' is ambiguous: it matches both '" +
                                      fields[*found].name + "' and '" + fields[i].name + "'");
        found = i;
    }
    return found;
}

// Overrides or adds the hinted columns. A hint names a column case-insensitively, as column
// lookups do (`amount DOUBLE` types the field `Amount`; an exact-case match wins).
inline void apply_hints(std::vector<Field>& fields, const std::vector<Field>& hints) {
    for (const auto& h : hints) {
        if (auto i = find_field(fields, h.name))
            fields[*i].type = h.type;
        else
            fields.push_back(h);
    }
}

class BatchBuilder {
public:
    static constexpr int ignore = -1;
    static constexpr int rescue = -2;
    static constexpr int unknown = -3;  // find(): a key the schema does not have

    BatchBuilder(const ReadOptions& options, const std::vector<Field>& initial)
        : options_(&options), hints_(parse_schema_hints(options.schema_hints)) {
        for (const auto& f : initial) add_column(f);
        reset_extra_columns();
    }

    [[nodiscard]] Schema schema() const { return Schema(fields_); }
    [[nodiscard]] const std::vector<Field>& fields() const noexcept { return fields_; }
    [[nodiscard]] std::size_t rows() const noexcept { return rows_; }
    [[nodiscard]] ReadStats& stats() noexcept { return stats_; }
    [[nodiscard]] const ReadOptions& options() const noexcept { return *options_; }
    [[nodiscard]] const std::string& file() const noexcept { return file_; }
    // Changes whenever a column is added or removed, so that a cursor's cached column indices
    // can tell they are stale.
    [[nodiscard]] std::uint64_t layout_version() const noexcept { return layout_version_; }

    // The file whose records follow; `file_types` are the types its sample suggests, used for
    // columns it adds.
    void set_file(std::string name, std::vector<Field> file_types = {}) {
        file_ = std::move(name);
        file_types_ = std::move(file_types);
        file_json_ = json_quote(file_);
    }

    // --- one record --------------------------------------------------------------------
    void begin_record(std::uint64_t line) {
        ++stamp_;
        line_ = line;
        rescue_.clear();
        new_fields_.clear();
        position_ = 0;
        claimed_ = 0;
    }

    // Column index of `key` for this record's next field, ignore or rescue. Fields usually come
    // in the same order in every record, so the column at the same position is tried first.
    [[nodiscard]] int find(std::string_view key) {
        const std::size_t pos = position_++;
        if (pos < order_.size()) {
            const int guess = order_[pos];
            if (guess >= 0 && same_text(name_views_[static_cast<std::size_t>(guess)], key)) return guess;
        }
        const auto it = index_.find(key);
        const int col = it == index_.end() ? unknown : it->second;
        if (col >= 0) {
            if (pos < order_.size())
                order_[pos] = col;
            else
                order_.push_back(col);
        }
        return col;
    }

    // For a key find() did not know: adds a column, or says to ignore or rescue the value.
    [[nodiscard]] int resolve_unknown(std::string_view key, const ValueRef& value) {
        for (std::size_t i = 0; i < fields_.size(); ++i)
            if (iequals(fields_[i].name, key))
                // Same name in another case: kept aside, as Auto Loader does.
                return options_->schema_evolution_mode == SchemaEvolutionMode::none ? ignore : rescue;
        switch (options_->schema_evolution_mode) {
            case SchemaEvolutionMode::none: return ignore;
            case SchemaEvolutionMode::rescue: return rescue;
            case SchemaEvolutionMode::fail_on_new_columns:
                new_fields_.emplace_back(key);
                return ignore;
            case SchemaEvolutionMode::add_new_columns: break;
        }
        Field field{std::string(key), DataType::string, true};
        bool typed = false;
        if (auto h = find_field(hints_, key)) {
            field.type = hints_[*h].type;
            typed = true;
        }
        for (const auto& f : file_types_)
            if (!typed && f.name == key) {
                field.type = f.type;
                typed = true;
            }
        // Typed from this first value; until the batch ends the column may still change as
        // inference would (see settle_type).
        Provisional provisional = Provisional::no;
        if (!typed && options_->infer_column_types) {
            const auto t = type_of_value(value);
            field.type = t.value_or(DataType::string);
            provisional = !t ? Provisional::only_nulls : *t == DataType::int64 ? Provisional::int64 : Provisional::no;
        }
        const int col = add_column(field);
        provisional_.back() = provisional;
        if (stats_.schema_changes.empty() || stats_.schema_changes.back().file != file_)
            stats_.schema_changes.push_back(SchemaChange{file_, {}});
        stats_.schema_changes.back().added.push_back(field);
        return col;
    }

    // False when the record already set this column (a duplicate key): the caller rescues.
    [[nodiscard]] bool claim(int col) noexcept {
        auto& s = stamps_[static_cast<std::size_t>(col)];
        if (s == stamp_) return false;
        s = stamp_;
        ++claimed_;
        return true;
    }

    [[nodiscard]] Column& column(int col) noexcept { return columns_[static_cast<std::size_t>(col)]; }
    [[nodiscard]] DataType type(int col) const noexcept { return fields_[static_cast<std::size_t>(col)].type; }
    // True for a column added in this batch whose values so far were all null: its type is
    // decided by its first value, so a cursor must not append to it without put().
    [[nodiscard]] bool type_undecided(int col) const noexcept {
        return provisional_[static_cast<std::size_t>(col)] == Provisional::only_nulls;
    }
    [[nodiscard]] std::string_view name(int col) const noexcept { return names_[static_cast<std::size_t>(col)]; }

    // Puts a value into a claimed column, converting it; a value that does not fit leaves the
    // slot null and goes to the rescued data.
    void put(int col, const ValueRef& v) {
        if (v.kind == ValueKind::null) return column(col).append_null();
        if (provisional_[static_cast<std::size_t>(col)] != Provisional::no) settle_type(col, v);
        Column& c = column(col);
        switch (type(col)) {
            case DataType::string:
                if (v.kind == ValueKind::boolean) return c.append_string(v.boolean ? "true" : "false");
                return c.append_string(v.text);
            case DataType::float64: {
                double d = 0;
                if ((v.kind == ValueKind::number || v.kind == ValueKind::text)) {
                    if (v.kind == ValueKind::text && v.text.empty()) return c.append_null();
                    const char* end = v.text.data() + v.text.size();
                    if (parse_double_prefix(v.text.data(), end, d) == end || parse_double(v.text, d))
                        return c.append_double(d);
                }
                break;
            }
            case DataType::int64: {
                std::int64_t i = 0;
                if (v.kind == ValueKind::number || v.kind == ValueKind::text) {
                    if (v.kind == ValueKind::text && v.text.empty()) return c.append_null();
                    if (parse_int64(v.text, i)) return c.append_int64(i);
                }
                break;
            }
            case DataType::boolean:
                if (v.kind == ValueKind::boolean) return c.append_bool(v.boolean);
                if (v.kind == ValueKind::text) {
                    if (v.text.empty()) return c.append_null();
                    if (iequals(v.text, "true")) return c.append_bool(true);
                    if (iequals(v.text, "false")) return c.append_bool(false);
                }
                break;
            case DataType::timestamp:
                if (v.kind == ValueKind::string || v.kind == ValueKind::text) {
                    if (v.kind == ValueKind::text && v.text.empty()) return c.append_null();
                    if (auto t = parse_timestamp(v.text)) return c.append_timestamp(*t);
                }
                break;
        }
        c.append_null();
        rescue_value(name(col), v);
    }

    // Keeps a value in the rescued data under `key`.
    void rescue_value(std::string_view key, const ValueRef& v) {
        ++stats_.rescued_values;
        if (options_->rescued_data_column.empty()) return;
        rescue_ += rescue_.empty() ? "{" : ", ";
        append_json_string(rescue_, key);
        rescue_ += ": ";
        switch (v.kind) {
            case ValueKind::null: rescue_ += "null"; break;
            case ValueKind::boolean: rescue_ += v.boolean ? "true" : "false"; break;
            case ValueKind::number:
                // NaN and Infinity are not JSON; keep them as strings so the rescued text parses.
                if (special_double(v.text)) append_json_string(rescue_, v.text);
                else rescue_ += v.text;
                break;
            case ValueKind::nested: rescue_ += v.text; break;
            case ValueKind::string:
            case ValueKind::text: append_json_string(rescue_, v.text); break;
        }
    }

    // Completes the record: unset columns become null. failOnNewColumns raises here, naming
    // every new field of the record.
    void end_record() {
        if (!new_fields_.empty()) {
            std::string names;
            for (const auto& n : new_fields_) names += (names.empty() ? "'" : ", '") + n + "'";
            const std::string where = file_ + ":" + std::to_string(line_);
            abort_record();
            throw_error<schema_error>(where + ": new field" + (new_fields_.size() > 1 ? "s " : " ") + names +
                                      " not in the schema (schema_evolution_mode is failOnNewColumns)");
        }
        // Most records set every column; only the others need the search for unset ones.
        if (claimed_ != columns_.size())
            for (std::size_t c = 0; c < columns_.size(); ++c)
                if (stamps_[c] != stamp_) columns_[c].append_null();
        finish_extra();
    }

    // Undoes whatever the current record appended.
    void abort_record() {
        for (auto& c : columns_) c.truncate(rows_);
        rescue_.clear();
        ++stamp_;
        position_ = 0;
        claimed_ = 0;
    }

    // A record that is not well-formed: one row of nulls whose rescued data holds the raw text.
    void malformed_record(std::string_view raw, std::string_view error) {
        abort_record();
        ++stats_.malformed_records;
        rescue_.clear();
        if (!options_->rescued_data_column.empty()) {
            rescue_ = "{\"_corrupt_record\": ";
            append_json_string(rescue_, raw);
            rescue_ += ", \"_error\": ";
            append_json_string(rescue_, error);
        }
        for (auto& c : columns_) c.append_null();
        finish_extra();
    }

    // --- whole files -------------------------------------------------------------------
    struct Mark {
        std::size_t rows, columns, changes, malformed, rescued;
        std::size_t last_change_fields;
        std::size_t retyped;
    };
    [[nodiscard]] Mark mark() const noexcept {
        return Mark{rows_, columns_.size(), stats_.schema_changes.size(), stats_.malformed_records,
                    stats_.rescued_values,
                    stats_.schema_changes.empty() ? 0 : stats_.schema_changes.back().added.size(),
                    retyped_.size()};
    }
    // Drops every row (and every column) added since `m`, and undoes the type changes since.
    void rollback(const Mark& m) {
        const bool retyped = retyped_.size() > m.retyped;
        if (retyped) ++layout_version_;
        while (retyped_.size() > m.retyped) {
            Retyped& r = retyped_.back();
            const auto col = static_cast<std::size_t>(r.col);
            if (col < m.columns) {
                if (r.before) columns_[col] = std::move(*r.before);
                fields_[col].type = r.type;
                provisional_[col] = r.provisional;
            }
            retyped_.pop_back();
        }
        if (columns_.size() > m.columns) ++layout_version_;
        while (columns_.size() > m.columns) {
            index_.erase(std::string_view(names_.back()));
            names_.pop_back();
            name_views_.pop_back();
            fields_.pop_back();
            columns_.pop_back();
            stamps_.pop_back();
            provisional_.pop_back();
        }
        for (auto& o : order_)
            if (o >= static_cast<int>(m.columns)) o = ignore;
        stats_.schema_changes.resize(m.changes);
        if (!stats_.schema_changes.empty()) stats_.schema_changes.back().added.resize(m.last_change_fields);
        if (retyped)
            for (auto& change : stats_.schema_changes)
                for (auto& f : change.added)
                    if (auto i = find_field(fields_, f.name)) f.type = fields_[*i].type;
        stats_.malformed_records = m.malformed;
        stats_.rescued_values = m.rescued;
        stats_.rows -= rows_ - m.rows;
        rows_ = m.rows;
        for (auto& c : columns_) c.truncate(rows_);
        rescued_col_.truncate(rows_);
        file_col_.truncate(rows_);
        line_col_.truncate(rows_);
        ++stamp_;
        claimed_ = 0;
    }

    // The rows so far as a Batch (data columns, then the rescued-data, _source_file and
    // _source_line columns as configured). The builder starts again with the same schema.
    [[nodiscard]] Batch finish() {
        Batch out;
        // The next batch is likely as long as this one: reserving that much spares the
        // vectors' doubling (copies and page faults) without over-reserving for small files.
        const std::size_t expect = rows_;
        for (std::size_t c = 0; c < columns_.size(); ++c) {
            out.add_column(fields_[c], std::move(columns_[c]));
            columns_[c] = Column(fields_[c].type);
            if (fields_[c].type != DataType::string) columns_[c].reserve(expect);
        }
        if (!options_->rescued_data_column.empty())
            out.add_column(Field{options_->rescued_data_column, DataType::string, true}, std::move(rescued_col_));
        if (options_->add_source_file)
            out.add_column(Field{"_source_file", DataType::string, true}, std::move(file_col_));
        if (options_->add_source_line)
            out.add_column(Field{"_source_line", DataType::int64, true}, std::move(line_col_));
        reset_extra_columns();
        rows_ = 0;
        // The batch is out with these types: from now on they are fixed.
        std::fill(provisional_.begin(), provisional_.end(), Provisional::no);
        retyped_.clear();
        return out;
    }

private:
    // A column added by resolve_unknown from its first value, within the batch being built:
    // the type inference would give it over the batch's values is not known yet.
    enum class Provisional : std::uint8_t {
        no,          // fixed (initial columns, hinted or sampled ones, or decided)
        int64,       // int64 so far: a number that only fits a double widens it, as inference does
        only_nulls,  // only nulls so far: the first value decides the type
    };
    struct Retyped {
        int col;
        std::optional<Column> before;  // when the column itself was replaced
        DataType type;
        Provisional provisional;
    };

    // Changes a provisional column's type for a non-null value as inference over its values
    // would: int64 widens to double (the int64 values converted), a column of nulls takes the
    // value's type. Anything else (text in an int64 column) does not fit and is rescued.
    void settle_type(int col, const ValueRef& v) {
        const auto c = static_cast<std::size_t>(col);
        const auto suggested = type_of_value(v);
        if (!suggested) return;
        DataType to = fields_[c].type;
        Provisional next = Provisional::no;
        if (provisional_[c] == Provisional::only_nulls) {
            to = *suggested;
            next = to == DataType::int64 ? Provisional::int64 : Provisional::no;
        } else {  // Provisional::int64
            if (v.kind != ValueKind::number || *suggested != DataType::float64) return;
            to = DataType::float64;
        }
        if (to != fields_[c].type) {
            Column wide(to);
            const Column& old = columns_[c];
            wide.reserve(old.size());
            for (std::size_t r = 0; r < old.size(); ++r) {
                if (old.is_null(r) || to != DataType::float64)
                    wide.append_null();  // a column of only nulls, or a null int64 value
                else
                    wide.append_double(static_cast<double>(old.int64_values()[r]));
            }
            retyped_.push_back(Retyped{col, std::move(columns_[c]), fields_[c].type, provisional_[c]});
            columns_[c] = std::move(wide);
            fields_[c].type = to;
            ++layout_version_;  // cursors cache column types
            for (auto& change : stats_.schema_changes)
                for (auto& f : change.added)
                    if (f.name == fields_[c].name) f.type = to;
        } else if (next != provisional_[c]) {
            retyped_.push_back(Retyped{col, std::nullopt, fields_[c].type, provisional_[c]});
        }
        provisional_[c] = next;
    }

    int add_column(const Field& f) {
        ++layout_version_;
        const int col = static_cast<int>(columns_.size());
        fields_.push_back(f);
        names_.push_back(f.name);
        name_views_.push_back(names_.back());
        index_.emplace(std::string_view(names_.back()), col);
        Column c(f.type);
        for (std::size_t r = 0; r < rows_; ++r) c.append_null();
        columns_.push_back(std::move(c));
        stamps_.push_back(0);
        provisional_.push_back(Provisional::no);
        return col;
    }
    void reset_extra_columns() {
        rescued_col_ = Column(DataType::string);
        file_col_ = Column(DataType::string);
        line_col_ = Column(DataType::int64);
    }
    void finish_extra() {
        if (!options_->rescued_data_column.empty()) {
            if (rescue_.empty()) {
                rescued_col_.append_null();
            } else {
                rescue_ += ", \"_file\": ";
                rescue_ += file_json_;
                rescue_ += ", \"_line\": ";
                rescue_ += std::to_string(line_);
                rescue_ += '}';
                rescued_col_.append_string(rescue_);
            }
        }
        if (options_->add_source_file) file_col_.append_string(file_);
        if (options_->add_source_line) line_col_.append_int64(static_cast<std::int64_t>(line_));
        ++rows_;
        ++stats_.rows;
        rescue_.clear();
        ++stamp_;
        claimed_ = 0;
    }

    const ReadOptions* options_;
    std::vector<Field> hints_;
    std::vector<Field> fields_;
    std::deque<std::string> names_;  // a deque keeps the strings (and index_'s views) in place
    std::vector<std::string_view> name_views_;  // names_, for the per-field guess in find()
    std::unordered_map<std::string_view, int> index_;
    std::vector<Column> columns_;
    std::vector<std::uint64_t> stamps_;
    std::vector<Provisional> provisional_;  // per column
    std::vector<Retyped> retyped_;          // type changes in this batch, for rollback
    std::vector<int> order_;
    std::vector<Field> file_types_;
    Column rescued_col_{DataType::string};
    Column file_col_{DataType::string};
    Column line_col_{DataType::int64};
    std::string file_;
    std::string file_json_;
    std::string rescue_;
    std::vector<std::string> new_fields_;
    std::uint64_t stamp_ = 1;
    std::uint64_t layout_version_ = 1;
    std::uint64_t line_ = 0;
    std::size_t position_ = 0;
    std::size_t claimed_ = 0;  // columns the current record has set (claim() calls that succeeded)
    std::size_t rows_ = 0;
    ReadStats stats_;
};

}  // namespace isoflow::detail
