// The one exception hierarchy of isoflow. Every failure that a caller can act on is an
// isoflow::error; the subclass says which part failed, the message says what was found
// and what was expected (file, line, column, field or parameter).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <utility>

namespace isoflow {

class error : public std::runtime_error {
public:
    explicit error(const std::string& what) : std::runtime_error(what) {}
};

// Reading or writing a file or directory failed (missing, unreadable, disk full).
class io_error : public error {
public:
    using error::error;
};

// Text did not follow its format (CSV, JSON, an expression, a model file).
class parse_error : public error {
public:
    using error::error;
};

// Data did not fit a schema: unknown column, type mismatch, ambiguous name, new field.
class schema_error : public error {
public:
    using error::error;
};

// An expectation with the `fail` action saw a violating row.
class expectation_violation : public error {
public:
    using error::error;
};

// A model was misused or could not be built: bad parameter, scoring before fit,
// wrong column count, a corrupt or incompatible model file.
class model_error : public error {
public:
    using error::error;
};

// The model registry could not do what was asked.
class registry_error : public error {
public:
    using error::error;
};

// A configuration (pipeline JSON, command-line options) is invalid.
class config_error : public error {
public:
    using error::error;
};

namespace detail {

// Every throw in the library goes through here, so that a build without exceptions
// (ISOFLOW_NO_EXCEPTIONS) aborts with the message instead.
template <class Error>
[[noreturn]] inline void throw_error(std::string message) {
#if defined(ISOFLOW_NO_EXCEPTIONS) || !(defined(__cpp_exceptions) || defined(_CPPUNWIND))
    std::fputs(message.c_str(), stderr);
    std::fputc('\n', stderr);
    std::abort();
#else
    throw Error(std::move(message));
#endif
}

}  // namespace detail
}  // namespace isoflow
