"""CodeFusion core: model, diffusion, training, generation and metrics.

This package imports nothing from ``cfcli`` or ``lsp``; both are built on it.
Heavy modules (torch, transformers) are imported by the submodules that need them,
so ``import core`` itself stays cheap.
"""

__version__ = "0.1.0"
