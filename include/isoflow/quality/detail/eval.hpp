// The vectorised evaluator: a compiled tree of typed column kernels.
//
// A batch is evaluated in chunks of kChunkRows rows (a multiple of 64, so that a chunk starts on a
// word of every validity bitmap). Each node writes its chunk result to its own slot: values as a
// contiguous array (or a borrowed pointer into the batch's column), validity as a bitmap, and
// booleans as a bitmap of values too, so AND / OR / NOT / IS NULL work a word (64 rows) at a time.
// Virtual calls happen once per node and chunk, never per row; numeric kernels are fixed-size
// loops over 64 rows with restrict-qualified pointers, which GCC and Clang vectorise at -O2.
//
// A slot marked `scalar` holds one value for every row (a literal, or a node whose inputs are all
// scalar): numeric kernels read index 0 of it. Scalar booleans and all validity bitmaps are still
// full-width words (pointing at shared all-ones / all-zeros words), so bitmap code never branches
// on scalars.
#pragma once

#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "isoflow/core/batch.hpp"
#include "isoflow/quality/detail/values.hpp"

#if defined(__GNUC__) || defined(__clang__)
#define ISOFLOW_RESTRICT __restrict__
#else
#define ISOFLOW_RESTRICT
#endif

namespace isoflow::detail {

inline constexpr std::size_t kChunkRows = 1024;
inline constexpr std::size_t kChunkWords = kChunkRows / 64;

struct Slot {
    bool scalar = false;
    const std::uint64_t* valid = nullptr;  // kChunkWords words
    const std::uint64_t* bits = nullptr;   // boolean values; meaningful where valid
    const std::int64_t* i64 = nullptr;     // bigint, timestamp
    const double* f64 = nullptr;
    const std::string_view* str = nullptr;

    // Storage, sized on first use and reused for every chunk.
    std::vector<std::uint64_t> valid_buf, bits_buf;
    std::vector<std::int64_t> i64_buf;
    std::vector<double> f64_buf;
    std::vector<std::string_view> str_buf;
    std::vector<std::uint8_t> byte_buf;
    std::vector<std::size_t> offset_buf;
    std::string chars_buf;

    std::uint64_t* own_valid() { return sized(valid_buf, kChunkWords); }
    std::uint64_t* own_bits() { return sized(bits_buf, kChunkWords); }
    std::int64_t* own_i64() { return sized(i64_buf, kChunkRows); }
    double* own_f64() { return sized(f64_buf, kChunkRows); }
    std::string_view* own_str() { return sized(str_buf, kChunkRows); }
    std::uint8_t* own_bytes() { return sized(byte_buf, kChunkRows); }

    [[nodiscard]] bool valid_at(std::size_t i) const noexcept { return (valid[i >> 6] >> (i & 63)) & 1u; }
    [[nodiscard]] bool bit_at(std::size_t i) const noexcept { return (bits[i >> 6] >> (i & 63)) & 1u; }

private:
    template <class T>
    static T* sized(std::vector<T>& v, std::size_t n) {
        if (v.size() < n) v.resize(n);
        return v.data();
    }
};

struct Frame {
    std::vector<const Column*> columns;  // the program's column table, bound to one batch
    std::vector<Slot> slots;
    std::size_t begin = 0;                // first row of the current chunk
    std::int64_t now_micros = 0;          // current_timestamp(), fixed for one evaluation
    std::array<std::uint64_t, kChunkWords> ones{};
    std::array<std::uint64_t, kChunkWords> zeros{};

    Frame() { ones.fill(~std::uint64_t{0}); }
    [[nodiscard]] const std::uint64_t* constant_bits(bool set) const noexcept {
        return set ? ones.data() : zeros.data();
    }
};

[[nodiscard]] constexpr std::size_t words_for(std::size_t n) noexcept { return (n + 63) / 64; }

// 64 flags (0/1 bytes) to one word, eight at a time: the multiply gathers the low bit of each
// byte into the top byte (no two partial products overlap, so nothing carries).
[[nodiscard]] inline std::uint64_t pack64(const std::uint8_t* ISOFLOW_RESTRICT flags) noexcept {
    std::uint64_t word = 0;
    for (int k = 0; k < 8; ++k) {
        std::uint64_t eight;
        std::memcpy(&eight, flags + 8 * k, 8);
        word |= ((eight * 0x0102040810204080ULL) >> 56) << (8 * k);
    }
    return word;
}

// Packs n flags into words; a partial last word has zeros above n.
inline void pack_flags(const std::uint8_t* flags, std::size_t n, std::uint64_t* out) noexcept {
    const std::size_t full = n / 64;
    for (std::size_t w = 0; w < full; ++w) out[w] = pack64(flags + 64 * w);
    if (n % 64) {
        std::uint64_t word = 0;
        for (std::size_t j = 0; j < n % 64; ++j) word |= std::uint64_t{flags[64 * full + j] != 0} << j;
        out[full] = word;
    }
}

// Validity of a result that is null where any input is null. Borrows when one side is all valid.
inline const std::uint64_t* and_validity(const Frame& f, Slot& out, const std::uint64_t* a,
                                         const std::uint64_t* b, std::size_t n) {
    if (a == f.ones.data() || a == b) return b;
    if (b == f.ones.data()) return a;
    std::uint64_t* v = out.own_valid();
    for (std::size_t w = 0; w < words_for(n); ++w) v[w] = a[w] & b[w];
    return v;
}

class Node {
public:
    explicit Node(DataType type) : type_(type) {}
    virtual ~Node() = default;
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;

