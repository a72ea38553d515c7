// Expectations: named constraints on a table's rows with an action on violation (warn, drop,
// fail, quarantine), their groups (expect_all, expect_all_or_drop, ...) and data-quality metrics
// in the shape Delta Live Tables reports them.
#pragma once

#include "isoflow/core/detail/text.hpp"
#include <bit>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "isoflow/core/batch.hpp"
#include "isoflow/core/error.hpp"
#include "isoflow/quality/detail/parser.hpp"
#include "isoflow/quality/detail/values.hpp"
#include "isoflow/quality/expression.hpp"

namespace isoflow {

// What happens to a row whose constraint is not TRUE (FALSE or NULL).
enum class ExpectationAction : std::uint8_t {
    warn,        // keep the row, count it (the default)
    drop,        // remove the row, count it
    fail,        // throw expectation_violation: the update stops and is rolled back
    quarantine,  // remove the row into the <table>_quarantine batch, with the names it failed
};

[[nodiscard]] constexpr std::string_view to_string(ExpectationAction a) noexcept {
    switch (a) {
        case ExpectationAction::warn: return "warn";
        case ExpectationAction::drop: return "drop";
        case ExpectationAction::fail: return "fail";
        case ExpectationAction::quarantine: return "quarantine";
    }
    return "warn";
}

// A constraint written in C++: sets pass[i] to 1 for each row i of the batch that passes.
// `pass` arrives zeroed and has batch.num_rows() entries.
using BatchPredicate = std::function<void(const Batch& batch, std::span<std::uint8_t> pass)>;
// A constraint written in C++, one row at a time.
using RowPredicate = std::function<bool(const Batch& batch, std::size_t row)>;

// Columns a reader adds to every row, used to say where a failing row came from.
inline constexpr std::string_view kSourceFileColumn = "_source_file";
inline constexpr std::string_view kSourceLineColumn = "_source_line";
// The column of a quarantine batch that lists the expectations a row failed, as a JSON array.
inline constexpr std::string_view kFailedExpectationsColumn = "_failed_expectations";

class Expectation {
public:
    // A SQL constraint, e.g. Expectation("valid", "Amount IS NOT NULL OR Time IS NOT NULL").
    // The syntax is checked now (parse_error); columns and types when it meets a schema.
    Expectation(std::string name, std::string constraint, ExpectationAction action = ExpectationAction::warn)
        : name_(std::move(name)), constraint_(std::move(constraint)), action_(action) {
        check_name();
        Expression::check_syntax(constraint_, origin());
    }
    // A C++ constraint; `description` is shown where the SQL text would be.
    Expectation(std::string name, BatchPredicate predicate, ExpectationAction action = ExpectationAction::warn,
                std::string description = "C++ predicate")
        : name_(std::move(name)), constraint_(std::move(description)), predicate_(std::move(predicate)),
          action_(action) {
        check_name();
        if (!predicate_) detail::throw_error<config_error>("expectation '" + name_ + "' has an empty predicate");
    }
    [[nodiscard]] static Expectation from_row_predicate(std::string name, RowPredicate predicate,
                                                        ExpectationAction action = ExpectationAction::warn,
                                                        std::string description = "C++ predicate") {
        if (!predicate) detail::throw_error<config_error>("expectation '" + name + "' has an empty predicate");
        BatchPredicate whole = [p = std::move(predicate)](const Batch& b, std::span<std::uint8_t> pass) {
            for (std::size_t i = 0; i < pass.size(); ++i) pass[i] = p(b, i) ? 1 : 0;
        };
        return Expectation(std::move(name), std::move(whole), action, std::move(description));
    }

