"""The copy engine: pure functions from a leader event plus state to decisions.

Nothing in this package imports Django, Celery, a broker adapter or reads the
clock; callers pass every value in (an import-linter contract in
pyproject.toml enforces the boundary). Money and prices are ``Decimal``,
quantities are ``int`` contracts.
"""