    [[nodiscard]] DataType type() const noexcept { return type_; }
    [[nodiscard]] std::size_t slot() const noexcept { return slot_; }
    [[nodiscard]] std::vector<std::unique_ptr<Node>>& kids() noexcept { return kids_; }

    // Numbers the slots of this subtree; returns the next free slot.
    std::size_t assign_slots(std::size_t next) {
        for (auto& k : kids_) next = k->assign_slots(next);
        slot_ = next;
        return next + 1;
    }

    // Evaluates rows [f.begin, f.begin + n) into this node's slot.
    void eval(Frame& f, std::size_t n) const {
        bool all_scalar = !kids_.empty();
        for (const auto& k : kids_) {
            k->eval(f, n);
            all_scalar = all_scalar && f.slots[k->slot_].scalar;
        }
        Slot& out = f.slots[slot_];
        out.scalar = false;
        if (!all_scalar || !foldable()) {
            run(f, out, n);
            return;
        }
        // Every input is one value: compute row 0 once and broadcast it.
        run(f, out, 1);
        const bool valid = out.valid[0] & 1u;
        if (type_ == DataType::boolean) out.bits = f.constant_bits(out.bits[0] & 1u);
        out.valid = f.constant_bits(valid);
        out.scalar = true;
    }

protected:
    virtual void run(Frame& f, Slot& out, std::size_t n) const = 0;
    // False for nodes whose value differs per row even with scalar inputs (none so far, but a
    // future rand() or row_number() would say so).
    [[nodiscard]] virtual bool foldable() const { return true; }
    [[nodiscard]] const Slot& in(const Frame& f, std::size_t k) const { return f.slots[kids_[k]->slot_]; }

