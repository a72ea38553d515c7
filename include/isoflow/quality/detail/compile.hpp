// Type checking and compilation of a syntax tree into a tree of typed kernels (eval.hpp).
//
// Implicit conversions follow Spark SQL (non-ANSI): bigint with double is double; `/` is always
// double; a string compared with a timestamp, number or boolean is cast to that type; a string in
// arithmetic is cast to double; NULL takes the type its context needs.
#pragma once

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "isoflow/core/batch.hpp"
#include "isoflow/core/error.hpp"
#include "isoflow/quality/detail/eval.hpp"
#include "isoflow/quality/detail/lexer.hpp"
#include "isoflow/quality/detail/parser.hpp"
#include "isoflow/quality/detail/values.hpp"

namespace isoflow::detail {

struct ColumnBinding {
    std::string name;  // as the schema spells it
    DataType type;
    std::size_t schema_index;
};

// A compiled expression: immutable, shared by copies of Expression, evaluated by many threads.
struct Program {
    std::string text;
    std::string origin;
    NodePtr root;
    std::size_t slot_count = 0;
    std::vector<ColumnBinding> columns;
    DataType type = DataType::boolean;
    bool is_column_ref = false;  // the whole expression is one column (projections keep its name)
};

[[nodiscard]] inline bool is_numeric(DataType t) noexcept {
    return t == DataType::int64 || t == DataType::float64;
}

struct FunctionInfo {
    std::string_view name;
    std::size_t min_args;
    std::size_t max_args;  // SIZE_MAX: any number
    std::string_view signature;
};

inline constexpr std::size_t kVariadic = static_cast<std::size_t>(-1);
inline constexpr FunctionInfo kFunctions[] = {
    {"abs", 1, 1, "abs(number)"},
    {"coalesce", 1, kVariadic, "coalesce(value, ...)"},
    {"ifnull", 2, 2, "ifnull(value, default)"},
    {"nvl", 2, 2, "nvl(value, default)"},
    {"isnan", 1, 1, "isnan(number)"},
    {"isnull", 1, 1, "isnull(value)"},
    {"isnotnull", 1, 1, "isnotnull(value)"},
    {"length", 1, 1, "length(string)"},
    {"char_length", 1, 1, "char_length(string)"},
    {"lower", 1, 1, "lower(string)"},
    {"lcase", 1, 1, "lcase(string)"},
    {"upper", 1, 1, "upper(string)"},
    {"ucase", 1, 1, "ucase(string)"},
    {"trim", 1, 1, "trim(string)"},
    {"round", 1, 2, "round(number[, scale])"},
    {"sqrt", 1, 1, "sqrt(number)"},
    {"ln", 1, 1, "ln(number)"},
    {"exp", 1, 1, "exp(number)"},
    {"pow", 2, 2, "pow(base, exponent)"},
    {"power", 2, 2, "power(base, exponent)"},
    {"greatest", 2, kVariadic, "greatest(value, value, ...)"},
    {"least", 2, kVariadic, "least(value, value, ...)"},
    {"current_timestamp", 0, 0, "current_timestamp()"},
    {"now", 0, 0, "now()"},
};

class Compiler {
public:
    Compiler(const Schema& schema, std::string_view source, std::string_view origin,
             std::vector<ColumnBinding>& columns)
        : schema_(schema), src_(source), origin_(origin), columns_(columns) {}

    struct Typed {
        NodePtr node;
        bool untyped_null = false;
        [[nodiscard]] DataType type() const { return node->type(); }
    };

