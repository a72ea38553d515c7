// The typed stages a pipeline table is made of, and their composition with `|`:
//
//   using namespace isoflow;
//   auto gold = where("Amount > 0") | score("model.iforest") | select({"tx_id", "anomaly_score"});
//
// A table runs its stages in the order given. A JSON table's keys become the same stages in a
// fixed order: where, score, select, expectations. PipelineBuilder (builder.hpp) puts tables made
// of stages together; the pipeline checks them when it is built (pipeline.hpp).
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "isoflow/core/batch.hpp"
#include "isoflow/core/error.hpp"
#include "isoflow/quality/expectation.hpp"

namespace isoflow {

// Keeps the rows for which `condition` is TRUE (NULL is not TRUE); a leading WHERE is allowed.
struct WhereStage {
    std::string condition;
};

// A projection: `*`, `expr`, `expr AS name`, one item per entry.
struct SelectStage {
    std::vector<std::string> items;
};

// Scores with a model file (binary or .json): adds anomaly_score, is_anomaly and model_version.
struct ScoreStage {
    std::string model;
};

// Expectations that see the same rows, as one group (DLT's semantics): each one counts every row
// of its input, and a row that fails several is dropped or quarantined once, with all their names.
struct ExpectStage {
    std::vector<Expectation> expectations;
};

// A batch transformation written in C++. With `output_schema` (the output's schema as a function
// of the input's), the stages after it are checked when the pipeline is built, and each batch it
// returns is checked against what that function says; without it, they are checked at the first
// batch.
struct MapStage {
    std::string name;
    std::function<Batch(Batch)> fn;
    std::function<Schema(const Schema&)> output_schema;
};

using Stage = std::variant<WhereStage, SelectStage, ScoreStage, ExpectStage, MapStage>;

// "where", "select", "score model.iforest", "expectations valid, positive", "map 'to_cents'".
[[nodiscard]] inline std::string describe(const Stage& stage) {
    struct Describe {
        std::string operator()(const WhereStage&) const { return "where"; }
        std::string operator()(const SelectStage&) const { return "select"; }
        std::string operator()(const ScoreStage& s) const { return "score " + s.model; }
        std::string operator()(const ExpectStage& s) const {
            std::string out = "expectations ";
            for (std::size_t i = 0; i < s.expectations.size(); ++i)
                out += (i ? ", " : "") + s.expectations[i].name();
            return out;
        }
        std::string operator()(const MapStage& s) const { return "map '" + s.name + "'"; }
    };
    return std::visit(Describe{}, stage);
}

// A sequence of typed stages, made with `|`. Its type lists its stages.
template <class... S>
struct StageChain {
    std::tuple<S...> stages;
};

namespace detail::stages {

template <class T>
inline constexpr bool is_single_stage_v =
    std::is_same_v<T, WhereStage> || std::is_same_v<T, SelectStage> || std::is_same_v<T, ScoreStage> ||
    std::is_same_v<T, ExpectStage> || std::is_same_v<T, MapStage>;

template <class T>
struct is_chain : std::false_type {};
template <class... S>
struct is_chain<StageChain<S...>> : std::true_type {};

template <class T>
[[nodiscard]] auto as_chain(T&& stage) {
    using U = std::remove_cvref_t<T>;
    if constexpr (is_chain<U>::value) return U(std::forward<T>(stage));
    else return StageChain<U>{std::tuple<U>(std::forward<T>(stage))};
}

template <class... A, class... B>
[[nodiscard]] StageChain<A..., B...> join(StageChain<A...>&& a, StageChain<B...>&& b) {
    return StageChain<A..., B...>{std::tuple_cat(std::move(a.stages), std::move(b.stages))};
}

}  // namespace detail::stages

// A typed stage or a chain of them: what `|` composes.
template <class T>
concept TypedStage = detail::stages::is_single_stage_v<std::remove_cvref_t<T>> ||
                     detail::stages::is_chain<std::remove_cvref_t<T>>::value;

// What a table accepts: typed stages and chains, or a Stage / std::vector<Stage> made at run time.
template <class T>
concept TableStage = TypedStage<T> || std::is_same_v<std::remove_cvref_t<T>, Stage> ||
                     std::is_same_v<std::remove_cvref_t<T>, std::vector<Stage>>;

template <TypedStage A, TypedStage B>
[[nodiscard]] auto operator|(A&& a, B&& b) {
    return detail::stages::join(detail::stages::as_chain(std::forward<A>(a)),
                                detail::stages::as_chain(std::forward<B>(b)));
}

// Appends the stages of `stage` (one, a chain, or a list) to `out`, in order.
template <TableStage T>
void append_stages(std::vector<Stage>& out, T&& stage) {
    using U = std::remove_cvref_t<T>;
    if constexpr (detail::stages::is_chain<U>::value) {
        std::apply([&](auto&&... s) { (out.emplace_back(std::forward<decltype(s)>(s)), ...); },
                   std::forward<T>(stage).stages);
    } else if constexpr (std::is_same_v<U, std::vector<Stage>>) {
        out.insert(out.end(), stage.begin(), stage.end());
    } else {
        out.emplace_back(std::forward<T>(stage));
    }
}

template <TableStage... T>
[[nodiscard]] std::vector<Stage> to_stages(T&&... stages) {
    std::vector<Stage> out;
    (append_stages(out, std::forward<T>(stages)), ...);
    return out;
}

// --- making stages --------------------------------------------------------------------------

[[nodiscard]] inline WhereStage where(std::string condition) {
    if (condition.find_first_not_of(" \t\r\n") == std::string::npos)
        detail::throw_error<config_error>("where(): the condition is empty");
    return WhereStage{std::move(condition)};
}

[[nodiscard]] inline SelectStage select(std::vector<std::string> items) {
    if (items.empty()) detail::throw_error<config_error>("select(): expected at least one item");
    return SelectStage{std::move(items)};
}

[[nodiscard]] inline ScoreStage score(std::string model) {
    if (model.empty()) detail::throw_error<config_error>("score(): expected a model file, got an empty path");
    return ScoreStage{std::move(model)};
}

// A constraint for the expect* functions: SQL text, a RowPredicate-like callable
// (const Batch&, std::size_t row) -> bool, or a BatchPredicate-like one
// (const Batch&, std::span<std::uint8_t> pass) -> void.
template <class C>
concept ExpectationConstraint =
    std::is_convertible_v<C, std::string> ||
    std::is_invocable_r_v<bool, std::remove_cvref_t<C>&, const Batch&, std::size_t> ||
    std::is_invocable_v<std::remove_cvref_t<C>&, const Batch&, std::span<std::uint8_t>>;

namespace detail::stages {

template <ExpectationConstraint C>
[[nodiscard]] Expectation make_expectation(std::string name, C&& constraint, ExpectationAction action) {
    using U = std::remove_cvref_t<C>;
    if constexpr (std::is_convertible_v<C, std::string>)
        return Expectation(std::move(name), std::string(std::forward<C>(constraint)), action);
    else if constexpr (std::is_invocable_r_v<bool, U&, const Batch&, std::size_t>)
        return Expectation::from_row_predicate(std::move(name), RowPredicate(std::forward<C>(constraint)), action);
    else
        return Expectation(std::move(name), BatchPredicate(std::forward<C>(constraint)), action);
}

}  // namespace detail::stages

[[nodiscard]] inline ExpectStage expect(Expectation expectation) { return ExpectStage{{std::move(expectation)}}; }
[[nodiscard]] inline ExpectStage expect(std::vector<Expectation> group) {
    if (group.empty()) detail::throw_error<config_error>("expect(): expected at least one expectation");
    return ExpectStage{std::move(group)};
}
// DLT's four decorators; `constraint` is SQL text or a C++ predicate.
template <ExpectationConstraint C>
[[nodiscard]] ExpectStage expect(std::string name, C&& constraint) {
    return expect(detail::stages::make_expectation(std::move(name), std::forward<C>(constraint), ExpectationAction::warn));
}
template <ExpectationConstraint C>
[[nodiscard]] ExpectStage expect_or_drop(std::string name, C&& constraint) {
    return expect(detail::stages::make_expectation(std::move(name), std::forward<C>(constraint), ExpectationAction::drop));
}
template <ExpectationConstraint C>
[[nodiscard]] ExpectStage expect_or_fail(std::string name, C&& constraint) {
    return expect(detail::stages::make_expectation(std::move(name), std::forward<C>(constraint), ExpectationAction::fail));
}
template <ExpectationConstraint C>
[[nodiscard]] ExpectStage expect_or_quarantine(std::string name, C&& constraint) {
    return expect(
        detail::stages::make_expectation(std::move(name), std::forward<C>(constraint), ExpectationAction::quarantine));
}

// A C++ transformation of each batch: `fn` takes the batch (by value) and returns the new one.
template <class F>
    requires std::is_invocable_r_v<Batch, F&, Batch>
[[nodiscard]] MapStage map(std::string name, F fn) {
    if (name.empty()) detail::throw_error<config_error>("map(): a map stage needs a name");
    return MapStage{std::move(name), std::function<Batch(Batch)>(std::move(fn)), {}};
}
// The same, with the output schema as a function of the input schema, so that what follows is
// checked ahead.
template <class F, class S>
    requires std::is_invocable_r_v<Batch, F&, Batch> && std::is_invocable_r_v<Schema, S&, const Schema&>
[[nodiscard]] MapStage map(std::string name, F fn, S output_schema) {
    MapStage out = map(std::move(name), std::move(fn));
    out.output_schema = std::function<Schema(const Schema&)>(std::move(output_schema));
    return out;
}

}  // namespace isoflow
