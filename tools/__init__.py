"""Development tools: the code generators, run from the repository (``python -m tools.codegen``).

Not part of the package: the wheel ships what they generate, not them.
"""