    DataType type_;
    std::size_t slot_ = 0;
    std::vector<std::unique_ptr<Node>> kids_;
};
using NodePtr = std::unique_ptr<Node>;

// ---------------------------------------------------------------------------------------------
// Leaves

class ColumnNode final : public Node {
public:
    ColumnNode(DataType type, std::size_t binding) : Node(type), binding_(binding) {}
    [[nodiscard]] std::size_t binding() const noexcept { return binding_; }

protected:
    void run(Frame& f, Slot& out, std::size_t n) const override {
        const Column& c = *f.columns[binding_];
        const std::size_t b = f.begin;
        out.valid = c.validity_words().data() + b / 64;
        switch (type_) {
            case DataType::int64:
            case DataType::timestamp: out.i64 = c.int64_values().data() + b; break;
            case DataType::float64: out.f64 = c.double_values().data() + b; break;
            case DataType::boolean: {
                std::uint64_t* bits = out.own_bits();
                pack_flags(c.bool_values().data() + b, n, bits);
                out.bits = bits;
                break;
            }
            case DataType::string: {
                std::string_view* s = out.own_str();
                const auto offsets = c.string_offsets();
                const std::string_view chars = c.string_data();
                for (std::size_t i = 0; i < n; ++i)
                    s[i] = chars.substr(offsets[b + i], offsets[b + i + 1] - offsets[b + i]);
                out.str = s;
                break;
            }
        }
    }

private:
    std::size_t binding_;
};

class LiteralNode final : public Node {
public:
    // A NULL of the given type.
    explicit LiteralNode(DataType type) : Node(type), is_null_(true) {}
    static NodePtr of_int(DataType type, std::int64_t v) {
        auto n = std::make_unique<LiteralNode>(type);
        n->is_null_ = false;
        n->i64_ = v;
        n->bool_ = v != 0;
        return n;
    }
    static NodePtr of_double(double v) {
        auto n = std::make_unique<LiteralNode>(DataType::float64);
        n->is_null_ = false;
        n->f64_ = v;
        return n;
    }
    static NodePtr of_bool(bool v) {
        auto n = std::make_unique<LiteralNode>(DataType::boolean);
        n->is_null_ = false;
        n->bool_ = v;
        return n;
    }
    static NodePtr of_string(std::string v) {
        auto n = std::make_unique<LiteralNode>(DataType::string);
        n->is_null_ = false;
        n->text_ = std::move(v);
        return n;
    }
    [[nodiscard]] bool is_null() const noexcept { return is_null_; }
    [[nodiscard]] std::int64_t int_value() const noexcept { return i64_; }
    [[nodiscard]] const std::string& text() const noexcept { return text_; }

protected:
    void run(Frame& f, Slot& out, std::size_t) const override {
        out.scalar = true;
        out.valid = f.constant_bits(!is_null_);
        out.bits = f.constant_bits(bool_ && !is_null_);
        out.i64 = &i64_;
        out.f64 = &f64_;
        view_ = text_;
        out.str = &view_;
    }

private:
    bool is_null_;
    std::int64_t i64_ = 0;
    double f64_ = 0.0;
    bool bool_ = false;
    std::string text_;
    mutable std::string_view view_;  // a view of text_, so that strings read like any slot
};

class NowNode final : public Node {
public:
    NowNode() : Node(DataType::timestamp) {}

protected:
    void run(Frame& f, Slot& out, std::size_t) const override {
        out.scalar = true;
        out.valid = f.ones.data();
        out.i64 = &f.now_micros;
    }
};

// ---------------------------------------------------------------------------------------------
// Arithmetic

enum class ArithOp : std::uint8_t { add, sub, mul, div, mod };

template <class T, ArithOp Op>
[[nodiscard]] inline T arith(T a, T b) noexcept {
    if constexpr (std::is_same_v<T, std::int64_t>) {
        // Two's complement wrap-around, as Spark (non-ANSI) and Java do.
        const auto ua = static_cast<std::uint64_t>(a), ub = static_cast<std::uint64_t>(b);
        if constexpr (Op == ArithOp::add) return static_cast<std::int64_t>(ua + ub);
        if constexpr (Op == ArithOp::sub) return static_cast<std::int64_t>(ua - ub);
        if constexpr (Op == ArithOp::mul) return static_cast<std::int64_t>(ua * ub);
        if constexpr (Op == ArithOp::mod) return (b == 0 || b == -1) ? 0 : a % b;
        return 0;
    } else {
        if constexpr (Op == ArithOp::add) return a + b;
        if constexpr (Op == ArithOp::sub) return a - b;
        if constexpr (Op == ArithOp::mul) return a * b;
        if constexpr (Op == ArithOp::div) return a / (b == 0 ? T{1} : b);
        if constexpr (Op == ArithOp::mod) return b == 0 ? T{0} : std::fmod(a, b);
    }
}

template <class T, ArithOp Op, bool LS, bool RS>
inline void arith_loop(const T* ISOFLOW_RESTRICT a, const T* ISOFLOW_RESTRICT b, T* ISOFLOW_RESTRICT out,
                       std::size_t n) noexcept {
    const std::size_t full = n / 64 * 64;
    for (std::size_t base = 0; base < full; base += 64)
        for (std::size_t j = 0; j < 64; ++j)
            out[base + j] = arith<T, Op>(LS ? a[0] : a[base + j], RS ? b[0] : b[base + j]);
    for (std::size_t i = full; i < n; ++i) out[i] = arith<T, Op>(LS ? a[0] : a[i], RS ? b[0] : b[i]);
}

template <class T>
[[nodiscard]] inline const T* values_of(const Slot& s) noexcept {
    if constexpr (std::is_same_v<T, double>) return s.f64;
    else return s.i64;
}

template <class T, ArithOp Op>
class ArithNode final : public Node {
public:
    ArithNode(DataType type, NodePtr l, NodePtr r) : Node(type) {
        kids_.push_back(std::move(l));
        kids_.push_back(std::move(r));
    }

protected:
    void run(Frame& f, Slot& out, std::size_t n) const override {
        const Slot& l = in(f, 0);
        const Slot& r = in(f, 1);
        const T* a = values_of<T>(l);
        const T* b = values_of<T>(r);
        T* o;
        if constexpr (std::is_same_v<T, double>) o = out.own_f64(), out.f64 = o;
        else o = out.own_i64(), out.i64 = o;
        if (l.scalar && !r.scalar) arith_loop<T, Op, true, false>(a, b, o, n);
        else if (!l.scalar && r.scalar) arith_loop<T, Op, false, true>(a, b, o, n);
        else if (l.scalar && r.scalar) arith_loop<T, Op, true, true>(a, b, o, n);
        else arith_loop<T, Op, false, false>(a, b, o, n);
        out.valid = and_validity(f, out, l.valid, r.valid, n);
        if constexpr (Op == ArithOp::div || Op == ArithOp::mod) {
            // x / 0 and x % 0 are NULL (Spark's non-ANSI behaviour).
            std::uint8_t* nonzero = out.own_bytes();
            if (r.scalar) {
                if (b[0] != 0) return;
                out.valid = f.zeros.data();
                return;
            }
            for (std::size_t i = 0; i < n; ++i) nonzero[i] = b[i] != 0;
            std::array<std::uint64_t, kChunkWords> nz{};
            pack_flags(nonzero, n, nz.data());
            std::uint64_t* v = out.own_valid();
            const std::uint64_t* src = out.valid;
            for (std::size_t w = 0; w < words_for(n); ++w) v[w] = src[w] & nz[w];
            out.valid = v;
        }
    }
};

class NegateNode final : public Node {
public:
    explicit NegateNode(NodePtr x) : Node(x->type()) { kids_.push_back(std::move(x)); }

protected:
    void run(Frame& f, Slot& out, std::size_t n) const override {
        const Slot& x = in(f, 0);
        out.valid = x.valid;
        if (type_ == DataType::float64) {
            double* o = out.own_f64();
            for (std::size_t i = 0; i < n; ++i) o[i] = -x.f64[i];
            out.f64 = o;
        } else {
            std::int64_t* o = out.own_i64();
            for (std::size_t i = 0; i < n; ++i)
                o[i] = static_cast<std::int64_t>(std::uint64_t{0} - static_cast<std::uint64_t>(x.i64[i]));
            out.i64 = o;
        }
    }
};

// ---------------------------------------------------------------------------------------------
// Comparisons. Doubles order as in Spark: NaN equals NaN and is larger than every other value.

enum class CmpOp : std::uint8_t { eq, ne, lt, le, gt, ge };

template <CmpOp Op, class T>
[[nodiscard]] inline bool compare(T a, T b) noexcept {
    if constexpr (std::is_floating_point_v<T>) {
        const bool an = a != a, bn = b != b;
        if constexpr (Op == CmpOp::eq) return (a == b) | (an & bn);
        if constexpr (Op == CmpOp::ne) return !((a == b) | (an & bn));
        if constexpr (Op == CmpOp::lt) return (a < b) | (!an & bn);
        if constexpr (Op == CmpOp::le) return (a <= b) | bn;
        if constexpr (Op == CmpOp::gt) return (a > b) | (an & !bn);
        if constexpr (Op == CmpOp::ge) return (a >= b) | an;
    } else {
        if constexpr (Op == CmpOp::eq) return a == b;
        if constexpr (Op == CmpOp::ne) return a != b;
        if constexpr (Op == CmpOp::lt) return a < b;
        if constexpr (Op == CmpOp::le) return a <= b;
        if constexpr (Op == CmpOp::gt) return a > b;
        if constexpr (Op == CmpOp::ge) return a >= b;
    }
}

#if defined(__SSE2__)
// Two doubles at a time with Spark's NaN order: with an = isnan(a), bn = isnan(b),
//   a > b  is !(a <= b) & !bn       a >= b is !(a < b) & (an | !bn)       a = b is (a == b) | (an & bn)
template <CmpOp Op>
[[nodiscard]] inline int compare_pd(__m128d a, __m128d b) noexcept {
    if constexpr (Op == CmpOp::lt) return compare_pd<CmpOp::gt>(b, a);
    if constexpr (Op == CmpOp::le) return compare_pd<CmpOp::ge>(b, a);
    if constexpr (Op == CmpOp::gt) return _mm_movemask_pd(_mm_andnot_pd(_mm_cmpunord_pd(b, b), _mm_cmpnle_pd(a, b)));
    if constexpr (Op == CmpOp::ge)
        return _mm_movemask_pd(_mm_and_pd(_mm_cmpnlt_pd(a, b), _mm_or_pd(_mm_cmpunord_pd(a, a), _mm_cmpord_pd(b, b))));
    if constexpr (Op == CmpOp::eq || Op == CmpOp::ne) {
        const int eq = _mm_movemask_pd(
            _mm_or_pd(_mm_cmpeq_pd(a, b), _mm_and_pd(_mm_cmpunord_pd(a, a), _mm_cmpunord_pd(b, b))));
        return Op == CmpOp::eq ? eq : eq ^ 3;
    }
    return 0;
}
#endif

// Compares n rows into a bitmap. Full words are built 64 rows at a time without branches; the
// SSE2 path (every x86-64 target) compares two doubles per instruction, because compilers do
// not vectorise a double comparison into bytes for baseline x86-64.
template <CmpOp Op, class T, bool LS, bool RS>
inline void compare_loop(const T* ISOFLOW_RESTRICT a, const T* ISOFLOW_RESTRICT b,
                         std::uint64_t* ISOFLOW_RESTRICT out, std::size_t n) noexcept {
    const std::size_t full = n / 64;
    for (std::size_t w = 0; w < full; ++w) {
        const T* pa = a + (LS ? 0 : 64 * w);
        const T* pb = b + (RS ? 0 : 64 * w);
        std::uint64_t word = 0;
#if defined(__SSE2__)
        if constexpr (std::is_same_v<T, double>) {
            const __m128d sa = _mm_set1_pd(pa[0]), sb = _mm_set1_pd(pb[0]);
            for (std::size_t j = 0; j < 64; j += 2) {
                const __m128d va = LS ? sa : _mm_loadu_pd(pa + j);
                const __m128d vb = RS ? sb : _mm_loadu_pd(pb + j);
                word |= static_cast<std::uint64_t>(compare_pd<Op>(va, vb)) << j;
            }
            out[w] = word;
            continue;
        }
#endif
        for (std::size_t j = 0; j < 64; ++j)
            word |= std::uint64_t{compare<Op>(LS ? pa[0] : pa[j], RS ? pb[0] : pb[j])} << j;
        out[w] = word;
    }
    if (n % 64) {
        std::uint64_t word = 0;
        for (std::size_t i = full * 64; i < n; ++i)
            word |= std::uint64_t{compare<Op>(LS ? a[0] : a[i], RS ? b[0] : b[i])} << (i % 64);
        out[full] = word;
    }
}

template <CmpOp Op, class T>
class CompareNode final : public Node {
public:
    CompareNode(NodePtr l, NodePtr r) : Node(DataType::boolean) {
        kids_.push_back(std::move(l));
        kids_.push_back(std::move(r));
    }

protected:
    void run(Frame& f, Slot& out, std::size_t n) const override {
        const Slot& l = in(f, 0);
        const Slot& r = in(f, 1);
        std::uint64_t* bits = out.own_bits();
        if constexpr (std::is_same_v<T, std::string_view>) {
            for (std::size_t w = 0; w < words_for(n); ++w) bits[w] = 0;
            for (std::size_t i = 0; i < n; ++i)
                bits[i / 64] |= std::uint64_t{compare<Op>(l.str[l.scalar ? 0 : i], r.str[r.scalar ? 0 : i])}
                                << (i % 64);
        } else if constexpr (std::is_same_v<T, bool>) {
            // false < true; on bitmaps: eq = ~(a ^ b), lt = ~a & b, ...
            for (std::size_t w = 0; w < words_for(n); ++w) {
                const std::uint64_t a = l.bits[w], b = r.bits[w];
                std::uint64_t v = 0;
                if constexpr (Op == CmpOp::eq) v = ~(a ^ b);
                if constexpr (Op == CmpOp::ne) v = a ^ b;
                if constexpr (Op == CmpOp::lt) v = ~a & b;
                if constexpr (Op == CmpOp::le) v = ~a | b;
                if constexpr (Op == CmpOp::gt) v = a & ~b;
                if constexpr (Op == CmpOp::ge) v = a | ~b;
                bits[w] = v;
            }
        } else {
            const T* a = values_of<T>(l);
            const T* b = values_of<T>(r);
            if (l.scalar && !r.scalar) compare_loop<Op, T, true, false>(a, b, bits, n);
            else if (!l.scalar && r.scalar) compare_loop<Op, T, false, true>(a, b, bits, n);
            else if (l.scalar && r.scalar) compare_loop<Op, T, true, true>(a, b, bits, n);
            else compare_loop<Op, T, false, false>(a, b, bits, n);
        }
        out.bits = bits;
        out.valid = and_validity(f, out, l.valid, r.valid, n);
    }
};

// ---------------------------------------------------------------------------------------------
// Three-valued logic on bitmaps. With T = bits & valid and F = ~bits & valid:
//   AND: T = Ta & Tb, F = Fa | Fb;   OR: T = Ta | Tb, F = Fa & Fb;   NOT swaps T and F.

template <bool IsAnd>
class LogicNode final : public Node {
public:
    LogicNode(NodePtr l, NodePtr r) : Node(DataType::boolean) {
        kids_.push_back(std::move(l));
        kids_.push_back(std::move(r));
    }

protected:
    void run(Frame& f, Slot& out, std::size_t n) const override {
        const Slot& l = in(f, 0);
        const Slot& r = in(f, 1);
        std::uint64_t* bits = out.own_bits();
        const std::uint64_t* ISOFLOW_RESTRICT lb = l.bits;
        const std::uint64_t* ISOFLOW_RESTRICT lv = l.valid;
        const std::uint64_t* ISOFLOW_RESTRICT rb = r.bits;
        const std::uint64_t* ISOFLOW_RESTRICT rv = r.valid;
        const std::size_t nw = words_for(n);
        if (lv == f.ones.data() && rv == f.ones.data()) {
            // No NULL on either side: plain bitwise logic, result all valid.
            for (std::size_t w = 0; w < nw; ++w) bits[w] = IsAnd ? (lb[w] & rb[w]) : (lb[w] | rb[w]);
            out.bits = bits;
            out.valid = f.ones.data();
            return;
        }
        std::uint64_t* valid = out.own_valid();
        for (std::size_t w = 0; w < nw; ++w) {
            const std::uint64_t at = lb[w] & lv[w], af = ~lb[w] & lv[w];
            const std::uint64_t bt = rb[w] & rv[w], bf = ~rb[w] & rv[w];
            const std::uint64_t t = IsAnd ? (at & bt) : (at | bt);
            const std::uint64_t fl = IsAnd ? (af | bf) : (af & bf);
            bits[w] = t;
            valid[w] = t | fl;
        }
        out.bits = bits;
        out.valid = valid;
    }
};

class NotNode final : public Node {
public:
    explicit NotNode(NodePtr x) : Node(DataType::boolean) { kids_.push_back(std::move(x)); }

protected:
    void run(Frame& f, Slot& out, std::size_t n) const override {
        const Slot& x = in(f, 0);
        std::uint64_t* bits = out.own_bits();
        for (std::size_t w = 0; w < words_for(n); ++w) bits[w] = ~x.bits[w];
        out.bits = bits;
        out.valid = x.valid;
    }
};

class IsNullNode final : public Node {
public:
    IsNullNode(NodePtr x, bool negated) : Node(DataType::boolean), negated_(negated) {
        kids_.push_back(std::move(x));
    }

protected:
    void run(Frame& f, Slot& out, std::size_t n) const override {
        const Slot& x = in(f, 0);
        out.valid = f.ones.data();
        if (negated_) {
            out.bits = x.valid;  // IS NOT NULL is the validity bitmap itself
            return;
        }
        std::uint64_t* bits = out.own_bits();
        for (std::size_t w = 0; w < words_for(n); ++w) bits[w] = ~x.valid[w];
        out.bits = bits;
    }

private:
    bool negated_;
};

// ---------------------------------------------------------------------------------------------
// Row-wise nodes (strings, casts, functions): one tight loop per chunk, no allocation per row
// (string results go to the slot's reused character buffer).

// Helper for nodes that build string results: append each row's text, then finish().
class StringBuilder {
public:
    explicit StringBuilder(Slot& out) : out_(out) {
        out_.chars_buf.clear();
        out_.offset_buf.clear();
        out_.offset_buf.push_back(0);
    }
    std::string& chars() { return out_.chars_buf; }
    void end_row() { out_.offset_buf.push_back(out_.chars_buf.size()); }
    void finish(std::size_t n) {
        std::string_view* s = out_.own_str();
        const std::string_view all = out_.chars_buf;
        for (std::size_t i = 0; i < n; ++i)
            s[i] = all.substr(out_.offset_buf[i], out_.offset_buf[i + 1] - out_.offset_buf[i]);
        out_.str = s;
    }

private:
    Slot& out_;
};

class CastNode final : public Node {
public:
    CastNode(NodePtr x, DataType to) : Node(to), from_(x->type()) { kids_.push_back(std::move(x)); }

protected:
    void run(Frame& f, Slot& out, std::size_t n) const override {
        const Slot& x = in(f, 0);
        const std::size_t nw = words_for(n);
        std::uint64_t* valid = out.own_valid();
        for (std::size_t w = 0; w < nw; ++w) valid[w] = x.valid[w];
        out.valid = valid;
        auto set_null = [&](std::size_t i) { valid[i / 64] &= ~(std::uint64_t{1} << (i % 64)); };
        auto str_at = [&](std::size_t i) { return x.str[i]; };
        switch (type_) {
            case DataType::float64: {
                double* o = out.own_f64();
                out.f64 = o;
                for (std::size_t i = 0; i < n; ++i) {
                    switch (from_) {
                        case DataType::int64: o[i] = static_cast<double>(x.i64[i]); break;
                        case DataType::timestamp: o[i] = static_cast<double>(x.i64[i]) / 1e6; break;
                        case DataType::boolean: o[i] = x.bit_at(i) ? 1.0 : 0.0; break;
                        case DataType::string: {
                            auto v = x.valid_at(i) ? parse_double(str_at(i)) : std::nullopt;
                            o[i] = v.value_or(0.0);
                            if (!v) set_null(i);
                            break;
                        }
                        case DataType::float64: o[i] = x.f64[i]; break;
                    }
                }
                break;
            }
            case DataType::int64:
            case DataType::timestamp: {
                std::int64_t* o = out.own_i64();
                out.i64 = o;
                const bool to_ts = type_ == DataType::timestamp;
                for (std::size_t i = 0; i < n; ++i) {
                    switch (from_) {
                        case DataType::int64:
                            o[i] = to_ts ? static_cast<std::int64_t>(static_cast<std::uint64_t>(x.i64[i]) * 1'000'000u)
                                         : x.i64[i];
                            break;
                        case DataType::timestamp:
                            // seconds, rounded down as Spark does
                            o[i] = to_ts ? x.i64[i]
                                         : (x.i64[i] >= 0 ? x.i64[i] / 1'000'000
                                                          : -((-(x.i64[i] + 1)) / 1'000'000) - 1);
                            break;
                        case DataType::float64:
                            if (to_ts) {
                                const double us = x.f64[i] * 1e6;
                                if (!std::isfinite(us)) {
                                    o[i] = 0;
                                    set_null(i);
                                } else {
                                    o[i] = double_to_int64(us);
                                }
                            } else {
                                o[i] = double_to_int64(x.f64[i]);
                            }
                            break;
                        case DataType::boolean: o[i] = x.bit_at(i) ? 1 : 0; break;
                        case DataType::string: {
                            auto v = !x.valid_at(i) ? std::nullopt
                                     : to_ts        ? parse_sql_timestamp(str_at(i))
                                                    : parse_int64(str_at(i));
                            o[i] = v.value_or(0);
                            if (!v) set_null(i);
                            break;
                        }
                    }
                }
                break;
            }
            case DataType::boolean: {
                std::uint64_t* bits = out.own_bits();
                for (std::size_t w = 0; w < nw; ++w) bits[w] = 0;
                for (std::size_t i = 0; i < n; ++i) {
                    bool v = false;
                    switch (from_) {
                        case DataType::int64:
                        case DataType::timestamp: v = x.i64[i] != 0; break;
                        case DataType::float64: v = x.f64[i] != 0; break;
                        case DataType::boolean: v = x.bit_at(i); break;
                        case DataType::string: {
                            auto b = x.valid_at(i) ? parse_bool(str_at(i)) : std::nullopt;
                            if (!b) set_null(i);
                            v = b.value_or(false);
                            break;
                        }
                    }
                    bits[i / 64] |= std::uint64_t{v} << (i % 64);
                }
                out.bits = bits;
                break;
            }
            case DataType::string: {
                StringBuilder sb(out);
                char buf[32];
                for (std::size_t i = 0; i < n; ++i) {
                    if (x.valid_at(i)) {
                        switch (from_) {
                            case DataType::int64: {
                                auto [p, ec] = std::to_chars(buf, buf + sizeof buf, x.i64[i]);
                                sb.chars().append(buf, p);
                                break;
                            }
                            case DataType::timestamp: append_timestamp(sb.chars(), x.i64[i]); break;
                            case DataType::float64: append_double(sb.chars(), x.f64[i]); break;
                            case DataType::boolean: sb.chars() += x.bit_at(i) ? "true" : "false"; break;
                            case DataType::string: sb.chars() += x.str[i]; break;
                        }
                    }
                    sb.end_row();
                }
                sb.finish(n);
                break;
            }
        }
    }

private:
    DataType from_;
};

class LikeNode final : public Node {
public:
    LikeNode(NodePtr x, std::string_view pattern, bool negated)
        : Node(DataType::boolean), pattern_(pattern), negated_(negated) {
        kids_.push_back(std::move(x));
    }

protected:
    void run(Frame& f, Slot& out, std::size_t n) const override {
        const Slot& x = in(f, 0);
        std::uint64_t* bits = out.own_bits();
        for (std::size_t w = 0; w < words_for(n); ++w) bits[w] = 0;
        for (std::size_t i = 0; i < n; ++i)
            bits[i / 64] |= std::uint64_t{pattern_.matches(x.str[i]) != negated_} << (i % 64);
        out.bits = bits;
        out.valid = x.valid;
    }

private:
    LikePattern pattern_;
    bool negated_;
};

// Reads row i of any slot as the given type (scalars repeat row 0).
struct RowReader {
    const Slot& s;
    [[nodiscard]] std::size_t at(std::size_t i) const noexcept { return s.scalar ? 0 : i; }
};

// Copies row `from_row` of `src` into row `i` of the output being built (value only).
inline void copy_value(DataType type, const Slot& src, std::size_t from_row, std::size_t i,
                       std::int64_t* oi, double* od, std::uint64_t* ob, std::string_view* os) {
    switch (type) {
        case DataType::int64:
        case DataType::timestamp: oi[i] = src.i64[src.scalar ? 0 : from_row]; break;
        case DataType::float64: od[i] = src.f64[src.scalar ? 0 : from_row]; break;
        case DataType::boolean:
            ob[i / 64] = (ob[i / 64] & ~(std::uint64_t{1} << (i % 64))) |
                         (std::uint64_t{src.bit_at(from_row)} << (i % 64));
            break;
        case DataType::string: os[i] = src.str[src.scalar ? 0 : from_row]; break;
    }
}

// Output buffers of a node whose rows are picked from other slots (CASE, COALESCE, GREATEST...).
struct PickedOutput {
    std::int64_t* oi = nullptr;
    double* od = nullptr;
    std::uint64_t* ob = nullptr;
    std::string_view* os = nullptr;
    std::uint64_t* valid = nullptr;

