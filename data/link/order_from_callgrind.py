#!/usr/bin/env python3
"""Writes the link order (data/link/order.txt) from callgrind profiles of the bot.

Usage: order_from_callgrind.py BINARY PROFILE... > data/link/order.txt

Each PROFILE is a callgrind output of BINARY (`valgrind --tool=callgrind --demangle=no`, e.g.
through `simulate --bot-process --bot-binary` a wrapper script; see BENCHMARKS.md, "Memory").
Prints every function of BINARY that ran in any profile, the most instructions first, as
symbol names for LLD's --symbol-ordering-file. build.rs passes the file to the linker, which
then lays out the code that runs together at the start of .text.
"""
import collections
import os
import re
import sys


def functions(path, binary, cost):
    """Adds the instructions of every function of `binary` that ran in `path` to `cost`."""
    names, objects = {}, {}
    current, current_object, call = None, None, False

    def name(reference, table):
        match = re.match(r"\((\d+)\)(?: (.*))?$", reference)
        if not match:
            return reference
        if match.group(2) is not None:
            table[match.group(1)] = match.group(2)
        return table.get(match.group(1))

    called_object = None
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        if line.startswith("ob="):
            current_object = name(line[3:], objects)
        elif line.startswith("fn="):
            current = name(line[3:], names)
            if current_object == binary:
                cost[current] += 0
        elif line.startswith("cob="):
            called_object = name(line[4:], objects)
        elif line.startswith("cfn="):
            callee = name(line[4:], names)
            if (called_object or current_object) == binary:
                cost[callee] += 0
            called_object = None
        elif line.startswith("calls="):
            call = True
        elif line[:1].isdigit() or line[:1] in "+-*":
            if call:
                call = False
            elif current_object == binary and current is not None:
                fields = line.split()
                if len(fields) > 1 and fields[1].isdigit():
                    cost[current] += int(fields[1])


def main():
    binary, profiles = sys.argv[1], sys.argv[2:]
    cost = collections.Counter()
    for profile in profiles:
        functions(profile, os.path.abspath(binary), cost)
    merged = collections.Counter()
    for function, instructions in cost.items():
        # callgrind marks recursion levels as `name'2`.
        merged[re.sub(r"'\d+$", "", function)] += instructions
    for function, _ in sorted(merged.items(), key=lambda item: (-item[1], item[0])):
        # Code without a symbol (callgrind names it by address) cannot be ordered.
        if not function.startswith(("0x", "(")):
            print(function)


main()
