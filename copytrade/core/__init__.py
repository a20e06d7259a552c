"""Shared building blocks with no business logic: base model, money fields, errors."""