    PickedOutput(DataType type, Slot& out, std::size_t n) {
        valid = out.own_valid();
        for (std::size_t w = 0; w < words_for(n); ++w) valid[w] = 0;
        out.valid = valid;
        switch (type) {
            case DataType::int64:
            case DataType::timestamp: out.i64 = oi = out.own_i64(); break;
            case DataType::float64: out.f64 = od = out.own_f64(); break;
            case DataType::boolean:
                out.bits = ob = out.own_bits();
                for (std::size_t w = 0; w < words_for(n); ++w) ob[w] = 0;
                break;
            case DataType::string: out.str = os = out.own_str(); break;
        }
        if (os)
            for (std::size_t i = 0; i < n; ++i) os[i] = {};
        if (oi)
            for (std::size_t i = 0; i < n; ++i) oi[i] = 0;
        if (od)
            for (std::size_t i = 0; i < n; ++i) od[i] = 0;
    }
    void take(DataType type, const Slot& src, std::size_t i) {
        copy_value(type, src, i, i, oi, od, ob, os);
        valid[i / 64] |= std::uint64_t{1} << (i % 64);
    }
};

// CASE WHEN c1 THEN v1 ... [ELSE e] END: kids are c1, v1, c2, v2, ..., [e]. Every branch is
// evaluated for the whole chunk (no expression raises an error, so this is safe), then each row
// takes the value of its first TRUE condition, a word of rows at a time.
class CaseNode final : public Node {
public:
    CaseNode(DataType type, std::vector<NodePtr> kids, bool has_else) : Node(type), has_else_(has_else) {
        kids_ = std::move(kids);
    }

protected:
    void run(Frame& f, Slot& out, std::size_t n) const override {
        PickedOutput o(type_, out, n);
        const std::size_t branches = (kids_.size() - (has_else_ ? 1 : 0)) / 2;
        for (std::size_t w = 0; w < words_for(n); ++w) {
            std::uint64_t open = n - w * 64 >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << (n % 64)) - 1;
            for (std::size_t b = 0; b < branches && open; ++b) {
                const Slot& cond = in(f, 2 * b);
                const Slot& value = in(f, 2 * b + 1);
                std::uint64_t take = cond.bits[w] & cond.valid[w] & open;
                open &= ~take;
                pick(o, value, w, take);
            }
            if (has_else_ && open) pick(o, in(f, kids_.size() - 1), w, open);
        }
    }

private:
    void pick(PickedOutput& o, const Slot& value, std::size_t w, std::uint64_t rows) const {
        while (rows) {
            const std::size_t i = w * 64 + static_cast<std::size_t>(std::countr_zero(rows));
            rows &= rows - 1;
            if (value.valid_at(i)) o.take(type_, value, i);
        }
    }
    bool has_else_;
};