    // The SQL clause form of the seed:
    //   CONSTRAINT name EXPECT (expr) [ON VIOLATION DROP ROW | FAIL UPDATE | QUARANTINE ROW]
    // (without ON VIOLATION the action is warn; QUARANTINE ROW is isoflow's addition).
    [[nodiscard]] static Expectation parse(std::string_view clause) {
        auto all = parse_all(clause);
        if (all.size() != 1)
            detail::throw_error<parse_error>("constraint clause, column 1: expected exactly one CONSTRAINT "
                                             "but found " + std::to_string(all.size()));
        return std::move(all.front());
    }
    // Several clauses, separated by commas (as in a CREATE ... TABLE column list).
    [[nodiscard]] static std::vector<Expectation> parse_all(std::string_view clauses,
                                                            std::string_view origin = "constraint clause") {
        detail::Parser p(clauses, origin);
        std::vector<Expectation> out;
        do {
            p.expect_keyword("CONSTRAINT", "");
            auto name = p.take_name();
            if (!name) p.fail(p.peek(), "expected the constraint's name after CONSTRAINT but found " +
                                            detail::describe(p.peek()));
            p.expect_keyword("EXPECT", " after the constraint name");
            p.expect_symbol("(", " after EXPECT");
            const std::size_t start = p.peek().offset;
            (void)p.parse_expression();
            const std::string text(clauses.substr(start, p.last_end() - start));
            p.expect_symbol(")", " to close EXPECT (");
            ExpectationAction action = ExpectationAction::warn;
            if (p.peek().is_keyword("on")) {
                p.advance();
                p.expect_keyword("VIOLATION", " after ON");
                const detail::Token& t = p.peek();
                if (t.is_keyword("drop") && p.peek(1).is_keyword("row")) action = ExpectationAction::drop;
                else if (t.is_keyword("fail") && p.peek(1).is_keyword("update")) action = ExpectationAction::fail;
                else if (t.is_keyword("quarantine") && p.peek(1).is_keyword("row"))
                    action = ExpectationAction::quarantine;
                else
                    p.fail(t, "expected DROP ROW, FAIL UPDATE or QUARANTINE ROW after ON VIOLATION but found " +
                                  detail::describe(t));
                p.advance();
                p.advance();
            }
            out.emplace_back(name->text, text, action);
        } while (p.peek().is_symbol(",") && (p.advance(), true));
        if (!p.at_end())
            p.fail(p.peek(), "expected ',' and another CONSTRAINT, or the end, but found " + detail::describe(p.peek()));
        return out;
    }

    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    // The SQL text, or the description of a C++ predicate.
    [[nodiscard]] const std::string& constraint() const noexcept { return constraint_; }
    [[nodiscard]] ExpectationAction action() const noexcept { return action_; }
    [[nodiscard]] bool is_sql() const noexcept { return !predicate_; }
    [[nodiscard]] const BatchPredicate& predicate() const noexcept { return predicate_; }

    // The SQL clause that declares this expectation (C++ predicates have none).
    [[nodiscard]] std::optional<std::string> to_sql() const {
        if (!is_sql()) return std::nullopt;
        std::string out = "CONSTRAINT `" + name_ + "` EXPECT (" + constraint_ + ")";
        switch (action_) {
            case ExpectationAction::warn: break;
            case ExpectationAction::drop: out += " ON VIOLATION DROP ROW"; break;
            case ExpectationAction::fail: out += " ON VIOLATION FAIL UPDATE"; break;
            case ExpectationAction::quarantine: out += " ON VIOLATION QUARANTINE ROW"; break;
        }
        return out;
    }

    [[nodiscard]] std::string origin() const { return "expectation '" + name_ + "'"; }

private:
    void check_name() const {
        if (name_.empty()) detail::throw_error<config_error>("an expectation needs a name");
    }
    std::string name_;
    std::string constraint_;
    BatchPredicate predicate_;
    ExpectationAction action_ = ExpectationAction::warn;
};

namespace detail {


// One value as SQL would print it: NULL, 12, 1.5, 'text', TIMESTAMP '2012-01-01 00:00:00'.
inline void append_sql_value(std::string& out, const Column& c, std::size_t row) {
    if (c.is_null(row)) {
        out += "NULL";
        return;
    }
    switch (c.type()) {
        case DataType::int64: out += std::to_string(c.int64_values()[row]); break;
        case DataType::float64: append_double(out, c.double_values()[row]); break;
        case DataType::boolean: out += c.bool_values()[row] ? "true" : "false"; break;
        case DataType::timestamp:
            out += "TIMESTAMP '";
            append_timestamp(out, c.int64_values()[row]);
            out += '\'';
            break;
        case DataType::string: {
            std::string_view s = c.string_at(row);
            const bool cut = s.size() > 200;
            out += '\'';
            out += cut ? s.substr(0, 200) : s;
            out += cut ? "...'" : "'";
            break;
        }
    }
}

// "{Amount: -3.0, Time: NULL} at file 'a.json', line 4" (or "row 3 of the batch").
[[nodiscard]] inline std::string describe_row(const Batch& batch, std::size_t row) {
    std::string out = "{";
    bool first = true;
    for (std::size_t c = 0; c < batch.num_columns(); ++c) {
        const std::string& name = batch.schema().field(c).name;
        if (name == kSourceFileColumn || name == kSourceLineColumn) continue;
        if (!first) out += ", ";
        first = false;
        out += name;
        out += ": ";
        append_sql_value(out, batch.column(c), row);
    }
    out += "}";
    const auto file = batch.find_column(kSourceFileColumn);
    const auto line = batch.find_column(kSourceLineColumn);
    const bool has_file = file && batch.column(*file).type() == DataType::string && batch.column(*file).is_valid(row);
    const bool has_line = line && batch.column(*line).type() == DataType::int64 && batch.column(*line).is_valid(row);
    if (has_file) {
        out += " at file '" + std::string(batch.column(*file).string_at(row)) + "'";
        if (has_line) out += ", line " + std::to_string(batch.column(*line).int64_values()[row]);
    } else {
        out += " (row " + std::to_string(row + 1) + " of the batch";
        if (has_line) out += ", line " + std::to_string(batch.column(*line).int64_values()[row]);
        out += ")";
    }
    return out;
}

}  // namespace detail

struct ExpectationMetrics {
    std::string name;
    std::uint64_t passed_records = 0;
    std::uint64_t failed_records = 0;

