// Recursive-descent parser of the expression language into an untyped syntax tree.
//
// Precedence follows Spark SQL's grammar, loosest first:
//   OR < AND < NOT < predicate (IS [NOT] NULL, [NOT] BETWEEN / IN / LIKE)
//      < comparison (= == != <> < <= > >=) < + - < * / % < unary - +
// so `NOT a = 1` is `NOT (a = 1)` and `a + 1 BETWEEN 0 AND 5 AND b` is
// `((a + 1) BETWEEN 0 AND 5) AND b`.
#pragma once

#include <charconv>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "isoflow/core/batch.hpp"
#include "isoflow/quality/detail/lexer.hpp"
#include "isoflow/quality/detail/values.hpp"

namespace isoflow::detail {

enum class AstKind : std::uint8_t {
    literal,
    column,
    negate,   // unary minus
    logical_not,
    binary,   // name: "+", "-", "*", "/", "%", "=", "!=", "<", "<=", ">", ">=", "and", "or"
    is_null,  // negated: IS NOT NULL
    between,  // args: value, low, high
    in,       // args: value, item...
    like,     // args: value, pattern
    case_when,  // args: when, then, when, then, ..., [else]
    cast,
    call,     // name: function name in lower case
};

struct Ast {
    AstKind kind = AstKind::literal;
    std::string name;
    SourceSpan span;   // the token an error about this node points at
    SourceSpan whole;  // the node's full extent in the source
    std::vector<std::unique_ptr<Ast>> args;
    bool negated = false;
    bool has_else = false;
    // literal: nullopt type means an untyped NULL
    std::optional<DataType> literal_type;
    std::int64_t int_value = 0;
    double double_value = 0.0;
    bool bool_value = false;
    std::string string_value;
    DataType cast_to = DataType::string;

    [[nodiscard]] std::unique_ptr<Ast> clone() const {
        auto out = std::make_unique<Ast>();
        out->kind = kind;
        out->name = name;
        out->span = span;
        out->whole = whole;
        for (const auto& a : args) out->args.push_back(a->clone());
        out->negated = negated;
        out->has_else = has_else;
        out->literal_type = literal_type;
        out->int_value = int_value;
        out->double_value = double_value;
        out->bool_value = bool_value;
        out->string_value = string_value;
        out->cast_to = cast_to;
        return out;
    }
};
using AstPtr = std::unique_ptr<Ast>;

class Parser {
public:
    Parser(std::string_view source, std::string_view origin)
        : src_(source), origin_(origin), tokens_(Lexer(source, origin).tokenize()) {}

    // A whole expression; anything left over is an error.
    [[nodiscard]] AstPtr parse_single() {
        AstPtr e = parse_expression();
        expect_end();
        return e;
    }

    [[nodiscard]] AstPtr parse_expression() { return parse_or(); }

    [[nodiscard]] const Token& peek(std::size_t ahead = 0) const {
        return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
    }
    const Token& advance() {
        const Token& t = tokens_[pos_];
        if (pos_ + 1 < tokens_.size()) ++pos_;
        return t;
    }
    [[nodiscard]] bool at_end() const { return peek().kind == TokenKind::end; }
    [[nodiscard]] std::size_t last_end() const {
        if (pos_ == 0) return 0;
        const Token& t = tokens_[pos_ - 1];
        return t.offset + t.length;
    }

    void expect_end() {
        if (!at_end())
            fail(peek(), "expected an operator (such as AND, OR, = or +) or the end of the expression "
                         "but found " + describe(peek()));
    }
    void expect_symbol(std::string_view s, std::string_view context) {
        if (!peek().is_symbol(s))
            fail(peek(), "expected '" + std::string(s) + "'" + std::string(context) + " but found " +
                             describe(peek()));
        advance();
    }
    void expect_keyword(std::string_view k, std::string_view context) {
        if (!peek().is_keyword(k))
            fail(peek(), "expected " + std::string(k) + std::string(context) + " but found " +
                             describe(peek()));
        advance();
    }

