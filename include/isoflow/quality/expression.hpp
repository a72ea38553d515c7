// SQL expressions over Batches: Expression (compile once, evaluate per batch), Projection
// (`expr AS name, ...`) and Filter (`WHERE condition`). The language is documented in
// docs/expectations.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "isoflow/core/batch.hpp"
#include "isoflow/core/error.hpp"
#include "isoflow/quality/detail/compile.hpp"
#include "isoflow/quality/detail/eval.hpp"
#include "isoflow/quality/detail/parser.hpp"

namespace isoflow {

namespace detail {

// Finds the program's columns in `batch` (by position when the batch has the compile-time
// schema, else by name) and checks their types.
inline void bind_columns(const Program& p, const Batch& batch, std::vector<const Column*>& out) {
    out.clear();
    const Schema& schema = batch.schema();
    for (const ColumnBinding& c : p.columns) {
        std::optional<std::size_t> index;
        if (c.schema_index < schema.size() && schema.field(c.schema_index).name == c.name)
            index = c.schema_index;
        else
            index = schema.find(c.name);
        if (!index)
            throw_error<schema_error>("column '" + c.name + "' used by the expression '" + p.text +
                                      "' is missing from the batch" + schema.suggestions(c.name));
        if (schema.field(*index).type != c.type)
            throw_error<schema_error>("column '" + c.name + "' is " +
                                      std::string(to_string(schema.field(*index).type)) +
                                      " in the batch but was " + std::string(to_string(c.type)) +
                                      " when the expression '" + p.text + "' was compiled");
        out.push_back(&batch.column(*index));
    }
}

[[nodiscard]] inline std::int64_t now_micros() {
    using namespace std::chrono;
    return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

// Runs `p` over every chunk of rows [first, last) of `batch`; `first` must be a multiple of 64.
// on_chunk(result slot, chunk start, rows in chunk).
template <class OnChunk>
void run_program(const Program& p, const Batch& batch, std::size_t first, std::size_t last, OnChunk&& on_chunk) {
    Frame frame;
    bind_columns(p, batch, frame.columns);
    frame.slots.resize(p.slot_count);
    frame.now_micros = now_micros();
    for (std::size_t begin = first; begin < last; begin += kChunkRows) {
        const std::size_t n = std::min(kChunkRows, last - begin);
        frame.begin = begin;
        p.root->eval(frame, n);
        on_chunk(static_cast<const Slot&>(frame.slots[p.root->slot()]), begin, n);
    }
}

}  // namespace detail

// A compiled expression. Cheap to copy (copies share the compiled program); evaluate() is
// const and may run on many threads at once.
class Expression {
public:
    // Parses `text` and compiles it against `schema`. Syntax errors throw parse_error, unknown
    // columns and type mismatches schema_error; both messages show the expression with a caret
    // under the offending token. `origin` names where the text came from in messages
    // (default "expression"), e.g. "pipeline.json: expectation 'valid'".
    [[nodiscard]] static Expression compile(std::string_view text, const Schema& schema,
                                            std::string_view origin = {}) {
        detail::Parser parser(text, origin);
        detail::AstPtr ast = parser.parse_single();
        return Expression(detail::compile_program(*ast, text, schema, origin));
    }

    // Checks the syntax only (no schema): throws parse_error like compile().
    static void check_syntax(std::string_view text, std::string_view origin = {}) {
        detail::Parser parser(text, origin);
        (void)parser.parse_single();
    }

    explicit Expression(std::shared_ptr<const detail::Program> program) : p_(std::move(program)) {}

    [[nodiscard]] DataType type() const noexcept { return p_->type; }
    [[nodiscard]] const std::string& text() const noexcept { return p_->text; }
    // The columns the expression reads, as the schema spells them.
    [[nodiscard]] std::vector<std::string> columns() const {
        std::vector<std::string> out;
        for (const auto& c : p_->columns) out.push_back(c.name);
        return out;
    }
    [[nodiscard]] bool is_column_reference() const noexcept { return p_->is_column_ref; }

