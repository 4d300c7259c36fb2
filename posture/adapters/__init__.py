"""Adapters: each wraps exactly one heavy dependency or part of the outside world, imported lazily."""
