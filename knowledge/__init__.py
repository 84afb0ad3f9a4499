"""Structured knowledge base of Vietnamese administrative procedures (thủ tục hành chính).

Import-light: submodules load data lazily; nothing heavy happens at import time.
"""