    [[noreturn]] void fail(const Token& at, const std::string& message) const {
        throw_error<parse_error>(
            format_source_error(origin_, src_, {at.offset, at.length == 0 ? 1 : at.length}, message));
    }

    // An identifier or `quoted name` (for aliases and constraint names).
    [[nodiscard]] std::optional<Token> take_name() {
        const Token& t = peek();
        if (t.kind == TokenKind::quoted_identifier || (t.kind == TokenKind::identifier && !reserved(t.text)))
            return advance();
        return std::nullopt;
    }

    [[nodiscard]] static bool reserved(std::string_view word) {
        static constexpr std::string_view words[] = {
            "and", "or", "not", "is", "null", "true", "false", "case", "when", "then", "else",
            "end", "between", "in", "like", "as", "cast", "where", "constraint", "expect", "on"};
        for (std::string_view w : words)
            if (iequals(word, w)) return true;
        return false;
    }

private:
    AstPtr make(AstKind kind, const Token& at, std::size_t start) {
        auto a = std::make_unique<Ast>();
        a->kind = kind;
        a->span = {at.offset, at.length};
        a->whole = {start, 0};
        return a;
    }
    void close(Ast& a) { a.whole.length = last_end() - a.whole.offset; }

    AstPtr binary(std::string op, const Token& at, AstPtr l, AstPtr r) {
        auto a = make(AstKind::binary, at, l->whole.offset);
        a->name = std::move(op);
        a->args.push_back(std::move(l));
        a->args.push_back(std::move(r));
        close(*a);
        return a;
    }

    AstPtr parse_or() {
        AstPtr left = parse_and();
        while (peek().is_keyword("or")) {
            const Token op = advance();
            left = binary("or", op, std::move(left), parse_and());
        }
        return left;
    }
    AstPtr parse_and() {
        AstPtr left = parse_not();
        while (peek().is_keyword("and")) {
            const Token op = advance();
            left = binary("and", op, std::move(left), parse_not());
        }
        return left;
    }
    AstPtr parse_not() {
        if (peek().is_keyword("not") || peek().is_symbol("!")) {
            const Token op = advance();
            auto a = make(AstKind::logical_not, op, op.offset);
            a->args.push_back(parse_not());
            close(*a);
            return a;
        }
        return parse_predicate();
    }
    AstPtr parse_predicate() {
        AstPtr value = parse_comparison();
        const std::size_t start = value->whole.offset;
        if (peek().is_keyword("is")) {
            const Token is = advance();
            auto a = make(AstKind::is_null, is, start);
            if (peek().is_keyword("not")) {
                advance();
                a->negated = true;
            }
            expect_keyword("NULL", a->negated ? " after IS NOT" : " or NOT after IS");
            a->args.push_back(std::move(value));
            close(*a);
            return a;
        }
        bool negated = false;
        if (peek().is_keyword("not") &&
            (peek(1).is_keyword("between") || peek(1).is_keyword("in") || peek(1).is_keyword("like"))) {
            advance();
            negated = true;
        }
        if (peek().is_keyword("between")) {
            const Token op = advance();
            auto a = make(AstKind::between, op, start);
            a->negated = negated;
            a->args.push_back(std::move(value));
            a->args.push_back(parse_comparison());
            expect_keyword("AND", " between the bounds of BETWEEN");
            a->args.push_back(parse_comparison());
            close(*a);
            return a;
        }
        if (peek().is_keyword("in")) {
            const Token op = advance();
            auto a = make(AstKind::in, op, start);
            a->negated = negated;
            a->args.push_back(std::move(value));
            expect_symbol("(", " to open the IN list");
            do {
                a->args.push_back(parse_expression());
            } while (peek().is_symbol(",") && (advance(), true));
            expect_symbol(")", " or ',' in the IN list");
            close(*a);
            return a;
        }
        if (peek().is_keyword("like")) {
            const Token op = advance();
            auto a = make(AstKind::like, op, start);
            a->negated = negated;
            a->args.push_back(std::move(value));
            a->args.push_back(parse_comparison());
            close(*a);
            return a;
        }
        return value;
    }
    AstPtr parse_comparison() {
        AstPtr left = parse_additive();
        while (true) {
            const Token& t = peek();
            std::string op;
            if (t.is_symbol("=") || t.is_symbol("==")) op = "=";
            else if (t.is_symbol("!=") || t.is_symbol("<>")) op = "!=";
            else if (t.is_symbol("<") || t.is_symbol("<=") || t.is_symbol(">") || t.is_symbol(">="))
                op = t.text;
            else
                return left;
            const Token at = advance();
            left = binary(op, at, std::move(left), parse_additive());
        }
    }
    AstPtr parse_additive() {
        AstPtr left = parse_multiplicative();
        while (peek().is_symbol("+") || peek().is_symbol("-")) {
            const Token op = advance();
            left = binary(op.text, op, std::move(left), parse_multiplicative());
        }
        return left;
    }
    AstPtr parse_multiplicative() {
        AstPtr left = parse_unary();
        while (peek().is_symbol("*") || peek().is_symbol("/") || peek().is_symbol("%")) {
            const Token op = advance();
            left = binary(op.text, op, std::move(left), parse_unary());
        }
        return left;
    }
    AstPtr parse_unary() {
        if (peek().is_symbol("-")) {
            const Token op = advance();
            // Fold the sign into a number literal so that -9223372036854775808 is a bigint.
            if (peek().kind == TokenKind::integer || peek().kind == TokenKind::decimal) {
                AstPtr lit = parse_number(advance(), true);
                lit->span = {op.offset, last_end() - op.offset};
                lit->whole = lit->span;
                return lit;
            }
            auto a = make(AstKind::negate, op, op.offset);
            a->args.push_back(parse_unary());
            close(*a);
            return a;
        }
        if (peek().is_symbol("+")) {
            advance();
            return parse_unary();
        }
        return parse_primary();
    }