    Typed compile(const Ast& a) {
        switch (a.kind) {
            case AstKind::literal: return literal(a);
            case AstKind::column: return column(a);
            case AstKind::negate: {
                Typed x = compile(*a.args[0]);
                if (x.untyped_null) return {std::make_unique<LiteralNode>(DataType::int64), true};
                if (x.type() == DataType::string) x = {to(std::move(x), DataType::float64, *a.args[0])};
                if (!is_numeric(x.type()))
                    fail(a.span, "type mismatch: unary '-' needs a number but got " + type_name(x.type()));
                return {std::make_unique<NegateNode>(std::move(x.node))};
            }
            case AstKind::logical_not:
                return {std::make_unique<NotNode>(boolean_operand(*a.args[0], "NOT"))};
            case AstKind::binary: return binary(a);
            case AstKind::is_null: {
                Typed x = compile(*a.args[0]);
                return {std::make_unique<IsNullNode>(std::move(x.node), a.negated)};
            }
            case AstKind::between: {
                // x BETWEEN lo AND hi is x >= lo AND x <= hi (three-valued, as in Spark).
                NodePtr ge = comparison(">=", a, *a.args[0], *a.args[1]);
                NodePtr le = comparison("<=", a, *a.args[0], *a.args[2]);
                NodePtr both = std::make_unique<LogicNode<true>>(std::move(ge), std::move(le));
                if (a.negated) both = std::make_unique<NotNode>(std::move(both));
                return {std::move(both)};
            }
            case AstKind::in: {
                // x IN (a, b) is x = a OR x = b: NULL when x is NULL, or when nothing matched and
                // the list holds a NULL.
                NodePtr any;
                for (std::size_t i = 1; i < a.args.size(); ++i) {
                    NodePtr eq = comparison("=", *a.args[i], *a.args[0], *a.args[i]);
                    any = any ? std::make_unique<LogicNode<false>>(std::move(any), std::move(eq)) : std::move(eq);
                }
                if (a.negated) any = std::make_unique<NotNode>(std::move(any));
                return {std::move(any)};
            }
            case AstKind::like: {
                const Ast& pattern = *a.args[1];
                if (pattern.kind != AstKind::literal || pattern.literal_type != DataType::string)
                    fail(pattern.whole, "LIKE expects a string literal pattern such as 'abc%' but got " +
                                            quote(pattern));
                Typed x = compile(*a.args[0]);
                NodePtr s = to(std::move(x), DataType::string, *a.args[0]);
                return {std::make_unique<LikeNode>(std::move(s), pattern.string_value, a.negated)};
            }
            case AstKind::case_when: return case_when(a);
            case AstKind::cast: {
                Typed x = compile(*a.args[0]);
                if (x.untyped_null) return {std::make_unique<LiteralNode>(a.cast_to), false};
                check_castable(x.type(), a.cast_to, a);
                if (x.type() == a.cast_to) return x;
                return {std::make_unique<CastNode>(std::move(x.node), a.cast_to)};
            }
            case AstKind::call: return call(a);
        }
        fail(a.span, "unsupported expression");
    }

    // Implicit conversion to `target`; string literals are converted now, so that a malformed
    // one ('2012-13-01' compared with a timestamp) is a compile error, not a NULL on every row.
    NodePtr to(Typed x, DataType target, const Ast& at) {
        if (x.untyped_null) return std::make_unique<LiteralNode>(target);
        if (x.type() == target) return std::move(x.node);
        if (auto* lit = dynamic_cast<LiteralNode*>(x.node.get());
            lit && !lit->is_null() && x.type() == DataType::string) {
            const std::string& s = lit->text();
            switch (target) {
                case DataType::timestamp:
                    if (auto ts = parse_sql_timestamp(s)) return LiteralNode::of_int(DataType::timestamp, *ts);
                    fail(at.whole, "'" + s + "' is not a timestamp: expected 'yyyy-mm-dd[ hh:mm:ss[.ffffff]]'");
                case DataType::float64:
                    if (auto d = parse_double(s)) return LiteralNode::of_double(*d);
                    fail(at.whole, "'" + s + "' is not a number");
                case DataType::int64:
                    if (auto i = parse_int64(s)) return LiteralNode::of_int(DataType::int64, *i);
                    fail(at.whole, "'" + s + "' is not an integer");
                case DataType::boolean:
                    if (auto b = parse_bool(s)) return LiteralNode::of_bool(*b);
                    fail(at.whole, "'" + s + "' is not a boolean: expected true or false");
                case DataType::string: break;
            }
        }
        check_castable(x.type(), target, at);
        return std::make_unique<CastNode>(std::move(x.node), target);
    }