    // The value of the expression for every row of `batch`.
    [[nodiscard]] Column evaluate(const Batch& batch) const {
        const std::size_t rows = batch.num_rows();
        std::vector<std::uint64_t> validity(detail::words_for(rows));
        auto copy_validity = [&](const detail::Slot& s, std::size_t begin, std::size_t n) {
            for (std::size_t w = 0; w < detail::words_for(n); ++w) validity[begin / 64 + w] = s.valid[w];
        };
        switch (p_->type) {
            case DataType::int64:
            case DataType::timestamp: {
                std::vector<std::int64_t> values(rows);
                run(batch, [&](const detail::Slot& s, std::size_t begin, std::size_t n) {
                    copy_validity(s, begin, n);
                    for (std::size_t i = 0; i < n; ++i) values[begin + i] = s.i64[s.scalar ? 0 : i];
                });
                return Column::adopt_int64(p_->type, std::move(values), std::move(validity));
            }
            case DataType::float64: {
                std::vector<double> values(rows);
                run(batch, [&](const detail::Slot& s, std::size_t begin, std::size_t n) {
                    copy_validity(s, begin, n);
                    for (std::size_t i = 0; i < n; ++i) values[begin + i] = s.f64[s.scalar ? 0 : i];
                });
                return Column::adopt_doubles(std::move(values), std::move(validity));
            }
            case DataType::boolean: {
                std::vector<std::uint8_t> values(rows);
                run(batch, [&](const detail::Slot& s, std::size_t begin, std::size_t n) {
                    copy_validity(s, begin, n);
                    for (std::size_t i = 0; i < n; ++i) values[begin + i] = s.bit_at(i) && s.valid_at(i);
                });
                return Column::adopt_bools(std::move(values), std::move(validity));
            }
            case DataType::string: {
                std::vector<std::size_t> offsets{0};
                offsets.reserve(rows + 1);
                std::string chars;
                run(batch, [&](const detail::Slot& s, std::size_t begin, std::size_t n) {
                    copy_validity(s, begin, n);
                    for (std::size_t i = 0; i < n; ++i) {
                        if (s.valid_at(i)) chars += s.str[s.scalar ? 0 : i];
                        offsets.push_back(chars.size());
                    }
                });
                return Column::adopt_strings(std::move(offsets), std::move(chars), std::move(validity));
            }
        }
        return Column(p_->type);
    }

    // For a boolean expression: `out` becomes a bitmap with bit i (of word i / 64) set where the
    // expression is TRUE for row i; FALSE and NULL rows are clear. Reuses out's storage.
    void true_mask(const Batch& batch, std::vector<std::uint64_t>& out) const {
        require_boolean("true_mask()");
        const std::size_t rows = batch.num_rows();
        out.assign(detail::words_for(rows), 0);
        run(batch, [&](const detail::Slot& s, std::size_t begin, std::size_t n) {
            const std::size_t nw = detail::words_for(n);
            std::uint64_t* dst = out.data() + begin / 64;
            for (std::size_t w = 0; w < nw; ++w) dst[w] = s.bits[w] & s.valid[w];
        });
        if (rows % 64) out.back() &= (std::uint64_t{1} << (rows % 64)) - 1;
    }
    [[nodiscard]] std::vector<std::uint64_t> true_mask(const Batch& batch) const {
        std::vector<std::uint64_t> out;
        true_mask(batch, out);
        return out;
    }
    // Rows for which the expression is TRUE.
    [[nodiscard]] std::size_t count_true(const Batch& batch) const {
        require_boolean("count_true()");
        std::size_t count = 0;
        const std::size_t rows = batch.num_rows();
        run(batch, [&](const detail::Slot& s, std::size_t begin, std::size_t n) {
            for (std::size_t w = 0; w < detail::words_for(n); ++w) {
                std::uint64_t t = s.bits[w] & s.valid[w];
                if (begin + 64 * (w + 1) > rows) t &= (std::uint64_t{1} << (rows % 64)) - 1;
                count += static_cast<std::size_t>(std::popcount(t));
            }
        });
        return count;
    }

    [[nodiscard]] const detail::Program& program() const noexcept { return *p_; }

private:
    void require_boolean(std::string_view what) const {
        if (p_->type != DataType::boolean)
            detail::throw_error<schema_error>(std::string(what) + " needs a boolean expression but '" +
                                              p_->text + "' is " + std::string(to_string(p_->type)));
    }
    template <class OnChunk>
    void run(const Batch& batch, OnChunk&& on_chunk) const {
        detail::run_program(*p_, batch, 0, batch.num_rows(), on_chunk);
    }