    AstPtr literal(const Token& at, std::optional<DataType> type) {
        auto a = make(AstKind::literal, at, at.offset);
        a->literal_type = type;
        close(*a);
        return a;
    }

    AstPtr parse_number(const Token& t, bool negative) {
        const std::string text = (negative ? "-" : "") + t.text;
        if (t.kind == TokenKind::integer) {
            std::int64_t v = 0;
            auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
            if (ec == std::errc() && p == text.data() + text.size()) {
                auto a = literal(t, DataType::int64);
                a->int_value = v;
                return a;
            }
            // Too large for BIGINT: Spark makes it a decimal; we have double.
        }
        auto a = literal(t, DataType::float64);
        a->double_value = parse_double(text).value_or(0.0);
        return a;
    }

    AstPtr parse_primary() {
        const Token& t = peek();
        const std::size_t start = t.offset;
        switch (t.kind) {
            case TokenKind::integer:
            case TokenKind::decimal: return parse_number(advance(), false);
            case TokenKind::string: {
                auto a = literal(advance(), DataType::string);
                a->string_value = t.text;
                return a;
            }
            case TokenKind::quoted_identifier: {
                const Token& n = advance();
                auto a = make(AstKind::column, n, start);
                a->name = n.text;
                close(*a);
                return a;
            }
            case TokenKind::symbol:
                if (t.is_symbol("(")) {
                    const Token open = advance();
                    AstPtr inner = parse_expression();
                    if (!peek().is_symbol(")"))
                        fail(peek(), "expected ')' to close the '(' at column " +
                                         std::to_string(open.offset + 1) + " but found " +
                                         describe(peek()));
                    advance();
                    inner->whole = {start, last_end() - start};
                    return inner;
                }
                break;
            case TokenKind::end: break;
            case TokenKind::identifier: {
                if (t.is_keyword("true") || t.is_keyword("false")) {
                    const bool v = t.is_keyword("true");
                    auto a = literal(advance(), DataType::boolean);
                    a->bool_value = v;
                    return a;
                }
                if (t.is_keyword("null")) return literal(advance(), std::nullopt);
                if ((t.is_keyword("timestamp") || t.is_keyword("date")) &&
                    peek(1).kind == TokenKind::string) {
                    advance();
                    const Token& s = advance();
                    auto ts = parse_sql_timestamp(s.text);
                    if (!ts)
                        fail(s, "invalid TIMESTAMP literal '" + s.text +
                                    "': expected 'yyyy-mm-dd[ hh:mm:ss[.ffffff]][Z|+hh:mm]'");
                    auto a = literal(s, DataType::timestamp);
                    a->int_value = *ts;
                    a->whole = {start, last_end() - start};
                    return a;
                }
                if (t.is_keyword("case")) return parse_case();
                if (t.is_keyword("cast") && peek(1).is_symbol("(")) return parse_cast();
                if (peek(1).is_symbol("(")) return parse_call();
                if (t.is_keyword("current_timestamp") || t.is_keyword("now")) {
                    const Token& n = advance();
                    auto a = make(AstKind::call, n, start);
                    a->name = "current_timestamp";
                    close(*a);
                    return a;
                }
                if (reserved(t.text)) break;
                const Token& n = advance();
                auto a = make(AstKind::column, n, start);
                a->name = n.text;
                close(*a);
                return a;
            }
        }
        fail(t, "expected an expression (a column, a literal, a function call or '(') but found " +
                    describe(t));
    }

