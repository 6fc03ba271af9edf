"""Inference backends.

Only ``engine.local`` imports llama_cpp; only ``engine.remote`` speaks HTTP.
"""