    std::shared_ptr<const detail::Program> p_;
};

// A select list: `*`, `expr`, `expr AS name` or `expr name`, separated by commas. An unnamed
// column reference keeps its column's name; another unnamed expression is named by its text.
class Projection {
public:
    [[nodiscard]] static Projection compile(std::string_view select_list, const Schema& schema,
                                            std::string_view origin = {}) {
        Projection out;
        detail::Parser parser(select_list, origin);
        while (true) {
            if (parser.peek().is_symbol("*")) {
                parser.advance();
                for (std::size_t i = 0; i < schema.size(); ++i) {
                    const std::string& name = schema.field(i).name;
                    detail::Ast col;
                    col.kind = detail::AstKind::column;
                    col.name = name;
                    out.add(name, detail::compile_program(col, name, schema, origin), select_list, {});
                }
            } else {
                const std::size_t start = parser.peek().offset;
                detail::AstPtr ast = parser.parse_expression();
                const std::string_view text = select_list.substr(start, parser.last_end() - start);
                auto program = detail::compile_program(*ast, select_list, schema, origin, text);
                std::string name = ast->kind == detail::AstKind::column
                                       ? program->columns.front().name
                                       : std::string(text);
                detail::SourceSpan at{start, text.size()};
                if (parser.peek().is_keyword("as")) {
                    parser.advance();
                    auto alias = parser.take_name();
                    if (!alias) parser.fail(parser.peek(), "expected a column name after AS but found " +
                                                               detail::describe(parser.peek()));
                    name = alias->text;
                    at = {alias->offset, alias->length};
                } else if (auto alias = parser.take_name()) {
                    name = alias->text;
                    at = {alias->offset, alias->length};
                }
                out.add(std::move(name), std::move(program), select_list, at);
            }
            if (parser.at_end()) break;
            if (!parser.peek().is_symbol(","))
                parser.fail(parser.peek(), "expected ',' or the end of the select list but found " +
                                               detail::describe(parser.peek()));
            parser.advance();
        }
        return out;
    }

    [[nodiscard]] const Schema& output_schema() const noexcept { return schema_; }
    [[nodiscard]] const std::vector<Expression>& expressions() const noexcept { return exprs_; }

    [[nodiscard]] Batch apply(const Batch& batch) const {
        Batch out;
        for (std::size_t i = 0; i < exprs_.size(); ++i) {
            const Expression& e = exprs_[i];
            if (e.is_column_reference())
                out.add_column(schema_.field(i), batch.column(e.columns().front()));
            else
                out.add_column(schema_.field(i), e.evaluate(batch));
        }
        return out;
    }

private:
    void add(std::string name, std::shared_ptr<const detail::Program> program, std::string_view source,
             detail::SourceSpan at) {
        for (const auto& f : schema_.fields())
            if (detail::iequals(f.name, name))
                detail::throw_error<schema_error>(detail::format_source_error(
                    "select list", source, at, "duplicate output column name '" + name + "'"));
        const DataType type = program->type;
        schema_.add(Field{name, type, true});
        exprs_.emplace_back(std::move(program));
    }

    Schema schema_;
    std::vector<Expression> exprs_;
};

// A row filter: a boolean expression, optionally written with a leading WHERE. A row is kept
// only when the condition is TRUE (NULL is not TRUE).
class Filter {
public:
    [[nodiscard]] static Filter compile(std::string_view condition, const Schema& schema,
                                        std::string_view origin = {}) {
        detail::Parser parser(condition, origin);
        if (parser.peek().is_keyword("where")) parser.advance();
        const std::size_t start = parser.peek().offset;
        detail::AstPtr ast = parser.parse_expression();
        parser.expect_end();
        auto program =
            detail::compile_program(*ast, condition, schema, origin, condition.substr(start));
        if (program->type != DataType::boolean)
            detail::throw_error<schema_error>(detail::format_source_error(
                origin, condition, ast->whole,
                "WHERE expects a boolean condition but this expression is " +
                    std::string(to_string(program->type))));
        return Filter(Expression(std::move(program)));
    }

    [[nodiscard]] const Expression& condition() const noexcept { return condition_; }

    // One byte per row: 1 where the row is kept.
    [[nodiscard]] std::vector<std::uint8_t> mask(const Batch& batch) const {
        const auto bits = condition_.true_mask(batch);
        std::vector<std::uint8_t> out(batch.num_rows());
        for (std::size_t i = 0; i < out.size(); ++i) out[i] = (bits[i / 64] >> (i % 64)) & 1u;
        return out;
    }
    [[nodiscard]] Batch apply(const Batch& batch) const { return batch.filter(mask(batch)); }

private:
    explicit Filter(Expression e) : condition_(std::move(e)) {}
    Expression condition_;
};

}  // namespace isoflow
