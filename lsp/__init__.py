"""The CodeFusion language server (pygls): code actions and completions from comment prompts.

Depends on ``core`` (lazily: torch is imported on the first model load), never on ``cfcli``.
"""
