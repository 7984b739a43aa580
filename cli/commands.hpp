#pragma once
// Each subcommand of the `aftershock` CLI lives in its own cmd_<name>.cpp and registers itself here.
// A command parses flags into an options struct and calls one library function (thin mains).
#include <CLI/CLI.hpp>

namespace aftershock::cli {

void register_gen(CLI::App& app);
void register_import(CLI::App& app);
void register_groundtruth(CLI::App& app);
void register_search(CLI::App& app);
void register_eval(CLI::App& app);
void register_recall(CLI::App& app);
void register_inspect(CLI::App& app);
void register_bench(CLI::App& app);
void register_load(CLI::App& app);

}  // namespace aftershock::cli