    friend bool operator==(const ExpectationMetrics&, const ExpectationMetrics&) = default;
};

// Data-quality metrics of one table, for one batch or added up over a run.
struct DatasetMetrics {
    std::string dataset;
    std::vector<ExpectationMetrics> expectations;
    std::uint64_t dropped_records = 0;      // rows removed from the table (drop and quarantine)
    std::uint64_t quarantined_records = 0;  // of those, rows moved to <dataset>_quarantine

    // Adds `other` (same dataset) expectation by expectation, matched by name.
    DatasetMetrics& operator+=(const DatasetMetrics& other) {
        if (dataset.empty()) dataset = other.dataset;
        for (const auto& e : other.expectations) {
            auto it = std::find_if(expectations.begin(), expectations.end(),
                                   [&](const ExpectationMetrics& m) { return m.name == e.name; });
            if (it == expectations.end()) {
                expectations.push_back(e);
            } else {
                it->passed_records += e.passed_records;
                it->failed_records += e.failed_records;
            }
        }
        dropped_records += other.dropped_records;
        quarantined_records += other.quarantined_records;
        return *this;
    }

    [[nodiscard]] const ExpectationMetrics* find(std::string_view name) const {
        for (const auto& e : expectations)
            if (e.name == name) return &e;
        return nullptr;
    }

    // {"dataset":"silver","expectations":[{"name":"valid","passed_records":9,"failed_records":1}],
    //  "dropped_records":1,"quarantined_records":0}
    [[nodiscard]] std::string to_json() const {
        std::string out = "{\"dataset\":";
        detail::append_json_string(out, dataset);
        out += ",\"expectations\":[";
        for (std::size_t i = 0; i < expectations.size(); ++i) {
            if (i) out += ',';
            out += "{\"name\":";
            detail::append_json_string(out, expectations[i].name);
            out += ",\"passed_records\":" + std::to_string(expectations[i].passed_records);
            out += ",\"failed_records\":" + std::to_string(expectations[i].failed_records) + "}";
        }
        out += "],\"dropped_records\":" + std::to_string(dropped_records);
        out += ",\"quarantined_records\":" + std::to_string(quarantined_records) + "}";
        return out;
    }

    friend bool operator==(const DatasetMetrics&, const DatasetMetrics&) = default;
};

// What applying a table's expectations to one batch gives.
struct ExpectationResult {
    Batch output;          // the rows that stay in the table
    Batch quarantine;      // rows for <table>_quarantine: the input columns + _failed_expectations
    DatasetMetrics metrics;  // this batch only
};

// The expectations of one table. apply() is not thread-safe (it updates the run totals); use one
// object per table and thread.
class TableExpectations {
public:
    explicit TableExpectations(std::string table) : table_(std::move(table)) {}

    [[nodiscard]] const std::string& table() const noexcept { return table_; }
    [[nodiscard]] std::string quarantine_table() const { return table_ + "_quarantine"; }
    [[nodiscard]] const std::vector<Expectation>& expectations() const noexcept { return list_; }
    [[nodiscard]] bool empty() const noexcept { return list_.empty(); }

