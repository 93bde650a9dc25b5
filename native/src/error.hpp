// The runner's one error type: its message is one line saying what is wrong and what to do;
// main() prints it as "error: <message>" and exits with `exit_code`.
#pragma once

#include <stdexcept>
#include <string>

namespace l2m {

class RunnerError : public std::runtime_error {
public:
    explicit RunnerError(const std::string& message, int exit_code = 1) : std::runtime_error(message), exit_code_(exit_code) {}
    int exit_code() const { return exit_code_; }

private:
    int exit_code_;
};

// Bad command-line usage exits with 2, like the Python CLI's usage errors.
inline RunnerError usage_error(const std::string& message) { return RunnerError(message, 2); }

}  // namespace l2m