// COALESCE(a, b, ...): the first non-null argument.
class CoalesceNode final : public Node {
public:
    CoalesceNode(DataType type, std::vector<NodePtr> kids) : Node(type) { kids_ = std::move(kids); }

protected:
    void run(Frame& f, Slot& out, std::size_t n) const override {
        PickedOutput o(type_, out, n);
        for (std::size_t w = 0; w < words_for(n); ++w) {
            std::uint64_t open = n - w * 64 >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << (n % 64)) - 1;
            for (std::size_t k = 0; k < kids_.size() && open; ++k) {
                const Slot& v = in(f, k);
                std::uint64_t take = v.valid[w] & open;
                open &= ~take;
                while (take) {
                    const std::size_t i = w * 64 + static_cast<std::size_t>(std::countr_zero(take));
                    take &= take - 1;
                    o.take(type_, v, i);
                }
            }
        }
    }
};

// GREATEST / LEAST: NULL arguments are skipped; NULL only when all are NULL (as in Spark).
template <bool Greatest>
class ExtremeNode final : public Node {
public:
    ExtremeNode(DataType type, std::vector<NodePtr> kids) : Node(type) { kids_ = std::move(kids); }

protected:
    void run(Frame& f, Slot& out, std::size_t n) const override {
        PickedOutput o(type_, out, n);
        for (std::size_t i = 0; i < n; ++i) {
            std::size_t best = kids_.size();
            for (std::size_t k = 0; k < kids_.size(); ++k) {
                const Slot& v = in(f, k);
                if (!v.valid_at(i)) continue;
                if (best == kids_.size() || better(v, in(f, best), i)) best = k;
            }
            if (best != kids_.size()) o.take(type_, in(f, best), i);
        }
    }

private:
    bool better(const Slot& a, const Slot& b, std::size_t i) const {
        const std::size_t ia = a.scalar ? 0 : i, ib = b.scalar ? 0 : i;
        constexpr CmpOp op = Greatest ? CmpOp::gt : CmpOp::lt;
        switch (type_) {
            case DataType::int64:
            case DataType::timestamp: return compare<op>(a.i64[ia], b.i64[ib]);
            case DataType::float64: return compare<op>(a.f64[ia], b.f64[ib]);
            case DataType::boolean: return Greatest ? (a.bit_at(i) && !b.bit_at(i)) : (!a.bit_at(i) && b.bit_at(i));
            case DataType::string: return compare<op>(a.str[ia], b.str[ib]);
        }
        return false;
    }
};