    [[noreturn]] void fail(SourceSpan span, const std::string& message) const {
        throw_error<schema_error>(format_source_error(origin_, src_, span, message));
    }

private:
    static std::string type_name(DataType t) { return std::string(to_string(t)); }
    [[nodiscard]] std::string quote(const Ast& a) const {
        return "'" + std::string(src_.substr(a.whole.offset, a.whole.length)) + "'";
    }

    void check_castable(DataType from, DataType to_type, const Ast& at) const {
        const bool bad = (from == DataType::boolean && to_type == DataType::timestamp) ||
                         (from == DataType::timestamp && to_type == DataType::boolean);
        if (bad) fail(at.whole, "cannot cast " + type_name(from) + " to " + type_name(to_type));
    }

    Typed literal(const Ast& a) {
        if (!a.literal_type) return {std::make_unique<LiteralNode>(DataType::boolean), true};
        switch (*a.literal_type) {
            case DataType::int64:
            case DataType::timestamp: return {LiteralNode::of_int(*a.literal_type, a.int_value)};
            case DataType::float64: return {LiteralNode::of_double(a.double_value)};
            case DataType::boolean: return {LiteralNode::of_bool(a.bool_value)};
            case DataType::string: return {LiteralNode::of_string(a.string_value)};
        }
        return {};
    }

    Typed column(const Ast& a) {
        std::optional<std::size_t> index;
        try {
            index = schema_.find(a.name);
        } catch (const schema_error& e) {
            fail(a.span, e.what());  // ambiguous: two columns differ only by case
        }
        if (!index) fail(a.span, "unknown column '" + a.name + "'" + schema_.suggestions(a.name));
        const Field& field = schema_.field(*index);
        std::size_t binding = columns_.size();
        for (std::size_t i = 0; i < columns_.size(); ++i)
            if (columns_[i].schema_index == *index) binding = i;
        if (binding == columns_.size()) columns_.push_back({field.name, field.type, *index});
        return {std::make_unique<ColumnNode>(field.type, binding)};
    }

    NodePtr boolean_operand(const Ast& a, std::string_view op) {
        Typed x = compile(a);
        if (x.untyped_null) return std::make_unique<LiteralNode>(DataType::boolean);
        if (x.type() != DataType::boolean)
            fail(a.whole, std::string(op) + " expects boolean operands, but " + quote(a) + " is " +
                              type_name(x.type()));
        return std::move(x.node);
    }

    Typed binary(const Ast& a) {
        const std::string& op = a.name;
        if (op == "and" || op == "or") {
            NodePtr l = boolean_operand(*a.args[0], op == "and" ? "AND" : "OR");
            NodePtr r = boolean_operand(*a.args[1], op == "and" ? "AND" : "OR");
            if (op == "and") return {std::make_unique<LogicNode<true>>(std::move(l), std::move(r))};
            return {std::make_unique<LogicNode<false>>(std::move(l), std::move(r))};
        }
        if (op == "+" || op == "-" || op == "*" || op == "/" || op == "%") return arithmetic(a);
        return {comparison(op, a, *a.args[0], *a.args[1])};
    }

