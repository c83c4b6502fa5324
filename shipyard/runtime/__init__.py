"""Everything that touches the world: models, git, tools, the ledger.

`runtime` imports nothing from `agents`, `graphs` or `cli`.
"""
