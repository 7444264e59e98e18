"""Operating the shop: the invariant checker (`python -m ops.invariants`) and the operator's
tools (`python -m ops.operator`), against a stack on AWS and against localcloud alike.

They import the services' own models and fold (functions/<service>, layers/shared), so run them
with the import roots Lambda gives the functions on the path: `make invariants`,
`make operator ARGS=...` (PYTHONPATH as the Makefile's PROJECT_PYTHONPATH).
"""