    // Adds one expectation; a name already used on this table is a config_error.
    TableExpectations& add(Expectation e) {
        for (const auto& x : list_)
            if (x.name() == e.name())
                detail::throw_error<config_error>("expectation '" + e.name() + "' is defined twice on table '" +
                                                  table_ + "': expectation names must be unique per table");
        list_.push_back(std::move(e));
        compiled_schema_.reset();
        return *this;
    }

    // DLT's decorators, one expectation each.
    TableExpectations& expect(std::string name, std::string constraint) {
        return add(Expectation(std::move(name), std::move(constraint), ExpectationAction::warn));
    }
    TableExpectations& expect_or_drop(std::string name, std::string constraint) {
        return add(Expectation(std::move(name), std::move(constraint), ExpectationAction::drop));
    }
    TableExpectations& expect_or_fail(std::string name, std::string constraint) {
        return add(Expectation(std::move(name), std::move(constraint), ExpectationAction::fail));
    }
    TableExpectations& expect_or_quarantine(std::string name, std::string constraint) {
        return add(Expectation(std::move(name), std::move(constraint), ExpectationAction::quarantine));
    }

    // DLT's groups: {name: constraint, ...} with one action for all.
    using Group = std::vector<std::pair<std::string, std::string>>;
    TableExpectations& expect_all(const Group& group) { return add_group(group, ExpectationAction::warn); }
    TableExpectations& expect_all_or_drop(const Group& group) { return add_group(group, ExpectationAction::drop); }
    TableExpectations& expect_all_or_fail(const Group& group) { return add_group(group, ExpectationAction::fail); }
    TableExpectations& expect_all_or_quarantine(const Group& group) {
        return add_group(group, ExpectationAction::quarantine);
    }

    // One or more `CONSTRAINT name EXPECT (expr) [ON VIOLATION ...]` clauses, comma separated.
    TableExpectations& add_sql(std::string_view clauses) {
        for (auto& e : Expectation::parse_all(clauses)) add(std::move(e));
        return *this;
    }

    // Compiles every SQL constraint against `schema` now, so that a pipeline reports unknown
    // columns and type mismatches before it reads data. apply() does this by itself otherwise.
    void compile(const Schema& schema) {
        if (compiled_schema_ && *compiled_schema_ == schema) return;
        std::vector<std::optional<Expression>> compiled;
        for (const auto& e : list_) {
            if (!e.is_sql()) {
                compiled.emplace_back();
                continue;
            }
            Expression x = Expression::compile(e.constraint(), schema, "table '" + table_ + "', " + e.origin());
            if (x.type() != DataType::boolean)
                detail::throw_error<schema_error>("table '" + table_ + "', " + e.origin() + ": the constraint '" +
                                                  e.constraint() + "' is " + std::string(to_string(x.type())) +
                                                  ", expected a boolean condition");
            compiled.emplace_back(std::move(x));
        }
        compiled_ = std::move(compiled);
        compiled_schema_ = schema;
    }

