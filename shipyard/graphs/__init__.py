"""LangGraph wiring: the feature graph G0–G8. Built, never compiled at import."""