enum class MathFn : std::uint8_t { abs, sqrt, ln, exp, pow };

// Functions of doubles (and abs of bigints). ln of a value <= 0 is NULL, as in Spark.
class MathNode final : public Node {
public:
    MathNode(DataType type, MathFn fn, std::vector<NodePtr> kids) : Node(type), fn_(fn) {
        kids_ = std::move(kids);
    }

protected:
    void run(Frame& f, Slot& out, std::size_t n) const override {
        const Slot& x = in(f, 0);
        out.valid = x.valid;
        if (type_ == DataType::int64) {  // abs(bigint), wrapping at the minimum like Java
            std::int64_t* o = out.own_i64();
            for (std::size_t i = 0; i < n; ++i)
                o[i] = x.i64[i] < 0 ? static_cast<std::int64_t>(std::uint64_t{0} - static_cast<std::uint64_t>(x.i64[i]))
                                    : x.i64[i];
            out.i64 = o;
            return;
        }
        double* o = out.own_f64();
        out.f64 = o;
        const double* ISOFLOW_RESTRICT a = x.f64;
        switch (fn_) {
            case MathFn::abs:
                for (std::size_t i = 0; i < n; ++i) o[i] = std::fabs(a[i]);
                break;
            case MathFn::sqrt:
                for (std::size_t i = 0; i < n; ++i) o[i] = std::sqrt(a[i]);
                break;
            case MathFn::exp:
                for (std::size_t i = 0; i < n; ++i) o[i] = std::exp(a[i]);
                break;
            case MathFn::ln: {
                std::uint64_t* v = out.own_valid();
                for (std::size_t w = 0; w < words_for(n); ++w) v[w] = x.valid[w];
                for (std::size_t i = 0; i < n; ++i) {
                    if (a[i] > 0) {
                        o[i] = std::log(a[i]);
                    } else {
                        o[i] = 0;
                        v[i / 64] &= ~(std::uint64_t{1} << (i % 64));
                    }
                }
                out.valid = v;
                break;
            }
            case MathFn::pow: {
                const Slot& y = in(f, 1);
                for (std::size_t i = 0; i < n; ++i)
                    o[i] = std::pow(x.f64[x.scalar ? 0 : i], y.f64[y.scalar ? 0 : i]);
                out.valid = and_validity(f, out, x.valid, y.valid, n);
                break;
            }
        }
    }

private:
    MathFn fn_;
};