    // Checks every row of `batch`. Throws expectation_violation if an expectation with action
    // `fail` sees a violating row (the run totals are then left as they were). Otherwise returns
    // the rows that stay, the quarantined rows, and this batch's metrics (also added to totals()).
    // Pass an rvalue to avoid a copy when no row is removed.
    [[nodiscard]] ExpectationResult apply(Batch batch) {
        compile(batch.schema());
        const std::size_t rows = batch.num_rows();
        const std::size_t words = detail::words_for(rows);
        const std::uint64_t tail = rows % 64 ? (std::uint64_t{1} << (rows % 64)) - 1 : ~std::uint64_t{0};

        std::vector<std::vector<std::uint64_t>> pass(list_.size());
        ExpectationResult result;
        result.metrics.dataset = table_;
        for (std::size_t i = 0; i < list_.size(); ++i) {
            evaluate(i, batch, pass[i]);
            std::uint64_t passed = 0;
            for (std::uint64_t w : pass[i]) passed += static_cast<std::uint64_t>(std::popcount(w));
            result.metrics.expectations.push_back({list_[i].name(), passed, rows - passed});
        }

        for (std::size_t i = 0; i < list_.size(); ++i) {
            if (list_[i].action() != ExpectationAction::fail) continue;
            const std::uint64_t failed = result.metrics.expectations[i].failed_records;
            if (failed == 0) continue;
            for (std::size_t w = 0; w < words; ++w) {
                const std::uint64_t bad = ~pass[i][w] & (w + 1 == words ? tail : ~std::uint64_t{0});
                if (!bad) continue;
                const std::size_t row = w * 64 + static_cast<std::size_t>(std::countr_zero(bad));
                detail::throw_error<expectation_violation>(
                    "expectation '" + list_[i].name() + "' on table '" + table_ + "' failed (ON VIOLATION FAIL UPDATE): " +
                    list_[i].constraint() + " is not true for " + detail::describe_row(batch, row) + "; " +
                    std::to_string(failed) + " of " + std::to_string(rows) + " rows of the batch violate it");
            }
        }

        std::vector<std::uint64_t> removed(words, 0), quarantined(words, 0);
        for (std::size_t i = 0; i < list_.size(); ++i) {
            const ExpectationAction a = list_[i].action();
            if (a != ExpectationAction::drop && a != ExpectationAction::quarantine) continue;
            for (std::size_t w = 0; w < words; ++w) {
                const std::uint64_t bad = ~pass[i][w] & (w + 1 == words ? tail : ~std::uint64_t{0});
                removed[w] |= bad;
                if (a == ExpectationAction::quarantine) quarantined[w] |= bad;
            }
        }
        for (std::size_t w = 0; w < words; ++w) {
            result.metrics.dropped_records += static_cast<std::uint64_t>(std::popcount(removed[w]));
            result.metrics.quarantined_records += static_cast<std::uint64_t>(std::popcount(quarantined[w]));
        }

        if (result.metrics.quarantined_records != 0) result.quarantine = make_quarantine(batch, pass, quarantined);
        else result.quarantine = empty_quarantine(batch.schema());
        if (result.metrics.dropped_records == 0) {
            result.output = std::move(batch);
        } else {
            std::vector<std::uint8_t> keep(rows);
            for (std::size_t r = 0; r < rows; ++r) keep[r] = !((removed[r / 64] >> (r % 64)) & 1u);
            result.output = batch.filter(keep);
        }
        totals_ += result.metrics;
        return result;
    }

    // Metrics added up over every apply() since construction or reset_totals().
    [[nodiscard]] const DatasetMetrics& totals() const noexcept { return totals_; }
    void reset_totals() { totals_ = DatasetMetrics{table_, {}, 0, 0}; }

private:
    TableExpectations& add_group(const Group& group, ExpectationAction action) {
        for (const auto& [name, constraint] : group) add(Expectation(name, constraint, action));
        return *this;
    }

    void evaluate(std::size_t i, const Batch& batch, std::vector<std::uint64_t>& bits) const {
        if (compiled_[i]) {
            compiled_[i]->true_mask(batch, bits);
            return;
        }
        std::vector<std::uint8_t> flags(batch.num_rows(), 0);
        list_[i].predicate()(batch, flags);
        bits.assign(detail::words_for(flags.size()), 0);
        for (std::size_t r = 0; r < flags.size(); ++r)
            bits[r / 64] |= std::uint64_t{flags[r] != 0} << (r % 64);
    }

    static Batch empty_quarantine(const Schema& schema) {
        Batch out;
        for (const auto& f : schema.fields()) out.add_column(f, Column(f.type));
        if (!schema.contains(kFailedExpectationsColumn))
            out.add_column(Field{std::string(kFailedExpectationsColumn), DataType::string, false},
                           Column(DataType::string));
        return out;
    }

    Batch make_quarantine(const Batch& batch, const std::vector<std::vector<std::uint64_t>>& pass,
                          const std::vector<std::uint64_t>& quarantined) const {
        std::vector<std::uint8_t> take(batch.num_rows());
        Column failed_names(DataType::string);
        std::string names;
        for (std::size_t r = 0; r < batch.num_rows(); ++r) {
            take[r] = (quarantined[r / 64] >> (r % 64)) & 1u;
            if (!take[r]) continue;
            names = "[";
            for (std::size_t i = 0; i < list_.size(); ++i) {
                if ((pass[i][r / 64] >> (r % 64)) & 1u) continue;
                if (names.size() > 1) names += ',';
                detail::append_json_string(names, list_[i].name());
            }
            names += ']';
            failed_names.append_string(names);
        }
        Batch out = batch.filter(take);
        if (!batch.schema().contains(kFailedExpectationsColumn))
            out.add_column(Field{std::string(kFailedExpectationsColumn), DataType::string, false},
                           std::move(failed_names));
        return out;
    }

    std::string table_;
    std::vector<Expectation> list_;
    std::optional<Schema> compiled_schema_;
    std::vector<std::optional<Expression>> compiled_;
    DatasetMetrics totals_{table_, {}, 0, 0};
};

}  // namespace isoflow
