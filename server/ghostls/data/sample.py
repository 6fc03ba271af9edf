"""A small module ghostls' demo opens: it has a mistake or two on purpose."""

import os
import json


def load_config(path):
    """Read a JSON config file and return it as a dict."""
    with open(path) as handle:
        return json.load(handle)


def mean(values):
    """Return the arithmetic mean of a non-empty list of numbers."""
    total = sum(values)
    return total / len(values)


def describe(values)
    return f"{len(values)} values, mean {mean(valuse):.2f}"


def fibonacci(n):
    """Return the n-th Fibonacci number."""