    Typed arithmetic(const Ast& a) {
        const std::string& op = a.name;
        Typed l = compile(*a.args[0]);
        Typed r = compile(*a.args[1]);
        auto operand_type = [](const Typed& t) {
            if (t.untyped_null) return DataType::int64;
            return t.type() == DataType::string ? DataType::float64 : t.type();
        };
        const DataType lt = operand_type(l), rt = operand_type(r);
        if (!is_numeric(lt) || !is_numeric(rt))
            fail(a.span, "type mismatch: '" + op + "' needs numbers but got " +
                             type_name(l.untyped_null ? lt : l.type()) + " and " +
                             type_name(r.untyped_null ? rt : r.type()));
        const DataType t = (op == "/" || lt == DataType::float64 || rt == DataType::float64)
                               ? DataType::float64
                               : DataType::int64;
        NodePtr ln = to(std::move(l), t, *a.args[0]);
        NodePtr rn = to(std::move(r), t, *a.args[1]);
        auto make = [&]<class T>() -> NodePtr {
            if (op == "+") return std::make_unique<ArithNode<T, ArithOp::add>>(t, std::move(ln), std::move(rn));
            if (op == "-") return std::make_unique<ArithNode<T, ArithOp::sub>>(t, std::move(ln), std::move(rn));
            if (op == "*") return std::make_unique<ArithNode<T, ArithOp::mul>>(t, std::move(ln), std::move(rn));
            if (op == "/") return std::make_unique<ArithNode<T, ArithOp::div>>(t, std::move(ln), std::move(rn));
            return std::make_unique<ArithNode<T, ArithOp::mod>>(t, std::move(ln), std::move(rn));
        };
        if (t == DataType::float64) return {make.template operator()<double>()};
        return {make.template operator()<std::int64_t>()};
    }

    // The type both sides of a comparison are converted to, or nullopt when they cannot be compared.
    static std::optional<DataType> comparison_type(const Typed& l, const Typed& r) {
        if (l.untyped_null && r.untyped_null) return DataType::boolean;
        if (l.untyped_null) return r.type();
        if (r.untyped_null) return l.type();
        const DataType a = l.type(), b = r.type();
        if (a == b) return a;
        if (is_numeric(a) && is_numeric(b)) return DataType::float64;
        if (a == DataType::string || b == DataType::string) {
            const DataType other = a == DataType::string ? b : a;
            return other == DataType::int64 ? DataType::float64 : other;
        }
        return std::nullopt;
    }

    NodePtr comparison(const std::string& op, const Ast& at, const Ast& left, const Ast& right) {
        Typed l = compile(left);
        Typed r = compile(right);
        const auto t = comparison_type(l, r);
        if (!t)
            fail(at.span, "type mismatch: cannot compare " + type_name(l.type()) + " with " +
                              type_name(r.type()) + " in " + quote(at));
        NodePtr ln = to(std::move(l), *t, left);
        NodePtr rn = to(std::move(r), *t, right);
        auto by_op = [&]<class T>() -> NodePtr {
            if (op == "=") return std::make_unique<CompareNode<CmpOp::eq, T>>(std::move(ln), std::move(rn));
            if (op == "!=") return std::make_unique<CompareNode<CmpOp::ne, T>>(std::move(ln), std::move(rn));
            if (op == "<") return std::make_unique<CompareNode<CmpOp::lt, T>>(std::move(ln), std::move(rn));
            if (op == "<=") return std::make_unique<CompareNode<CmpOp::le, T>>(std::move(ln), std::move(rn));
            if (op == ">") return std::make_unique<CompareNode<CmpOp::gt, T>>(std::move(ln), std::move(rn));
            return std::make_unique<CompareNode<CmpOp::ge, T>>(std::move(ln), std::move(rn));
        };
        switch (*t) {
            case DataType::int64:
            case DataType::timestamp: return by_op.template operator()<std::int64_t>();
            case DataType::float64: return by_op.template operator()<double>();
            case DataType::boolean: return by_op.template operator()<bool>();
            case DataType::string: return by_op.template operator()<std::string_view>();
        }
        return nullptr;
    }

    // The common type of CASE branches and of COALESCE / GREATEST / LEAST arguments.
    std::optional<DataType> common_type(const std::vector<Typed>& values, std::vector<const Ast*> asts,
                                        std::string_view what) const {
        std::optional<DataType> t;
        std::size_t first = 0;
        for (std::size_t i = 0; i < values.size(); ++i) {
            if (values[i].untyped_null) continue;
            const DataType v = values[i].type();
            if (!t) {
                t = v;
                first = i;
            } else if (*t != v) {
                if (is_numeric(*t) && is_numeric(v)) t = DataType::float64;
                else if (*t == DataType::string || v == DataType::string) t = DataType::string;
                else
                    fail(asts[i]->whole, "type mismatch: " + std::string(what) + " mixes " +
                                             type_name(values[first].type()) + " (" + quote(*asts[first]) +
                                             ") and " + type_name(v) + " (" + quote(*asts[i]) + ")");
            }
        }
        return t;
    }