class RoundNode final : public Node {
public:
    RoundNode(NodePtr x, std::int64_t scale) : Node(x->type()), scale_(scale) { kids_.push_back(std::move(x)); }

protected:
    void run(Frame& f, Slot& out, std::size_t n) const override {
        const Slot& x = in(f, 0);
        out.valid = x.valid;
        if (type_ == DataType::int64) {
            std::int64_t* o = out.own_i64();
            for (std::size_t i = 0; i < n; ++i) o[i] = round_int_half_up(x.i64[i], scale_);
            out.i64 = o;
        } else {
            double* o = out.own_f64();
            for (std::size_t i = 0; i < n; ++i) o[i] = x.valid_at(i) ? round_half_up(x.f64[i], scale_) : 0.0;
            out.f64 = o;
        }
    }

private:
    std::int64_t scale_;
};

// isnan(x): never NULL; false for NULL input.
class IsNanNode final : public Node {
public:
    explicit IsNanNode(NodePtr x) : Node(DataType::boolean) { kids_.push_back(std::move(x)); }

protected:
    void run(Frame& f, Slot& out, std::size_t n) const override {
        const Slot& x = in(f, 0);
        std::uint8_t* flags = out.own_bytes();
        for (std::size_t i = 0; i < n; ++i) flags[i] = x.f64[i] != x.f64[i];
        std::uint64_t* bits = out.own_bits();
        pack_flags(flags, n, bits);
        for (std::size_t w = 0; w < words_for(n); ++w) bits[w] &= x.valid[w];
        out.bits = bits;
        out.valid = f.ones.data();
    }
};

