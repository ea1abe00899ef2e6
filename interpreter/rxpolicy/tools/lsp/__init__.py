"""The language server for rule files (``rxpolicy lsp``): the index of a policy's symbols, hover, completion, and
the server itself (:mod:`rxpolicy.tools.lsp.server`, which needs pygls, the ``lsp`` extra)."""
