"""Adapters: each wraps one heavy dependency or part of the outside world, imported lazily."""