enum class StringFn : std::uint8_t { lower, upper, trim };

class StringFnNode final : public Node {
public:
    StringFnNode(NodePtr x, StringFn fn) : Node(DataType::string), fn_(fn) { kids_.push_back(std::move(x)); }

protected:
    void run(Frame& f, Slot& out, std::size_t n) const override {
        const Slot& x = in(f, 0);
        out.valid = x.valid;
        StringBuilder sb(out);
        for (std::size_t i = 0; i < n; ++i) {
            std::string_view s = x.str[i];
            switch (fn_) {
                case StringFn::lower:
                    for (char c : s) sb.chars() += ascii_lower(c);
                    break;
                case StringFn::upper:
                    for (char c : s) sb.chars() += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
                    break;
                case StringFn::trim: {
                    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
                    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
                    sb.chars() += s;
                    break;
                }
            }
            sb.end_row();
        }
        sb.finish(n);
    }

private:
    StringFn fn_;
};

class LengthNode final : public Node {
public:
    explicit LengthNode(NodePtr x) : Node(DataType::int64) { kids_.push_back(std::move(x)); }

protected:
    void run(Frame& f, Slot& out, std::size_t n) const override {
        const Slot& x = in(f, 0);
        out.valid = x.valid;
        std::int64_t* o = out.own_i64();
        for (std::size_t i = 0; i < n; ++i) o[i] = utf8_length(x.str[i]);
        out.i64 = o;
    }
};

}  // namespace isoflow::detail