    Typed case_when(const Ast& a) {
        std::vector<NodePtr> kids;
        std::vector<Typed> values;
        std::vector<const Ast*> value_asts;
        const std::size_t branches = (a.args.size() - (a.has_else ? 1 : 0)) / 2;
        std::vector<NodePtr> conditions;
        for (std::size_t b = 0; b < branches; ++b) {
            conditions.push_back(boolean_operand(*a.args[2 * b], "WHEN"));
            values.push_back(compile(*a.args[2 * b + 1]));
            value_asts.push_back(a.args[2 * b + 1].get());
        }
        if (a.has_else) {
            values.push_back(compile(*a.args.back()));
            value_asts.push_back(a.args.back().get());
        }
        const DataType t = common_type(values, value_asts, "CASE").value_or(DataType::boolean);
        for (std::size_t b = 0; b < branches; ++b) {
            kids.push_back(std::move(conditions[b]));
            kids.push_back(to(std::move(values[b]), t, *value_asts[b]));
        }
        if (a.has_else) kids.push_back(to(std::move(values.back()), t, *value_asts.back()));
        return {std::make_unique<CaseNode>(t, std::move(kids), a.has_else)};
    }

    NodePtr number_arg(const Ast& fn, const Ast& arg, DataType want) {
        Typed x = compile(arg);
        if (!x.untyped_null && x.type() != DataType::string && !is_numeric(x.type()))
            fail(arg.whole, fn.name + "() expects a number but " + quote(arg) + " is " + type_name(x.type()));
        return to(std::move(x), want, arg);
    }