    AstPtr parse_case() {
        const Token kw = advance();
        auto a = make(AstKind::case_when, kw, kw.offset);
        AstPtr subject;  // CASE x WHEN v THEN ... compares x = v
        if (!peek().is_keyword("when")) subject = parse_expression();
        if (!peek().is_keyword("when")) fail(peek(), "expected WHEN in CASE but found " + describe(peek()));
        while (peek().is_keyword("when")) {
            const Token when = advance();
            AstPtr cond = parse_expression();
            if (subject) cond = binary("=", when, subject->clone(), std::move(cond));
            a->args.push_back(std::move(cond));
            expect_keyword("THEN", " after the WHEN condition");
            a->args.push_back(parse_expression());
        }
        if (peek().is_keyword("else")) {
            advance();
            a->args.push_back(parse_expression());
            a->has_else = true;
        }
        if (!peek().is_keyword("end"))
            fail(peek(), "expected WHEN, ELSE or END in CASE but found " + describe(peek()));
        advance();
        close(*a);
        return a;
    }

    AstPtr parse_cast() {
        const Token kw = advance();
        auto a = make(AstKind::cast, kw, kw.offset);
        expect_symbol("(", " after CAST");
        a->args.push_back(parse_expression());
        expect_keyword("AS", " in CAST(expression AS type)");
        const Token& type = peek();
        std::optional<DataType> dt;
        if (type.kind == TokenKind::identifier) dt = parse_data_type(type.text);
        if (!dt)
            fail(type, "expected a type (BIGINT, INT, DOUBLE, FLOAT, BOOLEAN, STRING or TIMESTAMP) "
                       "but found " + describe(type));
        advance();
        a->cast_to = *dt;
        // Spark accepts VARCHAR(10) and DECIMAL(p, s) style sizes; the size does not matter here.
        if (peek().is_symbol("(")) {
            advance();
            while (!at_end() && !peek().is_symbol(")")) advance();
            expect_symbol(")", " after the type size");
        }
        expect_symbol(")", " to close CAST");
        close(*a);
        return a;
    }

    AstPtr parse_call() {
        const Token& n = advance();
        auto a = make(AstKind::call, n, n.offset);
        a->name = to_lower(n.text);
        const Token open = advance();  // '('
        if (!peek().is_symbol(")")) {
            do {
                a->args.push_back(parse_expression());
            } while (peek().is_symbol(",") && (advance(), true));
        }
        if (!peek().is_symbol(")"))
            fail(peek(), "expected ',' or ')' in the arguments of " + n.text + "( at column " +
                             std::to_string(open.offset + 1) + " but found " + describe(peek()));
        advance();
        close(*a);
        return a;
    }

    std::string_view src_;
    std::string_view origin_;
    std::vector<Token> tokens_;
    std::size_t pos_ = 0;
};

}  // namespace isoflow::detail
