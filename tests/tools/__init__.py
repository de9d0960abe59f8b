"""Helpers of test_tools.py: stub servers for pytest, a client runner for the venv."""