    Typed call(const Ast& a) {
        const FunctionInfo* info = nullptr;
        for (const auto& f : kFunctions)
            if (f.name == a.name) info = &f;
        if (!info) {
            std::string_view best;
            std::size_t best_d = 3;
            for (const auto& f : kFunctions)
                if (std::size_t d = edit_distance(a.name, f.name); d < best_d) {
                    best_d = d;
                    best = f.name;
                }
            fail(a.span, "unknown function '" + a.name + "'" +
                             (best.empty() ? std::string(" (functions: abs, coalesce, isnan, isnull, length, "
                                                         "lower, upper, trim, round, sqrt, ln, exp, pow, "
                                                         "greatest, least, current_timestamp)")
                                           : " (did you mean '" + std::string(best) + "'?)"));
        }
        const std::size_t n = a.args.size();
        if (n < info->min_args || n > info->max_args) {
            std::string expected = info->min_args == info->max_args
                                       ? std::to_string(info->min_args)
                                       : info->max_args == kVariadic
                                             ? "at least " + std::to_string(info->min_args)
                                             : std::to_string(info->min_args) + " or " +
                                                   std::to_string(info->max_args);
            fail(a.span, a.name + "() takes " + expected + " argument" +
                             (info->min_args == 1 && info->max_args != 2 ? "" : "s") + " but was given " + std::to_string(n) +
                             ": " + std::string(info->signature));
        }
        const std::string& name = a.name;
        if (name == "current_timestamp" || name == "now") return {std::make_unique<NowNode>()};
        if (name == "isnull" || name == "isnotnull")
            return {std::make_unique<IsNullNode>(compile(*a.args[0]).node, name == "isnotnull")};
        if (name == "coalesce" || name == "ifnull" || name == "nvl" || name == "greatest" || name == "least") {
            std::vector<Typed> values;
            std::vector<const Ast*> asts;
            for (const auto& arg : a.args) {
                values.push_back(compile(*arg));
                asts.push_back(arg.get());
            }
            const DataType t = common_type(values, asts, name + "()").value_or(DataType::boolean);
            std::vector<NodePtr> kids;
            for (std::size_t i = 0; i < values.size(); ++i) kids.push_back(to(std::move(values[i]), t, *asts[i]));
            if (name == "greatest") return {std::make_unique<ExtremeNode<true>>(t, std::move(kids))};
            if (name == "least") return {std::make_unique<ExtremeNode<false>>(t, std::move(kids))};
            return {std::make_unique<CoalesceNode>(t, std::move(kids))};
        }
        if (name == "abs") {
            Typed x = compile(*a.args[0]);
            const DataType t = !x.untyped_null && x.type() == DataType::int64 ? DataType::int64 : DataType::float64;
            if (!x.untyped_null && x.type() != DataType::string && !is_numeric(x.type()))
                fail(a.args[0]->whole, "abs() expects a number but " + quote(*a.args[0]) + " is " + type_name(x.type()));
            std::vector<NodePtr> kids;
            kids.push_back(to(std::move(x), t, *a.args[0]));
            return {std::make_unique<MathNode>(t, MathFn::abs, std::move(kids))};
        }
        if (name == "sqrt" || name == "ln" || name == "exp" || name == "pow" || name == "power") {
            std::vector<NodePtr> kids;
            for (const auto& arg : a.args) kids.push_back(number_arg(a, *arg, DataType::float64));
            const MathFn fn = name == "sqrt" ? MathFn::sqrt : name == "ln" ? MathFn::ln
                              : name == "exp" ? MathFn::exp : MathFn::pow;
            return {std::make_unique<MathNode>(DataType::float64, fn, std::move(kids))};
        }
        if (name == "round") {
            std::int64_t scale = 0;
            if (n == 2) {
                const Ast& s = *a.args[1];
                if (s.kind != AstKind::literal || s.literal_type != DataType::int64)
                    fail(s.whole, "round() expects an integer literal scale but got " + quote(s));
                scale = s.int_value;
            }
            Typed x = compile(*a.args[0]);
            const DataType t = !x.untyped_null && x.type() == DataType::int64 ? DataType::int64 : DataType::float64;
            if (!x.untyped_null && x.type() != DataType::string && !is_numeric(x.type()))
                fail(a.args[0]->whole, "round() expects a number but " + quote(*a.args[0]) + " is " + type_name(x.type()));
            return {std::make_unique<RoundNode>(to(std::move(x), t, *a.args[0]), scale)};
        }
        if (name == "isnan") return {std::make_unique<IsNanNode>(number_arg(a, *a.args[0], DataType::float64))};
        // String functions: other types are converted to their text, as in Spark.
        NodePtr s = to(compile(*a.args[0]), DataType::string, *a.args[0]);
        if (name == "length" || name == "char_length") return {std::make_unique<LengthNode>(std::move(s))};
        const StringFn fn = (name == "lower" || name == "lcase") ? StringFn::lower
                            : (name == "upper" || name == "ucase") ? StringFn::upper
                                                                   : StringFn::trim;
        return {std::make_unique<StringFnNode>(std::move(s), fn)};
    }

    const Schema& schema_;
    std::string_view src_;
    std::string_view origin_;
    std::vector<ColumnBinding>& columns_;
};

// Parses and compiles `text` against `schema`.
// `text` is the source the syntax tree's spans refer to; `display` (default: all of it) is what
// messages at evaluation time quote.
[[nodiscard]] inline std::shared_ptr<const Program> compile_program(const Ast& ast, std::string_view text,
                                                                    const Schema& schema, std::string_view origin,
                                                                    std::string_view display = {}) {
    auto p = std::make_shared<Program>();
    p->text = std::string(display.empty() ? text : display);
    p->origin = std::string(origin);
    Compiler c(schema, text, origin, p->columns);
    Compiler::Typed t = c.compile(ast);
    p->is_column_ref = ast.kind == AstKind::column;
    p->root = std::move(t.node);
    p->type = p->root->type();
    p->slot_count = p->root->assign_slots(0);
    return p;
}

}  // namespace isoflow::detail
