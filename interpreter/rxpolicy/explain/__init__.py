"""Renderers at the edge: evaluations and diagnostics as text, JSON and Markdown, in English or Dutch."""
