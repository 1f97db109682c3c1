"""Figures of every stage; all written through ``save_figure`` (labelled, titled, atomic)."""
